"""Gradient clipping, as torch.nn.utils: by total norm or by value, in place on `.grad`.

The work is on raw arrays outside the graph (PyTorch runs these under no_grad). The
`foreach` argument is accepted for compatibility and ignored: there is one code path.
"""
from __future__ import annotations

import math
import types
import warnings

from ... import backend
from ...tensor import Tensor, _make

_np = backend.np


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(x, p: float):
    """The p-norm of array `x` (all elements) as a 0-d array of x's dtype."""
    xp = backend.namespace(x)
    dtype = x.dtype
    if x.dtype == xp.float16:  # accumulate half in single precision, as PyTorch does
        x = x.astype(xp.float32)
    x = x.reshape(-1)
    if x.size == 0:
        n = 0.0
    elif p == 2:
        n = xp.sqrt(xp.vdot(x, x))
    elif p == 1:
        n = xp.abs(x).sum()
    elif p == math.inf:
        n = xp.abs(x).max()
    elif p == -math.inf:
        n = xp.abs(x).min()
    elif p == 0:
        n = xp.count_nonzero(x)
    else:
        n = (xp.abs(x) ** p).sum() ** (1.0 / p)
    return xp.asarray(n, dtype=dtype)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The norm of the norms of `tensors`, i.e. the p-norm of all their elements taken as
    one vector (norm_type may be inf). Pass the gradients: `[p.grad for p in ...]`.

    Returns a 0-d tensor (no grad); `fathom.tensor(0.)` for no tensors. With
    error_if_nonfinite, a nan or inf norm raises RuntimeError.

        >>> float(get_total_norm([fathom.tensor([3., 4.])]))
        5.0
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _make(_np.asarray(0.0, dtype=_np.float32), None, 0, None)
    norms = [_norm(t.data, norm_type) for t in tensors]
    xp = backend.namespace(norms[0])
    total = _norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return _make(total, None, 0, None)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients of `parameters` in place by min(1, max_norm / (total_norm + 1e-6)),
    given the total norm from `get_total_norm` (the second half of clip_grad_norm_)."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else _np.asarray(total_norm)
    xp = backend.namespace(total)
    coef = xp.minimum(float(max_norm) / (total + total.dtype.type(1e-6)), 1.0)
    if coef == 1.0:  # nothing to scale (PyTorch multiplies by 1 anyway; the result is equal)
        return
    with _np.errstate(invalid="ignore"):  # inf * 0 = nan, silently, as in PyTorch
        for g in grads:
            d = g.data  # the product is taken in coef's precision, then rounded (as PyTorch)
            xp.multiply(d, coef, out=d, casting="unsafe")
            g._vc[0] += 1


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients together so that their total norm is at most max_norm.

    parameters: a tensor or an iterable of tensors (a generator is fine); ones without
    a gradient are skipped. Each gradient is multiplied in place by
    min(1, max_norm / (total_norm + 1e-6)). Returns the total norm before clipping, a
    0-d tensor. norm_type may be inf; with error_if_nonfinite a nan or inf total norm
    raises RuntimeError, otherwise it is used as is (inf zeroes the gradients).

        >>> p = fathom.nn.Parameter(fathom.zeros(2)); p.grad = fathom.tensor([3., 4.])
        >>> clip_grad_norm_([p], 1.0), p.grad
        (tensor(5.), tensor([0.6000, 0.8000]))
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)  # a generator is read once, then used twice
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Deprecated alias of clip_grad_norm_ (as in PyTorch)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place.

    parameters: a tensor or an iterable of tensors; ones without a gradient are skipped.
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is None:
            continue
        d = g.data
        xp = backend.namespace(d)
        # as PyTorch's clamp(min, max): max wins when clip_value < 0
        xp.minimum(xp.maximum(d, -clip_value, out=d), clip_value, out=d)
        g._vc[0] += 1


__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]
