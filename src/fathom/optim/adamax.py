"""Adamax: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from .. import backend
from .adam import _check_betas
from .optimizer import Optimizer, _check

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, sec. 7).

    With `g` the gradient at step `t` (negated when `maximize`, plus `weight_decay * p`)::

        m  <- beta1 * m + (1 - beta1) * g            (exp_avg)
        u  <- max(beta2 * u, |g| + eps)              (exp_inf)
        p  <- p - lr / (1 - beta1**t) * m / u

    Args:
        params: tensors, or dicts of parameter groups with per-group options.
        lr, betas, eps, weight_decay, maximize: as in torch.optim.Adamax.
        foreach, differentiable, capturable: accepted for PyTorch compatibility and ignored:
            Fathom has one update path.

    State per parameter: `step` (a Python float; PyTorch keeps a tensor), `exp_avg`,
    `exp_inf`.

    Example:
        >>> p = fathom.ones(2, requires_grad=True); opt = Adamax([p], lr=0.1)
        >>> p.sum().backward(); _ = opt.step(); [round(x, 4) for x in p.tolist()]
        [0.9, 0.9]
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        betas = _check_betas(betas)
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_inf"] = xp.zeros_like(p)
        step = state["step"] = state["step"] + 1
        beta1, beta2 = map(float, group["betas"])  # NumPy scalars would widen float32
        m, u = state["exp_avg"], state["exp_inf"]
        tmp = xp.multiply(g, 1 - beta1)
        m *= beta1
        m += tmp
        xp.abs(g, out=tmp)
        tmp += group["eps"]
        u *= beta2
        xp.maximum(u, tmp, out=u)
        xp.divide(m, u, out=tmp)
        tmp *= float(group["lr"]) / (1 - beta1 ** step)
        p -= tmp
