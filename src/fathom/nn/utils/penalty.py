"""An L1 penalty to add to a loss (PyTorch has no helper for it).

L2 needs no helper: it is the optimizers' `weight_decay` (added to the gradient in
SGD and Adam, decoupled from it in AdamW).
"""
from __future__ import annotations

from ... import backend
from ...ops.elementwise import abs as _abs, mul
from ...ops.reduce import sum as _sum
from ...tensor import Tensor, _make


def l1_penalty(parameters, weight: float = 1.0) -> Tensor:
    """weight * sum over the parameters of sum |p|, a differentiable 0-d tensor; its
    gradient is weight * sign(p), which pushes small weights to exactly 0 (sparsity).

    parameters: a tensor or an iterable of tensors (model.parameters()).

        >>> l1_penalty([fathom.tensor([1., -2.]), fathom.tensor([3.])], weight=0.1)
        tensor(0.6000)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    total = None
    for p in parameters:
        s = _sum(_abs(p))
        total = s if total is None else total + s
    if total is None:  # no parameters: a zero of the default dtype
        return _make(backend.np.asarray(0.0, dtype=backend.np.float32), None, 0, None)
    return total if isinstance(weight, (int, float)) and weight == 1 else mul(total, weight)


__all__ = ["l1_penalty"]
