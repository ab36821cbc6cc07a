"""Optimizer: parameter groups, per-parameter state, the step loop and its state dict.

A subclass writes one `_update(p, g, state, group)` over raw arrays: `p` is the
parameter's array (updated in place), `g` its gradient after `maximize` and, unless
the subclass sets `decoupled_weight_decay`, L2 weight decay have been applied.
"""
from __future__ import annotations

import copy
from collections import defaultdict

from .. import backend
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor

_np = backend.np


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: `Optimizer(params, defaults)`.

    `params` is an iterable of tensors, or of dicts (parameter groups) holding
    `"params"` and any per-group options that override `defaults`. `param_groups` is
    a plain list of dicts that callers (and lr schedulers) may read and write.
    """

    decoupled_weight_decay = False  # AdamW sets True: decay is applied to p, not to g

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
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
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but one of "
                                f"the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]) or \
                len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; `closure` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = self._effective_grad(p, group)
                    self._update(p.data, g, self.state[p], group)
                    p._vc[0] += 1
        return loss

    def _effective_grad(self, p, group):
        """The gradient the update rule sees: negated when maximizing, plus L2 decay."""
        g = p.grad.data
        if group.get("maximize", False):
            g = -g
        wd = group.get("weight_decay", 0)
        if wd and not self.decoupled_weight_decay:
            g = g + wd * p.data
        return g

    def _update(self, p, g, state: dict, group: dict) -> None:
        raise NotImplementedError

    # --- state dict -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """`{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`,
        with parameters numbered in group order as in PyTorch. Values are references;
        copy (or fathom.save) before stepping further if you need a snapshot."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: {k: _to_tensor(v) for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by `state_dict()` (copies the values), so a
        resumed run continues exactly."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, the "
                             f"optimizer has {len(self.param_groups)}")
        for i, (mine, saved) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group {i} with "
                                 f"{len(saved['params'])} parameters, which doesn't match "
                                 f"the size of the optimizer's group ({len(mine['params'])})")
        self.state = defaultdict(dict)
        for mine, saved in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], saved["params"]):
                s = state_dict["state"].get(idx, state_dict["state"].get(str(idx)))
                if s is not None:
                    self.state[p] = {k: _to_array(v, p.data) for k, v in s.items()}
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"


def _to_tensor(v):
    """State arrays leave as Tensors (sharing memory); numbers stay numbers."""
    if isinstance(v, (_np.ndarray,)) or hasattr(v, "__cuda_array_interface__"):
        from ..tensor import _make  # noqa: PLC0415 - cold path
        return _make(v, None, 0, None)
    return v


def _to_array(v, like):
    """A saved state value back to an array on the parameter's device, copied; float state
    takes the parameter's dtype (as PyTorch's load_state_dict casts)."""
    if isinstance(v, Tensor):
        v = v.data
    elif hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch.Tensor
        v = v.detach().cpu().numpy()
        if v.ndim == 0:
            return v.item()
    if isinstance(v, (int, float, bool)) or v is None:
        return v
    if isinstance(v, _np.generic):
        return v.item()
    xp = backend.namespace(like)
    arr = xp.array(v, copy=True)
    if arr.dtype.kind == "f":
        arr = arr.astype(like.dtype, copy=False)
    return arr
