"""Pooling, NCHW / NCL as in PyTorch: max, average and adaptive average.

Windows are visited offset by offset (strided views of a padded array, reduced
with in-place ufuncs), never pixel by pixel. Disjoint unpadded windows (the hot
2x2 max pool) skip the padded copy and their backward writes instead of
accumulating. Max pooling routes each window's gradient to the FIRST maximum in
row-major window order, as PyTorch does on ties (and to the last NaN).
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..autograd.grad_mode import state as _mode
from ..errors import ShapeError, fmt_shape
from ..tensor import Tensor, _make
from ._parallel import parallel_chunks
from .conv import _hashable, ntuple, pad_canvas, strided, window

_np = backend.np

__all__ = ['max_pool1d', 'max_pool2d', 'avg_pool1d', 'avg_pool2d', 'adaptive_avg_pool1d',
           'adaptive_avg_pool2d', 'adaptive_max_pool2d']

METHODS = []


def _canvas_pads(size, out, k, s, p, d):
    """(before, after) pads so that every one of `out` windows fits (ceil_mode may need more)."""
    need = (out - 1) * s + d * (k - 1) + 1
    return p, max(0, need - size - p)


def _reduce_windows(xp, xc, geo, ufunc):
    """`ufunc` (maximum, add) over every window of a padded array, separably: along W, then H.

    Strided views and in-place ufuncs: NumPy's reshape + max over two non-adjacent axes
    measured 13x slower for 2x2 pooling.
    """
    (kh, kw), (sh, sw), _, (dh, dw), (Ho, Wo) = geo
    a = xc[..., 0:sw * (Wo - 1) + 1:sw].copy()
    for j in range(1, kw):
        ufunc(a, xc[..., j * dw:j * dw + sw * (Wo - 1) + 1:sw], out=a)
    out = a[..., 0:sh * (Ho - 1) + 1:sh, :].copy()
    for i in range(1, kh):
        ufunc(out, a[..., i * dh:i * dh + sh * (Ho - 1) + 1:sh, :], out=out)
    return out


def _first_hits(xp, xc, out, geo, valid):
    """Yield (i, j, hit): where kernel offset (i, j) holds its window's FIRST maximum."""
    kh, kw = geo[0]
    taken = None
    for i in range(kh):
        for j in range(kw):
            hit = window(xc, i, j, geo) == out
            if valid is not None:
                hit &= valid[0][i][:, None] & valid[1][j][None, :]
            if taken is None:
                taken = hit
            else:
                hit &= ~taken
                taken |= hit
            yield i, j, hit


def _last_nan(xp, xc, out, geo):
    """Offset of the LAST NaN in windows whose max is NaN (-1 elsewhere), as torch; None
    when no window has a NaN."""
    nan = out != out
    if not nan.any():
        return None
    kh, kw = geo[0]
    last = xp.full(out.shape, -1)
    for i in range(kh):
        for j in range(kw):
            v = window(xc, i, j, geo)
            last[nan & (v != v)] = i * kw + j
    return last


def _first_max(xp, x, out, geo, valid):
    """Offset number (row-major in the window) of each window's first maximum."""
    idx = xp.zeros(out.shape, dtype=_np.int64)
    for i, j, hit in _first_hits(xp, x, out, geo, valid):
        idx[hit] = i * geo[0][1] + j
    last = _last_nan(xp, x, out, geo)
    return idx if last is None else xp.where(last >= 0, last, idx)


class MaxPool2d(Op):
    """x (N, C, H, W) -> max over each window; optionally PyTorch's flat per-plane indices."""

    def forward(ctx, x, geo, fast, return_indices):
        xp = ctx.xp
        ctx.geo, ctx.fast, ctx.hits = geo, fast, None
        if _tiling(geo) and not return_indices:
            out, ctx.hits = _max_pool_tiles(xp, x, geo, _mode.enabled)
        else:
            # -inf padding never wins a max (torch requires pad <= kernel/2)
            out = _reduce_windows(xp, pad_canvas(xp, x, geo[2], -_np.inf), geo, xp.maximum)
        ctx.save(x, out)
        if return_indices:
            return out, _flat_indices(xp, x, out, geo)
        return out

    def backward(ctx, g, g_indices=None):  # indices (when returned) have no gradient
        x, out = ctx.saved
        geo = ctx.geo
        N, C, H, W = x.shape
        if isinstance(g, Tensor):  # create_graph: a scatter-add that differentiates again
            flat = _flat_indices(ctx.xp, x.data, out.data, geo).reshape(N * C, -1)
            rows = ctx.xp.arange(N * C).reshape(-1, 1)
            gx = ctx.F.index_add_zeros((N * C, H * W), (rows, flat), ctx.F.reshape(g, (N * C, -1)))
            return ctx.F.reshape(gx, (N, C, H, W)), None, None, None
        if ctx.hits is not None:
            return _tiles_backward(ctx.xp, ctx.hits, g, x.shape, geo), None, None, None
        return _max_pool_backward(ctx.xp, x, out, g, geo, ctx.fast), None, None, None


def _tiling(geo):
    """Windows that tile the input (kernel == stride, no dilation or padding): 2x2 pools."""
    k, s, pads, d, _ = geo
    return k == s and d == (1, 1) and not any(pads)


def _max_pool_tiles(xp, x, geo, keep_hits):
    """Max over tiling windows, and (when keep_hits) where each window's first max is.

    One copy lays the kernel offsets out as contiguous (kh*kw, N, C, Ho, Wo) planes, so
    the max and the first-hit masks run on contiguous memory: the strided compares of
    the general path cost about 3x more. The masks are None when no gradient is needed
    or a window holds NaN (the general backward then routes it to the last NaN).
    """
    (kh, kw), _, _, _, (Ho, Wo) = geo
    N, C = x.shape[:2]
    sN, sC, sH, sW = x.strides
    view = strided(xp, x, (kh, kw, N, C, Ho, Wo), (sH, sW, sN, sC, sH * kh, sW * kw))
    if xp is not _np:
        planes = xp.ascontiguousarray(view).reshape(kh * kw, N, C, Ho, Wo)
        out = planes[0].copy()
        for p in planes[1:]:
            xp.maximum(out, p, out=out)
        if not keep_hits or xp.isnan(out).any():
            return out, None
        return out, _first_hits_tiles(xp, planes, out)
    planes = _np.empty((kh, kw, N, C, Ho, Wo), dtype=x.dtype)
    flat = planes.reshape(kh * kw, N, C, Ho, Wo)
    out = _np.empty((N, C, Ho, Wo), dtype=x.dtype)
    hits = _np.empty(flat.shape, dtype=bool) if keep_hits else None

    def chunk(a, b):  # the serial steps on samples a:b
        planes[:, :, a:b] = view[:, :, a:b]
        o = out[a:b]
        o[...] = flat[0, a:b]
        for k in range(1, kh * kw):
            _np.maximum(o, flat[k, a:b], out=o)
        if hits is not None:
            _first_hits_tiles(_np, flat[:, a:b], o, hits[:, a:b])
    parallel_chunks(chunk, N, planes.size)
    if hits is None or _np.isnan(out).any():
        return out, None
    return out, hits


def _first_hits_tiles(xp, planes, out, hits=None):
    """(kh*kw, ...) masks of where each window's FIRST maximum lies (ties to the first in
    row-major window order, as torch)."""
    if hits is None:
        hits = xp.empty(planes.shape, dtype=bool)
    xp.equal(planes[0], out, out=hits[0])
    taken = hits[0].copy()
    for k in range(1, planes.shape[0]):
        xp.equal(planes[k], out, out=hits[k])
        hits[k] &= ~taken
        taken |= hits[k]
    return hits


def _tiles_backward(xp, hits, g, x_shape, geo):
    """Scatter g to each window's first max: one masked multiply per kernel offset."""
    (kh, kw), _, _, _, (Ho, Wo) = geo
    H, W = x_shape[2:]
    cropped = H != Ho * kh or W != Wo * kw  # rows/cols past the last window get zeros
    if xp is not _np:
        gx = (xp.zeros if cropped else xp.empty)(x_shape, dtype=g.dtype)
        for i in range(kh):
            for j in range(kw):
                xp.multiply(g, hits[i * kw + j], out=window(gx, i, j, geo))
        return gx
    gx = _np.empty(x_shape, dtype=g.dtype)

    def chunk(a, b):
        if cropped:
            gx[a:b] = 0
        for i in range(kh):
            for j in range(kw):
                _np.multiply(g[a:b], hits[i * kw + j, a:b], out=window(gx[a:b], i, j, geo))
    parallel_chunks(chunk, x_shape[0], gx.size)
    return gx


def _valid(geo, H, W):
    """Per-offset masks of the output rows/cols whose window position lies inside the input."""
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw), (Ho, Wo) = geo
    rows = [((r := _np.arange(Ho) * sh - pt + i * dh) >= 0) & (r < H) for i in range(kh)]
    cols = [((c := _np.arange(Wo) * sw - pl + j * dw) >= 0) & (c < W) for j in range(kw)]
    return rows, cols


def _flat_indices(xp, x, out, geo):
    """PyTorch's indices: h * W + w of each window's first max, in the unpadded input."""
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw), (Ho, Wo) = geo
    H, W = x.shape[-2:]
    padded = any(geo[2]) or (Ho - 1) * sh + dh * (kh - 1) + 1 > H \
        or (Wo - 1) * sw + dw * (kw - 1) + 1 > W
    xc = pad_canvas(xp, x, geo[2], -_np.inf)
    k = _first_max(xp, xc, out, geo, _valid(geo, H, W) if padded else None)
    h = xp.arange(Ho).reshape(-1, 1) * sh - pt + (k // kw) * dh
    w = xp.arange(Wo) * sw - pl + (k % kw) * dw
    return h * W + w


def _max_pool_backward(xp, x, out, g, geo, fast):
    (kh, kw), _, pads, _, _ = geo
    H, W = x.shape[-2:]
    xc = x if fast else pad_canvas(xp, x, pads, -_np.inf)
    valid = None if fast else _valid(geo, H, W)
    gc = xp.zeros(xc.shape, dtype=g.dtype)
    g = g.astype(gc.dtype, copy=False)
    for i, j, hit in _first_hits(xp, xc, out, geo, valid):
        if fast:  # disjoint windows: write, don't accumulate
            xp.multiply(g, hit, out=window(gc, i, j, geo))
        else:
            window(gc, i, j, geo)[...] += xp.where(hit, g, 0)
    last = _last_nan(xp, xc, out, geo)
    if last is not None:
        for i in range(kh):
            for j in range(kw):
                window(gc, i, j, geo)[...] += xp.where(last == i * kw + j, g, 0)
    if fast:
        return gc
    pt, _, pl, _ = pads
    return gc[:, :, pt:pt + H, pl:pl + W]


class AvgPool2d(Op):
    """Window sums divided by a (Ho, Wo) divisor; linear, so backward is a scatter of g/div."""

    def forward(ctx, x, geo, div):
        xp = ctx.xp
        ctx.x_shape, ctx.geo, ctx.div = x.shape, geo, div
        out = _reduce_windows(xp, pad_canvas(xp, x, geo[2]), geo, xp.add)
        out /= div
        return out

    def backward(ctx, g):
        if isinstance(g, Tensor):
            return AvgPool2dBackward.apply(g, ctx.x_shape, ctx.geo, ctx.div), None, None
        return _avg_pool_backward(ctx.xp, g, ctx.x_shape, ctx.geo, ctx.div), None, None


class AvgPool2dBackward(Op):
    """The adjoint of AvgPool2d (its backward under create_graph)."""

    def forward(ctx, g, x_shape, geo, div):
        ctx.geo, ctx.div = geo, div
        return _avg_pool_backward(ctx.xp, g, x_shape, geo, div)

    def backward(ctx, gg):
        return AvgPool2d.apply(gg, ctx.geo, ctx.div), None, None, None


def _avg_pool_backward(xp, g, x_shape, geo, div):
    (kh, kw), _, (pt, pb, pl, pr), _, _ = geo
    N, C, H, W = x_shape
    gd = g / div
    gc = xp.zeros((N, C, H + pt + pb, W + pl + pr), dtype=gd.dtype)
    for i in range(kh):
        for j in range(kw):
            window(gc, i, j, geo)[...] += gd
    return gc[:, :, pt:pt + H, pl:pl + W]


# --- argument handling -------------------------------------------------------------------

_GEOMETRY = {}  # validated calls -> geometry (the checks are pure; a layer repeats them)


def _pool_geometry(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate; return (batched, geo for a 2-D pool over (1, L) when nd == 1)."""
    key = None
    if isinstance(input, Tensor) and _hashable(kernel_size, stride, padding, dilation,
                                               ceil_mode):
        key = (op, nd, input.data.shape, input.data.dtype, kernel_size, stride, padding,
               dilation, ceil_mode)
        hit = _GEOMETRY.get(key)
        if hit is not None:
            return hit
    geo = _check_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode)
    if key is not None:
        if len(_GEOMETRY) > 1024:
            _GEOMETRY.clear()
        _GEOMETRY[key] = geo
    return geo


def _check_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor; got {type(input).__name__}")
    xs = tuple(input.shape)
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input; "
                         f"got input shape {fmt_shape(xs)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating point input; got {input.dtype} "
                        f"{fmt_shape(xs)}")
    k = ntuple(op, "kernel_size", kernel_size, nd)
    s = k if stride is None or stride == [] or stride == () else ntuple(op, "stride", stride, nd)
    p = ntuple(op, "padding", padding, nd)
    d = ntuple(op, "dilation", dilation, nd)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive and padding "
                         f"non-negative; got kernel_size={k}, stride={s}, padding={p}, "
                         f"dilation={d}")
    if any(q > kk // 2 for q, kk in zip(p, k)):
        raise ValueError(f"{op}: pad should be at most half of the kernel size; got padding={p} "
                         f"and kernel_size={k}")
    out = []
    for n, kk, ss, q, dd in zip(xs[-nd:], k, s, p, d):
        o = (n + 2 * q - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= n + q:  # the last window must start inside
            o -= 1
        out.append(o)
    if min(out) < 1:
        raise ShapeError(f"{op}: output size {tuple(out)} is too small; got input shape "
                         f"{fmt_shape(xs)}, kernel_size={k}, stride={s}, padding={p}, "
                         f"dilation={d} (hint: use a smaller kernel or more padding)")
    if nd == 1:
        k, s, p, d, out = (1,) + k, (1,) + s, (0,) + p, (1,) + d, [1] + out
        xs = xs[:-1] + (1,) + xs[-1:]
    pads = []
    for n, kk, ss, q, dd, o in zip(xs[-2:], k, s, p, d, out):
        pads.extend(_canvas_pads(n, o, kk, ss, q, dd))
    geo = (k, s, tuple(pads), d, tuple(out))
    # disjoint, unpadded windows: no canvas, and backward may write instead of add
    fast = all(ss >= dd * (kk - 1) + 1 for kk, ss, dd in zip(k, s, d)) and not any(pads)
    return input.ndim == nd + 2, geo, fast


def _to4d(t, nd, batched):
    if nd == 2 and batched:
        return t
    from .shape import reshape  # noqa: PLC0415
    xs = tuple(t.shape)
    if not batched:
        xs = (1,) + xs
    if nd == 1:
        xs = xs[:-1] + (1,) + xs[-1:]
    return reshape(t, xs)


def _from4d(t, nd, batched):
    if nd == 2 and batched:
        return t
    from .shape import reshape  # noqa: PLC0415
    ys = tuple(t.shape)
    if nd == 1:
        ys = ys[:2] + ys[3:]
    if not batched:
        ys = ys[1:]
    return reshape(t, ys)


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    batched, geo, fast = _pool_geometry(op, nd, input, kernel_size, stride, padding, dilation,
                                        ceil_mode)
    res = MaxPool2d.apply(_to4d(input, nd, batched), geo, fast, bool(return_indices))
    if return_indices:
        return _from4d(res[0], nd, batched), _from4d(res[1], nd, batched)
    return _from4d(res, nd, batched)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as torch.nn.functional.max_pool2d.

    input (N, C, H, W) or (C, H, W); stride defaults to kernel_size; padding is -inf.
    Returns (N, C, Ho, Wo), and with return_indices also the flat index h*W + w of each
    maximum in its input plane (int64).

        >>> max_pool2d(fathom.arange(16.).reshape(1, 1, 4, 4), 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling: input (N, C, L) or (C, L) -> (N, C, Lo)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_divisor(xp, geo, size, count_include_pad, divisor_override, dtype):
    """The (Ho, Wo) divisor of each window, by PyTorch's rule (clipped at input + padding)."""
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool: divisor_override must be non-zero; got 0")
        return divisor_override
    (kh, kw), (sh, sw), (pt, _, pl, _), _, (Ho, Wo) = geo
    pad_hw = (pt, pl)
    divs = []
    for o, k, s, p, n in zip((Ho, Wo), (kh, kw), (sh, sw), pad_hw, size):
        start = _np.arange(o) * s - p
        end = _np.minimum(start + k, n + p)
        if count_include_pad:
            divs.append(end - start)
        else:
            divs.append(_np.minimum(end, n) - _np.maximum(start, 0))
    return xp.asarray(_np.outer(divs[0], divs[1]), dtype=dtype)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    batched, geo, _ = _pool_geometry(op, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    x = _to4d(input, nd, batched)
    div = _avg_divisor(backend.namespace(x.data), geo, tuple(x.shape)[-2:],
                       count_include_pad, divisor_override, x.data.dtype)
    return _from4d(AvgPool2d.apply(x, geo, div), nd, batched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as torch.nn.functional.avg_pool2d.

    input (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo). count_include_pad counts the zero
    padding in the divisor; divisor_override replaces the divisor.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling: input (N, C, L) or (C, L) -> (N, C, Lo)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


# --- adaptive pooling ------------------------------------------------------------------------

def _adaptive_sizes(op, input, output_size, nd):
    xs = tuple(input.shape)
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input; "
                         f"got input shape {fmt_shape(xs)}")
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise ValueError(f"{op}: output_size must be an int or {nd} values; got "
                             f"{output_size!r}")
        out = tuple(n if o is None else int(o) for o, n in zip(output_size, xs[-nd:]))
    else:
        out = (int(output_size),) * nd
    if min(out) < 1 or min(xs[-nd:]) < 1:
        raise ShapeError(f"{op}: output_size {out} must be positive and the input non-empty; "
                         f"got input shape {fmt_shape(xs)}")
    return out


def _bins(n, o):
    """PyTorch's adaptive windows: [floor(i*n/o), ceil((i+1)*n/o)) for i < o."""
    i = _np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _const(a):
    return _make(a, None, 0, None)


def _avg_matrix(xp, n, o, dtype):
    start, end = _bins(n, o)
    pos = _np.arange(n)
    m = ((pos >= start[:, None]) & (pos < end[:, None])) / (end - start)[:, None]
    return xp.asarray(m, dtype=dtype)


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, *output_size).

    output_size: int or (h, w), None keeping that input size. Windows are
    [floor(i*H/h), ceil((i+1)*H/h)); composed as A_h @ x @ A_w^T (separable averages).
    """
    from .linalg import matmul  # noqa: PLC0415
    from .reduce import mean  # noqa: PLC0415
    Ho, Wo = _adaptive_sizes("adaptive_avg_pool2d", input, output_size, 2)
    H, W = tuple(input.shape)[-2:]
    if (Ho, Wo) == (1, 1):
        return mean(input, (-2, -1), True)
    xp, dt = backend.namespace(input.data), input.data.dtype
    y = input
    if Ho != H:
        y = matmul(_const(_avg_matrix(xp, H, Ho, dt)), y)
    if Wo != W:
        y = matmul(y, _const(_avg_matrix(xp, W, Wo, dt).T))
    return y


def adaptive_avg_pool1d(input, output_size):
    """Average over adaptive windows: (N, C, L) -> (N, C, output_size)."""
    from .linalg import matmul  # noqa: PLC0415
    (Lo,) = _adaptive_sizes("adaptive_avg_pool1d", input, output_size, 1)
    L = tuple(input.shape)[-1]
    if Lo == L:
        return input * 1.0
    xp, dt = backend.namespace(input.data), input.data.dtype
    return matmul(input, _const(_avg_matrix(xp, L, Lo, dt).T))


class AdaptiveMaxPool2d(Op):
    """Max over adaptive windows (loops over the output rows and cols, which are few)."""

    def forward(ctx, x, out_hw):
        xp = ctx.xp
        N, C, H, W = x.shape
        Ho, Wo = out_hw
        hs, he = _bins(H, Ho)
        ws, we = _bins(W, Wo)
        out = xp.empty((N, C, Ho, Wo), dtype=x.dtype)
        idx = xp.empty((N, C, Ho, Wo), dtype=_np.int64)
        for a in range(Ho):
            for b in range(Wo):
                win = x[:, :, hs[a]:he[a], ws[b]:we[b]]
                ww = we[b] - ws[b]
                flat = win.reshape(N, C, -1)
                k = _first_argmax(xp, flat)
                out[:, :, a, b] = xp.take_along_axis(flat, k[..., None], -1)[..., 0]
                idx[:, :, a, b] = (hs[a] + k // ww) * W + ws[b] + k % ww
        ctx.x_shape, ctx.idx = x.shape, idx  # not saved: an index, never a graph value
        return out, idx

    def backward(ctx, g, g_indices=None):
        idx = ctx.idx
        N, C, H, W = ctx.x_shape
        rows = ctx.xp.arange(N * C).reshape(-1, 1)
        gx = ctx.F.index_add_zeros((N * C, H * W), (rows, idx.reshape(N * C, -1)),
                                   ctx.F.reshape(g, (N * C, -1)))
        return ctx.F.reshape(gx, (N, C, H, W)), None


def _first_argmax(xp, a):
    """argmax over the last axis; a NaN wins (the last one, as torch)."""
    k = xp.argmax(a, axis=-1)
    nan = a != a
    if nan.any():
        last = a.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
        k = xp.where(nan.any(axis=-1), last, k)
    return k


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, *output_size)."""
    op = "adaptive_max_pool2d"
    out = _adaptive_sizes(op, input, output_size, 2)
    batched = input.ndim == 4
    x = _to4d(input, 2, batched)
    y, idx = AdaptiveMaxPool2d.apply(x, out)
    y, idx = _from4d(y, 2, batched), _from4d(idx, 2, batched)
    return (y, idx) if return_indices else y
