"""Op-table entries for fathom.ops.nn and fathom.nn.functional (independent NumPy refs).

Random behaviour (dropout) is registered with p=0 / training=False here; its
statistics and seeding are tested in tests/test_functional.py, as are batch
norm's running-stat updates and the stability checks at logits of +-1000.
"""
import math

import numpy as np

import fathom
import fathom.nn.functional as F

from .core import OpInfo, SampleInput

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _away(x, kinks=(0.0,), gap=0.05):
    """Move values off the kinks, where finite differences would straddle two slopes."""
    x = np.array(x, dtype=np.float64)
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, gap, -gap) * 2
    return x


def _act_samples(kinks=(0.0,), scale=1.0):
    def samples(rng):
        def r(*shape):
            return _away(rng.standard_normal(shape) * scale, kinks)
        return [SampleInput(r(2, 3)), SampleInput(r()), SampleInput(r(1)), SampleInput(r(3, 1, 4)),
                SampleInput(_away(np.linspace(-6, 6, 13), kinks))]
    return samples


# --- NumPy references -------------------------------------------------------------------

def _np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_softplus(x, beta=1.0, threshold=20.0):
    bx = beta * x
    soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, soft)


def _np_reduce(loss, reduction):
    return {"none": lambda v: v, "sum": np.sum, "mean": np.mean}[reduction](loss)


def ref_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean",
                      label_smoothing=0.0):
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], t[None]
    C = x.shape[1]
    eps = label_smoothing
    lp = _np_log_softmax(x, 1)
    w = np.ones(C) if weight is None else weight
    if t.dtype.kind == "f":  # class probabilities
        tt = t * (1 - eps) + eps / C
        el = -(lp * tt * w.reshape((1, C) + (1,) * (x.ndim - 2))).sum(1)
        if reduction == "none":
            return el[0] if unbatched else el
        return el.sum() if reduction == "sum" else el.sum() / (x.size / C)
    lpm = np.moveaxis(lp, 1, -1).reshape(-1, C)
    losses, ws = [], []
    for row, c in zip(lpm, t.reshape(-1)):
        if c == ignore_index:
            losses.append(0.0)
            ws.append(0.0)
            continue
        losses.append((1 - eps) * -w[c] * row[c] + eps / C * -(w * row).sum())
        ws.append(w[c])
    losses = np.array(losses).reshape(t.shape)
    if reduction == "none":
        return losses[0] if unbatched else losses
    return losses.sum() if reduction == "sum" else losses.sum() / np.sum(ws)


def ref_nll_loss(x, t, weight=None, ignore_index=-100, reduction="mean"):
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], t[None]
    C = x.shape[1]
    w = np.ones(C) if weight is None else weight
    xm = np.moveaxis(x, 1, -1).reshape(-1, C)
    losses, ws = [], []
    for row, c in zip(xm, t.reshape(-1)):
        ok = c != ignore_index
        losses.append(-w[c] * row[c] if ok else 0.0)
        ws.append(w[c] if ok else 0.0)
    losses = np.array(losses).reshape(t.shape)
    if reduction == "none":
        return losses[0] if unbatched else losses
    return losses.sum() if reduction == "sum" else losses.sum() / np.sum(ws)


def _weighted_ref(loss, weight, reduction, mean_by_weight=True):
    if weight is None:
        return _np_reduce(loss, reduction)
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _np_reduce(loss, reduction)


def ref_bce(x, t, weight=None, reduction="mean"):
    loss = -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log(1 - x), -100))
    return _np_reduce(loss if weight is None else loss * weight, reduction)


def ref_bce_logits(x, t, weight=None, reduction="mean", pos_weight=None):
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    loss = (1 - t) * x + lw * _np_softplus(-x, threshold=np.inf)
    return _np_reduce(loss if weight is None else loss * weight, reduction)


def ref_kl_div(x, t, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(t) * (t - x)
    else:
        loss = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _np_reduce(loss, reduction)


def _norm_ref(x, axes, eps):
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def ref_batch_norm(x, rm, rv, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        out = _norm_ref(x, (0,) + tuple(range(2, x.ndim)), eps)
    else:
        out = (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def ref_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    k = len(normalized_shape)
    out = _norm_ref(x, tuple(range(x.ndim - k, x.ndim)), eps)
    out = out if weight is None else out * weight
    return out if bias is None else out + bias


def ref_group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    out = _norm_ref(x.reshape(x.shape[0], num_groups, -1), (2,), eps).reshape(x.shape)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    out = out if weight is None else out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def ref_instance_norm(x, rm=None, rv=None, weight=None, bias=None, use_input_stats=True,
                      momentum=0.1, eps=1e-5):
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if use_input_stats:
        out = _norm_ref(x, tuple(range(2, x.ndim)), eps)
    else:
        out = (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + eps)
    out = out if weight is None else out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def ref_rms_norm(x, normalized_shape, weight=None, eps=None):
    eps = np.finfo(x.dtype).eps if eps is None else eps
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    out = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return out if weight is None else out * weight


def ref_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
             enable_gqa=False):
    if enable_gqa and q.shape[-3] != k.shape[-3]:
        rep = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, rep, axis=-3), np.repeat(v, rep, axis=-3)
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        s = np.where(attn_mask, s, -np.inf) if attn_mask.dtype == bool else s + attn_mask
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    tot = e.sum(-1, keepdims=True)
    p = e / np.where(tot == 0, 1, tot)
    return p @ v


def ref_embedding(idx, weight, padding_idx=None, max_norm=None, norm_type=2.0,
                  scale_grad_by_freq=False, sparse=False):
    return weight[idx]


def _np_vnorm(x, p, axis, keepdims):
    if p == np.inf:
        return np.abs(x).max(axis=axis, keepdims=keepdims)
    return (np.abs(x) ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def ref_normalize(x, p=2.0, dim=1, eps=1e-12):
    return x / np.maximum(_np_vnorm(x, p, dim, True), eps)


def ref_cosine_similarity(a, b, dim=1, eps=1e-8):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt((a * a).sum(dim, keepdims=True)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(dim, keepdims=True)), eps)
    return ((a / na) * (b / nb)).sum(dim)


def ref_pairwise_distance(a, b, p=2.0, eps=1e-6, keepdim=False):
    return _np_vnorm(a - b + eps, p, -1, keepdim)


def ref_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / np.sqrt(2)))


def _elu_ref(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


_SA, _SS = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


# --- samples ----------------------------------------------------------------------------

def softmax_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    return [SampleInput(x, 1), SampleInput(x, -1), SampleInput(x, 0),
            SampleInput(rng.standard_normal(()), 0), SampleInput(rng.standard_normal((1,)), 0),
            SampleInput(rng.standard_normal((3, 1)), 1),
            SampleInput(np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, -1000.0]]), 1,
                        name="extreme")]


def ce_samples(rng):
    def logits(*shape):
        return rng.standard_normal(shape)

    t4 = rng.integers(0, 5, (4,))
    t_ign = np.array([1, -100, 3, 0])
    w = rng.uniform(0.5, 2.0, 5)
    probs = _np_softmax(rng.standard_normal((4, 5)), 1)
    kd = rng.integers(0, 3, (2, 2, 2))
    return [
        SampleInput(logits(4, 5), t4),
        SampleInput(logits(4, 5), t4, reduction="sum"),
        SampleInput(logits(4, 5), t4, reduction="none"),
        SampleInput(logits(4, 5), t4, weight=w),
        SampleInput(logits(4, 5), t4, weight=w, reduction="none"),
        SampleInput(logits(4, 5), t_ign, weight=w),
        SampleInput(logits(4, 5), np.array([1, 2, 2, 0]), ignore_index=2),
        SampleInput(logits(4, 5), t4, label_smoothing=0.1),
        SampleInput(logits(4, 5), t_ign, weight=w, label_smoothing=0.2),
        SampleInput(logits(4, 5), t_ign, weight=w, label_smoothing=0.2, reduction="none"),
        SampleInput(logits(4, 5), t_ign, label_smoothing=0.3, reduction="sum"),
        SampleInput(logits(2, 3, 2, 2), kd),
        SampleInput(logits(2, 3, 2, 2), kd, weight=w[:3], label_smoothing=0.1, reduction="none"),
        SampleInput(logits(2, 3, 4), rng.integers(0, 3, (2, 4)), weight=w[:3]),
        SampleInput(logits(5), np.array(2)),
        SampleInput(logits(5), np.array(2), reduction="none", label_smoothing=0.1),
        SampleInput(logits(1, 1), np.array([0])),
        SampleInput(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]),
                    np.array([0, 2]), name="extreme"),
        SampleInput(logits(4, 5), probs, name="probs"),
        SampleInput(logits(4, 5), probs, weight=w, label_smoothing=0.1),
        SampleInput(logits(4, 5), probs, reduction="none"),
        SampleInput(logits(4, 5), probs, weight=w, reduction="sum"),
        SampleInput(logits(2, 3, 2), _np_softmax(rng.standard_normal((2, 3, 2)), 1),
                    label_smoothing=0.2),
        SampleInput(logits(5), _np_softmax(rng.standard_normal(5), 0)),
    ]


def nll_samples(rng):
    lp = _np_log_softmax(rng.standard_normal((4, 5)), 1)
    w = rng.uniform(0.5, 2.0, 5)
    t = rng.integers(0, 5, (4,))
    return [
        SampleInput(lp, t),
        SampleInput(lp, t, reduction="sum"),
        SampleInput(lp, t, reduction="none"),
        SampleInput(lp, t, weight=w),
        SampleInput(lp, np.array([1, -100, 1, 4]), weight=w),
        SampleInput(lp, np.array([1, 3, 1, 4]), weight=w, ignore_index=1, reduction="none"),
        SampleInput(_np_log_softmax(rng.standard_normal((2, 3, 2, 2)), 1),
                    rng.integers(0, 3, (2, 2, 2)), weight=w[:3]),
        SampleInput(lp[0], np.array(3)),
        SampleInput(lp[0], np.array(3), reduction="none"),
    ]


def pair_samples(kinks=None):
    def samples(rng):
        def r(*shape):
            return rng.standard_normal(shape)

        def d(a, b):  # keep input - target off the kinks
            if kinks is None:
                return a, b
            return np.asarray(b + _away(a - b, kinks)), b
        out = []
        for shape in ((2, 3), (), (3, 1, 4)):
            a, b = d(r(*shape), r(*shape))
            out.append(SampleInput(a, b))
        a, b = d(r(2, 3), r(2, 3))
        out += [SampleInput(a, b, reduction="sum"), SampleInput(a, b, reduction="none")]
        return out
    return samples


def weighted_pair_samples(kinks=None):
    def samples(rng):
        out = pair_samples(kinks)(rng)
        a, b = out[0].args
        w = rng.uniform(0.5, 2, a.shape)
        return out + [SampleInput(a, b, weight=w), SampleInput(a, b, weight=w, reduction="sum"),
                      SampleInput(a, b, weight=w, reduction="none")]
    return samples


def bce_samples(rng):
    x = rng.uniform(0.05, 0.95, (3, 4))
    t = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (3, 4))
    return [SampleInput(x, t), SampleInput(x, t, reduction="sum"),
            SampleInput(x, t, reduction="none"), SampleInput(x, t, weight=w),
            SampleInput(rng.uniform(0.05, 0.95, ()), np.array(1.0)),
            SampleInput(x, (t > 0.5).astype(np.float64), name="hard-targets")]


def bce_logits_samples(rng):
    x = rng.standard_normal((3, 4)) * 3
    t = rng.uniform(0, 1, (3, 4))
    ext = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]] * 2)
    text = np.array([[0.0, 1.0, 0.5, 0.0, 1.0], [1.0, 0.0, 0.5, 1.0, 0.0]])
    return [SampleInput(x, t), SampleInput(x, t, reduction="sum"),
            SampleInput(x, t, reduction="none"),
            SampleInput(x, t, weight=rng.uniform(0.5, 2, (3, 4))),
            SampleInput(x, t, pos_weight=rng.uniform(0.5, 3, (4,))),
            SampleInput(x, t, pos_weight=rng.uniform(0.5, 3, (4,)), reduction="none"),
            SampleInput(ext, text, name="extreme"),
            SampleInput(ext, text, pos_weight=np.array([2.0] * 5), reduction="none"),
            SampleInput(rng.standard_normal(()), np.array(0.3))]


def kl_samples(rng):
    x = _np_log_softmax(rng.standard_normal((3, 4)), 1)
    t = _np_softmax(rng.standard_normal((3, 4)), 1)
    return [SampleInput(x, t, reduction="batchmean"), SampleInput(x, t, reduction="sum"),
            SampleInput(x, t, reduction="none"),
            SampleInput(x, np.log(t), reduction="batchmean", log_target=True),
            SampleInput(x, np.log(t), reduction="none", log_target=True)]


def bn_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)

    def stats(c):
        return r(c) * 0.1, rng.uniform(0.5, 2, c)
    out = []
    for shape in ((4, 3), (2, 3, 4), (2, 3, 2, 2)):
        rm, rv = stats(3)
        w, b = r(3), r(3)
        out.append(SampleInput(r(*shape), rm, rv, w, b, grad_args=(0, 3, 4)))
        out.append(SampleInput(r(*shape), rm, rv, w, b, training=True, momentum=0.2,
                               grad_args=(0, 3, 4)))
    rm, rv = stats(3)
    out.append(SampleInput(r(4, 3), rm, rv, grad_args=(0,)))
    out.append(SampleInput(r(4, 3), None, None, training=True, eps=1e-3, grad_args=(0,)))
    return out


def ln_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(2, 3, 4), (4,), r(4), r(4)),
            SampleInput(r(2, 3, 4), (3, 4), r(3, 4), r(3, 4), 1e-3),
            SampleInput(r(3, 5), [5]),
            SampleInput(r(5), (5,), r(5), None)]


def gn_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(2, 4, 3), 2, r(4), r(4)),
            SampleInput(r(2, 6, 2, 2), 3, r(6), r(6)),
            SampleInput(r(2, 4, 3), 4),
            SampleInput(r(3, 2, 5), 1, r(2), None, 1e-3)]


def in_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(2, 3, 4), grad_args=(0,)),
            SampleInput(r(2, 3, 2, 2), weight=r(3), bias=r(3)),
            SampleInput(r(2, 3, 5), r(3) * 0.1, rng.uniform(0.5, 2, 3), grad_args=(0,)),
            SampleInput(r(2, 3, 5), r(3) * 0.1, rng.uniform(0.5, 2, 3), use_input_stats=False,
                        grad_args=(0,))]


def rms_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(2, 3, 4), (4,), r(4)), SampleInput(r(2, 3, 4), (3, 4)),
            SampleInput(r(3, 5), [5], None, 1e-3)]


def emb_samples(rng):
    w = rng.standard_normal((6, 4))
    return [SampleInput(rng.integers(0, 6, (2, 3)), w),
            SampleInput(np.array([1, 1, 2, 1, 5]), w, name="repeats"),
            SampleInput(np.array(3), w)]


def sdpa_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    mask = rng.uniform(size=(3, 5)) > 0.4
    mask[:, 0] = True
    full = mask.copy()
    full[1] = False  # a row that may attend to nothing: zeros, as torch
    return [
        SampleInput(r(2, 3, 4), r(2, 5, 4), r(2, 5, 3)),
        SampleInput(r(2, 3, 4), r(2, 5, 4), r(2, 5, 3), attn_mask=mask),
        SampleInput(r(2, 3, 4), r(2, 5, 4), r(2, 5, 3), attn_mask=full),
        SampleInput(r(2, 3, 4), r(2, 5, 4), r(2, 5, 3), attn_mask=r(3, 5)),
        SampleInput(r(1, 2, 4, 3), r(1, 2, 4, 3), r(1, 2, 4, 3), is_causal=True),
        SampleInput(r(1, 2, 3, 3), r(1, 2, 5, 3), r(1, 2, 5, 2), is_causal=True, scale=0.3),
        SampleInput(r(1, 4, 3, 2), r(1, 2, 5, 2), r(1, 2, 5, 2), enable_gqa=True),
    ]


def linear_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(3, 4), r(5, 4), r(5)), SampleInput(r(2, 3, 4), r(5, 4), r(5)),
            SampleInput(r(4), r(5, 4), r(5)), SampleInput(r(3, 4), r(5, 4)),
            SampleInput(r(1, 1), r(1, 1), r(1))]


def bilinear_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(3, 2), r(3, 4), r(5, 2, 4), r(5)),
            SampleInput(r(2, 2, 3), r(2, 2, 2), r(3, 3, 2)),
            SampleInput(r(2), r(3), r(4, 2, 3), r(4))]


def dropout_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    return [SampleInput(x, 0.5, False), SampleInput(x, p=0.0),
            SampleInput(rng.standard_normal((2, 3, 2, 2)), 0.3, training=False)]


def distance_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(3, 4), r(3, 4)), SampleInput(r(3, 4), r(1, 4)),
            SampleInput(r(2, 3, 4), r(4), dim=-1), SampleInput(r(2, 3), r(2, 3), 0),
            SampleInput(r(3, 4), r(3, 4), eps=0.1)]


def pairwise_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(3, 4), r(3, 4)), SampleInput(r(3, 4), r(1, 4), keepdim=True),
            SampleInput(r(3, 4), r(3, 4), 1.0), SampleInput(r(3, 4), r(3, 4), 3.0),
            SampleInput(r(4), r(4))]


def normalize_samples(rng):
    def r(*shape):
        return rng.standard_normal(shape)
    return [SampleInput(r(3, 4)), SampleInput(r(2, 3, 4), dim=-1), SampleInput(r(3, 4), 1.0, 0),
            SampleInput(r(3, 4), p=3.0), SampleInput(r(4), dim=0)]


def heaviside_samples(rng):
    x = np.array([-1.5, 0.0, 2.0, 0.0, -0.1, 3.0])
    return [SampleInput(x, np.array(0.5)), SampleInput(x.reshape(2, 3), np.array([0.0, 1.0, 2.0])),
            SampleInput(np.array([0, -2, 3]), np.array([7]))]


def one_hot_samples(rng):
    return [SampleInput(np.array([0, 2, 1, 2])), SampleInput(np.array([[0, 1], [3, 0]]), 5),
            SampleInput(np.array(1), num_classes=3)]


def _sdpa_torch(q, k, v, **kw):
    import torch  # noqa: PLC0415
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


def _ident(x, *a, **k):
    return x


_F = "nn.functional."

OPS = [
    # linear
    OpInfo(_F + "linear", F.linear, linear_samples,
           ref=lambda x, w, b=None: x @ w.T + (0 if b is None else b)),
    OpInfo("bilinear", fathom.bilinear, bilinear_samples, aliases=(_F + "bilinear",),
           ref=lambda a, b, w, bias=None: np.einsum("...i,oij,...j->...o", a, w, b)
           + (0 if bias is None else bias)),
    # softmax family
    OpInfo("softmax", fathom.softmax, softmax_samples, ref=_np_softmax,
           aliases=(_F + "softmax", "Tensor.softmax")),
    OpInfo("log_softmax", fathom.log_softmax, softmax_samples, ref=_np_log_softmax,
           aliases=(_F + "log_softmax", "Tensor.log_softmax")),
    OpInfo(_F + "softmin", F.softmin, softmax_samples, ref=lambda x, d: _np_softmax(-x, d)),
    # activations
    OpInfo(_F + "relu", F.relu, _act_samples(), ref=lambda x: np.maximum(x, 0)),
    OpInfo(_F + "relu6", F.relu6, _act_samples((0.0, 6.0), 4.0),
           ref=lambda x: np.clip(x, 0, 6)),
    OpInfo(_F + "hardtanh", F.hardtanh, lambda rng: _act_samples((-1.0, 1.0))(rng) + [
        SampleInput(_away(rng.standard_normal((2, 3)) * 3, (-2.0, 0.5)), -2.0, 0.5)],
        ref=lambda x, lo=-1.0, hi=1.0: np.clip(x, lo, hi)),
    OpInfo(_F + "leaky_relu", F.leaky_relu, lambda rng: _act_samples()(rng) + [
        SampleInput(_away(rng.standard_normal((2, 3))), 0.2)],
        ref=lambda x, s=0.01: np.where(x > 0, x, s * x)),
    OpInfo(_F + "elu", F.elu, lambda rng: _act_samples()(rng) + [
        SampleInput(_away(rng.standard_normal((2, 3))), 0.5),
        SampleInput(np.array([-1000.0, 1000.0]), name="extreme")], ref=_elu_ref),
    OpInfo("selu", fathom.selu, _act_samples(), aliases=(_F + "selu",),
           ref=lambda x: _SS * _elu_ref(x, _SA)),
    OpInfo("celu", fathom.celu, lambda rng: _act_samples()(rng) + [
        SampleInput(_away(rng.standard_normal((2, 3))), 2.0)], aliases=(_F + "celu",),
        ref=lambda x, a=1.0: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0) / a))),
    OpInfo(_F + "gelu", F.gelu, lambda rng: _act_samples()(rng) + [
        SampleInput(rng.standard_normal((2, 3)) * 2, approximate="tanh"),
        SampleInput(np.array([-10.0, -3.0, 3.0, 10.0]), approximate="none")], ref=ref_gelu),
    OpInfo(_F + "silu", F.silu, _act_samples(), ref=lambda x: x / (1 + np.exp(-x))),
    OpInfo(_F + "mish", F.mish, _act_samples(),
           ref=lambda x: x * np.tanh(_np_softplus(x, threshold=np.inf))),
    OpInfo(_F + "softplus", F.softplus, lambda rng: _act_samples(scale=3)(rng) + [
        SampleInput(_away(rng.standard_normal((2, 3)) * 5, (1.0,)), 2.0, 2.0),
        SampleInput(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]), name="extreme")],
        ref=_np_softplus),
    OpInfo(_F + "logsigmoid", F.logsigmoid, lambda rng: _act_samples(scale=3)(rng) + [
        SampleInput(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]), name="extreme")],
        ref=lambda x: -_np_softplus(-x, threshold=np.inf)),
    OpInfo(_F + "hardsigmoid", F.hardsigmoid, _act_samples((-3.0, 3.0), 3.0),
           ref=lambda x: np.clip(x + 3, 0, 6) / 6),
    OpInfo(_F + "hardswish", F.hardswish, _act_samples((-3.0, 3.0), 3.0),
           ref=lambda x: x * np.clip(x + 3, 0, 6) / 6),
    OpInfo(_F + "softsign", F.softsign, _act_samples(), ref=lambda x: x / (1 + np.abs(x))),
    OpInfo(_F + "tanhshrink", F.tanhshrink, _act_samples(), ref=lambda x: x - np.tanh(x)),
    OpInfo(_F + "softshrink", F.softshrink, _act_samples((-0.5, 0.5)),
           ref=lambda x, l=0.5: np.where(x > l, x - l, np.where(x < -l, x + l, 0))),
    OpInfo(_F + "glu", F.glu, lambda rng: [SampleInput(rng.standard_normal((3, 4))),
                                           SampleInput(rng.standard_normal((4, 3)), 0)],
           ref=lambda x, dim=-1: np.split(x, 2, dim)[0] / (1 + np.exp(-np.split(x, 2, dim)[1]))),
    OpInfo("threshold", fathom.threshold, lambda rng: [
        SampleInput(_away(rng.standard_normal((2, 3)), (0.1,)), 0.1, 20.0),
        SampleInput(_away(rng.standard_normal(()), (0.0,)), 0.0, -1.0)],
        aliases=(_F + "threshold",), ref=lambda x, t, v: np.where(x > t, x, v)),
    OpInfo("heaviside", fathom.heaviside, heaviside_samples, differentiable=False,
           aliases=("Tensor.heaviside",), ref=lambda x, v: np.heaviside(x, v)),
    OpInfo(_F + "step", F.step, _act_samples(), ref=lambda x: (x > 0).astype(x.dtype),
           torch_op=lambda x: (x > 0).to(x.dtype) + 0 * x,
           notes="Fathom's teaching helper; torch has none, so the oracle is (x > 0) + 0 * x"),
    # losses
    OpInfo(_F + "cross_entropy", F.cross_entropy, ce_samples, ref=ref_cross_entropy),
    OpInfo(_F + "nll_loss", F.nll_loss, nll_samples, ref=ref_nll_loss),
    OpInfo(_F + "mse_loss", F.mse_loss, weighted_pair_samples(),
           ref=lambda a, b, reduction="mean", weight=None: _weighted_ref((a - b) ** 2, weight,
                                                                         reduction)),
    OpInfo(_F + "l1_loss", F.l1_loss, weighted_pair_samples((0.0,)),
           ref=lambda a, b, reduction="mean", weight=None: _weighted_ref(np.abs(a - b), weight,
                                                                         reduction)),
    OpInfo(_F + "smooth_l1_loss", F.smooth_l1_loss, lambda rng: pair_samples((-1.0, 0.0, 1.0))(
        rng) + [SampleInput(*pair_samples((-0.5, 0.5))(rng)[0].args, beta=0.5),
                SampleInput(*pair_samples((0.0,))(rng)[0].args, beta=0.0)],
        ref=lambda a, b, reduction="mean", beta=1.0: _np_reduce(np.where(
            np.abs(a - b) < beta, 0.5 * (a - b) ** 2 / max(beta, 1e-300),
            np.abs(a - b) - 0.5 * beta), reduction)),
    OpInfo(_F + "huber_loss", F.huber_loss, lambda rng: weighted_pair_samples((-1.0, 1.0))(
        rng) + [SampleInput(*pair_samples((-0.5, 0.5))(rng)[0].args, delta=0.5)],
        ref=lambda a, b, reduction="mean", delta=1.0, weight=None: _weighted_ref(np.where(
            np.abs(a - b) < delta, 0.5 * (a - b) ** 2,
            delta * (np.abs(a - b) - 0.5 * delta)), weight, reduction, False)),
    OpInfo(_F + "binary_cross_entropy", F.binary_cross_entropy, bce_samples, ref=ref_bce),
    OpInfo(_F + "binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
           bce_logits_samples, ref=ref_bce_logits),
    OpInfo(_F + "kl_div", F.kl_div, kl_samples, ref=ref_kl_div),
    # dropout: deterministic settings only (statistics are in tests/test_functional.py)
    OpInfo("dropout", fathom.dropout, dropout_samples, ref=_ident,
           torch_op=lambda x, p=0.5, training=True: __import__("torch").nn.functional.dropout(
               x, p, training), aliases=(_F + "dropout",)),
    OpInfo("alpha_dropout", fathom.alpha_dropout, dropout_samples, ref=_ident,
           torch_op=lambda x, p=0.5, training=False: __import__("torch").nn.functional
           .alpha_dropout(x, p, training), aliases=(_F + "alpha_dropout",)),
    OpInfo("feature_alpha_dropout", fathom.feature_alpha_dropout, dropout_samples, ref=_ident,
           torch_op=lambda x, p=0.5, training=False: __import__("torch").nn.functional
           .feature_alpha_dropout(x, p, training), aliases=(_F + "feature_alpha_dropout",)),
    OpInfo(_F + "dropout1d", F.dropout1d, lambda rng: [
        SampleInput(rng.standard_normal((2, 3, 4)), 0.5, False),
        SampleInput(rng.standard_normal((3, 4)), p=0.0)], ref=_ident),
    OpInfo(_F + "dropout2d", F.dropout2d, lambda rng: [
        SampleInput(rng.standard_normal((2, 3, 2, 2)), 0.5, False)], ref=_ident),
    OpInfo(_F + "dropout3d", F.dropout3d, lambda rng: [
        SampleInput(rng.standard_normal((1, 2, 2, 2, 2)), 0.5, False)], ref=_ident),
    # normalization
    OpInfo(_F + "batch_norm", F.batch_norm, bn_samples, ref=ref_batch_norm, atol=1e-6,
           rtol=1e-6),
    OpInfo("layer_norm", fathom.layer_norm, ln_samples, ref=ref_layer_norm,
           aliases=(_F + "layer_norm",), atol=1e-6, rtol=1e-6),
    OpInfo("group_norm", fathom.group_norm, gn_samples, ref=ref_group_norm,
           aliases=(_F + "group_norm",), atol=1e-6, rtol=1e-6),
    OpInfo(_F + "instance_norm", F.instance_norm, in_samples, ref=ref_instance_norm,
           atol=1e-6, rtol=1e-6),
    OpInfo("rms_norm", fathom.rms_norm, rms_samples, ref=ref_rms_norm,
           aliases=(_F + "rms_norm",)),
    # embeddings, distances, attention
    OpInfo(_F + "embedding", F.embedding, emb_samples, ref=ref_embedding),
    OpInfo(_F + "one_hot", F.one_hot, one_hot_samples, differentiable=False,
           ref=lambda t, num_classes=-1: np.eye(t.max() + 1 if num_classes == -1 else num_classes,
                                            dtype=np.int64)[t]),
    OpInfo(_F + "normalize", F.normalize, normalize_samples, ref=ref_normalize),
    OpInfo("cosine_similarity", fathom.cosine_similarity, distance_samples,
           ref=ref_cosine_similarity, aliases=(_F + "cosine_similarity",)),
    OpInfo("pairwise_distance", fathom.pairwise_distance, pairwise_samples,
           ref=ref_pairwise_distance, aliases=(_F + "pairwise_distance",)),
    OpInfo(_F + "scaled_dot_product_attention", F.scaled_dot_product_attention, sdpa_samples,
           ref=ref_sdpa, torch_op=_sdpa_torch),
]
