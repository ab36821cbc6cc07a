"""Matrix products: matmul (batched, broadcasting, 1-D cases), mm, bmm, outer, dot, einsum."""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..errors import DTypeError, ShapeError, fmt_shape

_np = backend.np

__all__ = ['matmul', 'mm', 'bmm', 'mv', 'dot', 'outer', 'ger']

# also Tensor methods
METHODS = ['mm', 'bmm', 'mv', 'dot', 'outer', 'ger']


class Matmul(Op):
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both arguments need at least 1 dim; got a "
                             f"{fmt_shape(a.shape)} and b {fmt_shape(b.shape)}")
        if a.dtype != b.dtype:
            raise DTypeError(f"matmul: expected both inputs to have the same dtype, got a "
                             f"{a.dtype} {fmt_shape(a.shape)} and b {b.dtype} "
                             f"{fmt_shape(b.shape)}")
        ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            bdim = "b.shape[-2]" if b.ndim > 1 else "b.shape[0]"
            raise ShapeError(f"matmul: inner dimensions differ (a.shape[-1]={ka}, "
                             f"{bdim}={kb}); got a {fmt_shape(a.shape)} and b "
                             f"{fmt_shape(b.shape)}")
        ctx.save(a, b)
        try:
            return ctx.xp.matmul(a, b)
        except ValueError:
            raise ShapeError(f"matmul: batch dims cannot broadcast; got a {fmt_shape(a.shape)} "
                             f"and b {fmt_shape(b.shape)}") from None

    def backward(ctx, g):
        a, b = ctx.saved
        F = ctx.F
        ga = gb = None
        # 1-D operands act as a row (a) or a column (b) matrix
        a2 = F.reshape(a, (1, -1)) if a.ndim == 1 else a
        b2 = F.reshape(b, (-1, 1)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = F.expand_dims(g2, -2 if b.ndim > 1 else -1)
        if b.ndim == 1:
            g2 = F.expand_dims(g2, -1)
        if ctx.needs_grad[0]:
            ga = F.matmul(g2, F.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if ctx.needs_grad[1]:
            gb = F.matmul(F.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


def matmul(input, other):
    """Matrix product with NumPy's rules: 1-D operands, batch dims broadcast."""
    return Matmul.apply(input, other)


def mm(input, mat2):
    """(n, k) @ (k, m) for 2-D tensors only."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: both arguments must be 2-D; got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(mat2.shape)}")
    return Matmul.apply(input, mat2)


def bmm(input, mat2):
    """(b, n, k) @ (b, k, m) for 3-D tensors with equal batch size."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: expects 3-D tensors with the same batch size; got "
                         f"{fmt_shape(input.shape)} and {fmt_shape(mat2.shape)}")
    return Matmul.apply(input, mat2)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(f"mv: expects a 2-D matrix and a 1-D vector; got "
                         f"{fmt_shape(input.shape)} and {fmt_shape(vec.shape)}")
    return Matmul.apply(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(f"dot: expects 1-D tensors; got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(other.shape)}")
    return Matmul.apply(input, other)


def outer(input, vec2):
    """(n,) x (m,) -> (n, m)."""
    from .shape import reshape  # noqa: PLC0415
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: expects 1-D tensors; got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(vec2.shape)}")
    return reshape(input, (-1, 1)) * reshape(vec2, (1, -1))


ger = outer
