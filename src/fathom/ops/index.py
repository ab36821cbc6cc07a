"""Indexing: x[i], x[i] = v, gather, scatter, index_select, masked_fill, nonzero.

Integer-array indices may repeat; their gradients accumulate (`xp.add.at`).
Basic indices (ints, slices, None, Ellipsis) give views that share the input's
version counter.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..errors import fmt_shape
from ..tensor import Tensor

_np = backend.np

__all__ = ['getitem', 'setitem']

# also Tensor methods
METHODS = []


def _convert_index(index):
    """Tensors in an index become arrays; lists become arrays. Returns (index, is_basic)."""
    if not isinstance(index, tuple):
        index = (index,)
    out, basic = [], True
    for i in index:
        if isinstance(i, Tensor):
            i = i.data
            basic = False if i.ndim or i.dtype.kind == "b" else basic
            if i.ndim == 0 and i.dtype.kind in "iu":
                i = int(i)
        elif isinstance(i, (list, tuple)):
            i = _np.asarray([x.item() if isinstance(x, Tensor) else x for x in i])
            basic = False
        elif isinstance(i, _np.ndarray) or hasattr(i, "__cuda_array_interface__"):
            basic = False
        elif isinstance(i, bool):
            basic = False
        out.append(i)
    return tuple(out), basic


class GetItem(Op):
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e}; got index {_show(index)} for a tensor of shape "
                             f"{fmt_shape(x.shape)}") from None

    def backward(ctx, g):
        return ctx.F.index_add_zeros(ctx.shape, ctx.index, g), None


class GetItemView(GetItem):
    is_view = True


class IndexAddZeros(Op):
    """Zeros of `shape` with `values` added at `index`: the backward of getitem."""

    def forward(ctx, values, shape, index):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=values.dtype)
        ctx.xp.add.at(out, index, values)
        return out

    def backward(ctx, g):
        return g[ctx.index], None, None


class PutAlongAxisZeros(Op):
    """Zeros of `shape` with `values` put at `indices` along `axis` (backward of max(dim))."""

    def forward(ctx, values, shape, indices, axis):
        ctx.indices, ctx.axis = indices, axis
        out = ctx.xp.zeros(shape, dtype=values.dtype)
        ctx.xp.put_along_axis(out, indices, values, axis)
        return out

    def backward(ctx, g):
        return ctx.F.take_along_axis(g, ctx.indices, ctx.axis), None, None, None


class IndexPut(Op):
    """x with x[index] = value, out of place (the recorded form of `x[index] = value`)."""

    differentiable_twice = False

    def forward(ctx, x, index, value):
        ctx.index = index
        out = x.copy()
        try:
            out[index] = value
        except ValueError:
            vshape = getattr(value, "shape", ())
            raise ValueError(f"setitem: value of shape {fmt_shape(vshape)} cannot be broadcast "
                             f"to the indexed shape {fmt_shape(x[index].shape)} of a tensor "
                             f"of shape {fmt_shape(x.shape)}") from None
        return out

    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_grad[0]:
            gx = g.copy()
            gx[ctx.index] = 0
        if ctx.needs_grad[2]:
            gv = g[ctx.index]
        return gx, None, gv


def _show(index):
    return tuple(f"array{fmt_shape(i.shape)}" if hasattr(i, "shape") and getattr(i, "ndim", 0)
                 else i for i in index)


def getitem(input, index):
    """x[index] with NumPy/PyTorch semantics; differentiable."""
    idx, basic = _convert_index(index)
    return (GetItemView if basic else GetItem).apply(input, idx)


def setitem(input, index, value):
    """x[index] = value, in place (recorded in the graph when gradients are needed)."""
    from .elementwise import inplace  # noqa: PLC0415
    idx, _ = _convert_index(index)
    inplace(input, _index_put, idx, value)


def _index_put(x, idx, value):
    return IndexPut.apply(x, idx, value)


_index_put.__name__ = "setitem"
