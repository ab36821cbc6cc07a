"""Op-table entries for fathom.ops.conv and fathom.ops.pool (nn.functional).

The NumPy references are naive loops over output positions, written from the
PyTorch docs' formulas, independent of Fathom's im2col/strided-view code.
"""
import numpy as np

import fathom.nn.functional as F

from .core import OpInfo, SampleInput


def _r(rng, *shape):
    return rng.standard_normal(shape)


def _tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


# --- references ----------------------------------------------------------------------------

def _ref_conv(nd):
    def ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        unbatched = x.ndim == nd + 1
        x = x[None] if unbatched else x
        if nd == 1:
            x, w = x[:, :, None], w[:, :, None]
        s, d = (1,) * (2 - nd) + _tup(stride, nd), (1,) * (2 - nd) + _tup(dilation, nd)
        k = w.shape[2:]
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        elif padding == "same":
            tot = [dd * (kk - 1) for dd, kk in zip(d, k)]
            pads = tuple((t // 2, t - t // 2) for t in tot)
        else:
            pads = tuple((p, p) for p in (0,) * (2 - nd) + _tup(padding, nd))
        xp = np.pad(x, ((0, 0), (0, 0)) + pads)
        N, C = x.shape[:2]
        O = w.shape[0]
        Ho = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
        Wo = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
        out = np.zeros((N, O, Ho, Wo))
        cg, og = C // groups, O // groups
        for g in range(groups):
            for oh in range(Ho):
                for ow in range(Wo):
                    patch = xp[:, g * cg:(g + 1) * cg,
                               oh * s[0]:oh * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                               ow * s[1]:ow * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
                    out[:, g * og:(g + 1) * og, oh, ow] = np.einsum(
                        "nckl,ockl->no", patch, w[g * og:(g + 1) * og])
        if b is not None:
            out += b[:, None, None]
        out = out[:, :, 0] if nd == 1 else out
        return out[0] if unbatched else out
    return ref


def _ref_conv_transpose(nd):
    def ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        unbatched = x.ndim == nd + 1
        x = x[None] if unbatched else x
        if nd == 1:
            x, w = x[:, :, None], w[:, :, None]
        ext = (1,) * (2 - nd)
        s, d = ext + _tup(stride, nd), ext + _tup(dilation, nd)
        p, op = (0,) * (2 - nd) + _tup(padding, nd), (0,) * (2 - nd) + _tup(output_padding, nd)
        N, Cin, H, W = x.shape
        og, kh, kw = w.shape[1:]
        cg = Cin // groups
        Hout = [(n - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1
                for n, ss, pp, dd, kk, o in zip((H, W), s, p, d, (kh, kw), op)]
        canvas = np.zeros((N, og * groups, Hout[0] + 2 * p[0], Hout[1] + 2 * p[1]))
        for c in range(Cin):
            g = c // cg
            for h in range(H):
                for ww in range(W):
                    for i in range(kh):
                        for j in range(kw):
                            canvas[:, g * og:(g + 1) * og, h * s[0] + i * d[0],
                                   ww * s[1] + j * d[1]] += np.outer(x[:, c, h, ww], w[c, :, i, j])
        out = canvas[:, :, p[0]:p[0] + Hout[0], p[1]:p[1] + Hout[1]]
        if b is not None:
            out = out + b[:, None, None]
        out = out[:, :, 0] if nd == 1 else out
        return out[0] if unbatched else out
    return ref


def _ref_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s = (_tup(v, 2) for v in (kernel_size, dilation, padding, stride))
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    N, C = x.shape[:2]
    Ho = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    Wo = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((N, C * k[0] * k[1], Ho * Wo))
    for c in range(C):
        for i in range(k[0]):
            for j in range(k[1]):
                for oh in range(Ho):
                    for ow in range(Wo):
                        out[:, (c * k[0] + i) * k[1] + j, oh * Wo + ow] = \
                            xp[:, c, oh * s[0] + i * d[0], ow * s[1] + j * d[1]]
    return out[0] if unbatched else out


def _ref_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s, size = (_tup(v, 2) for v in (kernel_size, dilation, padding, stride,
                                              output_size))
    unbatched = cols.ndim == 2
    cols = cols[None] if unbatched else cols
    N, ckk = cols.shape[:2]
    C = ckk // (k[0] * k[1])
    canvas = np.zeros((N, C, size[0] + 2 * p[0], size[1] + 2 * p[1]))
    Ho = (canvas.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    Wo = (canvas.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    for c in range(C):
        for i in range(k[0]):
            for j in range(k[1]):
                for oh in range(Ho):
                    for ow in range(Wo):
                        canvas[:, c, oh * s[0] + i * d[0], ow * s[1] + j * d[1]] += \
                            cols[:, (c * k[0] + i) * k[1] + j, oh * Wo + ow]
    out = canvas[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return out[0] if unbatched else out


def _ref_pad(x, pad, mode="constant", value=None):
    n = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - n) + [(pad[2 * i], pad[2 * i + 1]) for i in range(n)][::-1]
    crop = tuple(slice(max(-lo, 0), x.shape[k] - max(-hi, 0)) for k, (lo, hi) in
                 enumerate(widths))
    x = x[crop]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if not widths:
        return x.copy()
    if mode == "constant":
        return np.pad(x, widths, constant_values=0 if value is None else value)
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge",
                                   "circular": "wrap"}[mode])


def _pool_out(n, k, s, p, d, ceil_mode):
    # PyTorch docs: floor((n + 2p - d(k-1) - 1) / s + 1), or ceil; a last window starting
    # in the right padding is dropped
    num = n + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _ref_max_pool(nd):
    def ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            return_indices=False):
        unbatched = x.ndim == nd + 1
        x = x[None] if unbatched else x
        if nd == 1:
            x = x[:, :, None]
        ext = (1,) * (2 - nd)
        k = ext + _tup(kernel_size, nd)
        s = k if stride is None else ext + _tup(stride, nd)
        p, d = (0,) * (2 - nd) + _tup(padding, nd), ext + _tup(dilation, nd)
        N, C, H, W = x.shape
        Ho, Wo = (_pool_out(n, kk, ss, pp, dd, ceil_mode)
                  for n, kk, ss, pp, dd in zip((H, W), k, s, p, d))
        out = np.zeros((N, C, Ho, Wo))
        idx = np.zeros((N, C, Ho, Wo), dtype=np.int64)
        for a in range(N):
            for c in range(C):
                for oh in range(Ho):
                    for ow in range(Wo):
                        best, arg = -np.inf, None
                        for i in range(k[0]):
                            for j in range(k[1]):
                                h, w = oh * s[0] - p[0] + i * d[0], ow * s[1] - p[1] + j * d[1]
                                if 0 <= h < H and 0 <= w < W:
                                    v = x[a, c, h, w]
                                    if arg is None or v > best or np.isnan(v):
                                        best, arg = v, h * W + w
                        out[a, c, oh, ow], idx[a, c, oh, ow] = best, arg
        if nd == 1:
            out, idx = out[:, :, 0], idx[:, :, 0]
        if unbatched:
            out, idx = out[0], idx[0]
        return (out, idx) if return_indices else out
    return ref


def _ref_avg_pool(nd):
    def ref(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
            divisor_override=None):
        unbatched = x.ndim == nd + 1
        x = x[None] if unbatched else x
        if nd == 1:
            x = x[:, :, None]
        ext = (1,) * (2 - nd)
        k = ext + _tup(kernel_size, nd)
        s = k if stride is None else ext + _tup(stride, nd)
        p = (0,) * (2 - nd) + _tup(padding, nd)
        N, C, H, W = x.shape
        Ho, Wo = (_pool_out(n, kk, ss, pp, 1, ceil_mode)
                  for n, kk, ss, pp in zip((H, W), k, s, p))
        out = np.zeros((N, C, Ho, Wo))
        for oh in range(Ho):
            for ow in range(Wo):
                h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
                h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
                size = (h1 - h0) * (w1 - w0)
                h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
                total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3))
                div = divisor_override or (size if count_include_pad else
                                           (h1 - h0) * (w1 - w0))
                out[:, :, oh, ow] = total / div
        out = out[:, :, 0] if nd == 1 else out
        return out[0] if unbatched else out
    return ref


def _adaptive_windows(n, o):
    return [(int(np.floor(i * n / o)), int(np.ceil((i + 1) * n / o))) for i in range(o)]


def _ref_adaptive(nd, fn):
    def ref(x, output_size, return_indices=False):
        size = _tup(output_size, nd)
        size = tuple(n if o is None else o for o, n in zip(size, x.shape[-nd:]))
        if nd == 1:
            x, size = x[..., None, :], (1,) + size
        H, W = x.shape[-2:]
        out = np.zeros(x.shape[:-2] + size)
        idx = np.zeros(x.shape[:-2] + size, dtype=np.int64)
        for a, (h0, h1) in enumerate(_adaptive_windows(H, size[0])):
            for b, (w0, w1) in enumerate(_adaptive_windows(W, size[1])):
                win = x[..., h0:h1, w0:w1]
                if fn == "avg":
                    out[..., a, b] = win.mean(axis=(-2, -1))
                else:
                    flat = win.reshape(win.shape[:-2] + (-1,))
                    k = flat.argmax(axis=-1)
                    out[..., a, b] = flat.max(axis=-1)
                    idx[..., a, b] = (h0 + k // (w1 - w0)) * W + w0 + k % (w1 - w0)
        if nd == 1:
            out = out[..., 0, :]
        return (out, idx) if return_indices else out
    return ref


# --- samples -----------------------------------------------------------------------------

def conv2d_samples(rng):
    x = _r(rng, 2, 4, 5, 4)
    return [
        SampleInput(x, _r(rng, 3, 4, 3, 2), _r(rng, 3), name="basic+bias"),
        SampleInput(x, _r(rng, 4, 2, 2, 3), None, stride=(2, 1), padding=1, dilation=(1, 2),
                    groups=2, name="stride/pad/dilation/groups"),
        SampleInput(x, _r(rng, 4, 1, 3, 3), _r(rng, 4), padding=1, groups=4,
                    name="depthwise"),
        SampleInput(x, _r(rng, 2, 4, 2, 3), padding="same", name="same even kernel"),
        SampleInput(x, _r(rng, 2, 4, 3, 2), padding="same", dilation=2, name="same dilated"),
        SampleInput(x, _r(rng, 2, 4, 3, 3), padding="valid", stride=2, name="valid stride"),
        SampleInput(_r(rng, 2, 4, 3), _r(rng, 3, 2, 2, 2), _r(rng, 3), padding=(1, 0),
                    name="unbatched"),
        SampleInput(_r(rng, 1, 1, 1, 1), _r(rng, 1, 1, 1, 1), name="1x1"),
    ]


def conv1d_samples(rng):
    x = _r(rng, 2, 4, 7)
    return [
        SampleInput(x, _r(rng, 3, 4, 3), _r(rng, 3), name="basic+bias"),
        SampleInput(x, _r(rng, 4, 2, 2), None, stride=2, padding=1, dilation=2, groups=2),
        SampleInput(x, _r(rng, 2, 4, 4), padding="same", name="same even kernel"),
        SampleInput(_r(rng, 4, 5), _r(rng, 2, 4, 3), _r(rng, 2), name="unbatched"),
    ]


def conv_transpose2d_samples(rng):
    x = _r(rng, 2, 4, 3, 2)
    return [
        SampleInput(x, _r(rng, 4, 2, 2, 3), _r(rng, 2), name="basic+bias"),
        SampleInput(x, _r(rng, 4, 3, 3, 2), _r(rng, 6), stride=(2, 3), padding=(1, 0),
                    output_padding=(1, 2), groups=2, name="stride/groups/output_padding"),
        SampleInput(x, _r(rng, 4, 1, 2, 2), None, stride=1, padding=1, output_padding=1,
                    dilation=2, name="dilation>stride output_padding"),
        SampleInput(_r(rng, 4, 2, 2), _r(rng, 4, 2, 3, 3), stride=2, padding=1,
                    name="unbatched"),
    ]


def conv_transpose1d_samples(rng):
    x = _r(rng, 2, 4, 3)
    return [
        SampleInput(x, _r(rng, 4, 2, 3), _r(rng, 2), stride=2, padding=1, output_padding=1),
        SampleInput(x, _r(rng, 4, 1, 2), None, groups=2, dilation=2),
        SampleInput(_r(rng, 4, 3), _r(rng, 4, 3, 2), name="unbatched"),
    ]


def unfold_samples(rng):
    x = _r(rng, 2, 2, 4, 5)
    return [
        SampleInput(x, 2, name="basic"),
        SampleInput(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        SampleInput(_r(rng, 2, 3, 3), 3, padding=1, name="unbatched"),
        SampleInput(_r(rng, 1, 3, 2, 2), 1, name="1x1 kernel"),
    ]


def fold_samples(rng):
    return [
        SampleInput(_r(rng, 2, 2 * 4, 12), (4, 5), 2, name="overlapping"),
        SampleInput(_r(rng, 1, 2 * 6, 6), (3, 5), (2, 3), dilation=(1, 2), padding=1,
                    stride=(2, 1)),
        SampleInput(_r(rng, 9, 9), 3, 3, padding=1, name="unbatched"),
    ]


def pad_samples(rng):
    x = _r(rng, 2, 3, 4, 5)
    out = [
        SampleInput(x, (1, 2), name="constant last dim"),
        SampleInput(x, (1, 0, 2, 1), value=1.5),
        SampleInput(x, (1, 1, 0, 2, 1, 0, 0, 1), name="all dims"),
        SampleInput(x, (-1, 2, 1, -2), value=-3.0, name="negative crops"),
        SampleInput(_r(rng), (), name="0-d, no pad"),
    ]
    for mode in ("reflect", "replicate", "circular"):
        out += [SampleInput(x, (2, 1, 3, 0), mode=mode, name=mode),
                SampleInput(x[0, 0], (3, 4), mode=mode, name=mode + " 1-d unbatched"),
                SampleInput(_r(rng, 2, 3, 2, 2), (1, 0, 1, 1, 2, 1), mode=mode,
                            name=mode + " 3 dims")]
    return out


def max_pool2d_samples(rng):
    x = _r(rng, 2, 2, 5, 6)
    return [
        SampleInput(x, 2, name="2x2 fast path"),
        SampleInput(x, 2, return_indices=True, name="indices"),
        SampleInput(x, 3, 2, 1, return_indices=True, name="k3 s2 p1"),
        SampleInput(x, (2, 3), (2, 2), (1, 1), ceil_mode=True, return_indices=True,
                    name="ceil_mode"),
        SampleInput(x, 2, 1, 0, 2, return_indices=True, name="dilation"),
        SampleInput(x, (3, 1), (1, 2), name="rect, stride > kernel"),
        SampleInput(x[0], 3, 2, 1, ceil_mode=True, return_indices=True, name="unbatched"),
    ]


def max_pool1d_samples(rng):
    x = _r(rng, 2, 3, 7)
    return [SampleInput(x, 2), SampleInput(x, 3, 2, 1, ceil_mode=True, return_indices=True),
            SampleInput(x, 2, 1, 0, 3, return_indices=True, name="dilation"),
            SampleInput(x[0], 3, return_indices=True, name="unbatched")]


def avg_pool2d_samples(rng):
    x = _r(rng, 2, 2, 5, 6)
    return [
        SampleInput(x, 2, name="2x2 fast path"),
        SampleInput(x, 3, 2, 1, name="pad counted"),
        SampleInput(x, 3, 2, 1, count_include_pad=False, name="pad not counted"),
        SampleInput(x, (2, 3), 2, (1, 1), ceil_mode=True, name="ceil counted"),
        SampleInput(x, (2, 3), 2, (1, 1), ceil_mode=True, count_include_pad=False),
        SampleInput(x, 2, 1, 1, divisor_override=3, name="divisor_override"),
        SampleInput(x[0], 3, 2, name="unbatched"),
    ]


def avg_pool1d_samples(rng):
    x = _r(rng, 2, 3, 7)
    return [SampleInput(x, 2), SampleInput(x, 3, 2, 1, ceil_mode=True),
            SampleInput(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
            SampleInput(x[0], 3, name="unbatched")]


def adaptive2d_samples(rng):
    x = _r(rng, 2, 2, 5, 7)
    return [SampleInput(x, (3, 4), name="non-divisible"), SampleInput(x, 1, name="global"),
            SampleInput(x, (None, 2), name="None keeps H"), SampleInput(x, (5, 7)),
            SampleInput(x[0], (2, 3), name="unbatched"), SampleInput(x, (7, 9), name="upsample")]


def adaptive_max2d_samples(rng):
    return [SampleInput(*s.args, return_indices=True, name=s.name)
            for s in adaptive2d_samples(rng)] + [SampleInput(_r(rng, 1, 2, 4, 4), 2)]


def adaptive1d_samples(rng):
    x = _r(rng, 2, 3, 7)
    return [SampleInput(x, 3), SampleInput(x, 1), SampleInput(x, 7), SampleInput(x[0], 4)]


OPS = [
    OpInfo("nn.functional.conv2d", F.conv2d, conv2d_samples, ref=_ref_conv(2),
           notes="fused Im2Col+GEMM op; double backward via composable Im2Col/Col2Im+matmul"),
    OpInfo("nn.functional.conv1d", F.conv1d, conv1d_samples, ref=_ref_conv(1)),
    OpInfo("nn.functional.conv_transpose2d", F.conv_transpose2d, conv_transpose2d_samples,
           ref=_ref_conv_transpose(2)),
    OpInfo("nn.functional.conv_transpose1d", F.conv_transpose1d, conv_transpose1d_samples,
           ref=_ref_conv_transpose(1)),
    OpInfo("nn.functional.unfold", F.unfold, unfold_samples, ref=_ref_unfold),
    OpInfo("nn.functional.fold", F.fold, fold_samples, ref=_ref_fold),
    OpInfo("nn.functional.pad", F.pad, pad_samples, ref=_ref_pad),
    OpInfo("nn.functional.max_pool2d", F.max_pool2d, max_pool2d_samples,
           ref=_ref_max_pool(2)),
    OpInfo("nn.functional.max_pool1d", F.max_pool1d, max_pool1d_samples,
           ref=_ref_max_pool(1)),
    OpInfo("nn.functional.avg_pool2d", F.avg_pool2d, avg_pool2d_samples,
           ref=_ref_avg_pool(2)),
    OpInfo("nn.functional.avg_pool1d", F.avg_pool1d, avg_pool1d_samples,
           ref=_ref_avg_pool(1)),
    OpInfo("nn.functional.adaptive_avg_pool2d", F.adaptive_avg_pool2d, adaptive2d_samples,
           ref=_ref_adaptive(2, "avg")),
    OpInfo("nn.functional.adaptive_avg_pool1d", F.adaptive_avg_pool1d, adaptive1d_samples,
           ref=_ref_adaptive(1, "avg")),
    OpInfo("nn.functional.adaptive_max_pool2d", F.adaptive_max_pool2d, adaptive_max2d_samples,
           ref=_ref_adaptive(2, "max")),
]
