"""Optimizer: parameter groups, per-parameter state, the step loop and its state dict.

A subclass writes one `_update(p, g, state, group)` over raw arrays: `p` is the
parameter's array (updated in place), `g` its gradient after `maximize` and, unless the
group sets `decoupled_weight_decay`, L2 weight decay have been applied. `g` may be the
parameter's own `.grad` array, so `_update` never writes into it. `_update` touches only
its own parameter and state: `step` may run it on a worker thread (see `_for_each`).

Deviation from PyTorch: `state[p]["step"]` is a Python float (PyTorch keeps a 0-d
tensor). Loading a PyTorch optimizer's state dict converts its tensors.
"""
from __future__ import annotations

import copy
import os
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from .. import backend
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor

_np = backend.np


def _check(ok: bool, message: str) -> None:
    """Raise ValueError(message) unless ok: the hyperparameter checks of every optimizer."""
    if not ok:
        raise ValueError(message)


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: `Optimizer(params, defaults)`.

    `params` is an iterable of tensors, of `(name, tensor)` pairs (`named_parameters()`),
    or of dicts (parameter groups) holding `"params"` and any per-group options that
    override `defaults`. `param_groups` is a plain list of dicts that callers (and lr
    schedulers) may read and write; `state` maps each parameter to its dict of buffers.

    With many elements on the CPU, `step` updates parameters on up to OMP_NUM_THREADS
    threads (NumPy releases the GIL in its loops); the result is the same as one by one.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (fine-tuning a new head, say)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        group = param_group
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        group["params"] = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            group["param_names"] = names
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                f"is {_typename(p)}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        ids = {id(p) for p in group["params"]}
        if len(ids) != len(group["params"]):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        for other in self.param_groups:
            if ("param_names" in other) != ("param_names" in group):
                with_names = "with names" if "param_names" in group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {with_names} to the optimizer")
            if any(id(p) in ids for p in other["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's `.grad`: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; `closure` re-evaluates the loss
        (under grad mode) first and its result is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            _for_each(self._step_param, [(p, group, self.state[p])
                                         for group in self.param_groups
                                         for p in group["params"] if p.grad is not None])
        return loss

    def _step_param(self, p, group, state):
        self._update(p.data, self._effective_grad(p, group), state, group)
        p._vc[0] += 1

    @staticmethod
    def _effective_grad(p, group):
        """The gradient the update rule sees: negated when maximizing, plus L2 decay."""
        g = p.grad.data
        if group.get("maximize", False):
            g = -g
        wd = group.get("weight_decay", 0)
        if wd and not group.get("decoupled_weight_decay", False):
            g = g + float(wd) * p.data  # a NumPy float64 scalar would widen float32
        return g

    def _update(self, p, g, state: dict, group: dict) -> None:
        raise NotImplementedError

    # --- state dict -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """`{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`,
        with parameters numbered in group order as in PyTorch. Arrays are shared, not
        copied (as in PyTorch): deep-copy (or fathom.save) it to keep a snapshot."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: _to_tensor(v) for k, v in s.items()}
                 for p, s in self.state.items() if s and id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by `state_dict()` (Fathom's or PyTorch's; the
        values are copied, float arrays take the parameter's dtype), so a resumed run
        continues exactly."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(groups)}) than the optimizer ({len(self.param_groups)})")
        for i, (mine, saved) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict, "
                                 f"{len(mine['params'])} in the optimizer")
        saved_state = state_dict["state"]
        self.state = defaultdict(dict)
        for mine, saved in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], saved["params"]):
                s = saved_state.get(idx, saved_state.get(str(idx)))
                if s:
                    self.state[p] = {k: _to_array(v, p.data, k == "step") for k, v in s.items()}
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)

    def __repr__(self):
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return text + ")"


# --- parallel update ----------------------------------------------------------------------
_PARALLEL_MIN = 1 << 18  # elements in all: below this a thread hand-off costs more than it saves
_pool, _pool_pid = None, None


def _num_threads() -> int:
    """Threads for the update: OMP_NUM_THREADS (which also sizes BLAS's and PyTorch's
    pools), else the CPU count."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1


def _for_each(fn, work):
    """`fn(p, group, state)` for each item of `work`, the parameters split across threads
    when they are many NumPy elements: NumPy releases the GIL inside its loops, so
    parameters update side by side (as PyTorch's kernels split work across its threads).
    Each parameter's update is independent, so results equal a sequential loop's."""
    global _pool, _pool_pid
    n = min(_num_threads(), len(work))
    if n < 2 or sum(p.data.size for p, _, _ in work) < _PARALLEL_MIN or \
            any(type(p.data) is not _np.ndarray for p, _, _ in work):
        for item in work:
            fn(*item)
        return
    if _pool is None or _pool_pid != os.getpid():  # a forked child needs its own threads
        _pool, _pool_pid = ThreadPoolExecutor(max_workers=n - 1,
                                              thread_name_prefix="fathom-optim"), os.getpid()
    shares, loads = [[] for _ in range(n)], [0] * n  # biggest first, to the least loaded
    for item in sorted(work, key=lambda it: -it[0].data.size):
        i = loads.index(min(loads))
        shares[i].append(item)
        loads[i] += item[0].data.size
    futures = [_pool.submit(_run_share, fn, share) for share in shares[1:]]
    try:
        _run_share(fn, shares[0])
    finally:
        for f in futures:  # wait for every share, then raise the first failure
            f.result()


def _run_share(fn, share):
    for item in share:
        fn(*item)


def _typename(obj) -> str:
    return "fathom.Tensor" if isinstance(obj, Tensor) else type(obj).__name__


def _to_tensor(v):
    """State arrays leave as Tensors (sharing memory); lists recurse; numbers stay numbers."""
    if isinstance(v, list):
        return [_to_tensor(x) for x in v]
    if isinstance(v, _np.ndarray) or hasattr(v, "__cuda_array_interface__"):
        from ..tensor import _make  # noqa: PLC0415 - cold path
        return _make(v, None, 0, None)
    return v


def _to_array(v, like, is_step=False):
    """A saved state value back to an array on the parameter's device, copied; float state
    takes the parameter's dtype (as PyTorch's load_state_dict casts). Lists (LBFGS's
    history) recurse; 0-d tensors (PyTorch's step, LBFGS's scalars) become Python numbers."""
    if isinstance(v, (list, tuple)):
        return type(v)(_to_array(x, like) for x in v)
    if isinstance(v, Tensor):
        v = v.data
    elif hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch.Tensor
        v = v.detach().cpu().numpy()
    if v is None or isinstance(v, (bool, int, float)):
        return float(v) if is_step else v
    if isinstance(v, _np.generic) or getattr(v, "ndim", None) == 0:
        return float(v) if is_step or v.dtype.kind == "f" else v.item()
    xp = backend.namespace(like)
    arr = xp.array(v, copy=True)
    if arr.dtype.kind == "f":
        arr = arr.astype(like.dtype, copy=False)
    return arr
