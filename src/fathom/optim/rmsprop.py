"""RMSprop: divide the gradient by a running root mean square of recent gradients."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton, Coursera "Neural Networks for Machine Learning",
    lecture 6.5, 2012; centered variant from Graves, "Generating Sequences With Recurrent
    Neural Networks", 2013).

    With `g` the gradient (negated when `maximize`, plus `weight_decay * p`)::

        v  <- alpha * v + (1 - alpha) * g**2         (square_avg)
        a  <- alpha * a + (1 - alpha) * g            (grad_avg, centered only)
        d  <- sqrt(v - a**2) + eps   if centered   else   sqrt(v) + eps
        b  <- momentum * b + g / d                   (momentum_buffer, momentum > 0 only)
        p  <- p - lr * b   if momentum > 0   else   p - lr * g / d

    Args:
        params: tensors, or dicts of parameter groups with per-group options.
        lr, alpha, eps, weight_decay, momentum, centered, maximize: as in
            torch.optim.RMSprop.
        capturable, foreach, differentiable: accepted for PyTorch compatibility and
            ignored: Fathom has one update path.

    State per parameter: `step` (a Python float; PyTorch keeps a tensor), `square_avg`,
    `momentum_buffer` (momentum > 0), `grad_avg` (centered).

    Example:
        >>> p = fathom.ones(2, requires_grad=True); opt = RMSprop([p], lr=0.01)
        >>> p.sum().backward(); _ = opt.step(); [round(x, 4) for x in p.tolist()]
        [0.9, 0.9]
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["square_avg"] = xp.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1
        alpha, lr = group["alpha"], float(group["lr"])
        v = state["square_avg"]
        tmp = xp.multiply(g, g)
        tmp *= 1 - alpha
        v *= alpha
        v += tmp
        if group["centered"]:
            a = state["grad_avg"]
            xp.multiply(g, 1 - alpha, out=tmp)
            a *= alpha
            a += tmp
            xp.multiply(a, a, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += group["eps"]
        xp.divide(g, tmp, out=tmp)
        if group["momentum"] > 0:
            b = state["momentum_buffer"]
            b *= group["momentum"]
            b += tmp
            tmp = xp.multiply(b, lr, out=tmp)
        else:
            tmp *= lr
        p -= tmp
