"""Grad mode: whether ops record the graph. Thread-local, like PyTorch's."""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.enabled = True   # record ops for backward
        self.anomaly = False  # detect_anomaly: keep forward tracebacks, check gradients
        self.recorder = None  # fathom.autograd.trace: called with every primitive op run


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradContext:
    """Base for the grad-mode switches; each works as a context manager and a decorator
    (`@no_grad()`, and bare `@no_grad` as PyTorch 2 allows)."""

    _target = True

    def __new__(cls, *args, **kwargs):
        if cls in (no_grad, enable_grad) and len(args) == 1 and callable(args[0]) and \
                not kwargs:
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._target

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = target
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev
        return wrapper


class no_grad(_GradContext):
    """Ops inside do not record the graph: `with fathom.no_grad(): y = model(x)`."""
    _target = False


class enable_grad(_GradContext):
    """Turn recording back on inside a `no_grad` block."""
    _target = True


class set_grad_enabled(_GradContext):
    """`set_grad_enabled(False)` is `no_grad()`; also takes effect when called bare."""

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = state.enabled
        state.enabled = self._target  # PyTorch applies it at construction, too

    def __enter__(self):
        state.enabled = self._target

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        state.enabled = self._prev  # used as a decorator: undo the construction-time switch
        return super().__call__(fn)


class inference_mode(_GradContext):
    """Like `no_grad` (Fathom has no separate inference tensors; the speed is the same)."""

    def __new__(cls, mode=True):
        if callable(mode):  # bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self._target = not mode
