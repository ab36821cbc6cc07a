"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012).

    With `g` the gradient (negated when `maximize`, plus `weight_decay * p`)::

        v  <- rho * v + (1 - rho) * g**2             (square_avg)
        d  <- sqrt(u + eps) / sqrt(v + eps) * g
        u  <- rho * u + (1 - rho) * d**2             (acc_delta)
        p  <- p - lr * d

    Args:
        params: tensors, or dicts of parameter groups with per-group options.
        lr, rho, eps, weight_decay, maximize: as in torch.optim.Adadelta.
        foreach, capturable, differentiable: accepted for PyTorch compatibility and
            ignored: Fathom has one update path.

    State per parameter: `step` (a Python float; PyTorch keeps a tensor), `square_avg`,
    `acc_delta`.

    Example:
        >>> p = fathom.ones(2, requires_grad=True); opt = Adadelta([p], lr=1.0)
        >>> p.sum().backward(); _ = opt.step(); [round(x, 4) for x in p.tolist()]
        [0.9968, 0.9968]
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["square_avg"] = xp.zeros_like(p)
            state["acc_delta"] = xp.zeros_like(p)
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        v, u = state["square_avg"], state["acc_delta"]
        tmp = xp.multiply(g, g)
        tmp *= 1 - rho
        v *= rho
        v += tmp
        delta = xp.add(u, eps)  # sqrt(u + eps) / sqrt(v + eps) * g
        xp.sqrt(delta, out=delta)
        xp.add(v, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        delta /= tmp
        delta *= g
        xp.multiply(delta, delta, out=tmp)
        tmp *= 1 - rho
        u *= rho
        u += tmp
        delta *= float(group["lr"])
        p -= delta
