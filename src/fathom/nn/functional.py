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
from ..ops.elementwise import (abs, add, clamp, div, exp, log, mul, neg, relu as _relu, sigmoid,
                               sub, tanh, where)
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


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu(x, approximate):
    if approximate == "tanh":
        inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), _SQRT_2_OVER_PI)
        return mul(mul(x, 0.5), add(tanh(inner), 1.0))
    return _nn.Gelu.apply(x)


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
    if not _is_float(target):
        raise DTypeError(f"binary_cross_entropy: target must be a float tensor of 0/1 "
                         f"probabilities, got {target.dtype} (hint: target.float())")
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
        _broadcastable("binary_cross_entropy", "weight", weight, input)
        loss = mul(loss, weight)
    return _reduce(loss, reduction)


def _broadcastable(op, name, w, input):
    """A weight must broadcast to the input's shape (and not grow it)."""
    try:
        ok = _broadcast_shapes(op, tuple(w.shape), tuple(input.shape)) == tuple(input.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: {name} {fmt_shape(w.shape)} must broadcast to the input's "
                         f"shape {fmt_shape(input.shape)}")


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
        _broadcastable("binary_cross_entropy_with_logits", "pos_weight", pos_weight, input)
        sp = mul(sp, add(mul(sub(pos_weight, 1.0), target), 1.0))
    loss = add(mul(sub(1.0, target), input), sp)
    if weight is not None:
        _broadcastable("binary_cross_entropy_with_logits", "weight", weight, input)
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


# --- activations added with the activation modules (composites: no backward) ----------
# hardshrink, prelu and rrelu, composed from ops; the layer table checks them against
# PyTorch through nn.Hardshrink, nn.PReLU and nn.RReLU.

from .. import random as _random  # noqa: E402


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return where(abs(input) > lambd, input, 0.0)


def prelu(input, weight):
    """x where x > 0, else weight * x; weight has 1 value or one per channel (dim 1).

    input (*) with weight (1,), or input (N, C, *) with weight (C,).
    """
    if input.ndim == 0:
        raise ShapeError("prelu: input must have at least one dim, got a 0-d input")
    n = weight.numel()
    if n != 1:
        C = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or n != C:
            raise ShapeError(f"prelu: weight must have one value or one per input channel "
                             f"(dim 1, size {C}); got weight {fmt_shape(weight.shape)} and input "
                             f"{fmt_shape(input.shape)}")
        weight = reshape(weight, (C,) + (1,) * (input.ndim - 2))
    return where(input > 0, input, mul(weight, input))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: x where x >= 0, else a * x.

    training: a ~ U(lower, upper), drawn per element from fathom's default generator
    (fathom.manual_seed makes it repeatable). Otherwise a = (lower + upper) / 2.
    """
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    require_float("rrelu", input)
    x = input.data
    noise = _random._rng(None).uniform(lower, upper, x.shape).astype(x.dtype, copy=False)
    if backend.namespace(x) is not _np:
        noise = backend.to_device(noise, backend.device_of(x))
    noise = backend.namespace(x).where(x <= 0, noise, 1).astype(x.dtype, copy=False)
    return _act(input, inplace, mul, noise)


__all__ += ["hardshrink", "prelu", "rrelu"]


# === losses composed from ops (added with the loss modules in nn/loss.py) ===============
# Each is PyTorch's formula written with differentiable ops, so it needs no backward.

from ..errors import broadcast_shapes as _broadcast_shapes  # noqa: E402
from ..ops.elementwise import minimum as _minimum  # noqa: E402
from ..ops.reduce import logsumexp  # noqa: E402
from ..ops.shape import cat, stack  # noqa: E402


def _const(like, array):
    """A constant (no-grad) tensor holding `array` in `like`'s dtype."""
    return _make(array.astype(like.data.dtype, copy=False), None, 0, None)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Negative log likelihood of a Poisson target: exp(x) - t x when log_input (x is the
    log-rate), else x - t log(x + eps). `full` adds Stirling's approximation of log(t!),
    t log t - t + 0.5 log(2 pi t), where t > 1."""
    reduction = _reduction("poisson_nll_loss", size_average, reduce, reduction)
    if log_input:
        loss = sub(exp(input), mul(target, input))
    else:
        loss = sub(input, mul(target, log(add(input, eps))))
    if full:
        big = target > 1
        t = where(big, target, 1.0)  # keeps log (and its gradient) away from t <= 0
        stirling = add(sub(mul(t, log(t)), t), mul(log(mul(t, 2 * math.pi)), 0.5))
        loss = add(loss, where(big, stirling, 0.0))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var), plus 0.5 log(2 pi) when full.

    var has the input's shape (one variance per value), the input's shape without its
    last dim, or the input's shape with one dim of size 1 (shared variances); a number
    is one variance for all. Values below eps are raised to eps in the forward only:
    as PyTorch, the gradient reaches var as if unclamped.
    """
    op = "gaussian_nll_loss"
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries (var={var})")
        var = _const(input, backend.namespace(input.data).full(input.shape, float(var)))
    elif bool((var.data < 0).any()):
        raise ValueError(f"{op}: var has negative entry/entries")
    xs, vs = tuple(input.shape), tuple(var.shape)
    if vs != xs:
        if xs[:-1] == vs:  # one variance per sample: broadcast over the last dim
            var = unsqueeze(var, -1)
        elif not (len(vs) == len(xs) and [v for x, v in zip(xs, vs) if x != v] == [1]):
            raise ShapeError(f"{op}: var is of incorrect size; got var {fmt_shape(vs)} for input "
                             f"{fmt_shape(xs)} (expected the input's shape, the input's shape "
                             f"without its last dim, or the input's shape with one dim of size 1)")
    reduction = _reduction(op, None, None, reduction)
    xp = backend.namespace(var.data)
    var = add(var, _const(var, xp.maximum(var.data, eps) - var.data))  # clamp, gradient kept
    d = sub(input, target)
    loss = mul(add(log(var), div(mul(d, d), var)), 0.5)
    if full:
        loss = add(loss, 0.5 * math.log(2 * math.pi))
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1; max(0, cos(x1, x2) - margin) where it is -1.

    input1, input2 (N, D) with target (N,), or (D,) with a 0-d target.
    """
    op = "cosine_embedding_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    shapes = (f"input1 {fmt_shape(input1.shape)}, input2 {fmt_shape(input2.shape)} and target "
              f"{fmt_shape(target.shape)}")
    if target.ndim > 1 or input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise ShapeError(f"{op}: expected inputs (N, D) with target (N,), or inputs (D,) with a "
                         f"0-d target; got {shapes}")
    batch = _broadcast_shapes(op, tuple(input1.shape), tuple(input2.shape))[:-1]
    if target.ndim and target.shape[0] not in (1, batch[0]):
        raise ShapeError(f"{op}: target must hold one value per pair of inputs; got {shapes}")
    dim = target.ndim
    eps = 1e-12  # PyTorch's: keeps the denominator of a zero vector positive
    dot = sum(mul(input1, input2), dim)
    mag = mul(add(sum(mul(input1, input1), dim), eps), add(sum(mul(input2, input2), dim), eps))
    cos = div(dot, mag ** 0.5)
    loss = add(where(target == 1, sub(1.0, cos), 0.0),
               where(target == -1, clamp(sub(cos, margin), min=0.0), 0.0))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target (input1 - input2) + margin): target 1 asks for input1 > input2,
    -1 for input1 < input2."""
    op = "margin_ranking_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"{op}: input1, input2 and target must have the same number of dims; "
                         f"got input1 {fmt_shape(input1.shape)}, input2 "
                         f"{fmt_shape(input2.shape)} and target {fmt_shape(target.shape)}")
    return _reduce(clamp(add(mul(neg(target), sub(input1, input2)), margin), min=0.0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1 (input is
    usually a distance)."""
    reduction = _reduction("hinge_embedding_loss", size_average, reduce, reduction)
    loss = add(where(target != 1, clamp(sub(margin, input), min=0.0), 0.0),
               where(target != -1, input, 0.0))
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) for targets in {1, -1}; exact at any x (softplus)."""
    op = "soft_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    if _broadcast_shapes(op, tuple(input.shape), tuple(target.shape)) != tuple(input.shape):
        raise ShapeError(f"{op}: target must broadcast to the input's shape; got target "
                         f"{fmt_shape(target.shape)} and input {fmt_shape(input.shape)}")
    return _reduce(_nn.Softplus.apply(neg(mul(input, target)), 1.0, math.inf), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Binary cross entropy with logits per class, averaged over the classes (last dim):
    input (N, C) logits, target (N, C) in {0, 1}; weight (C,) scales each class."""
    reduction = _reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    loss = neg(add(mul(target, logsigmoid(input)), mul(sub(1.0, target), logsigmoid(neg(input)))))
    if weight is not None:
        loss = mul(loss, weight)
    C = input.shape[-1]
    return _reduce(div(sum(loss, input.ndim - 1), C), reduction)


def _index_target(op, target, what):
    """The array of integer class indices (a float or bool target raises DTypeError)."""
    if target.dtype.is_floating_point or target.dtype.np.kind == "b":
        raise DTypeError(f"{op}: {what} must be integers (int64), got {target.dtype} with shape "
                         f"{fmt_shape(target.shape)} (hint: target.long())")
    return target.data


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss: sum over listed classes j and unlisted classes i of
    max(0, 1 - (x[j] - x[i])), divided by C.

    input (C,) or (N, C); target of the same shape holds the listed class indices,
    ended by the first -1 (the rest is ignored).
    """
    op = "multilabel_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ShapeError(f"{op}: expected a non-empty input (C,) or (N, C), got input "
                         f"{fmt_shape(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: target must have the input's shape (class indices padded "
                         f"with -1); got target {fmt_shape(target.shape)} and input "
                         f"{fmt_shape(input.shape)}")
    t = _index_target(op, target, "targets")
    x = input if input.ndim == 2 else reshape(input, (1, -1))
    N, C = x.shape
    t = t.reshape(N, C)
    xp = backend.namespace(t)
    listed = xp.cumprod(t >= 0, axis=1).astype(bool)  # the entries before the first -1
    bad = listed & (t >= C)
    if bool(bad.any()):
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {C} classes "
                         f"(expected 0 <= target < {C}, or -1 to end the list)")
    # counts[n, j]: how often class j is listed (PyTorch counts a repeated index twice)
    rows = xp.broadcast_to(xp.arange(N)[:, None] * C, (N, C))
    counts = xp.bincount((rows + t)[listed], minlength=N * C).reshape(N, C)
    pairs = _const(input, counts[:, :, None] * (counts == 0)[:, None, :])  # j listed, i not
    z = _relu(add(sub(unsqueeze(x, 1), unsqueeze(x, 2)), 1.0))  # z[n, j, i] = 1 - x_j + x_i
    loss = div(sum(mul(z, pairs), (1, 2)), C)
    return _reduce(loss if input.ndim == 2 else reshape(loss, ()), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge loss: sum over i != y of max(0, margin - x[y] + x[i])^p, divided
    by C, with y the target class; weight (C,) scales by the weight of y.

    input (N, C) or (C,); target (N,) or () class indices.
    """
    op = "multi_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 supported, got p={p}")
    if weight is not None and weight.ndim != 1:
        raise ValueError(f"{op}: weight must be one-dimensional, got weight "
                         f"{fmt_shape(weight.shape)}")
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ShapeError(f"{op}: expected a non-empty input (C,) or (N, C), got input "
                         f"{fmt_shape(input.shape)}")
    x = input if input.ndim == 2 else reshape(input, (1, -1))
    N, C = x.shape
    if target.ndim > 1 or target.numel() != N:
        raise ShapeError(f"{op}: expected one class index per sample, target ({N},); got "
                         f"target {fmt_shape(target.shape)} for input {fmt_shape(input.shape)}")
    t = _index_target(op, target, "class-index targets").reshape(N)
    bad = (t < 0) | (t >= C)
    if bool(bad.any()):
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {C} classes "
                         f"(expected 0 <= target < {C})")
    if weight is not None and tuple(weight.shape) != (C,):
        raise ShapeError(f"{op}: weight must have one value per class, shape ({C},); got "
                         f"weight {fmt_shape(weight.shape)}")
    xp = backend.namespace(t)
    xy = getitem(x, (xp.arange(N), t))
    h = _relu(add(sub(x, unsqueeze(xy, 1)), margin))
    if p == 2:
        h = mul(h, h)
    h = mul(h, _const(input, xp.arange(C) != t[:, None]))  # the target class adds nothing
    if weight is not None:
        h = mul(h, unsqueeze(getitem(weight, (t,)), 1))
    loss = div(sum(h, 1), C)
    return _reduce(loss if input.ndim == 2 else reshape(loss, tuple(target.shape)), reduction)


def _triplet_dims(op, anchor, positive, negative):
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(f"{op}: the anchor, positive and negative tensors must have the same "
                         f"number of dims; got anchor {fmt_shape(anchor.shape)}, positive "
                         f"{fmt_shape(positive.shape)} and negative {fmt_shape(negative.shape)}")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with d the pairwise p-norm distance over the
    last dim; `swap` uses min(d(a, n), d(p, n)) as the negative distance."""
    op = "triplet_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _triplet_dims(op, anchor, positive, negative)
    d_pos = _nn.pairwise_distance(anchor, positive, p, eps)
    d_neg = _nn.pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _minimum(d_neg, _nn.pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(add(sub(d_pos, d_neg), margin), min=0.0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance_function(x1, x2) -> distances
    (pairwise_distance when None)."""
    op = "triplet_margin_with_distance_loss"
    reduction = _reduction(op, None, None, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _triplet_dims(op, anchor, positive, negative)
    dist = _nn.pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = _minimum(d_neg, dist(positive, negative))
    return _reduce(clamp(add(sub(d_pos, d_neg), margin), min=0.0), reduction)


def _lengths(op, what, value, n):
    """Per-sample lengths (a tensor, a list or a number) as an int array of n values."""
    arr = value.data if isinstance(value, Tensor) else value
    arr = _np.asarray(arr if not hasattr(arr, "get") else arr.get())  # CuPy -> host
    if arr.dtype.kind not in "iu" or arr.size != n:
        raise ShapeError(f"{op}: {what} must hold {n} integer(s), one per sample; got "
                         f"{arr.dtype} of shape {fmt_shape(arr.shape)}")
    return arr.reshape(n).astype(_np.int64)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification: -log of the total probability of every
    alignment of each target to its input (the forward algorithm, in log space).

    log_probs (T, N, C) (or (T, C)): log_softmax outputs; targets (N, S) padded, or the
    targets of all samples joined in one 1-D tensor (sum(target_lengths),), without
    blanks; input_lengths, target_lengths (N,). 'mean' divides each loss by its target
    length, then averages. An impossible alignment gives inf (0 with zero_infinity).

    Deviations from PyTorch: the gradient is the true derivative -occupancy (PyTorch
    returns exp(log_probs) - occupancy, equal once chained through log_softmax); an
    infinite loss has gradient 0 (PyTorch's is nan); out-of-range targets raise.
    """
    op = "ctc_loss"
    reduction = _reduction(op, None, None, reduction)
    require_float(op, log_probs)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = unsqueeze(log_probs, 1)  # 1-D targets then read as joined, as PyTorch
    if log_probs.ndim != 3:
        raise ShapeError(f"{op}: expected log_probs (T, N, C) or (T, C), got log_probs "
                         f"{fmt_shape(log_probs.shape)}")
    T, N, C = log_probs.shape
    in_len = _lengths(op, "input_lengths", input_lengths, N)
    tg_len = _lengths(op, "target_lengths", target_lengths, N)
    if bool((in_len > T).any()) or bool((in_len < 0).any()):
        raise ValueError(f"{op}: input_lengths must be in [0, {T}] (the time dim of log_probs "
                         f"{fmt_shape(log_probs.shape)}), got {in_len.tolist()}")
    t_all = _index_target(op, targets, "targets")
    t_all = t_all.get() if hasattr(t_all, "get") else _np.asarray(t_all)
    S = int(tg_len.max()) if N else 0
    if t_all.ndim == 1:  # joined targets: cut them per sample
        if t_all.size != int(tg_len.sum()):
            raise ShapeError(f"{op}: 1-D targets hold {t_all.size} labels but target_lengths "
                             f"sum to {int(tg_len.sum())}")
        padded = _np.full((N, S), blank, _np.int64)
        padded[_np.arange(S) < tg_len[:, None]] = t_all
    else:
        if t_all.ndim != 2 or t_all.shape[0] != N or t_all.shape[1] < S:
            raise ShapeError(f"{op}: expected targets (N, S) with N = {N} and S >= "
                             f"max(target_lengths) = {S}, got targets "
                             f"{fmt_shape(targets.shape)} for log_probs "
                             f"{fmt_shape(log_probs.shape)}")
        padded = _np.where(_np.arange(S) < tg_len[:, None], t_all[:, :S], blank)
    used = _np.arange(S) < tg_len[:, None]
    if bool((used & ((padded < 0) | (padded >= C) | (padded == blank))).any()):
        raise IndexError(f"{op}: targets must be class indices in [0, {C}) other than the "
                         f"blank {blank}")
    # the extended label sequence: blank, l1, blank, l2, ..., blank (L = 2S + 1)
    L = 2 * S + 1
    ext = _np.full((N, L), blank, _np.int64)
    ext[:, 1::2] = padded
    skip = _np.zeros((N, L), bool)  # s may come from s - 2: a label unlike the one before
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    xp = backend.namespace(log_probs.data)
    dev = (lambda a: backend.to_device(a, log_probs.device)) if xp is not _np else (lambda a: a)
    rows = dev(_np.arange(N)[:, None])
    em = getitem(log_probs, (slice(None), rows, dev(ext)))  # (T, N, L) emission log-probs
    # a finite floor instead of -inf keeps logsumexp and its gradient free of nan; paths
    # that start there stay near it and weigh exp(-1e30) = 0 in every sum
    low = -1e30
    skip, start = dev(skip), dev(_np.arange(L) < 2)
    fill1 = _const(log_probs, xp.full((N, 1), low))
    fill2 = _const(log_probs, xp.full((N, 2), low))
    alpha = where(start, getitem(em, 0), low)
    running = dev(in_len[:, None] > _np.arange(T)[:, None, None])  # (T, N, 1)
    for t in range(1, T):
        a1 = cat([fill1, getitem(alpha, (slice(None), slice(0, L - 1)))], 1)
        a2 = where(skip, cat([fill2, getitem(alpha, (slice(None), slice(0, L - 2)))], 1)
                   if L > 2 else fill2[:, :L], low)
        new = add(logsumexp(stack([alpha, a1, a2]), 0), getitem(em, t))
        alpha = where(running[t], new, alpha)
    ends = dev(_np.stack([2 * tg_len, _np.maximum(2 * tg_len - 1, 0)], 1))
    last = where(dev(_np.stack([_np.ones(N, bool), tg_len > 0], 1)),
                 getitem(alpha, (rows, ends)), low)
    loss = neg(logsumexp(last, 1))
    impossible = loss.data > 1e29  # no alignment fits in the input length
    if bool(impossible.any()):
        loss = where(impossible, 0.0 if zero_infinity else math.inf, loss)
    if unbatched:
        loss = reshape(loss, ())
    if reduction == "mean":
        lengths = _const(log_probs, dev(_np.maximum(tg_len, 1)).reshape(loss.shape))
        return mean(div(loss, lengths))
    return _reduce(loss, reduction)


__all__ += ["poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
            "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
            "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
            "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]
# === end of the composed losses ========================================================


# === multi-head attention (composites: no backward of their own) ======================
# PyTorch's F.multi_head_attention_forward, built from linear, matmul and softmax. The
# heads ride in a batch dim, (N, H, L, head_dim), so each product is one batched matmul;
# the layouts in and out are views (permute), and the only copy is the merge of the heads
# before the output projection, as in PyTorch.

from ..ops.conv import pad as _pad  # noqa: E402
from ..ops.shape import cat as _cat, expand as _expand, permute as _permute  # noqa: E402


def _mha_name(who):
    return who if isinstance(who, str) else who._describe()


def _additive_mask(mask, name, dtype, who):
    """PyTorch's canonical mask: bool (True = may not attend) becomes 0 / -inf in `dtype`;
    a float mask is added to the scores as it is."""
    if mask is None:
        return None
    kind = mask.data.dtype.kind
    if kind == "b":
        xp = backend.namespace(mask.data)
        out = xp.zeros(mask.data.shape, dtype=dtype)
        out[mask.data] = -math.inf
        return _make(out, None, 0, None)
    if kind != "f":
        raise DTypeError(f"{_mha_name(who)}: only bool and floating types of {name} are "
                         f"supported; got {mask.dtype}")
    return mask


def _heads(x2, lead, H, perm):
    """(M, E) projections -> (N, H, T, head_dim): split E into heads, a view."""
    return _permute(reshape(x2, lead + (H, -1)), perm)


def _mha(query, key, value, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
         add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
         key_padding_mask, need_weights, attn_mask, q_proj_weight, k_proj_weight,
         v_proj_weight, static_k, static_v, average_attn_weights, is_causal, batch_first, who):
    """The body of MultiheadAttention.forward and F.multi_head_attention_forward.

    batch_first: 3-D inputs are (N, T, E) instead of (T, N, E). `who` (a name or the
    module) starts error messages.
    """
    H = num_heads
    separate = in_proj_weight is None
    E = out_proj_weight.shape[1]
    kdim = k_proj_weight.shape[1] if separate else E
    vdim = v_proj_weight.shape[1] if separate else E
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    batched = len(qs) == 3
    if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs):
        raise ShapeError(f"{_mha_name(who)}: expected query, key and value all 3-D (batched) "
                         f"or all 2-D (unbatched); got query {fmt_shape(qs)}, key "
                         f"{fmt_shape(ks)} and value {fmt_shape(vs)}")
    if qs[-1] != E or ks[-1] != kdim or vs[-1] != vdim or ks[:-1] != vs[:-1]:
        raise ShapeError(f"{_mha_name(who)}: expected query (..., {E}), key (..., {kdim}) and "
                         f"value (..., {vdim}) with the same key and value sequence and batch "
                         f"dims; got query {fmt_shape(qs)}, key {fmt_shape(ks)} and value "
                         f"{fmt_shape(vs)}")
    if not batched:  # one sequence: a batch of one, batch first
        batch_first = True
        (L, _), (S, _), N = qs, ks, 1
    elif batch_first:
        (N, L, _), (Nk, S, _) = qs, ks
    else:
        (L, N, _), (S, Nk, _) = qs, ks
    if batched and Nk != N:
        raise ShapeError(f"{_mha_name(who)}: query and key must have the same batch size; "
                         f"got query {fmt_shape(qs)} and key {fmt_shape(ks)}"
                         f"{' (batch_first=True)' if batch_first else ''}")
    # 3-D: heads go to dim 1; the layouts are (N, T, H, d) or (T, N, H, d)
    perm = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
    qlead = (N, L) if batch_first else (L, N)
    klead = (N, S) if batch_first else (S, N)

    # masks: additive float, checked against PyTorch's shapes
    if key_padding_mask is not None and attn_mask is not None and \
            key_padding_mask.dtype != attn_mask.dtype:
        warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. "
                      "Use same type for both instead.", stacklevel=3)
    dt = query.data.dtype
    key_padding_mask = _additive_mask(key_padding_mask, "key_padding_mask", dt, who)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    # with no padding mask and no weights wanted, PyTorch trusts the hint: the mask is
    # then the causal one whatever attn_mask holds (built below, once S is final)
    causal = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if causal else _additive_mask(attn_mask, "attn_mask", dt, who)
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != \
            ((N, S) if batched else (S,)):
        raise ShapeError(f"{_mha_name(who)}: expected key_padding_mask of shape "
                         f"{(N, S) if batched else (S,)} (batch, source length); got "
                         f"{fmt_shape(key_padding_mask.shape)} for query {fmt_shape(qs)} and "
                         f"key {fmt_shape(ks)}")
    if attn_mask is not None and tuple(attn_mask.shape) not in ((L, S), (N * H, L, S)):
        raise ShapeError(f"{_mha_name(who)}: expected attn_mask of shape {(L, S)} or "
                         f"{(N * H, L, S)} (batch * num_heads, target length, source length); "
                         f"got {fmt_shape(attn_mask.shape)} for query {fmt_shape(qs)} and key "
                         f"{fmt_shape(ks)}")

    # in-projection: one GEMM per projection on 2-D (M, E) views
    if separate:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        wq = getitem(in_proj_weight, slice(0, E))
        wk = getitem(in_proj_weight, slice(E, 2 * E))
        wv = getitem(in_proj_weight, slice(2 * E, 3 * E))
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq = getitem(in_proj_bias, slice(0, E))
        bk = getitem(in_proj_bias, slice(E, 2 * E))
        bv = getitem(in_proj_bias, slice(2 * E, 3 * E))
    q2 = reshape(query, (-1, E))
    k2 = q2 if key is query else reshape(key, (-1, kdim))
    v2 = k2 if value is key else reshape(value, (-1, vdim))
    hd = E // H
    # the 1/sqrt(head_dim) score scale is folded into the query weights: (E, E) products
    # instead of (L * N, E)
    scale = 1.0 / math.sqrt(hd)
    q = _heads(linear(q2, mul(wq, scale), None if bq is None else mul(bq, scale)), qlead, H,
               perm)
    k = _heads(linear(k2, wk, bk), klead, H, perm) if static_k is None else \
        reshape(static_k, (N, H, -1, hd))
    v = _heads(linear(v2, wv, bv), klead, H, perm) if static_v is None else \
        reshape(static_v, (N, H, -1, hd))

    # extra key/value columns: learned biases, then zeros; the masks let them be seen
    extra = []
    if bias_k is not None and bias_v is not None:
        extra.append((reshape(bias_k, (1, H, 1, hd)), reshape(bias_v, (1, H, 1, hd))))
    if add_zero_attn:
        xp = backend.namespace(query.data)
        zero = _make(xp.zeros((1, H, 1, hd), dtype=dt), None, 0, None)
        extra.append((zero, zero))
    for bk_, bv_ in extra:
        k = _cat([k, _expand(bk_, (N, H, 1, hd))], 2)
        v = _cat([v, _expand(bv_, (N, H, 1, hd))], 2)
        if attn_mask is not None:
            attn_mask = _pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _pad(key_padding_mask, (0, 1))
    S = k.shape[2]

    # one additive mask broadcast against the scores (N, H, L, S)
    mask = None
    if attn_mask is not None:
        mask = attn_mask if attn_mask.ndim == 2 else reshape(attn_mask, (N, H, L, S))
    if key_padding_mask is not None:
        kpm = reshape(key_padding_mask, (N, 1, 1, S))
        mask = kpm if mask is None else add(mask, kpm)
    if causal:
        xp = backend.namespace(query.data)
        mask = _make(xp.triu(xp.full((L, S), -math.inf, dtype=dt), 1), None, 0, None)

    scores = matmul(q, transpose(k, 2, 3))
    if mask is not None:
        scores = add(scores, mask)
    # a row that may attend to nothing: nan with the weights (PyTorch's softmax path),
    # zeros without (its scaled_dot_product_attention path)
    attn = _nn.Softmax.apply(scores, 3, not need_weights)
    if training and dropout_p > 0:
        attn = _nn.dropout(attn, dropout_p, True)
    out = matmul(attn, v)                                        # (N, H, L, hd)
    out = reshape(_permute(out, (0, 2, 1, 3) if batch_first else (2, 0, 1, 3)), (-1, E))
    out = reshape(linear(out, out_proj_weight, out_proj_bias), qs)
    if not need_weights:
        return out, None
    if average_attn_weights:
        attn = mean(attn, 1)
    return out, attn if batched else reshape(attn, tuple(attn.shape[1:]))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention: MultiheadAttention's forward as a function.

    query (L, N, E) or (L, E), key (S, N, kdim), value (S, N, vdim) (sequence first);
    in_proj_weight (3E, E), or q/k/v_proj_weight with use_separate_proj_weight=True;
    masks: key_padding_mask (N, S), attn_mask (L, S) or (N * num_heads, L, S), bool
    (True = may not attend) or float (added to the scores). Returns the output (L, N, E)
    and, with need_weights, the attention weights (N, L, S), or (N, num_heads, L, S) with
    average_attn_weights=False.
    """
    op = "multi_head_attention_forward"
    E = query.shape[-1]
    if E != embed_dim_to_check or E % num_heads:
        raise ShapeError(f"{op}: expected query with last dimension embed_dim_to_check="
                         f"{embed_dim_to_check}, divisible by num_heads={num_heads}; got "
                         f"query {fmt_shape(query.shape)}")
    if not use_separate_proj_weight:
        q_proj_weight = k_proj_weight = v_proj_weight = None
        if in_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight is False but in_proj_weight "
                             "is None")
    elif q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
        raise ValueError(f"{op}: use_separate_proj_weight is True but q_proj_weight, "
                         "k_proj_weight or v_proj_weight is None")
    else:
        in_proj_weight = None
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{op}: bias_k and bias_v must be given together")
    return _mha(query, key, value, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
                add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
                key_padding_mask, need_weights, attn_mask, q_proj_weight, k_proj_weight,
                v_proj_weight, static_k, static_v, average_attn_weights, is_causal, False, op)


__all__ += ["multi_head_attention_forward"]
# === end of multi-head attention =======================================================
