"""Adam: adaptive moment estimation, optionally with AMSGrad and decoupled weight decay."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check

__all__ = ["Adam"]


def _check_betas(betas) -> tuple:
    _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
    return tuple(betas)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015).

    With `g` the gradient at step `t` (negated when `maximize`; plus `weight_decay * p`
    unless `decoupled_weight_decay`)::

        p  <- p * (1 - lr * weight_decay)          only if decoupled_weight_decay
        m  <- beta1 * m + (1 - beta1) * g          (exp_avg)
        v  <- beta2 * v + (1 - beta2) * g**2       (exp_avg_sq)
        v' <- max(v', v)   if amsgrad   else   v   (max_exp_avg_sq; Reddi et al., ICLR 2018)
        p  <- p - lr / (1 - beta1**t) * m / (sqrt(v' / (1 - beta2**t)) + eps)

    Decoupled weight decay is AdamW (Loshchilov & Hutter, ICLR 2019).

    Args:
        params: tensors, or dicts of parameter groups with per-group options.
        lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay: as in
            torch.optim.Adam.
        foreach, capturable, differentiable, fused: accepted for PyTorch compatibility and
            ignored: Fathom has one update path.

    State per parameter: `step` (a Python float; PyTorch keeps a tensor), `exp_avg`,
    `exp_avg_sq` and, with amsgrad, `max_exp_avg_sq`; each shaped like the parameter.

    Example:
        >>> p = fathom.ones(2, requires_grad=True); opt = Adam([p], lr=0.1)
        >>> p.sum().backward(); _ = opt.step(); [round(x, 4) for x in p.tolist()]
        [0.9, 0.9]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        betas = _check_betas(betas)
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(isinstance(betas[0], float) and isinstance(betas[1], float),
               "betas must be either both floats or both Tensors")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        step = state["step"] = state["step"] + 1
        beta1, beta2 = map(float, group["betas"])  # NumPy scalars would widen float32
        lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
        if wd and group["decoupled_weight_decay"]:
            p *= 1 - lr * wd
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # One scratch array serves every intermediate: each line below is one pass.
        tmp = xp.multiply(g, 1 - beta1)
        m *= beta1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        if group["amsgrad"]:
            v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) == c * m / (sqrt(v) + eps * sqrt(bc2)),
        # with c = lr * sqrt(bc2) / bc1: one scalar pass fewer.
        bc1, bc2_sqrt = 1 - beta1 ** step, (1 - beta2 ** step) ** 0.5
        xp.sqrt(v, out=tmp)
        tmp += eps * bc2_sqrt
        xp.divide(m, tmp, out=tmp)
        tmp *= lr * bc2_sqrt / bc1
        p -= tmp
