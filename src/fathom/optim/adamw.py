"""AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019).

    Adam whose weight decay shrinks the parameter directly instead of entering the
    moments::

        p  <- p * (1 - lr * weight_decay)
        m  <- beta1 * m + (1 - beta1) * g
        v  <- beta2 * v + (1 - beta2) * g**2
        p  <- p - lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)

    (with AMSGrad, `v` in the last line is its running maximum).

    The same update as `Adam(..., decoupled_weight_decay=True)`; see `Adam` for state and
    the ignored `foreach`, `capturable`, `differentiable`, `fused` flags.

    Example:
        >>> p = fathom.ones(2, requires_grad=True); opt = AdamW([p], lr=0.1)
        >>> p.sum().backward(); _ = opt.step(); [round(x, 4) for x in p.tolist()]
        [0.899, 0.899]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW always decouples, whatever was saved
            group["decoupled_weight_decay"] = True
