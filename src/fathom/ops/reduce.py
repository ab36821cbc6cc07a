"""Reductions: sum, mean, max/min, var/std, norm, logsumexp, prod, cumsum, all/any.

`dim` may be an int, a tuple of ints or None (all dims), negative dims wrap,
and `keepdim` keeps reduced dims as size 1, as in PyTorch. A backward that needs
the reduced dims back re-inserts them with `_unsqueeze_to`.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

from .. import backend
from ..autograd.function import Op
from .elementwise import _to_float
from ..dtypes import as_dtype, get_default_dtype
from ..errors import DTypeError, normalize_dim, require_float

_np = backend.np

__all__ = ['sum', 'mean', 'amax', 'amin', 'max', 'min', 'prod', 'var', 'std', 'var_mean',
           'std_mean', 'norm', 'logsumexp', 'cumsum', 'cumprod', 'all', 'any', 'argmax',
           'argmin']

# also Tensor methods
METHODS = ['amax', 'amin', 'max', 'min', 'prod', 'var', 'std', 'norm', 'logsumexp', 'cumsum',
           'cumprod', 'all', 'any', 'argmax', 'argmin']

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


class Prod(Op):
    """Product over one axis (or all); the gradient is the product of the other elements,
    exact when the input holds zeros (no division by zero)."""

    def forward(ctx, x, axis, keepdim, dtype):
        if dtype is None and x.dtype.kind in "bui":
            dtype = _np.int64
        out = ctx.xp.prod(x, axis=axis, keepdims=keepdim, dtype=dtype)
        ctx.save(x, out)
        ctx.axis, ctx.keepdim = axis, keepdim
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        F = ctx.F
        axes = tuple(range(x.ndim)) if ctx.axis is None else (ctx.axis,)
        g = _unsqueeze_to(F, g, axes, ctx.keepdim)
        if not bool((_raw(x) == 0).any()):
            return g * _unsqueeze_to(F, out, axes, ctx.keepdim) / x, None, None, None
        if ctx.axis is None:  # the product over all elements: one flat axis
            others = F.reshape(_prod_of_others(F, F.reshape(x, (-1,)), 0), x.shape)
        else:
            others = _prod_of_others(F, x, ctx.axis)
        return g * others, None, None, None


def _prod_of_others(F, x, axis):
    """out[i] = prod_{k != i} x[k] along `axis`, by exclusive scans from both ends.

    A Python loop over the axis (vectorized over the other dims) instead of a division,
    so zeros are exact; written in `F` so it differentiates again.
    """
    x = F.swapaxes(x, axis, -1)
    n = x.shape[-1]
    one = F.zeros_like(x[..., 0]) + 1
    left, right = [one], [one]
    for i in range(1, n):
        left.append(left[-1] * x[..., i - 1])
        right.append(right[-1] * x[..., n - i])
    others = [left[i] * right[n - 1 - i] for i in range(n)]
    return F.swapaxes(F.stack(others, axis=-1), axis, -1)


class Cumsum(Op):
    def forward(ctx, x, axis, dtype):
        if dtype is None and x.dtype.kind in "bui":
            dtype = _np.int64
        ctx.axis = axis
        return ctx.xp.cumsum(x, axis=axis, dtype=dtype)

    def backward(ctx, g):
        F = ctx.F
        # d/dx_i sum_{j>=i} g_j: a reversed cumulative sum
        return F.flip(F.cumsum(F.flip(g, ctx.axis), axis=ctx.axis), ctx.axis), None, None


class Cumprod(Op):
    """Cumulative product; the gradient is exact with zeros in the input."""

    def forward(ctx, x, axis, dtype):
        if dtype is None and x.dtype.kind in "bui":
            dtype = _np.int64
        out = ctx.xp.cumprod(x, axis=axis, dtype=dtype)
        ctx.axis = axis
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        F, axis = ctx.F, ctx.axis
        if not bool((_raw(x) == 0).any()):
            # sum_{j>=i} g_j y_j / x_i, with y the cumulative product
            rev = F.flip(F.cumsum(F.flip(g * out, axis), axis=axis), axis)
            return rev / x, None, None
        # grad_i = L_i * s_i with L_i = prod_{k<i} x_k and s_i = g_i + x_{i+1} s_{i+1}:
        # two scans, no division, so zeros are exact.
        xs, gs = F.swapaxes(x, axis, -1), F.swapaxes(g, axis, -1)
        n = xs.shape[-1]
        left = [F.zeros_like(xs[..., 0]) + 1]
        for i in range(1, n):
            left.append(left[-1] * xs[..., i - 1])
        s = [gs[..., n - 1]]
        for i in range(n - 2, -1, -1):
            s.append(gs[..., i] + xs[..., i + 1] * s[-1])
        s.reverse()
        gx = F.stack([left[i] * s[i] for i in range(n)], axis=-1)
        return F.swapaxes(gx, axis, -1), None, None


class LogSumExp(Op):
    """log(sum(exp(x))) fused for stability: the max is subtracted before exp."""

    def forward(ctx, x, axes, keepdim):
        xp = ctx.xp
        x = _to_float(x)
        m = x.max(axis=axes, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or an inf) must not give inf - inf
        out = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(out.shape) if i not in axes))
        ctx.save(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        F = ctx.F
        out = _unsqueeze_to(F, out, ctx.axes, ctx.keepdim)
        return _unsqueeze_to(F, g, ctx.axes, ctx.keepdim) * F.exp(x - out), None, None


class Norm(Op):
    """The p-norm sum(|x|^p)^(1/p) for finite p > 0; fused so that the gradient at the zero
    vector is 0 (as in PyTorch) instead of the 0/0 a composite would give."""

    def forward(ctx, x, p, axes, keepdim):
        xp = ctx.xp
        ax = xp.abs(x)
        if p == 2:
            out = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        elif p == 1:
            out = ax.sum(axis=axes, keepdims=keepdim)
        else:
            out = (ax ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
        ctx.save(x, out)
        ctx.p, ctx.axes, ctx.keepdim = p, axes, keepdim
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        F, p = ctx.F, ctx.p
        out = _unsqueeze_to(F, out, ctx.axes, ctx.keepdim)
        g = _unsqueeze_to(F, g, ctx.axes, ctx.keepdim)
        zero = out == 0
        safe = F.where(zero, 1, out)
        if p == 2:
            gx = x * (g / safe)
        elif p == 1:
            gx = F.sign(x) * g
        else:
            gx = F.sign(x) * F.abs(x) ** (p - 1) * (g / safe ** (p - 1))
        return F.where(zero, 0, gx), None, None, None


class _NoGradReduce(Op):
    """Reductions whose results are indices or bools (argmax, all, any): no gradient."""

    def forward(ctx, x, fn, *args):
        return fn(ctx.xp, x, *args)


def _raw(a):
    """The array of a saved value (a Tensor under create_graph)."""
    return a.data if hasattr(a, "requires_grad") else a


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


def _single_dim(op, input, dim):
    if dim is None:
        return None
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int or None, got {dim!r} (hint: reduce one dim "
                        f"at a time)")
    return normalize_dim(op, dim, input.ndim, input.shape) if input.ndim else None


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or over one `dim`. Integers multiply as int64.

    >>> fathom.prod(fathom.tensor([[1., 2.], [3., 4.]]), 1)
    tensor([ 2., 12.])
    """
    axis = _single_dim("prod", input, dim)
    if input.ndim == 0:
        keepdim = False
    return Prod.apply(input, axis, keepdim if dim is not None else False,
                      None if dtype is None else as_dtype(dtype).np)


def _var_args(op, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # legacy var(x, unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None else int(bool(unbiased))
    elif unbiased is not None:
        raise ValueError(f"{op}: pass either unbiased or correction, not both")
    require_float(op, input)
    return _axes(op, dim, input.ndim, input.shape), correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over `dim` with Bessel's `correction` (1 by default; 0 is the biased form).

    Divides by max(N - correction, 0), so a single sample gives nan, as in PyTorch.
    """
    axes, correction = _var_args("var", input, dim, unbiased, keepdim, correction)
    n = 1
    for a in axes:
        n *= input.shape[a]
    d = input - mean(input, axes, keepdim=True)
    return sum(d * d, axes, keepdim) / float(builtins.max(n - correction, 0))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: sqrt(var(...)) with the same arguments."""
    from .elementwise import sqrt  # noqa: PLC0415
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over `dim` (all elements when None).

    p: 'fro' or 2 (Euclidean), any float > 0, inf (max |x|), -inf (min |x|), 0 (count of
    non-zeros). The gradient at the zero vector is 0, as in PyTorch.
    """
    from .elementwise import abs as _abs  # noqa: PLC0415
    if dtype is not None:
        input = input.to(dtype)
    require_float("norm", input)
    if p == "fro" or p is None:
        if dim is not None and not isinstance(dim, int) and len(tuple(dim)) > 2:
            raise ValueError(f"norm: 'fro' takes at most 2 dims, got dim={tuple(dim)} for "
                             f"shape {tuple(input.shape)} (hint: use p=2)")
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported (use 'fro' or a number)")
    axes = _axes("norm", dim, input.ndim, input.shape)
    p = float(p)
    if p == float("inf"):
        return amax(_abs(input), axes if axes else None, keepdim)
    if p == float("-inf"):
        return amin(_abs(input), axes if axes else None, keepdim)
    if p == 0:
        return sum(input != 0, axes, keepdim).to(input.dtype)
    if p < 0:
        raise ValueError(f"norm: p must be >= 0 or +-inf, got p={p}")
    return Norm.apply(input, p, axes, keepdim)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x), dim)), computed stably (finite for inputs near +-1000)."""
    axes = _axes("logsumexp", dim, input.ndim, input.shape)
    return LogSumExp.apply(input, axes, keepdim)


def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along `dim`; integers and bools accumulate as int64."""
    axis = normalize_dim("cumsum", dim, input.ndim, input.shape)
    if input.ndim == 0:  # a 0-d input acts as shape (1,)
        from .shape import reshape  # noqa: PLC0415
        return reshape(cumsum(reshape(input, (1,)), 0, dtype=dtype), ())
    return Cumsum.apply(input, axis, None if dtype is None else as_dtype(dtype).np)


def cumprod(input, dim, *, dtype=None):
    """Cumulative product along `dim`; the gradient is exact with zeros in the input."""
    axis = normalize_dim("cumprod", dim, input.ndim, input.shape)
    if input.ndim == 0:  # a 0-d input acts as shape (1,)
        from .shape import reshape  # noqa: PLC0415
        return reshape(cumprod(reshape(input, (1,)), 0, dtype=dtype), ())
    return Cumprod.apply(input, axis, None if dtype is None else as_dtype(dtype).np)


def _logical(op, np_fn):
    def fn(input, dim=None, keepdim=False):
        axes = _axes(op, dim, input.ndim, input.shape)
        uint8 = input.data.dtype == _np.uint8  # PyTorch keeps uint8 for all/any
        return _NoGradReduce.apply(input, _logical_impl, np_fn, axes, keepdim, uint8)
    fn.__name__ = op
    fn.__doc__ = f"True where {'every' if op == 'all' else 'some'} element over `dim` is " \
                 f"non-zero (a bool tensor)."
    return fn


def _logical_impl(xp, x, np_fn, axes, keepdim, uint8):
    out = getattr(xp, np_fn)(x, axis=axes, keepdims=keepdim)
    return xp.asarray(out, dtype=_np.uint8 if uint8 else bool)


all = _logical("all", "all")  # noqa: A001 - PyTorch's name
any = _logical("any", "any")  # noqa: A001 - PyTorch's name


def _arg(op, np_fn):
    def fn(input, dim=None, keepdim=False):
        if input.data.size == 0:
            raise IndexError(f"{op}: cannot reduce an empty tensor of shape "
                             f"{tuple(input.shape)}")
        axis = None if dim is None or input.ndim == 0 else \
            normalize_dim(op, dim, input.ndim, input.shape)
        return _NoGradReduce.apply(input, _arg_impl, np_fn, axis, keepdim)
    fn.__name__ = op
    fn.__doc__ = f"Index of the {op[3:]}imum over `dim` (of the flattened input when None)."
    return fn


def _arg_impl(xp, x, np_fn, axis, keepdim):
    if axis is None:
        out = getattr(xp, np_fn)(x.reshape(-1))
        shape = (1,) * x.ndim if keepdim else ()
        return xp.asarray(out, dtype=_np.int64).reshape(shape)
    return getattr(xp, np_fn)(x, axis=axis, keepdims=keepdim).astype(_np.int64)


argmax = _arg("argmax", "argmax")
argmin = _arg("argmin", "argmin")
