"""Shape ops: reshape/view, permute/transpose, expand, squeeze/unsqueeze, flatten,
cat/stack/split/chunk, flip, roll, repeat, tril/triu.

Ops that return views share the input's version counter (`is_view`), so an
in-place edit through a view is seen by backward's checks.
"""
from __future__ import annotations

import builtins

from .. import backend
from ..autograd.function import Op
from ..dtypes import result_type
from ..errors import ShapeError, fmt_shape, normalize_dim

_np = backend.np

__all__ = ['reshape', 'view', 'flatten', 'unflatten', 'permute', 'transpose', 'swapaxes',
           'swapdims', 't', 'movedim', 'moveaxis', 'expand', 'broadcast_to', 'expand_as',
           'reshape_as', 'view_as', 'squeeze', 'unsqueeze', 'atleast_1d', 'cat', 'concat',
           'concatenate', 'stack', 'split', 'chunk', 'unbind', 'narrow', 'flip', 'fliplr',
           'flipud', 'roll', 'repeat', 'tile', 'tril', 'triu', 'diagonal']

# also Tensor methods (reshape, view, expand, repeat, permute, transpose and flip have
# varargs forms in tensor.py)
METHODS = ['flatten', 'unflatten', 'swapaxes', 'swapdims', 't', 'movedim', 'moveaxis',
           'expand_as', 'reshape_as', 'view_as', 'squeeze', 'unsqueeze', 'split', 'chunk',
           'unbind', 'narrow', 'fliplr', 'flipud', 'roll', 'tile', 'tril', 'triu', 'diagonal']


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
        ctx.in_shape, ctx.shape = x.shape, shape
        return x.reshape(shape)

    def backward(ctx, g):
        return ctx.F.reshape(g, ctx.in_shape), None

    def replay(ctx, a):
        return a.reshape(ctx.shape)


class Permute(Op):
    is_view = True

    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    def backward(ctx, g):
        return ctx.F.transpose(g, tuple(_np.argsort(ctx.dims))), None

    def replay(ctx, a):
        return a.transpose(ctx.dims)


class Expand(Op):
    is_view = True

    def forward(ctx, x, shape):
        ctx.shape = shape
        return ctx.xp.broadcast_to(x, shape)

    def replay(ctx, a):
        return ctx.xp.broadcast_to(a, ctx.shape)

    def backward(ctx, g):
        return g, None  # the engine sums over the expanded dims


class Cat(Op):
    """Concatenate along `dim`; backward hands each input its slice of the gradient."""

    def forward(ctx, *xs, dim):
        dt = result_type(*xs)
        ctx.dim, ctx.sizes = dim, [x.shape[dim] for x in xs]
        return ctx.xp.concatenate([x if x.dtype == dt else x.astype(dt) for x in xs], axis=dim)

    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        out, start = [], 0
        for n, need in zip(ctx.sizes, ctx.needs_grad):
            out.append(g[lead + (slice(start, start + n),)] if need else None)
            start += n
        return tuple(out)


class Flip(Op):
    def forward(ctx, x, dims):
        ctx.dims = dims
        return ctx.xp.flip(x, dims).copy()  # a copy, as in PyTorch: flip is not a view

    def backward(ctx, g):
        return ctx.F.flip(g, ctx.dims), None


class Roll(Op):
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return ctx.xp.roll(x, shifts, dims)

    def backward(ctx, g):
        neg = -ctx.shifts if isinstance(ctx.shifts, int) else tuple(-s for s in ctx.shifts)
        return ctx.F.roll(g, neg, ctx.dims), None, None


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


moveaxis = movedim


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


def _as_tensor_list(op, tensors):
    from ..tensor import Tensor  # noqa: PLC0415
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a list of tensors, but element {i} is a "
                            f"{type(t).__name__}")
    return list(tensors)


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other dims must match. Dtypes promote.

    >>> fathom.cat([fathom.zeros(2, 3), fathom.ones(1, 3)]).shape
    fathom.Size([3, 3])
    """
    tensors = _as_tensor_list("cat", tensors)
    # PyTorch skips legacy empty 1-D tensors of shape (0,) when the others have more dims
    kept = [(i, t) for i, t in enumerate(tensors) if not (t.ndim == 1 and t.shape[0] == 0)]
    if not kept:
        return tensors[0]
    i0, ref = kept[0]
    if ref.ndim == 0:
        raise ShapeError(f"cat: zero-dimensional tensor (at position {i0}) cannot be "
                         f"concatenated (hint: use stack, or unsqueeze first)")
    d = normalize_dim("cat", dim, ref.ndim, ref.shape)
    for i, t in kept:
        if t.ndim != ref.ndim or builtins.any(a != b for k, (a, b) in
                                              enumerate(zip(t.shape, ref.shape)) if k != d):
            raise ShapeError(f"cat: tensors must have the same shape except in dim {dim}; got "
                             f"tensor {i0} shape {fmt_shape(ref.shape)} and tensor {i} shape "
                             f"{fmt_shape(t.shape)}")
    kept = [t for _, t in kept]
    if len(kept) == 1:
        return kept[0]
    return Cat.apply(*kept, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join same-shape tensors along a new dim.

    >>> fathom.stack([fathom.zeros(2), fathom.ones(2)], dim=1).shape
    fathom.Size([2, 2])
    """
    tensors = _as_tensor_list("stack", tensors)
    ref = tensors[0]
    for i, t in enumerate(tensors):
        if tuple(t.shape) != tuple(ref.shape):
            raise ShapeError(f"stack: expects each tensor to be equal size; got tensor 0 shape "
                             f"{fmt_shape(ref.shape)} and tensor {i} shape "
                             f"{fmt_shape(t.shape)}")
    d = normalize_dim("stack", dim, ref.ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


def _slice_dim(input, d, start, stop):
    from .index import getitem  # noqa: PLC0415
    return getitem(input, (slice(None),) * d + (slice(start, stop),))


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of `split_size_or_sections` (an int: equal chunks, the last may be
    smaller; a list: those sizes) along `dim`. Returns a tuple of views."""
    if tensor.ndim == 0:
        raise ShapeError("split: expected at least a 1-dimensional tensor, got shape ()")
    d = normalize_dim("split", dim, tensor.ndim, tensor.shape)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and n == 0):
            raise ValueError(f"split: split_size must be positive, got {size} for dim {dim} "
                             f"of size {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise ShapeError(f"split: split_sizes {sizes} must be non-negative and sum to the "
                             f"size {n} of dim {dim}; got shape {fmt_shape(tensor.shape)}")
    out, start = [], 0
    for s in sizes:
        out.append(_slice_dim(tensor, d, start, start + s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """Split into `chunks` pieces of ceil(size / chunks) along `dim` (maybe fewer pieces)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if input.ndim == 0:
        raise ShapeError("chunk: expected at least a 1-dimensional tensor, got shape ()")
    d = normalize_dim("chunk", dim, input.ndim, input.shape)
    n = input.shape[d]
    size = -(-n // chunks)  # ceil: so chunk may return fewer than `chunks` pieces
    return split(input, builtins.max(size, 1), d)


def unbind(input, dim=0):
    """The slices along `dim`, each without that dim, as a tuple."""
    from .index import getitem  # noqa: PLC0415
    if input.ndim == 0:
        raise ShapeError("unbind: expected at least a 1-dimensional tensor, got shape ()")
    d = normalize_dim("unbind", dim, input.ndim, input.shape)
    return tuple(getitem(input, (slice(None),) * d + (i,)) for i in range(input.shape[d]))


def narrow(input, dim, start, length):
    """The slice start:start+length of `dim` (a view); start may be negative."""
    d = normalize_dim("narrow", dim, input.ndim, input.shape)
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {n}")
    start %= n if n else 1
    if length < 0 or start + length > n:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds the size {n} of "
                         f"dim {dim} (shape {fmt_shape(input.shape)})")
    return _slice_dim(input, d, start, start + length)


def flip(input, dims):
    """Reverse the order of elements along `dims`."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = tuple(normalize_dim("flip", d, input.ndim, input.shape) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"flip: dims {dims} names a dim twice")
    return Flip.apply(input, axes)


def fliplr(input):
    return flip(input, (1,))


def flipud(input):
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    """Shift elements circularly by `shifts` along `dims` (flattened first when None)."""
    if dims is None:
        if not isinstance(shifts, int) and len(tuple(shifts)) != 1:
            raise ValueError(f"roll: with dims=None, shifts must be one int, got {shifts}")
        s = shifts if isinstance(shifts, int) else tuple(shifts)[0]
        return Roll.apply(input, int(s), None)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalize_dim("roll", d, input.ndim, input.shape) for d in dims)
    return Roll.apply(input, shifts, axes)


def repeat(input, sizes):
    """Tile `input` sizes[i] times along dim i (Tensor.repeat); len(sizes) >= ndim.

    Built from reshape + expand + reshape, so it needs no backward of its own.
    """
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < input.ndim:
        raise ShapeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller "
                         f"than the number of dims of shape {fmt_shape(input.shape)}")
    if builtins.any(s < 0 for s in sizes):
        raise ValueError(f"repeat: repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    inter = tuple(v for s in shape for v in (1, s))
    wide = tuple(v for r, s in zip(sizes, shape) for v in (r, s))
    x = expand(reshape(input, inter), wide)
    return reshape(x, tuple(r * s for r, s in zip(sizes, shape)))


def tile(input, dims):
    """Like repeat, but `dims` shorter than ndim is padded with leading 1s."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def _tri(op, input, diagonal, upper):
    from .elementwise import where  # noqa: PLC0415
    if input.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                         f"{fmt_shape(input.shape)}")
    n, m = input.shape[-2:]
    xp = backend.namespace(input.data)
    keep = xp.tri(n, m, diagonal - 1 if upper else diagonal, dtype=bool)
    zero = False if input.data.dtype.kind == "b" else 0  # keep bool tensors bool
    return where(~keep if upper else keep, input, zero)


def tril(input, diagonal=0):
    """Lower triangle of the last two dims (elements above `diagonal` set to 0)."""
    return _tri("tril", input, diagonal, upper=False)


def triu(input, diagonal=0):
    """Upper triangle of the last two dims (elements below `diagonal` set to 0)."""
    return _tri("triu", input, diagonal, upper=True)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of dims (dim1, dim2) as a new last dim (offset > 0: above it)."""
    from .index import getitem  # noqa: PLC0415
    d1 = normalize_dim("diagonal", dim1, input.ndim, input.shape)
    d2 = normalize_dim("diagonal", dim2, input.ndim, input.shape)
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 cannot be the same dim ({dim1}, {dim2})")
    x = movedim(input, (d1, d2), (-2, -1))
    n, m = x.shape[-2:]
    k = builtins.max(0, builtins.min(n + builtins.min(offset, 0), m - builtins.max(offset, 0)))
    xp = backend.namespace(input.data)
    rows = xp.arange(k) - builtins.min(offset, 0)
    return getitem(x, (Ellipsis, rows, rows + offset))
