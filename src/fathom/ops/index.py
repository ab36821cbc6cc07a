"""Indexing: x[i], x[i] = v, gather, scatter, index_select, masked_fill, nonzero.

Integer-array indices may repeat; their gradients accumulate (`xp.add.at`).
Basic indices (ints, slices, None, Ellipsis) give views that share the input's
version counter.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..autograd.grad_mode import state as _grad_mode
from . import elementwise as _elementwise
from ..errors import DTypeError, ShapeError, fmt_shape, normalize_dim
from ..tensor import Tensor

_np = backend.np

__all__ = ['getitem', 'setitem', 'gather', 'scatter', 'scatter_add', 'index_select',
           'index_add', 'masked_fill', 'masked_select', 'nonzero', 'argwhere', 'take_along_dim']

# also Tensor methods
METHODS = ['gather', 'scatter', 'scatter_add', 'index_select', 'index_add', 'masked_fill',
           'masked_select', 'nonzero', 'argwhere', 'take_along_dim']


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
            msg = str(e).replace("axis", "dimension")
            raise IndexError(f"getitem: {msg}; got index {_show(index)} for a tensor of shape "
                             f"{fmt_shape(x.shape)}") from None

    def backward(ctx, g):
        # advanced indices may repeat: their gradients add up
        return ctx.F.index_add_zeros(ctx.shape, ctx.index, g), None


class GetItemView(GetItem):
    """Basic indexing (ints, slices, None, ...): a view, and no index repeats."""

    is_view = True

    def backward(ctx, g):
        # plain assignment is ~20x faster than xp.add.at, and exact without repeats
        return ctx.F.slice_put_zeros(ctx.shape, ctx.index, g), None

    def replay(ctx, a):
        return a[ctx.index]


class IndexAddZeros(Op):
    """Zeros of `shape` with `values` added at `index`: the backward of getitem."""

    def forward(ctx, values, shape, index, basic=False):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=values.dtype)
        if basic:
            out[index] = values
        else:
            ctx.xp.add.at(out, index, values)
        return out

    def backward(ctx, g):
        return g[ctx.index], None, None, None


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
    """x with x[index] = value, out of place (the recorded form of `x[index] = value`).

    Backward: x's gradient is g with the written positions zeroed (a where over a constant
    mask), value's is g[index]; both are ops of `F`, so this differentiates twice.
    """

    def forward(ctx, x, index, value):
        ctx.index = index
        out = x.copy()
        _assign(out, index, value)
        ctx.vshape, ctx.shape = getattr(value, "shape", ()), x.shape
        return out

    def backward(ctx, g):
        F = ctx.F
        gx = gv = None
        if ctx.needs_grad[0]:
            mask = ctx.xp.zeros(ctx.shape, dtype=bool)
            mask[ctx.index] = True
            gx = F.where(mask, 0, g)
        if ctx.needs_grad[2]:
            gv = g[ctx.index]
            extra = len(ctx.vshape) - gv.ndim
            if extra > 0:  # NumPy drops a value's leading 1s when it assigns
                gv = F.reshape(gv, (1,) * extra + tuple(gv.shape))
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
    idx, _ = _convert_index(index)
    if _grad_mode.enabled and (input.requires_grad or getattr(value, "requires_grad", False)):
        _elementwise.inplace(input, _index_put, idx, value)
        return
    # nothing to record: write straight into the array (no copy of the whole tensor)
    raw = value.data if isinstance(value, Tensor) else value
    if not input.data.flags.writeable:
        raise RuntimeError("setitem: the tensor's memory is read-only (an expanded or "
                           "broadcast view); call .clone() first")
    _assign(input.data, idx, raw)
    input._vc[0] += 1


def _assign(out, index, value):
    """out[index] = value, with errors that name setitem, the index and both shapes."""
    try:
        out[index] = value
    except ValueError:
        raise ShapeError(f"setitem: value of shape {fmt_shape(getattr(value, 'shape', ()))} "
                         f"cannot be broadcast to the indexed shape "
                         f"{fmt_shape(out[index].shape)} of a tensor of shape "
                         f"{fmt_shape(out.shape)}") from None
    except IndexError as e:
        msg = str(e).replace("axis", "dimension")
        raise IndexError(f"setitem: {msg}; got index {_show(index)} for a tensor of shape "
                         f"{fmt_shape(out.shape)}") from None


def _index_put(x, idx, value):
    return IndexPut.apply(x, idx, value)


_index_put.__name__ = "setitem"



# --- gather / scatter family ------------------------------------------------------------

def _index_array(op, index, what="index"):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(index).__name__}")
    if index.data.dtype.kind not in "iu":
        raise DTypeError(f"{op}: {what} must be an integer tensor (int64), got {index.dtype}")
    return index.data


def _check_range(op, idx, d, size, shape):
    if idx.size and (idx.min() < 0 or idx.max() >= size):  # PyTorch: no negative indices
        bad = idx.max() if idx.max() >= size else idx.min()
        raise IndexError(f"{op}: index {int(bad)} is out of bounds for dimension {d} with size "
                         f"{size}; got input shape {fmt_shape(shape)}")


def _along_dim_index(xp, idx, dim):
    """The advanced-index tuple that picks idx[i, j, ...] along `dim` at position (i, j, ...)."""
    out = []
    for d in range(idx.ndim):
        if d == dim:
            out.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = idx.shape[d]
            out.append(xp.arange(idx.shape[d]).reshape(shape))
    return tuple(out)


def _gather_index(op, input, dim, index):
    idx = _index_array(op, index)
    nd = input.ndim
    d = normalize_dim(op, dim, nd, input.shape)
    if idx.ndim != max(nd, 1) and not (nd == 0 and idx.ndim <= 1):
        raise ShapeError(f"{op}: index must have the same number of dims as input; got input "
                         f"shape {fmt_shape(input.shape)} and index shape "
                         f"{fmt_shape(idx.shape)}")
    for k in range(idx.ndim):
        if k != d and nd and idx.shape[k] > input.shape[k]:
            raise ShapeError(f"{op}: index size {idx.shape[k]} exceeds the input size "
                             f"{input.shape[k]} at dim {k} (only dim {dim} may be larger); got "
                             f"input shape {fmt_shape(input.shape)} and index shape "
                             f"{fmt_shape(idx.shape)}")
    _check_range(op, idx, d, input.shape[d] if nd else 1, input.shape)
    if nd == 0:
        return (), idx
    return _along_dim_index(backend.namespace(idx), idx, d), None


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j] = input[index[i][j]][j] (dim=0): values along `dim` at `index`.

    index has input's number of dims; its size may be smaller in the other dims.
    Repeated indices accumulate gradient.
    """
    full, scalar_idx = _gather_index("gather", input, dim, index)
    if scalar_idx is not None:  # a 0-d input acts as shape (1,)
        from .shape import reshape  # noqa: PLC0415
        return GetItem.apply(reshape(input, (1,)), (index.data,))
    return GetItem.apply(input, full)


def take_along_dim(input, indices, dim=None):
    """Values of `input` at `indices` along `dim` (of the flattened input when None);
    input and indices broadcast in the other dims."""
    from .shape import expand, reshape  # noqa: PLC0415
    idx = _index_array("take_along_dim", indices, "indices")
    if dim is None:
        flat = reshape(input, (-1,))
        _check_range("take_along_dim", idx, 0, flat.shape[0], input.shape)
        return GetItem.apply(flat, (reshape(indices, (-1,)).data,))
    if input.ndim != idx.ndim:
        raise ShapeError(f"take_along_dim: input and indices must have the same number of "
                         f"dims; got input shape {fmt_shape(input.shape)} and indices shape "
                         f"{fmt_shape(idx.shape)}")
    d = normalize_dim("take_along_dim", dim, input.ndim, input.shape)
    from ..errors import broadcast_shapes  # noqa: PLC0415
    si = list(input.shape)
    sx = list(idx.shape)
    si[d] = sx[d] = 1
    b = list(broadcast_shapes("take_along_dim", tuple(si), tuple(sx)))
    in_shape, ix_shape = list(b), list(b)
    in_shape[d], ix_shape[d] = input.shape[d], idx.shape[d]
    x = expand(input, tuple(in_shape))
    idx = backend.namespace(idx).broadcast_to(idx, tuple(ix_shape))
    _check_range("take_along_dim", idx, d, input.shape[d], input.shape)
    return GetItem.apply(x, _along_dim_index(backend.namespace(idx), idx, d))


def _scatter_parts(op, input, dim, index, src):
    """The advanced index of the scatter and `src` cut to index's shape."""
    idx = _index_array(op, index)
    d = normalize_dim(op, dim, input.ndim, input.shape)
    if idx.ndim != input.ndim:
        raise ShapeError(f"{op}: index must have the same number of dims as input; got input "
                         f"shape {fmt_shape(input.shape)} and index shape "
                         f"{fmt_shape(idx.shape)}")
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > input.shape[k]:
            raise ShapeError(f"{op}: index size {idx.shape[k]} exceeds the input size "
                             f"{input.shape[k]} at dim {k}; got input shape "
                             f"{fmt_shape(input.shape)} and index shape {fmt_shape(idx.shape)}")
    if isinstance(src, Tensor):
        if src.ndim != idx.ndim or any(a > b for a, b in zip(idx.shape, src.shape)):
            raise ShapeError(f"{op}: index shape {fmt_shape(idx.shape)} must not exceed src "
                             f"shape {fmt_shape(src.shape)} in any dim (and both need "
                             f"input's {input.ndim} dims)")
        if tuple(src.shape) != tuple(idx.shape):
            src = getitem(src, tuple(slice(0, n) for n in idx.shape))
    _check_range(op, idx, d, input.shape[d], input.shape)
    return _along_dim_index(backend.namespace(idx), idx, d), src


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """Out-of-place scatter: a copy of input with out[index[i][j]][j] = src[i][j] (dim=0).

    src may be a tensor or a number (or pass value=). reduce='add' / 'multiply' combine
    instead of overwrite ('multiply' has no gradient, as in PyTorch).
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: pass src (a tensor) or value (a number)")
    full, src = _scatter_parts("scatter", input, dim, index, src)
    if reduce is None:
        return IndexPut.apply(input, full, src)
    if reduce == "add":
        if not isinstance(src, Tensor):
            src = _full_like_index(input, index, src)
        return input + IndexAddZeros.apply(src, tuple(input.shape), full)
    if reduce == "multiply":
        return ScatterMul.apply(input, full, src)
    raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")


def _full_like_index(input, index, value):
    from ..creation import full  # noqa: PLC0415
    return full(tuple(index.shape), value, dtype=input.dtype)


class ScatterMul(Op):
    """scatter(..., reduce='multiply'): forward only, like PyTorch."""

    def forward(ctx, x, index, src):
        out = x.copy()
        ctx.xp.multiply.at(out, index, src)
        return out

    def backward(ctx, g):
        raise RuntimeError("scatter: the derivative for reduce='multiply' is not implemented "
                           "(as in PyTorch)")


def scatter_add(input, dim, index, src):
    """Out-of-place: a copy of input with src[i][j] added at out[index[i][j]][j] (dim=0).
    Repeated indices accumulate."""
    full, src = _scatter_parts("scatter_add", input, dim, index, src)
    return input + IndexAddZeros.apply(src, tuple(input.shape), full)


def index_select(input, dim, index):
    """The entries of `input` at the 1-D `index` along `dim`."""
    idx = _index_array("index_select", index)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 0-D or 1-D; got index shape "
                         f"{fmt_shape(idx.shape)} for input shape {fmt_shape(input.shape)}")
    if input.ndim == 0:
        from .shape import reshape  # noqa: PLC0415
        _check_range("index_select", idx, 0, 1, input.shape)
        return reshape(GetItem.apply(reshape(input, (1,)), (idx.reshape(-1),)),
                       () if idx.size == 1 else (idx.size,))
    d = normalize_dim("index_select", dim, input.ndim, input.shape)
    _check_range("index_select", idx, d, input.shape[d], input.shape)
    return GetItem.apply(input, (slice(None),) * d + (idx.reshape(-1),))


def index_add(input, dim, index, source, *, alpha=1):
    """Out-of-place: input with alpha * source[i] added at index[i] along `dim`."""
    idx = _index_array("index_add", index)
    d = normalize_dim("index_add", dim, input.ndim, input.shape)
    if idx.ndim > 1:
        raise ShapeError(f"index_add: index must be 0-D or 1-D; got index shape "
                         f"{fmt_shape(idx.shape)}")
    idx = idx.reshape(-1)
    want = tuple(input.shape[:d]) + (idx.size,) + tuple(input.shape[d + 1:])
    if tuple(source.shape) != want and not (input.ndim == 0 and source.numel() == idx.size):
        raise ShapeError(f"index_add: source shape {fmt_shape(source.shape)} must be "
                         f"{fmt_shape(want)} (input shape {fmt_shape(input.shape)} with dim "
                         f"{dim} of size len(index)={idx.size})")
    _check_range("index_add", idx, d, input.shape[d] if input.ndim else 1, input.shape)
    if alpha != 1:
        source = source * alpha
    return input + IndexAddZeros.apply(source, tuple(input.shape), (slice(None),) * d + (idx,))


def masked_fill(input, mask, value):
    """input with `value` where the bool `mask` (broadcast to input) is True; value may be
    a number or a 0-d tensor (which then gets a gradient)."""
    from .elementwise import where  # noqa: PLC0415
    m = mask.data if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) is None or m.dtype.kind != "b":
        raise DTypeError(f"masked_fill: only supports boolean masks, but got mask with dtype "
                         f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ShapeError(f"masked_fill: only supports a 0-dimensional value tensor, but got "
                         f"value shape {fmt_shape(value.shape)}")
    if not isinstance(value, Tensor) and input.data.dtype.kind != "f" and isinstance(value,
                                                                                 float):
        value = int(value)  # PyTorch casts the value to input's dtype
    out = where(m, value, input)
    if out.data.dtype != input.data.dtype:
        out = out.to(input.dtype)
    return out


def masked_select(input, mask):
    """The elements of input where the bool mask is True (both broadcast), as a 1-D tensor."""
    from ..errors import broadcast_shapes  # noqa: PLC0415
    from .shape import expand  # noqa: PLC0415
    m = mask.data if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) is None or m.dtype.kind != "b":
        raise DTypeError(f"masked_select: expected a boolean mask, got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)}")
    shape = broadcast_shapes("masked_select", tuple(input.shape), m.shape)
    xp = backend.namespace(m)
    return GetItem.apply(expand(input, shape), (xp.broadcast_to(m, shape),))


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of ndim 1-D
    tensors with as_tuple=True."""
    from ..tensor import _make  # noqa: PLC0415
    x = input.data
    xp = backend.namespace(x)
    if as_tuple:
        nz = xp.nonzero(x.reshape(1) if x.ndim == 0 else x)
        return tuple(_make(i.astype(_np.int64), None, 0, None) for i in nz)
    if x.ndim == 0:
        return _make(xp.zeros((int(bool(x)), 0), dtype=_np.int64), None, 0, None)
    return _make(xp.stack(xp.nonzero(x), axis=1).astype(_np.int64), None, 0, None)


def argwhere(input):
    return nonzero(input)
