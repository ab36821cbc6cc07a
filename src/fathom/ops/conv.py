"""Convolution, im2col/col2im (unfold/fold) and padding, NCHW / NCL as in PyTorch.

conv1d/conv2d run one fused op, for speed: im2col (a strided window view copied
once, batch-last so each group is ONE GEMM) and a matmul; backward is two GEMMs
and a col2im (kh*kw strided adds). Under `create_graph=True` the same backward
formula runs on Fathom ops (Im2Col/Col2Im, which are each other's adjoint, and
matmul), so convolutions differentiate any number of times. conv_transpose is
composed from those ops (a col2im of a GEMM) and needs no backward of its own.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..errors import DTypeError, ShapeError, fmt_shape
from ..tensor import Tensor
from ._parallel import parallel_chunks

_np = backend.np

__all__ = ['conv1d', 'conv2d', 'conv_transpose1d', 'conv_transpose2d', 'unfold', 'fold', 'pad']

METHODS = []


# --- raw-array helpers (shared with ops.pool) --------------------------------------------

def ntuple(op, name, value, n):
    """An int or a sequence of n ints -> a tuple of n ints (PyTorch's _pair/_single)."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n or not all(isinstance(v, (int, _np.integer)) for v in value):
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints; got {value!r}")
        return tuple(int(v) for v in value)
    if isinstance(value, (int, _np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints; got {value!r}")


def pad_canvas(xp, x, pad4, fill=0):
    """x (..., H, W) placed in a (..., H+pt+pb, W+pl+pr) array filled with `fill`."""
    pt, pb, pl, pr = pad4
    if not (pt or pb or pl or pr):
        return x
    H, W = x.shape[-2:]
    out = xp.full(x.shape[:-2] + (H + pt + pb, W + pl + pr), fill, dtype=x.dtype)
    out[..., pt:pt + H, pl:pl + W] = x
    return out


def window(a, i, j, geo):
    """The (..., Ho, Wo) strided view of offset (i, j) of every window of a padded array."""
    _, (sh, sw), _, (dh, dw), (Ho, Wo) = geo
    return a[..., i * dh:i * dh + sh * (Ho - 1) + 1:sh, j * dw:j * dw + sw * (Wo - 1) + 1:sw]


def strided(xp, a, shape, strides):
    """A view of `a`'s memory with the given shape and byte strides (as_strided's job).

    NumPy's as_strided builds the view through a Python `__array_interface__` object
    (about 5 us); a C-contiguous NumPy array can hand its buffer straight to ndarray.
    """
    if xp is _np and a.flags.c_contiguous:
        return _np.ndarray(shape, a.dtype, buffer=a, strides=strides)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _im2col(xp, x, geo, batch_last):
    """x (N, C, H, W) -> (C*kh*kw, N*Ho*Wo) if batch_last else (N, C*kh*kw, Ho*Wo)."""
    (kh, kw), (sh, sw), pad4, (dh, dw), (Ho, Wo) = geo
    N, C = x.shape[:2]
    xpd = pad_canvas(xp, x, pad4)
    sN, sC, sH, sW = xpd.strides
    win = strided(xp, xpd, (N, C, kh, kw, Ho, Wo),
                  (sN, sC, sH * dh, sW * dw, sH * sh, sW * sw))
    if xp is _np:  # copy the windows batch-chunk by batch-chunk, on the op threads
        if batch_last:
            cols = _np.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
            dst, src = cols.transpose(3, 0, 1, 2, 4, 5), win
        else:
            cols = dst = _np.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
            src = win

        def copy(a, b):
            dst[a:b] = src[a:b]
        parallel_chunks(copy, N, cols.size)
        return cols.reshape((C * kh * kw, N * Ho * Wo) if batch_last else
                            (N, C * kh * kw, Ho * Wo))
    if batch_last:
        cols = win.transpose(1, 2, 3, 0, 4, 5).reshape(C * kh * kw, N * Ho * Wo)
    else:
        cols = win.reshape(N, C * kh * kw, Ho * Wo)
    # a 1x1 unpadded kernel can give a view of x; outputs must not alias inputs
    return cols.copy() if xp.may_share_memory(cols, x) else cols


def _col2im(xp, cols, x_shape, geo, batch_last):
    """The adjoint of _im2col: sum every window column back onto a (N, C, H, W) array."""
    (kh, kw), _, (pt, pb, pl, pr), _, (Ho, Wo) = geo
    N, C, H, W = x_shape
    Hp, Wp = H + pt + pb, W + pl + pr
    make = _np.empty if xp is _np else xp.zeros  # NumPy zeroes chunk by chunk below
    if batch_last:
        c6 = cols.reshape(C, kh, kw, N, Ho, Wo).transpose(3, 0, 1, 2, 4, 5)
        canvas = make((C, N, Hp, Wp), dtype=cols.dtype).transpose(1, 0, 2, 3)
    else:
        c6 = cols.reshape(N, C, kh, kw, Ho, Wo)
        canvas = make((N, C, Hp, Wp), dtype=cols.dtype)
    if xp is _np:  # the same adds, batch-chunk by batch-chunk on the op threads
        # batch-first and unpadded, the canvas is the result; else crop/transpose into out
        out = canvas if not batch_last and Hp == H and Wp == W else \
            _np.empty(x_shape, dtype=cols.dtype)

        def fold(a, b):
            part = canvas[a:b]
            part[...] = 0
            for i in range(kh):
                for j in range(kw):
                    window(part, i, j, geo)[...] += c6[a:b, :, i, j]
            if out is not canvas:
                out[a:b] = part[:, :, pt:pt + H, pl:pl + W]
        parallel_chunks(fold, N, max(cols.size, canvas.size))
        return out
    for i in range(kh):
        for j in range(kw):
            window(canvas, i, j, geo)[...] += c6[:, :, i, j]
    return xp.ascontiguousarray(canvas[:, :, pt:pt + H, pl:pl + W])


def _graph(a):
    """True in a create_graph backward (gradients are Tensors, not arrays)."""
    return isinstance(a, Tensor)


class Im2Col(Op):
    """x (N, C, H, W) -> the columns of its windows (see _im2col); linear, adjoint Col2Im."""

    def forward(ctx, x, geo, batch_last):
        ctx.x_shape, ctx.geo, ctx.batch_last = x.shape, geo, batch_last
        return _im2col(ctx.xp, x, geo, batch_last)

    def backward(ctx, g):
        return col2im(ctx.xp, g, ctx.x_shape, ctx.geo, ctx.batch_last), None, None


class Col2Im(Op):
    """Columns -> (N, C, H, W), summing overlaps; linear, adjoint Im2Col."""

    def forward(ctx, cols, x_shape, geo, batch_last):
        ctx.geo, ctx.batch_last = geo, batch_last
        return _col2im(ctx.xp, cols, x_shape, geo, batch_last)

    def backward(ctx, g):
        return im2col(ctx.xp, g, ctx.geo, ctx.batch_last), None, None, None


def im2col(xp, x, geo, batch_last):
    return Im2Col.apply(x, geo, batch_last) if _graph(x) else _im2col(xp, x, geo, batch_last)


def col2im(xp, cols, x_shape, geo, batch_last):
    if _graph(cols):
        return Col2Im.apply(cols, tuple(x_shape), geo, batch_last)
    return _col2im(xp, cols, x_shape, geo, batch_last)


# Per-sample GEMMs write NCHW directly (no transposed copy of the output, nor of the
# gradient in backward). They pay when the reduction is short (the first layer of a
# network: C*kh*kw of 9 or 25, memory-bound anyway; measured 2.4x faster for LeNet's
# first conv, 1.5x for the benchmark CNN's) and small enough that OpenBLAS would run it
# on one thread anyway (below about 2^18 multiply-adds). With a longer reduction the
# batch-first col2im and the N small weight-gradient GEMMs cost more than the transposes.
_PER_SAMPLE_K = 32
_PER_SAMPLE_MAX = 1 << 18


class Conv2d(Op):
    """Fused for speed: im2col + one GEMM per group; backward = 2 GEMMs + col2im.

    x (N, C, H, W), w (O, C/groups, kh, kw), b (O,) or None -> (N, O, Ho, Wo).
    Most convolutions fold the batch into the GEMM's columns (batch-last im2col, one
    big threaded GEMM, then a transpose to NCHW); small ones with a short reduction (see
    _PER_SAMPLE_K) run one GEMM per sample on batch-first columns, straight into NCHW.
    """

    def forward(ctx, x, w, b, geo, groups):
        xp = ctx.xp
        N = x.shape[0]
        O, Cg, kh, kw = w.shape
        Ho, Wo = geo[4]
        K = Cg * kh * kw
        G = groups
        ctx.per_sample = K <= _PER_SAMPLE_K and O * K * Ho * Wo < _PER_SAMPLE_MAX
        ctx.geo, ctx.groups = geo, groups
        if ctx.per_sample:
            cols = _im2col(xp, x, geo, batch_last=False)  # (N, C*kh*kw, Ho*Wo)
            w3 = w.reshape(G, O // G, K)
            c4 = cols.reshape(N, G, K, Ho * Wo)
            if xp is _np:  # each sample's GEMM is single-threaded in BLAS: split the batch
                out = _np.empty((N, G, O // G, Ho * Wo), dtype=_np.result_type(w, cols))
                o3 = out.reshape(N, O, Ho * Wo)

                def gemms(a, c):
                    _np.matmul(w3, c4[a:c], out=out[a:c])
                    if b is not None:
                        o3[a:c] += b.reshape(O, 1)
                parallel_chunks(gemms, N, out.size)
            else:
                out = xp.matmul(w3, c4).reshape(N, O, Ho, Wo)
                if b is not None:
                    out += b.reshape(O, 1, 1)
            ctx.save(x, w, cols)
            return out.reshape(N, O, Ho, Wo)
        cols = _im2col(xp, x, geo, batch_last=True)      # (C*kh*kw, N*Ho*Wo), group-major
        out = xp.matmul(w.reshape(G, O // G, K), cols.reshape(G, K, -1))
        out = out.reshape(O, N, Ho, Wo)
        if xp is _np:  # bias, then the NCHW transpose, batch-chunk by batch-chunk
            res = _np.empty((N, O, Ho, Wo), dtype=out.dtype)
            b4 = None if b is None else b.reshape(O, 1, 1, 1)

            def finish(a, c):
                if b4 is not None:  # in place on contiguous rows: ~2x a strided add
                    out[:, a:c] += b4
                res[a:c] = out[:, a:c].transpose(1, 0, 2, 3)
            parallel_chunks(finish, N, res.size)
            ctx.save(x, w, cols)
            return res
        if b is not None:
            out += b.reshape(O, 1, 1, 1)
        ctx.save(x, w, cols)
        return xp.ascontiguousarray(out.transpose(1, 0, 2, 3))

    def backward(ctx, g):
        x, w, cols = ctx.saved
        if ctx.per_sample and not _graph(g):
            return ctx.backward_per_sample(g, x, w, cols)
        F, G, geo = ctx.F, ctx.groups, ctx.geo
        O, Cg, kh, kw = w.shape
        K = Cg * kh * kw
        if ctx.xp is _np and not _graph(g):
            gT = _swap01(g).reshape(G, O // G, -1)
        else:
            gT = F.reshape(F.transpose(g, (1, 0, 2, 3)), (G, O // G, -1))  # (G, O/G, N*Ho*Wo)
        gx = gw = gb = None
        if ctx.needs_grad[0]:
            if _grad_by_conv(g, w, geo, G):
                gx = _grad_input_by_conv(ctx.xp, g, w, geo)
            else:
                w3 = F.reshape(w, (G, O // G, K))
                gcols = F.reshape(F.matmul(F.swapaxes(w3, 1, 2), gT), (G * K, -1))
                gx = col2im(ctx.xp, gcols, x.shape, geo, True)
        if ctx.needs_grad[1]:
            if _graph(g):  # the saved columns are a constant; rebuild them on the graph
                cols = Im2Col.apply(x, geo, True)
            cols3 = F.reshape(cols, (G, K, -1))
            if O // G <= K:  # OpenBLAS runs the long reduction ~1.8x faster with K rows out
                gw = F.swapaxes(F.matmul(cols3, F.swapaxes(gT, 1, 2)), 1, 2)
            else:
                gw = F.matmul(gT, F.swapaxes(cols3, 1, 2))
            gw = F.reshape(gw, tuple(w.shape))
        if ctx.needs_grad[2]:  # over the contiguous (O, N*Ho*Wo) copy: ~2x faster than g's
            gb = F.reshape(F.sum(gT, axis=2), (O,))
        return gx, gw, gb, None, None

    def backward_per_sample(ctx, g, x, w, cols):
        """The same gradients on batch-first columns: per-sample GEMMs, no transposes."""
        xp, G = ctx.xp, ctx.groups
        O, Cg, kh, kw = w.shape
        K = Cg * kh * kw
        N, _, Ho, Wo = g.shape
        g4 = g.reshape(N, G, O // G, Ho * Wo)               # a view
        gx = gw = gb = None
        if ctx.needs_grad[0]:
            gcols = _per_sample_matmul(xp, w.reshape(G, O // G, K).transpose(0, 2, 1), g4)
            gx = _col2im(xp, gcols.reshape(N, G * K, Ho * Wo), x.shape, ctx.geo, False)
        if ctx.needs_grad[1]:
            cols4 = cols.reshape(N, G, K, Ho * Wo)
            gw = _per_sample_matmul(xp, g4, cols4.transpose(0, 1, 3, 2))
            gw = gw.sum(axis=0).reshape(w.shape)
        if ctx.needs_grad[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None


def _grad_by_conv(g, w, geo, groups) -> bool:
    """Whether conv2d's input gradient runs as a convolution (see _grad_input_by_conv): a
    stride-1, ungrouped convolution whose padding fits inside the kernel, and whose columns
    of g (O*kh*kw, N*H*W) are no bigger than col2im's (C*kh*kw, N*Ho*Wo). ResNet's 3x3
    'same' convolutions qualify; a valid conv that doubles the channels measured 1.3x
    slower this way (its columns were 2.8x bigger)."""
    (kh, kw), stride, (pt, pb, pl, pr), (dh, dw), (Ho, Wo) = geo
    if stride != (1, 1) or groups != 1 or _graph(g) or \
            max(pt, pb) > dh * (kh - 1) or max(pl, pr) > dw * (kw - 1):
        return False
    H, W = Ho + dh * (kh - 1) - pt - pb, Wo + dw * (kw - 1) - pl - pr
    return w.shape[0] * H * W <= w.shape[1] * Ho * Wo


def _grad_input_by_conv(xp, g, w, geo):
    """dL/dx of a stride-1 convolution: g (N, O, Ho, Wo) convolved with the flipped,
    transposed kernel (C, O, kh, kw) under the complementary padding -> (N, C, H, W).

    The same multiply-adds as w^T @ g followed by col2im, but the reduction runs over
    O*kh*kw instead of O (one long GEMM: 1.4x faster for 64 channels) and the kh*kw
    strided adds of col2im become one im2col copy of g.
    """
    (kh, kw), _, (pt, pb, pl, pr), (dh, dw), (Ho, Wo) = geo
    N, O = g.shape[:2]
    C = w.shape[1]
    H, W = Ho + dh * (kh - 1) - pt - pb, Wo + dw * (kw - 1) - pl - pr
    pads = (dh * (kh - 1) - pt, dh * (kh - 1) - pb, dw * (kw - 1) - pl, dw * (kw - 1) - pr)
    cols = _im2col(xp, g, ((kh, kw), (1, 1), pads, (dh, dw), (H, W)), batch_last=True)
    wf = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, -1)
    gx = xp.matmul(wf, cols).reshape(C, N, H, W)                      # (C, N*H*W)
    return _swap01(gx) if xp is _np else xp.ascontiguousarray(gx.transpose(1, 0, 2, 3))


def _swap01(a):
    """A NumPy (A, B, ...) -> its contiguous (B, A, ...) copy (NCHW <-> CNHW), split over
    the op threads along its first axis."""
    out = _np.empty((a.shape[1], a.shape[0]) + a.shape[2:], dtype=a.dtype)
    src = a.swapaxes(0, 1)

    def copy(i, j):
        out[i:j] = src[i:j]
    parallel_chunks(copy, out.shape[0], out.size)
    return out


def _per_sample_matmul(xp, a, b):
    """matmul(a, b) where a or b has the batch as axis 0 (the other broadcasts): each
    sample's GEMM is small (single-threaded in BLAS), so NumPy's batch is split."""
    if xp is not _np:
        return xp.matmul(a, b)
    shape = _np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    out = _np.empty(shape, dtype=_np.result_type(a, b))
    a_n, b_n = a.ndim == out.ndim, b.ndim == out.ndim  # which one carries the batch

    def gemms(i, j):
        _np.matmul(a[i:j] if a_n else a, b[i:j] if b_n else b, out=out[i:j])
    parallel_chunks(gemms, out.shape[0], max(a.size, b.size, out.size))
    return out


# --- argument checks ------------------------------------------------------------------

def _shape(t):
    return tuple(t.shape)


def _check_float(op, **tensors):
    dts = {k: t.dtype for k, t in tensors.items() if t is not None}
    if any(not getattr(d, "is_floating_point", True) for d in dts.values()) or \
            len(set(dts.values())) > 1:
        got = ", ".join(f"{k} {d} {fmt_shape(_shape(tensors[k]))}" for k, d in dts.items())
        raise DTypeError(f"{op}: expected floating point input, weight and bias of one dtype; "
                         f"got {got} (hint: cast with .float() or .to(input.dtype))")


_GEOMETRY = {}  # validated calls -> geometry: a layer checks the same arguments every step


def _hashable(*args) -> bool:
    return all(type(a) in (int, str, bool, type(None)) or
               (type(a) is tuple and all(type(v) is int for v in a)) for a in args)


def _conv_geometry(op, nd, x, w, b, stride, padding, dilation, groups, transposed=False,
                   output_padding=0):
    """Validate a conv call; return (batched, stride, dilation, pads per dim (lo, hi)).

    Results are remembered by shapes, dtypes and arguments: the checks are pure, and
    repeating them cost about 10 us per call (a quarter of a batch-1 conv)."""
    key = None
    if isinstance(x, Tensor) and isinstance(w, Tensor) and (b is None or isinstance(b, Tensor)) \
            and _hashable(stride, padding, dilation, groups, output_padding):
        key = (op, nd, x.data.shape, x.data.dtype, w.data.shape, w.data.dtype,
               None if b is None else (b.data.shape, b.data.dtype), stride, padding, dilation,
               groups, transposed, output_padding)
        hit = _GEOMETRY.get(key)
        if hit is not None:
            return hit
    geo = _check_conv(op, nd, x, w, b, stride, padding, dilation, groups, transposed,
                      output_padding)
    if key is not None:
        if len(_GEOMETRY) > 1024:
            _GEOMETRY.clear()
        _GEOMETRY[key] = geo
    return geo


def _check_conv(op, nd, x, w, b, stride, padding, dilation, groups, transposed,
                output_padding):
    if not isinstance(x, Tensor) or not isinstance(w, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors; got {type(x).__name__} "
                        f"and {type(w).__name__}")
    xs, ws = _shape(x), _shape(w)
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input; "
                         f"got input shape {fmt_shape(xs)} (weight shape {fmt_shape(ws)})")
    if w.ndim != nd + 2:
        raise ShapeError(f"{op}: expected a {nd + 2}-D weight; got weight shape {fmt_shape(ws)} "
                         f"(input shape {fmt_shape(xs)})")
    _check_float(op, input=x, weight=w, bias=b)
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int; got {groups!r}")
    C = xs[-nd - 1]
    if transposed:
        cin, cout = ws[0], ws[1] * groups
        if C != cin or cin % groups:
            raise ShapeError(f"{op}: expected input with {cin} channels (weight shape "
                             f"{fmt_shape(ws)}, groups={groups}), got input shape "
                             f"{fmt_shape(xs)} (hint: weight is (in_channels, "
                             f"out_channels/groups, *kernel))")
    else:
        cin, cout = ws[1] * groups, ws[0]
        if cout % groups:
            raise ShapeError(f"{op}: out_channels {cout} (weight shape {fmt_shape(ws)}) is not "
                             f"divisible by groups={groups}")
        if C != cin:
            raise ShapeError(f"{op}: expected input with {cin} channels (weight shape "
                             f"{fmt_shape(ws)}, groups={groups}), got input shape "
                             f"{fmt_shape(xs)}")
    if b is not None and (b.ndim != 1 or _shape(b)[0] != cout):
        raise ShapeError(f"{op}: expected bias of shape ({cout},); got bias shape "
                         f"{fmt_shape(_shape(b))} (weight shape {fmt_shape(ws)})")
    stride = ntuple(op, "stride", stride, nd)
    dilation = ntuple(op, "dilation", dilation, nd)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive; got stride={stride}, "
                         f"dilation={dilation}")
    kernel = ws[2:]
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if isinstance(padding, str):
        if padding not in ("valid", "same") or transposed:
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             f"{{'valid', 'same'}}" if not transposed else
                             f"{op}: padding must be an int or a tuple of ints; got {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions; "
                             f"got stride={stride} (hint: pad explicitly with padding=k//2)")
        if padding == "valid":
            pads = ((0, 0),) * nd
        else:  # PyTorch's rule: the odd extra pad goes on the right/bottom
            pads = tuple(((e - 1) // 2, e - 1 - (e - 1) // 2) for e in eff)
    else:
        p = ntuple(op, "padding", padding, nd)
        if min(p) < 0:
            raise ValueError(f"{op}: padding must be non-negative; got padding={p}")
        pads = tuple((q, q) for q in p)
    spatial = xs[-nd:]
    if transposed:
        op_ = ntuple(op, "output_padding", output_padding, nd)
        for o, s, d in zip(op_, stride, dilation):
            if o < 0 or (o >= s and o >= d):
                raise ValueError(f"{op}: output padding must be smaller than either stride or "
                                 f"dilation; got output_padding={op_}, stride={stride}, "
                                 f"dilation={dilation}")
        out = tuple((n - 1) * s - lo - hi + e + o for n, s, (lo, hi), e, o in
                    zip(spatial, stride, pads, eff, op_))
        if min(out) < 1:
            raise ShapeError(f"{op}: output size {out} is too small; got input shape "
                             f"{fmt_shape(xs)}, weight shape {fmt_shape(ws)}, padding {pads}")
        return x.ndim == nd + 2, stride, dilation, pads, out, op_
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads))
    if any(e > p for e, p in zip(eff, padded)):
        raise ShapeError(f"{op}: kernel size (after dilation) {eff} is larger than the padded "
                         f"input size {padded}; got input shape {fmt_shape(xs)} and weight shape "
                         f"{fmt_shape(ws)} (hint: use a smaller kernel or more padding)")
    out = tuple((p - e) // s + 1 for p, e, s in zip(padded, eff, stride))
    return x.ndim == nd + 2, stride, dilation, pads, out, None


def _as2d(t, shape):
    from .shape import reshape  # noqa: PLC0415
    return reshape(t, shape)


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    batched, stride, dilation, pads, out, _ = _conv_geometry(
        op, nd, input, weight, bias, stride, padding, dilation, groups)
    x = input if batched else _as2d(input, (1,) + _shape(input))
    w = weight
    if nd == 1:  # a 1-D conv is a 2-D conv over a height of 1
        x = _as2d(x, _shape(x)[:2] + (1,) + _shape(x)[2:])
        w = _as2d(w, _shape(w)[:2] + (1,) + _shape(w)[2:])
        stride, dilation, pads, out = (1,) + stride, (1,) + dilation, ((0, 0),) + pads, \
            (1,) + out
    kernel = _shape(w)[2:]
    geo = (kernel, stride, pads[0] + pads[1], dilation, out)
    y = Conv2d.apply(x, w, bias, geo, groups)
    if nd == 1:
        y = _as2d(y, _shape(y)[:2] + _shape(y)[3:])
    return y if batched else _as2d(y, _shape(y)[1:])


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    input (N, C, H, W) or (C, H, W); weight (O, C/groups, kh, kw); bias (O,) or None;
    padding: int, pair, 'valid' or 'same'. Returns (N, O, Ho, Wo) with
    Ho = (H + 2*ph - dh*(kh-1) - 1) // sh + 1.

        >>> conv2d(fathom.ones(1, 1, 4, 4), fathom.ones(1, 1, 3, 3)).shape
        fathom.Size([1, 1, 2, 2])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C, L) or (C, L), weight (O, C/groups, k) -> (N, O, Lo)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    """Composed: the col2im of (weight^T @ input) per group, i.e. conv2d's input gradient."""
    from .linalg import matmul  # noqa: PLC0415
    from .shape import permute, transpose  # noqa: PLC0415
    batched, stride, dilation, pads, out, _ = _conv_geometry(
        op, nd, input, weight, bias, stride, padding, dilation, groups, transposed=True,
        output_padding=output_padding)
    x = input if batched else _as2d(input, (1,) + _shape(input))
    w = weight
    in_hw = _shape(x)[2:]
    if nd == 1:
        x = _as2d(x, _shape(x)[:2] + (1,) + in_hw)
        w = _as2d(w, _shape(w)[:2] + (1,) + _shape(w)[2:])
        stride, dilation, pads, out, in_hw = (1,) + stride, (1,) + dilation, \
            ((0, 0),) + pads, (1,) + out, (1,) + in_hw
    N, Cin = _shape(x)[:2]
    og, kh, kw = _shape(w)[1:]
    G = groups
    xg = _as2d(permute(x, (1, 0, 2, 3)), (G, Cin // G, -1))           # (G, Cin/G, N*H*W)
    wg = _as2d(w, (G, Cin // G, og * kh * kw))
    cols = _as2d(matmul(transpose(wg, 1, 2), xg), (G * og * kh * kw, -1))
    geo = ((kh, kw), stride, pads[0] + pads[1], dilation, in_hw)
    y = Col2Im.apply(cols, (N, G * og) + out, geo, True)
    if bias is not None:
        y = y + _as2d(bias, (-1, 1, 1))
    if nd == 1:
        y = _as2d(y, _shape(y)[:2] + _shape(y)[3:])
    return y if batched else _as2d(y, _shape(y)[1:])


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the input gradient of conv2d), as torch's.

    input (N, Cin, H, W) or unbatched; weight (Cin, Cout/groups, kh, kw) -> (N, Cout, Ho, Wo)
    with Ho = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1.
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution: input (N, Cin, L), weight (Cin, Cout/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# --- unfold / fold ---------------------------------------------------------------------

def _unfold_params(op, kernel_size, dilation, padding, stride):
    k = ntuple(op, "kernel_size", kernel_size, 2)
    d = ntuple(op, "dilation", dilation, 2)
    p = ntuple(op, "padding", padding, 2)
    s = ntuple(op, "stride", stride, 2)
    if min(k) < 1 or min(d) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"{op}: kernel_size, dilation and stride must be positive and padding "
                         f"non-negative; got kernel_size={k}, dilation={d}, padding={p}, "
                         f"stride={s}")
    return k, d, p, s


def _blocks(op, size, k, d, p, s, shape):
    out = tuple((n + 2 * q - dd * (kk - 1) - 1) // ss + 1 for n, kk, dd, q, ss in
                zip(size, k, d, p, s))
    if min(out) < 1:
        raise ShapeError(f"{op}: the {k} kernel (dilation {d}) does not fit the padded spatial "
                         f"size {tuple(n + 2 * q for n, q in zip(size, p))}; got input shape "
                         f"{fmt_shape(shape)}")
    return out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), L the number of sliding windows.

    Rows are ordered (c, i, j) and columns row-major over the window positions, as
    torch.nn.functional.unfold. An unbatched (C, H, W) input gives (C*kh*kw, L).
    """
    op = "unfold"
    k, d, p, s = _unfold_params(op, kernel_size, dilation, padding, stride)
    xs = _shape(input)
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 3-D (unbatched) or 4-D (batched) input; got input "
                         f"shape {fmt_shape(xs)}")
    out = _blocks(op, xs[-2:], k, d, p, s, xs)
    geo = (k, s, (p[0], p[0], p[1], p[1]), d, out)
    x = input if input.ndim == 4 else _as2d(input, (1,) + xs)
    y = Im2Col.apply(x, geo, False)
    return y if input.ndim == 4 else _as2d(y, _shape(y)[1:])


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: (N, C*kh*kw, L) -> (N, C, H, W), overlaps summed."""
    op = "fold"
    k, d, p, s = _unfold_params(op, kernel_size, dilation, padding, stride)
    size = ntuple(op, "output_size", output_size, 2)
    xs = _shape(input)
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-D (unbatched) or 3-D (batched) input; got input "
                         f"shape {fmt_shape(xs)}")
    kk = k[0] * k[1]
    if xs[-2] % kk:
        raise ShapeError(f"{op}: expected size of input's dim -2 to be divisible by the "
                         f"product of kernel_size {k} = {kk}; got input shape {fmt_shape(xs)}")
    out = _blocks(op, size, k, d, p, s, xs)
    if xs[-1] != out[0] * out[1]:
        raise ShapeError(f"{op}: expected input's dim -1 to be the number of sliding blocks "
                         f"{out[0]}*{out[1]}={out[0] * out[1]} for output_size {size}, "
                         f"kernel_size {k}, dilation {d}, padding {p}, stride {s}; got input "
                         f"shape {fmt_shape(xs)}")
    geo = (k, s, (p[0], p[0], p[1], p[1]), d, out)
    x = input if input.ndim == 3 else _as2d(input, (1,) + xs)
    N, ckk = _shape(x)[:2]
    y = Col2Im.apply(x, (N, ckk // kk) + size, geo, False)
    return y if input.ndim == 3 else _as2d(y, _shape(y)[1:])


# --- pad -------------------------------------------------------------------------------

class ConstantPad(Op):
    """Pad (or, for negative pads, crop) every dim; the adjoint is the opposite pad."""

    def forward(ctx, x, pads, value):
        ctx.pads = pads
        return _constant_pad(ctx.xp, x, pads, value)

    def backward(ctx, g):
        neg = tuple((-lo, -hi) for lo, hi in ctx.pads)
        if _graph(g):
            return ConstantPad.apply(g, neg, 0), None, None
        return _constant_pad(ctx.xp, g, neg, 0), None, None


def _constant_pad(xp, x, pads, value):
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pads, x.shape))
    x = x[crop]
    shape = tuple(n + max(lo, 0) + max(hi, 0) for (lo, hi), n in zip(pads, x.shape))
    out = xp.full(shape, value, dtype=x.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + n) for (lo, _), n in zip(pads, x.shape))] = x
    return out


class GatherPad(Op):
    """reflect / replicate / circular: out = x[index] (index arrays per padded dim)."""

    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x[index]

    def backward(ctx, g):
        return ctx.F.index_add_zeros(ctx.shape, ctx.index, g), None


def _pad_index(mode, n, lo, hi):
    i = _np.arange(-lo, n + hi)
    if mode == "reflect":
        i = _np.abs(i)
        return _np.where(i > n - 1, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return _np.clip(i, 0, n - 1)
    return i % n  # circular


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad)//2 dims; `pad` lists (left, right) of the LAST dim first.

    mode: 'constant' (value, default 0; negative pads crop), 'reflect' (mirror without
    the edge), 'replicate' (repeat the edge), 'circular' (wrap around).

        >>> pad(fathom.ones(1, 2), (1, 1)).tolist()
        [[0.0, 1.0, 1.0, 0.0]]
    """
    op = "pad"
    xs = _shape(input)
    pad = ntuple(op, "pad", pad, len(pad)) if isinstance(pad, (list, tuple)) else pad
    if not isinstance(pad, tuple) or len(pad) % 2 or len(pad) // 2 > len(xs):
        raise ValueError(f"{op}: pad must be a tuple of (left, right) pairs for at most "
                         f"{len(xs)} dims; got pad={pad!r} for input shape {fmt_shape(xs)}")
    if mode not in _PAD_MODES:
        raise ValueError(f"{op}: mode must be one of {_PAD_MODES}; got {mode!r}")
    k = len(pad) // 2
    # pad[0:2] is the last dim: reverse into per-dim (lo, hi) pairs, first dim first
    pairs = tuple((pad[2 * (k - 1 - j)], pad[2 * (k - 1 - j) + 1]) for j in range(k))
    if mode == "constant":
        for (lo, hi), n in zip(pairs, xs[len(xs) - k:]):
            if n + lo + hi < 0:
                raise ShapeError(f"{op}: the negative pad {(lo, hi)} crops more than the size "
                                 f"{n}; got input shape {fmt_shape(xs)} and pad {pad}")
        v = 0 if value is None else value
        return ConstantPad.apply(input, ((0, 0),) * (len(xs) - k) + pairs, v)
    if value not in (None, 0):
        raise ValueError(f"{op}: padding mode {mode!r} doesn't take in a value argument")
    if k > 3 or len(xs) not in (k + 1, k + 2):
        raise ShapeError(f"{op}: mode {mode!r} pads the last 1-3 dims of a batched or "
                         f"unbatched input ({k + 1}-D or {k + 2}-D for {k} padded dims); got "
                         f"input shape {fmt_shape(xs)} and pad {pad}")
    index = [slice(None)] * (len(xs) - k)
    for j, ((lo, hi), n) in enumerate(zip(pairs, xs[len(xs) - k:])):
        limit = n - 1 if mode == "reflect" else n
        if min(lo, hi) < 0 or max(lo, hi) > limit or n == 0:
            rule = "less than" if mode == "reflect" else "at most"
            raise ShapeError(f"{op}: {mode} padding must be non-negative and {rule} the size "
                             f"of the padded dim; got pad {(lo, hi)} for dim "
                             f"{len(xs) - k + j} of size {n} (input shape {fmt_shape(xs)})")
        shape = [1] * k
        shape[j] = n + lo + hi
        index.append(_pad_index(mode, n, lo, hi).reshape(shape))
    return GatherPad.apply(input, tuple(index))
