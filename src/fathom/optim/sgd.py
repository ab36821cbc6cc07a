"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from .optimizer import Optimizer, _check

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    With `g` the gradient (negated when `maximize`, plus `weight_decay * p`), `mu` the
    momentum, `tau` the dampening and `b` the momentum buffer (set to `g` on the first
    step)::

        b  <- mu * b + (1 - tau) * g
        d  <- g + mu * b   if nesterov   else   b      (d = g when mu = 0)
        p  <- p - lr * d

    Nesterov momentum as in Sutskever et al., "On the importance of initialization and
    momentum in deep learning" (ICML 2013), in PyTorch's formulation.

    Args:
        params: tensors, or dicts of parameter groups with per-group options.
        lr, momentum, dampening, weight_decay, nesterov, maximize: as in torch.optim.SGD.
        foreach, differentiable, fused: accepted for PyTorch compatibility and ignored:
            Fathom has one update path.

    State per parameter: `momentum_buffer` (only when momentum != 0).

    Example:
        >>> p = fathom.ones(3, requires_grad=True); opt = SGD([p], lr=0.5, momentum=0.9)
        >>> p.sum().backward(); _ = opt.step(); p.tolist()
        [0.5, 0.5, 0.5]
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        mu = group["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                if group["dampening"]:
                    buf += (1 - group["dampening"]) * g
                else:
                    buf += g
            g = g + mu * buf if group["nesterov"] else buf
        p -= float(group["lr"]) * g
