"""`ctx.F` under `create_graph=True`: NumPy's names, built from Fathom's differentiable ops.

Each function mirrors the NumPy function (or the `array_ns` helper) of the same
name that backward formulas call, so a formula written once can be
differentiated again. Add a name here whenever a backward starts using it.
"""
from __future__ import annotations

from .. import ops
from ..tensor import Tensor, _make


def _t(x):
    return x if isinstance(x, Tensor) else _make(ops.elementwise.backend.np.asarray(x),
                                                 None, 0, None)


def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A001
    return ops.sum(_t(x), axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return ops.mean(_t(x), axis, keepdims)


def reshape(x, shape):
    return ops.reshape(_t(x), tuple(shape))


def transpose(x, axes=None):
    x = _t(x)
    return ops.permute(x, tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))


def swapaxes(x, a, b):
    return ops.transpose(_t(x), a, b)


def expand_dims(x, axis):
    return ops.unsqueeze(_t(x), axis)


def broadcast_to(x, shape):
    return ops.expand(_t(x), tuple(shape))


def matmul(a, b):
    return ops.matmul(_t(a), _t(b))


def where(cond, a, b):
    return ops.where(cond, a, b)


def exp(x):
    return ops.exp(_t(x))


def log(x):
    return ops.log(_t(x))


def sqrt(x):
    return ops.sqrt(_t(x))


def sin(x):
    return ops.sin(_t(x))


def cos(x):
    return ops.cos(_t(x))


def tanh(x):
    return ops.tanh(_t(x))


def sign(x):
    return ops.sign(_t(x))


def floor(x):
    return ops.floor(_t(x))


def abs(x):  # noqa: A001
    return ops.abs(_t(x))


def maximum(a, b):
    return ops.maximum(a, b)


def minimum(a, b):
    return ops.minimum(a, b)


def zeros_like(x, dtype=None):
    return ops.mul(_t(x), 0) if dtype is None else ops.cast(ops.mul(_t(x), 0), dtype)


def put_along_axis_zeros(shape, indices, values, axis):
    return ops.index.PutAlongAxisZeros.apply(_t(values), shape, indices, axis)


def index_add_zeros(shape, index, values):
    return ops.index.IndexAddZeros.apply(_t(values), shape, index)


def slice_put_zeros(shape, index, values):
    return ops.index.IndexAddZeros.apply(_t(values), shape, index, True)


def take_along_axis(x, indices, axis):
    return ops.take_along_dim(_t(x), _t(indices), axis)


def flip(x, axis=None):
    x = _t(x)
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return ops.flip(x, axes)


def roll(x, shift, axis=None):
    return ops.roll(_t(x), shift, axis)


def cumsum(x, axis=None):
    return ops.cumsum(_t(x), axis)


def cumprod(x, axis=None):
    return ops.cumprod(_t(x), axis)


def stack(arrays, axis=0):
    return ops.stack([_t(a) for a in arrays], axis)


def concatenate(arrays, axis=0):
    return ops.cat([_t(a) for a in arrays], axis)


def einsum(subscripts, *operands, optimize=False):
    return ops.einsum(subscripts, *[_t(o) for o in operands])


def expm1(x):
    return ops.expm1(_t(x))
