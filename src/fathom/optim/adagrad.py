"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization", JMLR 2011).

    With `g` the gradient at step `t` (negated when `maximize`, plus `weight_decay * p`)::

        lr_t <- lr / (1 + (t - 1) * lr_decay)
        s    <- s + g**2                             (sum, starts at
                                                      initial_accumulator_value)
        p    <- p - lr_t * g / (sqrt(s) + eps)

    Args:
        params: tensors, or dicts of parameter groups with per-group options.
        lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize: as in
            torch.optim.Adagrad.
        foreach, differentiable, fused: accepted for PyTorch compatibility and ignored:
            Fathom has one update path.

    State per parameter, created at construction as in PyTorch: `step` (a Python float;
    PyTorch keeps a tensor), `sum`.

    Example:
        >>> p = fathom.ones(2, requires_grad=True); opt = Adagrad([p], lr=0.1)
        >>> p.sum().backward(); _ = opt.step(); [round(x, 4) for x in p.tolist()]
        [0.9, 0.9]
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= initial_accumulator_value,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p.data, self.state[p], group)

    @staticmethod
    def _init_state(p, state, group):
        state["step"] = 0.0
        state["sum"] = backend.namespace(p).full_like(p, group["initial_accumulator_value"])

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:  # a group added after construction
            self._init_state(p, state, group)
        step = state["step"] = state["step"] + 1
        clr = float(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]
        tmp = xp.multiply(g, g)
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += group["eps"]
        xp.divide(g, tmp, out=tmp)
        tmp *= clr
        p -= tmp
