"""Shape ops: reshape/view, permute/transpose, expand, squeeze/unsqueeze, flatten,
cat/stack/split/chunk, flip, roll, repeat, tril/triu.

Ops that return views share the input's version counter (`is_view`), so an
in-place edit through a view is seen by backward's checks.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..errors import ShapeError, fmt_shape, normalize_dim

_np = backend.np

__all__ = ['reshape', 'view', 'flatten', 'unflatten', 'permute', 'transpose', 'swapaxes', 'swapdims', 't', 'movedim', 'expand', 'broadcast_to', 'expand_as', 'reshape_as', 'view_as', 'squeeze', 'unsqueeze', 'atleast_1d']

# also Tensor methods
METHODS = ['flatten', 'unflatten', 'swapaxes', 'swapdims', 't', 'movedim', 'expand_as', 'reshape_as', 'view_as', 'squeeze', 'unsqueeze']


def _infer_shape(op, shape, numel, in_shape):
    """Resolve one -1 in `shape`; raise naming both shapes if the sizes differ."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"{op}: only one dimension can be inferred (-1); got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise ShapeError(f"{op}: invalid size {s} in shape {shape}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise ShapeError(f"{op}: shape {fmt_shape(in_shape)} ({numel} elements) cannot "
                             f"be viewed as {fmt_shape(shape)}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise ShapeError(f"{op}: shape {fmt_shape(in_shape)} ({numel} elements) cannot be "
                         f"viewed as {fmt_shape(shape)}")
    return shape


class Reshape(Op):
    is_view = True

    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    def backward(ctx, g):
        return ctx.F.reshape(g, ctx.in_shape), None


class Permute(Op):
    is_view = True

    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    def backward(ctx, g):
        return ctx.F.transpose(g, tuple(_np.argsort(ctx.dims))), None


class Expand(Op):
    is_view = True

    def forward(ctx, x, shape):
        return ctx.xp.broadcast_to(x, shape)

    def backward(ctx, g):
        return g, None  # the engine sums over the expanded dims


# --- public functions -------------------------------------------------------------------

def reshape(input, shape):
    """`input` with a new shape of the same number of elements (one dim may be -1)."""
    shape = _infer_shape("reshape", shape, input.data.size, input.data.shape)
    if shape == input.data.shape:
        return input
    return Reshape.apply(input, shape)


def view(input, shape):
    """Like reshape; PyTorch also requires compatible strides, Fathom copies if needed."""
    shape = _infer_shape("view", shape, input.data.size, input.data.shape)
    return Reshape.apply(input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    nd = input.ndim
    if nd == 0:
        return reshape(input, (1,))
    s = normalize_dim("flatten", start_dim, nd, input.shape)
    e = normalize_dim("flatten", end_dim, nd, input.shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape
    return reshape(input, tuple(shape[:s]) + (-1,) + tuple(shape[e + 1:]))


def unflatten(input, dim, sizes):
    d = normalize_dim("unflatten", dim, input.ndim, input.shape)
    shape = input.shape
    return reshape(input, tuple(shape[:d]) + tuple(sizes) + tuple(shape[d + 1:]))


def permute(input, dims):
    """Reorder dims: permute(x, (2, 0, 1))."""
    nd = input.ndim
    dims = tuple(normalize_dim("permute", d, nd, input.shape) for d in dims)
    if sorted(dims) != list(range(nd)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of the "
                         f"{nd} dims of shape {fmt_shape(input.shape)}")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):
    """Swap two dims."""
    nd = input.ndim
    if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    d0 = normalize_dim("transpose", dim0, nd, input.shape)
    d1 = normalize_dim("transpose", dim1, nd, input.shape)
    dims = list(range(nd))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(input, tuple(dims))


swapaxes = swapdims = transpose


def t(input):
    """Transpose a 2-D tensor (0-D and 1-D are returned as they are)."""
    if input.ndim > 2:
        raise ShapeError(f"t: expects a tensor with <= 2 dims, got shape {fmt_shape(input.shape)}")
    return transpose(input, 0, -1) if input.ndim == 2 else input


def movedim(input, source, destination):
    nd = input.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [normalize_dim("movedim", d, nd, input.shape) for d in src]
    dst = [normalize_dim("movedim", d, nd, input.shape) for d in dst]
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, tuple(order))


def expand(input, sizes):
    """Broadcast to `sizes` without copying; -1 keeps a dim. Gradients sum back."""
    shape = tuple(sizes)
    nd_new = len(shape) - input.ndim
    if nd_new < 0:
        raise ShapeError(f"expand: the number of sizes provided ({len(shape)}) must be at "
                         f"least the number of dims of shape {fmt_shape(input.shape)}")
    full = []
    for i, s in enumerate(shape):
        if s == -1:
            if i < nd_new:
                raise ShapeError(f"expand: -1 is not allowed for a new leading dim; got "
                                 f"{shape}")
            s = input.shape[i - nd_new]
        elif i >= nd_new and input.shape[i - nd_new] not in (1, s):
            raise ShapeError(f"expand: the expanded size {s} must match the existing size "
                             f"{input.shape[i - nd_new]} at non-singleton dim {i}; got shape "
                             f"{fmt_shape(input.shape)} and sizes {shape}")
        full.append(s)
    full = tuple(full)
    if full == tuple(input.shape):
        return input
    return Expand.apply(input, full)


def broadcast_to(input, shape):
    return expand(input, shape)


def expand_as(input, other):
    return expand(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def view_as(input, other):
    return view(input, other.shape)


def squeeze(input, dim=None):
    """Drop size-1 dims (all, or those in `dim`); a dim that is not size 1 is kept."""
    shape = input.shape
    if dim is None:
        axes = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = (dim,) if isinstance(dim, int) else dim
        axes = {normalize_dim("squeeze", d, input.ndim, shape) for d in dims}
        axes = {a for a in axes if input.ndim and shape[a] == 1}
    if not axes:
        return input
    return reshape(input, tuple(s for i, s in enumerate(shape) if i not in axes))


def unsqueeze(input, dim):
    """Insert a size-1 dim at `dim` (which may be input.ndim)."""
    d = normalize_dim("unsqueeze", dim, input.ndim + 1)
    shape = list(input.shape)
    shape.insert(d, 1)
    return reshape(input, tuple(shape))


def atleast_1d(input):
    return reshape(input, (1,)) if input.ndim == 0 else input
