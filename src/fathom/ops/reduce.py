"""Reductions: sum, mean, max/min, var/std, norm, logsumexp, prod, cumsum, all/any.

`dim` may be an int, a tuple of ints or None (all dims), negative dims wrap,
and `keepdim` keeps reduced dims as size 1, as in PyTorch. A backward that needs
the reduced dims back re-inserts them with `_unsqueeze_to`.
"""
from __future__ import annotations

from collections import namedtuple

from .. import backend
from ..autograd.function import Op
from ..dtypes import as_dtype, get_default_dtype
from ..errors import DTypeError, normalize_dim

_np = backend.np

__all__ = ['sum', 'mean', 'amax', 'amin', 'max', 'min']

# also Tensor methods
METHODS = ['amax', 'amin', 'max', 'min']

values_indices = namedtuple("values_indices", ["values", "indices"])


def _axes(op, dim, ndim, shape=None):
    """Normalize `dim` to a sorted tuple of non-negative axes (None: all)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        return (normalize_dim(op, dim, ndim, shape),) if ndim else ()
    axes = tuple(sorted({normalize_dim(op, d, ndim, shape) for d in dim})) if ndim else ()
    if len(axes) != len(tuple(dim)):
        raise ValueError(f"{op}: dim {tuple(dim)} names a dim twice")
    return axes


def _unsqueeze_to(F, g, axes, keepdim):
    """Put reduced dims back as size 1 so `g` broadcasts against the input."""
    if keepdim or not axes:
        return g
    shape = list(g.shape)
    for a in axes:
        shape.insert(a, 1)
    return F.reshape(g, tuple(shape))


class Sum(Op):
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        if dtype is None and x.dtype.kind in "bui":
            dtype = _np.int64  # PyTorch sums integers and bools as int64
        return x.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(ctx, g):
        F = ctx.F
        return F.broadcast_to(_unsqueeze_to(F, g, ctx.axes, ctx.keepdim), ctx.shape), \
            None, None, None


class Mean(Op):
    def forward(ctx, x, axes, keepdim, dtype):
        if dtype is not None:
            x = x.astype(dtype)
        elif x.dtype.kind != "f":
            raise DTypeError(f"mean: could not infer output dtype; input dtype must be "
                             f"floating point, got {x.dtype} (hint: x.float().mean())")
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.count = 1
        for a in axes:
            ctx.count *= x.shape[a]
        return x.mean(axis=axes, keepdims=keepdim)

    def backward(ctx, g):
        F = ctx.F
        g = _unsqueeze_to(F, g, ctx.axes, ctx.keepdim) / ctx.count
        return F.broadcast_to(g, ctx.shape), None, None, None


class Amax(Op):
    """max over dims; ties share the gradient equally, as torch.amax."""

    fn = "max"

    def forward(ctx, x, axes, keepdim):
        if x.size == 0:
            raise ValueError(f"a{ctx.fn}: cannot reduce an empty tensor of shape {x.shape}")
        out = getattr(x, ctx.fn)(axis=axes, keepdims=True)
        ctx.save(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out if keepdim else out.reshape(tuple(s for i, s in enumerate(out.shape)
                                                     if i not in axes))

    def backward(ctx, g):
        x, out = ctx.saved
        F = ctx.F
        mask = x == out
        count = F.sum(mask, axis=ctx.axes, keepdims=True)
        return F.where(mask, _unsqueeze_to(F, g, ctx.axes, ctx.keepdim) / count, 0), None, None


class Amin(Amax):
    fn = "min"


class MaxDim(Op):
    """max(x, dim) -> (values, indices); the gradient goes to the first max, as torch.max."""

    fn = "argmax"

    def forward(ctx, x, dim, keepdim):
        xp = ctx.xp
        if x.shape[dim] == 0:
            raise IndexError(f"{ctx.fn[3:]}(): cannot reduce dim {dim} of size 0 "
                             f"(shape {x.shape})")
        idx = getattr(xp, ctx.fn)(x, axis=dim)
        idx_k = xp.expand_dims(idx, dim)
        values = xp.take_along_axis(x, idx_k, axis=dim)
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        ctx.save(idx_k)
        if keepdim:
            return values, idx_k.astype(_np.int64)
        return values.squeeze(dim), idx.astype(_np.int64)

    def backward(ctx, g, g_idx=None):
        (idx_k,) = ctx.saved
        F = ctx.F
        g = _unsqueeze_to(F, g, (ctx.dim,), ctx.keepdim)
        return F.put_along_axis_zeros(ctx.shape, idx_k, g, ctx.dim), None, None


class MinDim(MaxDim):
    fn = "argmin"


# --- public functions -------------------------------------------------------------------

def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001 - PyTorch's name
    """Sum over `dim` (int, tuple or None for all); integers sum as int64."""
    axes = _axes("sum", dim, input.ndim, input.shape)
    return Sum.apply(input, axes, keepdim, None if dtype is None else as_dtype(dtype).np)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over `dim`; the input must be floating point (or pass dtype)."""
    axes = _axes("mean", dim, input.ndim, input.shape)
    return Mean.apply(input, axes, keepdim, None if dtype is None else as_dtype(dtype).np)


def amax(input, dim=(), keepdim=False):
    """Max over dims (all when dim is () or None); ties share the gradient."""
    axes = _axes("amax", None if dim in ((), None) else dim, input.ndim, input.shape)
    return Amax.apply(input, axes, keepdim)


def amin(input, dim=(), keepdim=False):
    axes = _axes("amin", None if dim in ((), None) else dim, input.ndim, input.shape)
    return Amin.apply(input, axes, keepdim)


def max(input, dim=None, keepdim=False):  # noqa: A001 - PyTorch's name
    """max(x): the largest value. max(x, dim): (values, indices). max(x, y): maximum."""
    if dim is None:
        return amax(input)
    if not isinstance(dim, int):
        from .elementwise import maximum  # noqa: PLC0415
        return maximum(input, dim)
    d = normalize_dim("max", dim, input.ndim, input.shape)
    if input.ndim == 0:
        from .shape import reshape  # noqa: PLC0415
        return max(reshape(input, (1,)), 0, keepdim=False)
    return values_indices(*MaxDim.apply(input, d, keepdim))


def min(input, dim=None, keepdim=False):  # noqa: A001 - PyTorch's name
    """min(x): the smallest value. min(x, dim): (values, indices). min(x, y): minimum."""
    if dim is None:
        return amin(input)
    if not isinstance(dim, int):
        from .elementwise import minimum  # noqa: PLC0415
        return minimum(input, dim)
    d = normalize_dim("min", dim, input.ndim, input.shape)
    if input.ndim == 0:
        from .shape import reshape  # noqa: PLC0415
        return min(reshape(input, (1,)), 0, keepdim=False)
    return values_indices(*MinDim.apply(input, d, keepdim))


def _default_float():
    return get_default_dtype().np
