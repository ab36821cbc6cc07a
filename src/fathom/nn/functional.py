"""fathom.nn.functional: PyTorch's functional API.

Fused primitives (with their own backward) live in fathom.ops.conv, ops.pool
and ops.nn; what can be composed from ops is composed here and needs no
backward (so double backward comes for free). The names defined in this file
are the ones PyTorch has only in torch.nn.functional; those it also has as
`torch.<name>` (softmax, dropout, layer_norm, ...) come from ops.nn.

Losses take `reduction='mean'|'sum'|'none'` (and PyTorch's deprecated
`size_average`/`reduce` flags, in PyTorch's argument order).
"""
from __future__ import annotations

import math
import warnings

from .. import backend
from ..dtypes import int64
from ..errors import DTypeError, ShapeError, fmt_shape, normalize_dim, require_float
from ..ops import conv as _conv, nn as _nn, pool as _pool
from ..ops.conv import *  # noqa: F403
from ..ops.pool import *  # noqa: F403
from ..ops.nn import *  # noqa: F403
from ..ops.elementwise import (abs, add, clamp, div, erf, exp, log, mul, neg, relu as _relu,
                               sigmoid, sub, tanh, where)
from ..ops.elementwise import inplace as _inplace
from ..ops.index import getitem
from ..ops.linalg import matmul
from ..ops.nn import log_softmax, softmax
from ..ops.reduce import mean, sum
from ..ops.shape import reshape, transpose, unsqueeze
from ..tensor import Tensor, _make

_np = backend.np

# --- linear ---------------------------------------------------------------------------


def linear(input, weight, bias=None):
    """y = x @ weight.T + bias in one GEMM.

    input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).

        >>> F.linear(fathom.ones(2, 3), fathom.ones(4, 3)).shape
        fathom.Size([2, 4])
    """
    return _nn.Linear.apply(input, weight, bias)


# --- activations ----------------------------------------------------------------------

def _act(input, inplace, fn, *args):
    return _inplace(input, fn, *args) if inplace else fn(input, *args)


def relu(input, inplace=False):
    """max(x, 0)."""
    return _act(input, inplace, _relu)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return _act(input, inplace, _nn.Hardtanh.apply, 0.0, 6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is 0 outside (min_val, max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _act(input, inplace, _nn.Hardtanh.apply, float(min_val), float(max_val))


def _leaky(x, negative_slope):
    return where(x > 0, x, mul(x, negative_slope))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x."""
    return _act(input, inplace, _leaky, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _act(input, inplace, _nn._elu, alpha)


_SQRT_HALF = 1 / math.sqrt(2)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu(x, approximate):
    if approximate == "tanh":
        inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), _SQRT_2_OVER_PI)
        return mul(mul(x, 0.5), add(tanh(inner), 1.0))
    return mul(mul(x, 0.5), add(erf(mul(x, _SQRT_HALF)), 1.0))


def gelu(input, approximate="none"):
    """x * Phi(x) with Phi the standard normal CDF (exact, via erf), or its tanh
    approximation with approximate='tanh'."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _gelu(input, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return _act(input, inplace, _silu)


def _silu(x):
    return mul(x, sigmoid(x))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _act(input, inplace, _mish)


def _mish(x):
    return mul(x, tanh(_nn.Softplus.apply(x, 1.0, math.inf)))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold; exact at any x."""
    require_float("softplus", input)
    return _nn.Softplus.apply(input, float(beta), float(threshold))


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), finite for any x."""
    require_float("logsigmoid", input)
    return neg(_nn.Softplus.apply(neg(input), 1.0, math.inf))


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _act(input, inplace, _hardsigmoid)


def _hardsigmoid(x):
    return _nn.Hardtanh.apply(add(div(x, 6.0), 0.5), 0.0, 1.0)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _act(input, inplace, _hardswish)


def _hardswish(x):
    return mul(x, _hardsigmoid(x))


def softsign(input):
    """x / (1 + |x|)."""
    return div(input, add(abs(input), 1.0))


def tanhshrink(input):
    """x - tanh(x)."""
    return sub(input, tanh(input))


def softshrink(input, lambd=0.5):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0."""
    return where(input > lambd, sub(input, lambd), where(input < -lambd, add(input, lambd), 0.0))


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the two halves of input along dim."""
    d = normalize_dim("glu", dim, input.ndim, input.shape)
    n = input.shape[d]
    if n % 2:
        raise ShapeError(f"glu: halving dimension must be even, but dimension {dim} is size {n}; "
                         f"got input {fmt_shape(input.shape)}")
    lead = (slice(None),) * d
    a = getitem(input, lead + (slice(0, n // 2),))
    b = getitem(input, lead + (slice(n // 2, n),))
    return mul(a, sigmoid(b))


def step(input):
    """Fathom's teaching helper (not in PyTorch): 1 where x > 0, else 0.

    The perceptron's activation. Its gradient is zero everywhere (so x.grad is a
    tensor of zeros), which is why gradient descent needs smooth activations.
    """
    return _nn.Step.apply(input)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    return softmax(neg(input), dim, dtype=dtype)


# --- losses ---------------------------------------------------------------------------

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(op, size_average, reduce, reduction, extra=()):
    if size_average is not None or reduce is not None:  # PyTorch's legacy flags
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected one "
                         f"of {', '.join(map(repr, _REDUCTIONS + tuple(extra)))})")
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return sum(loss) if reduction == "sum" else mean(loss)


def _is_float(t):
    return t.dtype.is_floating_point


def _check_weight(op, weight, C):
    if weight is not None and tuple(weight.shape) != (C,):
        raise ShapeError(f"{op}: weight must have one value per class, shape ({C},); got weight "
                         f"{fmt_shape(weight.shape)}")


def _class_target(op, input, target, ignore_index):
    """Check class-index targets: shape (N, d1, ...) for input (N, C, d1, ...), values in [0, C)."""
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have a class dim; got input {fmt_shape(input.shape)}")
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    C = input.shape[0 if input.ndim == 1 else 1]
    if tuple(target.shape) != expected:
        raise ShapeError(f"{op}: expected target shape {fmt_shape(expected)} for input "
                         f"{fmt_shape(input.shape)}, got {fmt_shape(target.shape)} (hint: targets "
                         f"are class indices, one per sample, with no class dim)")
    if target.dtype.is_floating_point or target.dtype.np.kind == "b":
        raise DTypeError(f"{op}: class-index targets must be integers (int64), got {target.dtype} "
                         f"with shape {fmt_shape(target.shape)} (hint: target.long())")
    t = target.data
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bool(bad.any()):
        value = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{op}: target {value} is out of bounds for {C} classes (expected "
                         f"0 <= target < {C}, or ignore_index={ignore_index})")
    return C


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross entropy between logits and targets.

    input: logits (N, C), (C,) or (N, C, d1, ...). target: class indices (N,), () or
    (N, d1, ...) (int64), or class probabilities with the input's shape (float).
    weight (C,): per-class weights; 'mean' divides by the summed weight of the
    non-ignored targets. label_smoothing mixes the target with the uniform
    distribution, as PyTorch.

        >>> F.cross_entropy(fathom.tensor([[1000., 0.]]), fathom.tensor([0]))
        tensor(0.)
    """
    reduction = _reduction("cross_entropy", size_average, reduce, reduction)
    require_float("cross_entropy", input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    C = input.shape[0 if input.ndim == 1 else 1] if input.ndim else 0
    _check_weight("cross_entropy", weight, C)
    if tuple(target.shape) == tuple(input.shape) and input.ndim:
        if not _is_float(target):
            raise DTypeError(f"cross_entropy: a target with the input's shape "
                             f"{fmt_shape(input.shape)} holds class probabilities and must be "
                             f"floating point, got {target.dtype} (hint: class indices have "
                             f"shape {fmt_shape((input.shape[0],) + tuple(input.shape[2:]))})")
        if ignore_index != -100:
            raise ValueError("cross_entropy: ignore_index is not supported for class-probability "
                             "targets")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    _class_target("cross_entropy", input, target, ignore_index)
    return _nn.CrossEntropy.apply(input, target.data, None if weight is None else weight.data,
                                  ignore_index, reduction, float(label_smoothing))


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    dim = 0 if input.ndim == 1 else 1
    C = input.shape[dim]
    if label_smoothing > 0:
        target = add(mul(target, 1 - label_smoothing), label_smoothing / C)
    prod = mul(log_softmax(input, dim), target)
    if weight is not None:
        prod = mul(prod, reshape(weight, (C,) + (1,) * (input.ndim - dim - 1)))
    if reduction == "none":
        return neg(sum(prod, dim))
    total = neg(sum(prod))
    return total if reduction == "sum" else div(total, input.numel() / C)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log likelihood of class indices, given log-probabilities.

    input (N, C), (C,) or (N, C, d1, ...); target (N,), () or (N, d1, ...) int64.
    """
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    C = _class_target("nll_loss", input, target, ignore_index)
    _check_weight("nll_loss", weight, C)
    return _nn.NLLLoss.apply(input, target.data, None if weight is None else weight.data,
                             ignore_index, reduction)


def _check_same_size(op, input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{op}: using a target size {fmt_shape(target.shape)} that is different to "
                      f"the input size {fmt_shape(input.shape)}. This will likely lead to "
                      "incorrect results due to broadcasting. Please ensure they have the same "
                      "size.", stacklevel=3)


def _weighted(op, loss, weight, input, reduction, mean_by_weight):
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: weight must have the input's shape; got weight "
                         f"{fmt_shape(weight.shape)} and input {fmt_shape(input.shape)}")
    loss = mul(loss, weight)
    if reduction == "mean" and mean_by_weight:
        return div(sum(loss), sum(weight))
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (input - target)^2; weight (input's shape) scales each term and
    'mean' then divides by the summed weight, as PyTorch."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    _check_same_size("mse_loss", input, target)
    d = sub(input, target)
    return _weighted("mse_loss", mul(d, d), weight, input, reduction, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error |input - target|."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    _check_same_size("l1_loss", input, target)
    return _weighted("l1_loss", abs(sub(input, target)), weight, input, reduction, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = _reduction("smooth_l1_loss", size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    _check_same_size("smooth_l1_loss", input, target)
    d = sub(input, target)
    ad = abs(d)
    if beta == 0:  # the quadratic piece vanishes: plain L1 (and no division by 0)
        return _reduce(ad, reduction)
    loss = where(ad < beta, div(mul(d, d), 2 * beta), sub(ad, 0.5 * beta))
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    reduction = _reduction("huber_loss", None, None, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _check_same_size("huber_loss", input, target)
    d = sub(input, target)
    ad = abs(d)
    loss = where(ad < delta, mul(mul(d, d), 0.5), mul(sub(ad, 0.5 * delta), delta))
    return _weighted("huber_loss", loss, weight, input, reduction, False)


def _same_shape(op, input, target):
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: target must have the input's shape; got target "
                         f"{fmt_shape(target.shape)} and input {fmt_shape(input.shape)}")


_LOG_FLOOR = math.exp(-100)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1].

    As PyTorch, each log is clamped at -100 so x = 0 or 1 gives a finite loss.
    Prefer binary_cross_entropy_with_logits: it takes logits and is exact.
    """
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    _same_shape("binary_cross_entropy", input, target)
    x = input.data
    if x.size and bool(((x < 0) | (x > 1) | (x != x)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 "
                           "and 1 (hint: apply sigmoid first, or use "
                           "binary_cross_entropy_with_logits)")

    def clamped_log(p):  # the inner clamp keeps log away from 0 (no -inf, no warning)
        return clamp(log(clamp(p, min=_LOG_FLOOR)), min=-100.0)

    loss = neg(add(mul(target, clamped_log(input)),
                   mul(sub(1.0, target), clamped_log(sub(1.0, input)))))
    if weight is not None:
        loss = mul(loss, weight)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable formula:
    (1 - t) x + lw * softplus(-x) with lw = 1 + (pos_weight - 1) t. Exact at |x| = 1000.

    pos_weight (C,) weighs the positive term per class (broadcast over the last dim).
    """
    reduction = _reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"binary_cross_entropy_with_logits: target size {fmt_shape(target.shape)}"
                         f" must be the same as input size {fmt_shape(input.shape)}")
    require_float("binary_cross_entropy_with_logits", input)
    sp = _nn.Softplus.apply(neg(input), 1.0, math.inf)  # log(1 + exp(-x)), no overflow
    if pos_weight is not None:
        sp = mul(sp, add(mul(sub(pos_weight, 1.0), target), 1.0))
    loss = add(mul(sub(1.0, target), input), sp)
    if weight is not None:
        loss = mul(loss, weight)
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log target - input).

    input holds log-probabilities; target holds probabilities (log-probabilities
    with log_target=True). reduction='batchmean' divides the sum by the batch size,
    which is the mathematical KL divergence; 'mean' divides by every element.
    """
    reduction = _reduction("kl_div", size_average, reduce, reduction, ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size. 'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition. 'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = mul(exp(target), sub(target, input))
    else:
        pos = target > 0
        # t log t with 0 log 0 = 0; the inner where keeps log(0) (and its gradient) out
        xlogx = where(pos, mul(target, log(where(pos, target, 1.0))), 0.0)
        loss = sub(xlogx, mul(target, input))
    if reduction == "batchmean":
        total = sum(loss)
        return div(total, input.shape[0]) if input.ndim else total
    return _reduce(loss, reduction)


# --- dropout --------------------------------------------------------------------------

def _feature_dropout(op, input, p, training, inplace, ndims):
    batched, unbatched = ndims
    if input.ndim not in (batched, unbatched):
        if op != "dropout2d":
            raise ShapeError(f"{op}: expected a {unbatched}-D or {batched}-D input, got input "
                             f"{fmt_shape(input.shape)}")
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated; use dropout instead.", stacklevel=3)
    # a 3-D input to dropout2d is treated as (N, C, L), as PyTorch does
    lead = 1 if input.ndim == unbatched and op != "dropout2d" else 2
    lead = min(lead, input.ndim)
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _nn._dropout_impl(input, p, training, inplace, shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: input (N, C, L) or (C, L); scale the rest by 1 / (1 - p)."""
    return _feature_dropout("dropout1d", input, p, training, inplace, (3, 2))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: input (N, C, H, W) (a 3-D input is treated as (N, C, L))."""
    return _feature_dropout("dropout2d", input, p, training, inplace, (4, 3))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: input (N, C, D, H, W) or (C, D, H, W)."""
    return _feature_dropout("dropout3d", input, p, training, inplace, (5, 4))


# --- normalization --------------------------------------------------------------------

def _update_running(stat, new):
    """stat <- new, in place and outside the graph (a buffer update)."""
    stat.data[...] = new.astype(stat.data.dtype, copy=False)
    stat._vc[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel over the batch (and spatial dims), then scale and shift.

    input (N, C), (N, C, L) or (N, C, H, W); running_mean, running_var, weight, bias (C,).
    training=True uses the batch statistics and updates running_mean/var in place:
    r <- (1 - momentum) r + momentum * stat, with the unbiased variance (PyTorch's
    rule). training=False normalizes with the running statistics.
    """
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input (N, C, *) with at least 2 dims; got input "
                         f"{fmt_shape(input.shape)}")
    _nn._channel_param_check("batch_norm", input, running_mean=running_mean,
                             running_var=running_var, weight=weight, bias=bias)
    C = input.shape[1]
    shape = (1, C) + (1,) * (input.ndim - 2)
    if training:
        count = input.numel() // C
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input size {fmt_shape(input.shape)}")
        axes = (0,) + tuple(range(2, input.ndim))
        out, mu, var = _nn._standardize(input, axes, eps)
        if running_mean is not None:
            _update_running(running_mean, (1 - momentum) * running_mean.data +
                            momentum * mu.data.reshape(C))
        if running_var is not None:
            unbiased = var.data.reshape(C) * (count / (count - 1))
            _update_running(running_var, (1 - momentum) * running_var.data + momentum * unbiased)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given when "
                             "training=False (hint: pass training=True to use batch statistics)")
        require_float("batch_norm", input)
        xp = backend.namespace(running_var.data)
        inv = (1 / xp.sqrt(running_var.data.reshape(shape) + eps)).astype(running_var.data.dtype)
        out = mul(sub(input, running_mean.data.reshape(shape)), inv)
    return _nn._affine(out, weight, bias, shape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalize each (sample, channel) over its spatial dims. input (N, C, *)."""
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected input (N, C, *) with at least one spatial dim;"
                         f" got input {fmt_shape(input.shape)}")
    _nn._channel_param_check("instance_norm", input, running_mean=running_mean,
                             running_var=running_var, weight=weight, bias=bias)
    C = input.shape[1]
    shape = (1, C) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    count = input.numel() // (input.shape[0] * C)
    if count <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, "
                         f"got input size {fmt_shape(input.shape)}")
    out, mu, var = _nn._standardize(input, tuple(range(2, input.ndim)), eps)
    if running_mean is not None:
        new = mu.data.reshape(input.shape[0], C).mean(axis=0)
        _update_running(running_mean, (1 - momentum) * running_mean.data + momentum * new)
    if running_var is not None:
        new = var.data.reshape(input.shape[0], C).mean(axis=0) * (count / (count - 1))
        _update_running(running_var, (1 - momentum) * running_var.data + momentum * new)
    return _nn._affine(out, weight, bias, shape)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along dim."""
    d = normalize_dim("normalize", dim, input.ndim, input.shape)
    res = div(input, _nn._vector_norm(input, p, d, True, eps))
    if out is not None:
        out.copy_(res)
        return out
    return res


# --- embedding, one_hot, attention ----------------------------------------------------

def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` (num_embeddings, dim) picked by the integer `input` (*) -> (*, dim).

    padding_idx: that row gets no gradient. max_norm: rows looked up are first
    renormalized in place to norm <= max_norm. sparse=True is accepted and gives a
    dense gradient (Fathom has no sparse tensors).
    """
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim); got "
                         f"weight {fmt_shape(weight.shape)}")
    if input.dtype.is_floating_point or input.dtype.np.kind == "b":
        raise DTypeError(f"embedding: indices must be integers (int64 or int32), got "
                         f"{input.dtype} with shape {fmt_shape(input.shape)} (hint: .long())")
    V = weight.shape[0]
    idx = input.data
    if idx.size and (bool((idx < 0).any()) or bool((idx >= V).any())):
        bad = int(idx[(idx < 0) | (idx >= V)].reshape(-1)[0])
        raise IndexError(f"embedding: index {bad} is out of range for a weight with {V} rows "
                         f"(expected 0 <= index < {V}); got input {fmt_shape(input.shape)} and "
                         f"weight {fmt_shape(weight.shape)}")
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({V}), got "
                             f"{padding_idx}")
        padding_idx %= V
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
    return _nn.Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


def _embedding_renorm(weight, idx, max_norm, norm_type):
    """Scale the looked-up rows down to norm max_norm, in place (PyTorch's embedding_renorm_)."""
    xp = backend.namespace(weight.data)
    rows = xp.unique(idx.reshape(-1))
    w = weight.data[rows]
    norms = xp.linalg.norm(w.astype(_np.float64), ord=norm_type, axis=1)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    weight.data[rows] = (w * scale[:, None]).astype(weight.data.dtype)
    weight._vc[0] += 1


def one_hot(tensor, num_classes=-1):
    """Class indices (*) -> (*, num_classes) int64 with a 1 at each index.

    num_classes=-1 uses max(tensor) + 1.
    """
    if tensor.dtype.is_floating_point or tensor.dtype.np.kind == "b":
        raise DTypeError(f"one_hot: expected an integer (int64) tensor of class indices, got "
                         f"{tensor.dtype} with shape {fmt_shape(tensor.shape)}")
    t = tensor.data
    xp = backend.namespace(t)
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("one_hot: cannot infer the total number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = int(t.max()) + 1
    if t.size and int(t.min()) < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(t.min())}")
    if t.size and int(t.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes="
                           f"{num_classes}, got {int(t.max())}")
    out = (t[..., None] == xp.arange(num_classes)).astype(int64.np)
    return _make(out, None, 0, None)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T * scale + mask) v, composed from matmul and softmax.

    query (*, L, E), key (*, S, E), value (*, S, Ev) -> (*, L, Ev).
    attn_mask: bool (True = may attend) or float (added to the scores), broadcast to
    (*, L, S). is_causal: position i attends to j <= i. scale defaults to 1/sqrt(E).
    A row that may attend to nothing gives zeros (as PyTorch's math backend).
    enable_gqa: query heads (dim -3) are shared in groups over fewer key/value heads.
    """
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: expected query (*, L, E), key (*, S, E) "
                         f"and value (*, S, Ev); got query {fmt_shape(query.shape)}, key "
                         f"{fmt_shape(key.shape)} and value {fmt_shape(value.shape)}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, "
                         "not both")
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    scale = 1 / math.sqrt(E) if scale is None else scale
    out_shape = None
    if enable_gqa and query.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise ShapeError(f"scaled_dot_product_attention: with enable_gqa, query heads must "
                             f"be a multiple of key/value heads; got query "
                             f"{fmt_shape(query.shape)}, "
                             f"key {fmt_shape(key.shape)} and value {fmt_shape(value.shape)}")
        lead = tuple(query.shape[:-3])
        query = reshape(query, lead + (hk, hq // hk, L, E))
        key, value = unsqueeze(key, -3), unsqueeze(value, -3)
        out_shape = lead + (hq, L, value.shape[-1])
        if attn_mask is not None and attn_mask.ndim >= 3:
            attn_mask = reshape(attn_mask, tuple(attn_mask.shape[:-3]) +
                                ((hk, hq // hk) if attn_mask.shape[-3] == hq else (1, 1)) +
                                tuple(attn_mask.shape[-2:]))
    scores = mul(matmul(query, transpose(key, -2, -1)), scale)
    if is_causal:
        xp = backend.namespace(query.data)
        attn_mask = xp.tril(xp.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask_dtype = attn_mask.dtype if isinstance(attn_mask, Tensor) else None
        if mask_dtype is None or mask_dtype.np.kind == "b":
            scores = where(attn_mask, scores, -math.inf)
        else:
            scores = add(scores, attn_mask)
    attn = _nn.Softmax.apply(scores, scores.ndim - 1, True)
    if dropout_p > 0:
        attn = _nn.dropout(attn, dropout_p, True)
    out = matmul(attn, value)
    return out if out_shape is None else reshape(out, out_shape)


__all__ = [*_conv.__all__, *_pool.__all__, *_nn.__all__,
           "linear", "relu", "relu6", "hardtanh", "leaky_relu", "elu", "gelu", "silu", "mish",
           "softplus", "logsigmoid", "hardsigmoid", "hardswish", "softsign", "tanhshrink",
           "softshrink", "glu", "step", "softmin", "sigmoid", "tanh",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "dropout1d", "dropout2d", "dropout3d", "batch_norm", "instance_norm", "normalize",
           "embedding", "one_hot", "scaled_dot_product_attention"]
