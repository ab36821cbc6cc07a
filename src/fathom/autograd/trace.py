"""Recording the primitive ops a computation runs: what graph capture and ONNX export read.

    with fathom.autograd.trace.record() as calls:
        y = model(x)
    for c in calls:
        print(type(c.op).__name__, c.attrs)   # e.g. "Linear {}", "Relu {}"

Every `Op.apply` reports to the innermost active recorder (thread-local), in run
order, whether or not grad mode is on. A `Call` holds the op instance (`ctx`, so
what forward saved is there too), the arguments as passed (Tensors and plain
values), the keyword attributes, and the output Tensor or tuple of Tensors.
Recording keeps every intermediate alive until the list is dropped.
"""
from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

from .grad_mode import state as _mode


class Call(NamedTuple):
    op: Any          # the Op instance; type(op) is the primitive, e.g. ops.elementwise.Add
    args: tuple      # positional arguments as passed: Tensors, arrays, Python values
    attrs: dict      # keyword attributes (axis, stride, ...)
    out: Any         # the output Tensor, or a tuple of them


@contextlib.contextmanager
def record():
    """Collect a `Call` for each primitive op run inside the block; yields the list."""
    calls: list[Call] = []
    prev = _mode.recorder
    _mode.recorder = lambda op, args, attrs, out: calls.append(Call(op, args, attrs, out))
    try:
        yield calls
    finally:
        _mode.recorder = prev


@contextlib.contextmanager
def paused():
    """Run the block without recording (an exporter emitting a whole module as one node)."""
    prev = _mode.recorder
    _mode.recorder = None
    try:
        yield
    finally:
        _mode.recorder = prev
