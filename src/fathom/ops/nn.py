"""Neural-network ops: the fused primitives behind fathom.nn.functional.

Fused for numerical stability: softmax, log_softmax, softplus (and so
logsigmoid and binary_cross_entropy_with_logits), cross entropy. Fused for
speed: linear (one GEMM per pass), cross entropy (log-softmax + NLL in one
pass), the exact GELU, and the standardize core of batch/layer/group/instance
norm. Everything else here is composed from ops and has no backward of its own.

Double backward: a fused op whose backward needs an intermediate (the
softmax probabilities, the batch statistics) reads it from what forward saved
on the fast path; under `create_graph=True` (`_graph_mode`) it rebuilds that
intermediate from its inputs through differentiable ops, so the same formula
can be differentiated again.

The public functions in this file are the ones PyTorch also has as
`torch.<name>`; the rest of the functional API is in fathom/nn/functional.py.
"""
from __future__ import annotations

import math

from .. import backend
from .. import random as _random  # circular: read at call time
from ..autograd.function import Op
from ..dtypes import as_dtype, result_type
from ..errors import DTypeError, ShapeError, fmt_shape, normalize_dim, require_float
from ..tensor import Tensor
from .elementwise import (_erf, _polyval, _to_float, abs, add, cast, clamp, div, erf, exp,
                          expm1, mul, sqrt, sub, where)
from .elementwise import inplace as _inplace
from .linalg import matmul
from .reduce import amax, mean, sum
from .shape import expand, reshape, unsqueeze

_np = backend.np

__all__ = ['softmax', 'log_softmax', 'heaviside', 'selu', 'celu', 'threshold', 'dropout',
           'alpha_dropout', 'feature_alpha_dropout', 'layer_norm', 'group_norm', 'rms_norm',
           'cosine_similarity', 'pairwise_distance', 'bilinear']

# also Tensor methods
METHODS = ['softmax', 'log_softmax', 'heaviside']


def _graph_mode(saved) -> bool:
    """True inside a create_graph backward: saved inputs then arrive as Tensors."""
    return isinstance(saved, Tensor)


# --- linear ---------------------------------------------------------------------------

class Linear(Op):
    """x @ W.T + b with W of shape (out, in): one GEMM forward, one per input backward."""

    def forward(ctx, x, w, b):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ShapeError(f"linear: input's last dim must equal weight.shape[1] (weight is "
                             f"(out_features, in_features)); got input {fmt_shape(x.shape)} "
                             f"and weight {fmt_shape(w.shape)}")
        if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
            raise DTypeError(f"linear: input, weight and bias must share a dtype; got input "
                             f"{x.dtype}, weight {w.dtype}" +
                             (f", bias {b.dtype}" if b is not None else ""))
        if b is not None and b.shape not in ((w.shape[0],), ()):
            raise ShapeError(f"linear: bias must have shape ({w.shape[0]},); got bias "
                             f"{fmt_shape(b.shape)} and weight {fmt_shape(w.shape)}")
        ctx.save(x, w)
        if x.ndim > 2:  # one GEMM over the folded batch dims: matmul would loop over them
            out = ctx.xp.matmul(x.reshape(-1, x.shape[-1]), w.T).reshape(x.shape[:-1] +
                                                                        (w.shape[0],))
        else:
            out = ctx.xp.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    def backward(ctx, g):
        x, w = ctx.saved
        F = ctx.F
        gx = gw = None
        if ctx.needs_grad[0]:
            if g.ndim > 2:
                gx = F.reshape(F.matmul(F.reshape(g, (-1, w.shape[0])), w), x.shape)
            else:
                gx = F.matmul(g, w)
        if ctx.needs_grad[1]:
            # batch dims folded into one GEMM: (out, M) @ (M, in)
            g2 = F.reshape(g, (-1, w.shape[0]))
            x2 = F.reshape(x, (-1, w.shape[1]))
            gw = F.matmul(F.swapaxes(g2, 0, 1), x2)
        return gx, gw, g if ctx.needs_grad[2] else None


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o].

    input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,) -> (*, out).
    """
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or \
            input2.shape[-1] != weight.shape[2] or input1.shape[:-1] != input2.shape[:-1]:
        raise ShapeError(f"bilinear: expected input1 (*, in1), input2 (*, in2) with the same "
                         f"leading dims and weight (out, in1, in2); got input1 "
                         f"{fmt_shape(input1.shape)}, input2 {fmt_shape(input2.shape)} and "
                         f"weight {fmt_shape(weight.shape)}")
    lead = tuple(input1.shape[:-1])
    x1 = reshape(input1, (-1, 1, 1, input1.shape[-1]))      # (M, 1, 1, in1)
    x2 = reshape(input2, (-1, 1, input2.shape[-1], 1))      # (M, 1, in2, 1)
    y = matmul(matmul(x1, unsqueeze(weight, 0)), x2)        # (M, out, 1, 1)
    y = reshape(y, lead + (weight.shape[0],))
    return y if bias is None else add(y, bias)


# --- softmax family -------------------------------------------------------------------

class Softmax(Op):
    """exp(x - max) / sum: the shift makes any finite logits safe (no overflow)."""

    def forward(ctx, x, axis, safe=False):
        xp = ctx.xp
        m = x.max(axis=axis, keepdims=True)
        if safe:  # attention rows that are fully masked (all -inf) give zeros, not nan
            m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(x - m)
        s = e.sum(axis=axis, keepdims=True)
        if safe:
            s = xp.where(s == 0, 1, s)
        e /= s
        ctx.axis = axis
        ctx.save(e)
        return e

    def backward(ctx, g):
        (out,) = ctx.saved
        return out * (g - ctx.F.sum(g * out, axis=ctx.axis, keepdims=True)), None, None


class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))): exact for logits of any size."""

    def forward(ctx, x, axis):
        xp = ctx.xp
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.axis = axis
        ctx.save(shifted)
        return shifted

    def backward(ctx, g):
        (out,) = ctx.saved
        F = ctx.F
        return g - F.exp(out) * F.sum(g, axis=ctx.axis, keepdims=True), None


def _softmax_dim(op, input, dim, stacklevel=3):
    if dim is None:  # PyTorch's deprecated implicit choice
        import warnings  # noqa: PLC0415
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call "
                      "to include dim=X as an argument.", stacklevel=stacklevel)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return normalize_dim(op, dim, input.ndim, input.shape)


def _softmax_like(op_cls, name, input, dim, dtype, *extra):
    if dtype is not None:
        input = cast(input, as_dtype(dtype).np)
    require_float(name, input)
    axis = _softmax_dim(name, input, dim, 4)
    if input.ndim == 0:
        return reshape(op_cls.apply(reshape(input, (1,)), 0, *extra), ())
    return op_cls.apply(input, axis, *extra)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`, stable for logits of any size.

    dtype: cast the input to this dtype first (e.g. float64 for extra precision).

        >>> fathom.softmax(fathom.tensor([1000., 0.]), dim=0)
        tensor([1., 0.])
    """
    if not isinstance(_stacklevel, int):  # torch.softmax(x, dim, dtype) positional form
        dtype = _stacklevel
    return _softmax_like(Softmax, "softmax", input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along `dim`, computed as x - logsumexp(x): no overflow, no log(0)."""
    if not isinstance(_stacklevel, int):
        dtype = _stacklevel
    return _softmax_like(LogSoftmax, "log_softmax", input, dim, dtype)


# --- activations with their own op ----------------------------------------------------

class Softplus(Op):
    """log(1 + exp(beta x)) / beta, as max(bx, 0) + log1p(exp(-|bx|)): exact at any x.

    Its derivative, sigmoid(beta x), is read off the output as -expm1(-beta out),
    which stays accurate where the output is tiny.
    """

    def forward(ctx, x, beta, threshold):
        xp = ctx.xp
        bx = x * beta
        out = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        out = xp.where(bx > threshold, x, out).astype(x.dtype, copy=False)
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        F = ctx.F
        return F.where(x * ctx.beta > ctx.threshold, g, g * -F.expm1(out * -ctx.beta)), \
            None, None


class Gelu(Op):
    """x Phi(x), Phi the standard normal CDF (the exact GELU). Fused for speed: forward
    computes Phi and exp(-x^2 / 2) in one pass and backward reuses both, where the
    composite x/2 (1 + erf(x / sqrt 2)) took five ops and their five backwards."""

    def forward(ctx, x):
        x = _to_float(x)
        cdf, e = _normal_cdf(ctx.xp, x)
        ctx.save(x, cdf, e)
        return x * cdf

    def backward(ctx, g):
        x, cdf, e = ctx.saved
        # d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
        if _graph_mode(x):  # rebuild Phi and exp from x, so that they are differentiated too
            cdf = mul(add(erf(mul(x, _SQRT_HALF)), 1.0), 0.5)
            return g * (cdf + x * exp(mul(mul(x, x), -0.5)) * _INV_SQRT_2PI)
        xp = ctx.xp
        d = xp.multiply(x, e, out=xp.empty_like(x))  # one temporary, then in place
        d *= _INV_SQRT_2PI
        d += cdf
        d *= g
        return d


_SQRT_HALF = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
# float32: Phi(-a) = exp(-a^2 / 2) S(a) for a >= 0, S a rational fit of exp(a^2 / 2) Phi(-a)
# on 0 <= a <= 14 made for Fathom (least squares with Lawson's reweighting; max relative
# error 5.5e-9; no poles for a >= 0). Taking Phi(x) = Phi(-|x|) for x < 0 keeps relative
# accuracy in the negative tail, where (1 + erf(x / sqrt 2)) / 2 cancels to nothing. In
# float32 arithmetic gelu is then within 6 ulp of exact for |x| <= 2, and within a relative
# 5e-6 down to x = -14 (the error of exp(-x^2 / 2) from rounding x^2).
_PHI_S_P = (48.91917595626178, 42.77992448393584, 17.851777105942595, 3.9499884137808614,
            0.39894730579064963)
_PHI_S_Q = (97.8383513725846, 163.62359758663666, 117.33667868043389, 45.73252548069261,
            9.90181891034765, 1.0)


def _normal_cdf(xp, x):
    """Phi(x) and exp(-x^2 / 2), both in x's dtype (a float array)."""
    if x.ndim == 0:  # NumPy turns 0-d results into scalars, which have no in-place ops
        cdf, e = _normal_cdf(xp, x.reshape(1))
        return cdf.reshape(()), e.reshape(())
    if x.dtype == _np.float16:  # its range is too small for the polynomials below
        cdf, e = _normal_cdf(xp, x.astype(_np.float32))
        return cdf.astype(x.dtype), e.astype(x.dtype)
    if x.dtype == _np.float64:  # the fit above is float32-grade
        cdf = _erf(xp, x * _SQRT_HALF)
        cdf += 1.0
        cdf *= 0.5
        return cdf, _exp_half_square(xp, x, xp.empty_like(x))
    a = xp.abs(x)
    xp.clip(a, 0.0, 14.0, out=a)  # exp(-x^2 / 2) is 0 beyond 14; keeps S finite at inf
    s = _polyval(a, _PHI_S_P)
    s /= _polyval(a, _PHI_S_Q)
    e = _exp_half_square(xp, x, a)  # a's memory is reused: fewer temporaries, fewer page faults
    s *= e  # Phi(-|x|)
    # Phi(x) = 1 - Phi(-|x|) for x > 0: add x > 0 times (1 - 2 Phi(-|x|)), exact elsewhere
    # (np.copysign or np.where would cost as much as five multiplies)
    t = s * -2.0
    t += 1.0
    t *= x > 0
    s += t
    return s, e


def _exp_half_square(xp, x, out):
    """exp(-x^2 / 2), written into `out` (an array of x's shape and dtype)."""
    xp.multiply(x, x, out=out)
    out *= -0.5
    return xp.exp(out, out=out)


class Hardtanh(Op):
    """clamp(x, lo, hi) whose gradient is 0 at the edges too, as PyTorch's hardtanh."""

    def forward(ctx, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        ctx.save(x)
        return ctx.xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(ctx, g):
        (x,) = ctx.saved
        return ctx.F.where((x > ctx.lo) & (x < ctx.hi), g, 0), None, None


class Heaviside(Op):
    """0 where x < 0, `values` where x == 0, 1 where x > 0; no gradient (as PyTorch)."""

    def forward(ctx, x, values):
        xp = ctx.xp
        dt = result_type(x, values)
        return xp.where(x == 0, values, x > 0).astype(dt)

    def backward(ctx, g):
        return None, None


def heaviside(input, values):
    """The Heaviside step: 0 for x < 0, `values` for x == 0, 1 for x > 0 (not differentiable)."""
    return Heaviside.apply(input, values)


class Step(Op):
    """1 where x > 0 else 0, with a zero gradient: Fathom's teaching helper (perceptrons)."""

    def forward(ctx, x):
        return (x > 0).astype(x.dtype)

    def backward(ctx, g):
        return g * 0


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu(input, alpha, scale=1.0, input_scale=1.0):
    # the clamp keeps exp from overflowing (and its gradient from being nan) where x > 0
    neg = mul(expm1(mul(clamp(input, max=0), input_scale)), alpha * scale)
    return where(input > 0, mul(input, scale) if scale != 1.0 else input, neg)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. 2017."""
    return _maybe_inplace(input, inplace, _elu, _SELU_ALPHA, _SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")
    return _maybe_inplace(input, inplace, _elu, alpha, 1.0, 1.0 / alpha)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else `value`."""
    return _maybe_inplace(input, inplace, _threshold, threshold, value)


def _threshold(x, threshold, value):
    return where(x > threshold, x, value)


def _maybe_inplace(input, inplace, fn, *args):
    """fn(input, *args), written into input when inplace=True (PyTorch's flag)."""
    return _inplace(input, fn, *args) if inplace else fn(input, *args)


# --- cross entropy and NLL ------------------------------------------------------------

def _class_weights(xp, target, weight, ignore_index, dtype):
    """Safe targets (ignored -> 0), their weights w[t] (0 where ignored) and the valid mask."""
    valid = target != ignore_index
    t = xp.where(valid, target, 0)
    wt = weight[t] if weight is not None else xp.ones(t.shape, dtype)
    return t, (wt * valid).astype(dtype, copy=False), valid


def _reduce_elements(xp, loss, reduction, denom):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / denom if denom != 0 else xp.asarray(xp.nan, loss.dtype)


def _grad_scale(F, g, reduction, denom):
    """The incoming gradient as a factor on each (N, 1, d...) row of the class dim."""
    if reduction == "none":
        return F.expand_dims(g, 1)
    if reduction == "sum":
        return g
    # every target ignored: the loss is nan, but (as PyTorch) no nan reaches the weights
    return g / denom if denom != 0 else g * 0


class NLLLoss(Op):
    """-w[t] * x[n, t, ...], reduced; the gradient scatters -w[t] back to the target slots."""

    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = ctx.xp
        ctx.unbatched = x.ndim == 1
        if ctx.unbatched:
            x, target = x[None], target[None]
        t, wt, _ = _class_weights(xp, target, weight, ignore_index, x.dtype)
        picked = xp.take_along_axis(x, t[:, None], axis=1)[:, 0]
        loss = -picked * wt
        ctx.shape, ctx.t, ctx.wt, ctx.reduction = x.shape, t, wt, reduction
        ctx.denom = float(wt.sum())  # a Python float keeps float32 math in float32
        out = _reduce_elements(xp, loss, reduction, ctx.denom)
        return out[0] if ctx.unbatched and reduction == "none" else out

    def backward(ctx, g):
        F = ctx.F
        if ctx.unbatched and ctx.reduction == "none":
            g = F.reshape(g, (1,))
        vals = _grad_scale(F, g, ctx.reduction, ctx.denom) * -ctx.wt[:, None]
        gx = F.put_along_axis_zeros(ctx.shape, ctx.t[:, None], vals, 1)
        if ctx.unbatched:
            gx = F.reshape(gx, ctx.shape[1:])
        return gx, None, None, None, None


class CrossEntropy(Op):
    """log_softmax + NLL (+ label smoothing) in one pass, for class-index targets.

    Fused for speed (no (N, C) log-probability tensor is written when there is no
    smoothing) and stability (exact at logits of any size). Per element n:
        L_n = -sum_c q[n, c] log p[n, c],
        q[n, c] = (1 - eps) w[t_n] [c == t_n] + (eps / C) w[c]   (0 where t_n is ignored),
    and 'mean' divides the sum by sum_n w[t_n], as PyTorch. The gradient is
    dL_n/dx[n, c] = p[n, c] sum_c' q[n, c'] - q[n, c].
    """

    def forward(ctx, x, target, weight, ignore_index, reduction, smoothing):
        xp = ctx.xp
        ctx.unbatched = x.ndim == 1
        ctx.xshape = x.shape
        x_in = x  # saved as given, so create_graph can link it back to the input
        if ctx.unbatched:
            x, target = x[None], target[None]
        C = x.shape[1]
        t, wt, valid = _class_weights(xp, target, weight, ignore_index, x.dtype)
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        log_s = xp.log(s)[:, 0]
        # -log p[t] = log s - shifted[t]
        loss = (log_s - xp.take_along_axis(shifted, t[:, None], axis=1)[:, 0]) * wt
        wvec = None
        if smoothing > 0:
            wvec = xp.ones(C, x.dtype) if weight is None else weight.astype(x.dtype)
            wvec = wvec.reshape((1, C) + (1,) * (x.ndim - 2))
            # sum_c w_c (-log p_c) = log s * sum_c w_c - sum_c w_c shifted_c
            smooth = (log_s * wvec.sum() - (shifted * wvec).sum(axis=1)) * valid
            loss = (1 - smoothing) * loss + (smoothing / C) * smooth
        ctx.t, ctx.wt, ctx.valid, ctx.wvec = t, wt, valid, wvec
        ctx.reduction, ctx.smoothing, ctx.shape = reduction, smoothing, x.shape
        ctx.dtype = x.dtype
        ctx.denom = float(wt.sum())
        ctx.save(x_in, e, s)
        out = _reduce_elements(xp, loss, reduction, ctx.denom)
        return out[0] if ctx.unbatched and reduction == "none" else out

    def backward(ctx, g):
        x, e, s = ctx.saved
        F, xp, eps = ctx.F, ctx.xp, ctx.smoothing
        if _graph_mode(x):  # p must be a function of x in the graph to differentiate again
            p = exp(log_softmax(reshape(x, ctx.shape), 1))
        else:
            p = e / s
        q = xp.zeros(ctx.shape, dtype=ctx.dtype)
        xp.put_along_axis(q, ctx.t[:, None], ((1 - eps) * ctx.wt)[:, None], 1)
        qsum = (1 - eps) * ctx.wt
        if ctx.wvec is not None:
            C = ctx.shape[1]
            q += (eps / C) * ctx.wvec * ctx.valid[:, None]
            qsum = qsum + (eps / C) * ctx.wvec.sum() * ctx.valid
        if ctx.unbatched and ctx.reduction == "none":
            g = F.reshape(g, (1,))
        gx = (p * qsum[:, None] - q) * _grad_scale(F, g, ctx.reduction, ctx.denom)
        if ctx.unbatched:
            gx = F.reshape(gx, ctx.xshape)
        return gx, None, None, None, None, None


class Embedding(Op):
    """weight[input]; repeated indices accumulate their gradients, padding_idx gets none."""

    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.shape, ctx.indices, ctx.padding_idx = weight.shape, indices, padding_idx
        ctx.scale_grad_by_freq, ctx.dtype = scale_grad_by_freq, weight.dtype
        return ctx.xp.take(weight, indices, axis=0)

    def backward(ctx, g):
        F, xp, idx = ctx.F, ctx.xp, ctx.indices
        if ctx.scale_grad_by_freq:  # each row's gradient divided by how often it was used
            counts = xp.bincount(idx.reshape(-1), minlength=ctx.shape[0])
            g = g / counts[idx][..., None].astype(ctx.dtype)
        if _graph_mode(g):  # create_graph: a scatter that is differentiable itself
            gw = F.index_add_zeros(ctx.shape, idx, g)
            if ctx.padding_idx is not None:
                keep = xp.ones((ctx.shape[0], 1), dtype=ctx.dtype)
                keep[ctx.padding_idx] = 0
                gw = gw * keep
            return gw, None, None, None
        return _add_rows(xp, ctx.shape, idx, g, ctx.padding_idx), None, None, None


def _add_rows(xp, shape, idx, rows, skip=None):
    """Zeros of `shape` (V, D) with rows[i] added to row idx[i]; row `skip` stays zero.

    np.add.at of rows into a 2-D array is slow; measured at vocab 10k, dim 128, 2048
    indices this is 11x faster. Each distinct index's first row is copied in plain,
    and only the repeats go through add.at, on flat positions idx * D + column (NumPy's
    fast path for add.at takes 1-D operands only; it is 4x faster than add.at on rows).
    Small inputs (vocab 100, dim 16, 80 indices) skip the first step, which costs more
    than it saves there. np.add.reduceat over sorted rows was slower: it loops per
    segment. The sums are bitwise those of np.add.at (same order of additions).
    """
    V, D = shape
    flat = idx.reshape(-1)
    rows = rows.reshape(flat.size, D)
    out = xp.zeros(shape, dtype=rows.dtype)
    if flat.size * D >= 16384:  # where the plain copy saves more than it costs
        n = xp.arange(flat.size)
        first = xp.empty(V, dtype=n.dtype)
        first[flat[::-1]] = n[::-1]  # NumPy assigns in order, so the first occurrence wins
        lead = first[flat] == n  # True at exactly one position per distinct index
        out[flat[lead]] = rows[lead]
        rest = ~lead
        if skip is not None:
            rest &= flat != skip  # padding's repeats would be zeroed anyway
        flat, rows = flat[rest], rows[rest]
    if flat.size:
        pos = flat.astype(xp.intp)[:, None] * D + xp.arange(D)
        xp.add.at(out.reshape(-1), pos.reshape(-1), rows.reshape(-1))
    if skip is not None:
        out[skip] = 0
    return out


# --- normalization --------------------------------------------------------------------

class Standardize(Op):
    """(x - mean) / sqrt(var + eps) over `axes` (biased var); also returns mean and var.

    Fused for speed: backward is one formula,
        gx = invstd * (g - mean(g) - xhat * mean(g * xhat)),
    instead of the half-dozen nodes a composed version records.
    """

    n_outputs = 3

    def forward(ctx, x, axes, eps):
        xp = ctx.xp
        mu = x.mean(axis=axes, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=axes, keepdims=True)
        invstd = 1 / xp.sqrt(var + eps)
        out = xc * invstd
        ctx.axes, ctx.eps = axes, eps
        ctx.count = x.size // max(mu.size, 1)
        ctx.save(x, out, invstd)
        return out, mu, var

    def backward(ctx, g, g_mean=None, g_var=None):
        x, out, invstd = ctx.saved
        F, axes = ctx.F, ctx.axes
        if _graph_mode(x):  # rebuild the statistics from x so they are in the graph
            mu = F.mean(x, axis=axes, keepdims=True)
            xc = x - mu
            invstd = 1 / F.sqrt(F.mean(xc * xc, axis=axes, keepdims=True) + ctx.eps)
            out = xc * invstd
        gx = None
        if g is not None:
            gx = invstd * (g - F.mean(g, axis=axes, keepdims=True)
                           - out * F.mean(g * out, axis=axes, keepdims=True))
        extra = 0
        if g_mean is not None:
            extra = g_mean / ctx.count
        if g_var is not None:
            extra = extra + g_var * (2.0 / ctx.count) * out / invstd
        if gx is None:
            gx = extra + 0 * x
        elif g_mean is not None or g_var is not None:
            gx = gx + extra
        return gx, None, None


def _standardize(input, axes, eps):
    require_float("normalization", input)
    return Standardize.apply(input, axes, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last len(normalized_shape) dims, then scale by weight, add bias.

    input (*, *normalized_shape); weight and bias have shape normalized_shape.
    """
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise ShapeError(f"layer_norm: input's trailing dims must equal normalized_shape; got "
                         f"normalized_shape {normalized_shape} and input "
                         f"{fmt_shape(input.shape)} (hint: expected input of shape "
                         f"(*, {', '.join(map(str, normalized_shape))}))")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ShapeError(f"layer_norm: {name} must have shape normalized_shape "
                             f"{normalized_shape}; got {name} {fmt_shape(p.shape)}")
    out = _standardize(input, tuple(range(input.ndim - k, input.ndim)), eps)[0]
    return _affine(out, weight, bias, None)


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = mul(out, weight if shape is None else reshape(weight, shape))
    if bias is not None:
        out = add(out, bias if shape is None else reshape(bias, shape))
    return out


def _channel_param_check(op, input, **params):
    C = input.shape[1]
    for name, p in params.items():
        if p is not None and tuple(p.shape) != (C,):
            raise ShapeError(f"{op}: {name} must have shape ({C},) (one value per channel); "
                             f"got {name} {fmt_shape(p.shape)} and input "
                             f"{fmt_shape(input.shape)}")


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize over each group of C / num_groups channels (and all spatial dims).

    input (N, C, *), weight and bias (C,).
    """
    if input.ndim < 2 or input.shape[1] % num_groups != 0:
        raise ShapeError(f"group_norm: expected input (N, C, *) with C divisible by num_groups="
                         f"{num_groups}; got input {fmt_shape(input.shape)}")
    _channel_param_check("group_norm", input, weight=weight, bias=bias)
    shape = tuple(input.shape)
    x = reshape(input, (shape[0], num_groups, -1))
    out = reshape(_standardize(x, (2,), eps)[0], shape)
    return _affine(out, weight, bias, (1, shape[1]) + (1,) * (len(shape) - 2))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight (eps defaults to
    the dtype's machine epsilon, as PyTorch)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ShapeError(f"rms_norm: input's trailing dims must equal normalized_shape; got "
                         f"normalized_shape {normalized_shape} and input "
                         f"{fmt_shape(input.shape)}")
    require_float("rms_norm", input)
    if eps is None:
        eps = float(_np.finfo(input.data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    out = mul(input, div(1.0, sqrt(add(mean(mul(input, input), dims, True), eps))))
    return out if weight is None else mul(out, weight)


# --- distances ------------------------------------------------------------------------

def _vector_norm(x, p, dim, keepdim, floor=None):
    """The p-norm along dim; `floor` clamps it from below (and keeps the gradient finite at 0).

    Without a floor, an all-zero vector gets gradient 0, as PyTorch's norm.
    """
    if p == math.inf:
        n = amax(abs(x), dim, keepdim)
        return n if floor is None else clamp(n, min=floor)
    if p == 1:
        n = sum(abs(x), dim, keepdim)
        return n if floor is None else clamp(n, min=floor)
    s = sum(mul(x, x) if p == 2 else abs(x) ** p, dim, keepdim)
    if floor is not None:
        # max(s^(1/p), floor) == max(s, floor^p)^(1/p); the clamp guards the root at 0
        s = clamp(s, min=floor ** p)
        return sqrt(s) if p == 2 else s ** (1.0 / p)
    zero = s == 0
    s = where(zero, 1.0, s)
    n = sqrt(s) if p == 2 else s ** (1.0 / p)
    return where(zero, 0.0, n)


def _broadcast_pair(op, a, b):
    from ..errors import broadcast_shapes  # noqa: PLC0415
    shape = broadcast_shapes(op, tuple(a.shape), tuple(b.shape))
    a = a if tuple(a.shape) == shape else expand(a, shape)
    b = b if tuple(b.shape) == shape else expand(b, shape)
    return a, b


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along dim; x1 and x2 broadcast."""
    x1, x2 = _broadcast_pair("cosine_similarity", x1, x2)
    dim = normalize_dim("cosine_similarity", dim, x1.ndim, x1.shape)
    n1 = _vector_norm(x1, 2, dim, True, eps)
    n2 = _vector_norm(x2, 2, dim, True, eps)
    return sum(mul(div(x1, n1), div(x2, n2)), dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim (x1 and x2 broadcast)."""
    d = add(sub(x1, x2), eps)
    return _vector_norm(d, p, -1, keepdim)


# --- dropout --------------------------------------------------------------------------

def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input, p, shape, generator=None):
    """A 0/1 mask of `shape` (kept with probability 1 - p) from fathom's default generator."""
    dt = input.data.dtype
    gen_dt = dt if dt in (_np.float32, _np.float64) else _np.float32
    mask = (_random._rng(generator).random(shape, dtype=gen_dt) >= p).astype(dt)
    if backend.namespace(input.data) is not _np:
        mask = backend.to_device(mask, backend.device_of(input.data))
    return mask


def _apply_mask(input, factor, inplace_):
    if inplace_:
        return _inplace(input, mul, factor)
    return mul(input, factor)


def _dropout_impl(input, p, training, inplace_, shape, alpha=False):
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return _apply_mask(input, _np.zeros((), input.data.dtype), inplace_)
    mask = _keep_mask(input, p, shape)
    if not alpha:
        return _apply_mask(input, mask * (1.0 / (1.0 - p)), inplace_)
    # alpha dropout keeps SELU's mean and variance: dropped units go to SELU's saturation
    # value -alpha' and everything is rescaled (a, b as in PyTorch's _dropout_impl)
    sat = _SELU_ALPHA * _SELU_SCALE
    a = 1.0 / math.sqrt((sat * sat * p + 1) * (1 - p))
    b = ((mask - 1) * (sat * a) + sat * a * p).astype(mask.dtype)
    out = _apply_mask(input, mask * a, inplace_)
    return _inplace(out, add, b) if inplace_ else add(out, b)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    Draws from fathom's default generator, so fathom.manual_seed makes it repeatable.
    training=False (or p=0) returns the input unchanged; p=1 gives zeros.
    """
    return _dropout_impl(input, p, training, inplace, tuple(input.shape))


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: keeps zero mean and unit variance (Klambauer et al. 2017)."""
    return _dropout_impl(input, p, training, inplace, tuple(input.shape), alpha=True)


def _feature_shape(op, input, batched_ndims):
    """Mask shape for channel-wise dropout: (N, C, 1, ...) or (C, 1, ...) unbatched."""
    shape = tuple(input.shape)
    lead = 2 if input.ndim in batched_ndims else 1
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected an input with a channel dim, got shape "
                         f"{fmt_shape(shape)}")
    return shape[:lead] + (1,) * (len(shape) - lead)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout that drops whole channels (input (N, C, *))."""
    shape = _feature_shape("feature_alpha_dropout", input, range(2, 99))
    return _dropout_impl(input, p, training, inplace, shape, alpha=True)
