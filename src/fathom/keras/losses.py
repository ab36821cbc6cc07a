"""Keras losses (`keras.losses`) composed from `fathom.nn.functional` and fathom ops.

Functions take `(y_true, y_pred)` (Keras's order: targets first) and return the loss
per sample (reduced over the last axis); classes add `reduction` and `sample_weight`:

    >>> import numpy as np
    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> y_pred = fathom.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> round(float(loss(np.array([0, 1]), y_pred)), 4)
    0.1269

As Keras 3 on its torch and JAX backends: with `from_logits=False` probabilities are
clipped to [1e-7, 1 - 1e-7] (`EPSILON`, keras.config.epsilon()) before the log (and
categorical ones renormalised to sum to 1); ranks that differ by one trailing axis of
size 1 are squeezed or expanded to match, so a (N,) target against a (N, 1) output does
not broadcast to (N, N). Reductions: 'sum_over_batch_size' (default: the sum of the
weighted values over their number), 'sum', 'mean', 'mean_with_sample_weight' (divide by
the summed weights), None/'none'.
"""
from __future__ import annotations

import math

from .. import backend
from ..creation import as_tensor
from ..dtypes import int64 as _INT64
from ..nn import functional as F
from ..ops import (abs as _abs, clamp, gather, log, log_softmax, mean, squeeze,
                   sum as _sum, unsqueeze, where)
from ..tensor import Tensor

_np = backend.np

EPSILON = 1e-7  # keras.config.epsilon()
REDUCTIONS = ("sum", "sum_over_batch_size", "mean", "mean_with_sample_weight", "none", None)

__all__ = ["Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh",
           "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
           "CosineSimilarity", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber",
           "log_cosh", "kl_divergence", "poisson", "hinge", "squared_hinge",
           "categorical_hinge", "cosine_similarity", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "get", "serialize",
           "deserialize", "EPSILON"]


# --- inputs -------------------------------------------------------------------------------
def _tensor(x, dtype=None) -> Tensor:
    """A fathom Tensor of `x` (NumPy arrays, lists, numbers), cast to `dtype` when given."""
    t = x if isinstance(x, Tensor) else as_tensor(_np.asarray(x))
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    return t


def _prediction(y_pred) -> Tensor:
    p = _tensor(y_pred)
    if not p.dtype.is_floating_point:
        p = p.float()
    return p


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras's rule: when ranks differ by one and the longer has a trailing 1, expand the
    rank-1 one (or squeeze the trailing 1)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = unsqueeze(x2, -1)
        else:
            x1 = squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = unsqueeze(x1, -1)
        else:
            x2 = squeeze(x2, -1)
    return x1, x2


def _pair(y_true, y_pred):
    """(y_true, y_pred) as float Tensors of y_pred's dtype, ranks matched as Keras."""
    p = _prediction(y_pred)
    t = _tensor(y_true, p.dtype)
    return squeeze_or_expand_to_same_rank(t, p)


def _check_same_shape(name, t, p):
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"{name}: y_true and y_pred shapes differ; got y_true "
                         f"{tuple(t.shape)} and y_pred {tuple(p.shape)}")


# --- per-sample loss functions ------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)**2, axis=-1): (N, ...) -> (N, ...[:-1])."""
    t, p = _pair(y_true, y_pred)
    d = p - t
    return mean(d * d, -1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|, axis=-1)."""
    t, p = _pair(y_true, y_pred)
    return mean(_abs(p - t), -1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)."""
    t, p = _pair(y_true, y_pred)
    return mean(_abs((t - p) / clamp(_abs(t), min=EPSILON)), -1) * 100.0


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)."""
    t, p = _pair(y_true, y_pred)
    d = log(clamp(p, min=EPSILON) + 1.0) - log(clamp(t, min=EPSILON) + 1.0)
    return mean(d * d, -1)


def huber(y_true, y_pred, delta=1.0):
    """mean over the last axis of 0.5 d^2 (|d| <= delta) else delta (|d| - 0.5 delta)."""
    t, p = _pair(y_true, y_pred)
    _check_same_shape("huber", t, p)
    return mean(F.huber_loss(p, t, reduction="none", delta=float(delta)), -1)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1), as x + softplus(-2x) - log 2 (no
    overflow)."""
    t, p = _pair(y_true, y_pred)
    x = p - t
    return mean(x + F.softplus(x * -2.0, threshold=math.inf) - math.log(2.0), -1)


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [eps, 1]."""
    t, p = _pair(y_true, y_pred)
    t, p = clamp(t, EPSILON, 1.0), clamp(p, EPSILON, 1.0)
    return _sum(t * log(t / p), -1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)."""
    t, p = _pair(y_true, y_pred)
    return mean(p - t * log(p + EPSILON), -1)


def _hinge_labels(t):
    """Keras converts 0/1 labels to -1/1 (labels already in {-1, 1} stay)."""
    data = t.data
    if data.size and bool(((data == 0) | (data == 1)).all()):
        return t * 2.0 - 1.0
    return t


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0), axis=-1), 0/1 labels taken as -1/1."""
    t, p = _pair(y_true, y_pred)
    return mean(clamp(1.0 - _hinge_labels(t) * p, min=0.0), -1)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)**2, axis=-1), 0/1 labels taken as -1/1."""
    t, p = _pair(y_true, y_pred)
    h = clamp(1.0 - _hinge_labels(t) * p, min=0.0)
    return mean(h * h, -1)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) over the last axis."""
    t, p = _pair(y_true, y_pred)
    pos = _sum(t * p, -1)
    neg = (t * -1.0 + 1.0) * p
    return clamp(neg.amax(-1) - pos + 1.0, min=0.0)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)."""
    t, p = _pair(y_true, y_pred)
    return -_sum(F.normalize(t, dim=axis) * F.normalize(p, dim=axis), axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over `axis` of -(t log p + (1 - t) log(1 - p)); y_pred probabilities (clipped
    to [eps, 1 - eps]) or logits; label_smoothing pulls t toward 0.5."""
    t, p = _pair(y_true, y_pred)
    _check_same_shape("binary_crossentropy", t, p)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(p, t, reduction="none")
    else:
        values = F.binary_cross_entropy(clamp(p, EPSILON, 1.0 - EPSILON), t, reduction="none")
    return mean(values, axis)


def _log_probs(p, from_logits, axis):
    """log-probabilities along `axis`: log_softmax of logits, else Keras's renormalise,
    clip to [eps, 1 - eps] and log."""
    if from_logits:
        return log_softmax(p, axis)
    p = p / _sum(p, axis, keepdim=True)
    return log(clamp(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(y_pred), axis) with one-hot (or soft) y_true of y_pred's shape."""
    t, p = _pair(y_true, y_pred)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"categorical_crossentropy: y_true needs y_pred's shape (one-hot "
                         f"targets); got y_true {tuple(t.shape)} and y_pred "
                         f"{tuple(p.shape)} (hint: integer labels take "
                         "'sparse_categorical_crossentropy')")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / p.shape[axis]
    return -_sum(t * _log_probs(p, from_logits, axis), axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """-log(y_pred[..., y_true]) with integer y_true (N, ...) against y_pred (N, ..., C);
    a trailing size-1 axis on y_true is dropped. `ignore_class`: targets of that value
    give 0 (and, in the classes, count out of the mean)."""
    p = _prediction(y_pred)
    t = _tensor(y_true)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = squeeze(t, -1)
    if tuple(t.shape) != tuple(p.shape[:-1]) or axis not in (-1, p.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy: y_true must be integer labels of "
                         f"y_pred's shape without its last (class) axis; got y_true "
                         f"{tuple(t.shape)} and y_pred {tuple(p.shape)} (hint: one-hot "
                         "targets take 'categorical_crossentropy')")
    t = t if t.dtype == _INT64 else t.long()
    mask = None
    if ignore_class is not None:
        mask = t != int(ignore_class)
        t = where(mask, t, 0)
    if from_logits and p.ndim == 2:
        values = F.cross_entropy(p, t, reduction="none")  # the fused, stable path
    else:
        values = -squeeze(gather(_log_probs(p, from_logits, -1), -1, unsqueeze(t, -1)), -1)
    if mask is not None:
        values = where(mask, values, 0.0)
        values._keras_mask = mask  # reduce_weighted counts ignored targets out of the mean
    return values


# --- reduction ----------------------------------------------------------------------------
def _check_reduction(reduction):
    if reduction == "auto":
        reduction = "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        raise ValueError(f"Loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weight per-sample `values` (N, ...) by `sample_weight` ((N,) or values' shape) and
    reduce as Keras. A (N,) weight against (N, T) values weighs every step of a sample."""
    reduction = _check_reduction(reduction)
    mask = getattr(values, "_keras_mask", None)
    if mask is not None:
        w = mask.to(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):  # Keras: mean over valid entries
            valid = float(w.data.sum())
            w = w * (w.numel() / valid if valid else 0.0)
        sample_weight = w if sample_weight is None else _weights(sample_weight, values) * w
    if sample_weight is not None:
        sample_weight = _weights(sample_weight, values)
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0:
        return values
    if reduction != "sum" and (sample_weight is None or reduction != "mean_with_sample_weight"):
        return mean(values) if values.numel() else _sum(values)  # the sum over the count
    total = _sum(values)
    if reduction == "sum":
        return total
    divisor = float(sample_weight.data.sum())
    return total / divisor if divisor else total * 0.0


def _weights(sample_weight, values):
    w = _tensor(sample_weight, values.dtype)
    if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
        w = squeeze(w, -1)
    while w.ndim < values.ndim:  # per-sample weights over a sequence's steps
        w = unsqueeze(w, -1)
    try:
        _np.broadcast_shapes(tuple(w.shape), tuple(values.shape))
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(w.shape)} does not match the "
                         f"per-sample losses of shape {tuple(values.shape)}") from None
    return w


# --- classes --------------------------------------------------------------------------------
class Loss:
    """Base class: `loss(y_true, y_pred, sample_weight=None)` -> reduced 0-d Tensor.
    Subclasses write `call(y_true, y_pred)` returning per-sample values."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = _check_reduction(reduction)
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_weighted_values(self.call(y_true, y_pred), sample_weight,
                                      self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A Loss over a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squares of errors."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """100 * mean |(y_true - y_pred) / y_true|."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name,
                        dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean of squared differences of log(1 + x)."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name,
                        dtype=dtype)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic below `delta`, linear above."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """log(cosh(error))."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence KL(y_true || y_pred)."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """y_pred - y_true * log(y_pred)."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """max(1 - y_true * y_pred, 0)."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """max(1 - y_true * y_pred, 0)**2."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """max(neg - pos + 1, 0) on one-hot targets."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along `axis`."""

    def __init__(self, axis=-1,
                 reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross entropy of probabilities or logits."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                        from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross entropy with one-hot (or soft) targets."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                        from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross entropy with integer targets."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        kw = self._fn_kwargs
        if sample_weight is None and kw["ignore_class"] is None and self.reduction in (
                "sum_over_batch_size", "mean", "mean_with_sample_weight"):
            p, t = _prediction(y_pred), _tensor(y_true)
            if p.ndim == 2 and t.ndim == 1 and t.shape[0] == p.shape[0]:
                # the common case with fused ops, whose mean is sum_over_batch_size
                t = t if t.dtype == _INT64 else t.long()
                if kw["from_logits"]:
                    return F.cross_entropy(p, t)
                return F.nll_loss(_log_probs(p, False, -1), t)
        return super().__call__(y_true, y_pred, sample_weight)

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                        dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)


# --- names ----------------------------------------------------------------------------------
_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge,
    CategoricalHinge, CosineSimilarity, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy)}

# Keras's string identifiers (function names and aliases) -> class.
_NAMES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence, "poisson": Poisson, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "cosine_similarity": CosineSimilarity, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_FUNCTIONS = {mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, huber, log_cosh, kl_divergence, poisson, hinge,
              squared_hinge, categorical_hinge, cosine_similarity, binary_crossentropy,
              categorical_crossentropy, sparse_categorical_crossentropy}

# Short names as Keras exports them as functions.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out.lstrip("_")


def get(identifier):
    """A Loss from a name ('mse', 'sparse_categorical_crossentropy', ...), a
    `{'class_name', 'config'}` dict, a Loss (as is) or a callable `fn(y_true, y_pred)`
    (wrapped). None stays None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}; known: {sorted(_NAMES)}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"Could not interpret loss identifier {identifier!r} (expected a name, a "
                    "keras.losses.Loss, a config dict or a function(y_true, y_pred))")


def serialize(loss) -> dict | str | None:
    """`{'class_name', 'config'}` for a Loss of this module, the name for one of its
    functions; None when it cannot be written as JSON (a user function)."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, Loss) and type(loss).__name__ in _CLASSES and \
            type(loss) is _CLASSES[type(loss).__name__]:
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if loss in _FUNCTIONS:
        return loss.__name__
    return None


def deserialize(config: dict) -> Loss:
    """A Loss from `serialize`'s dict; only this module's classes (a closed registry)."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _CLASSES:
        raise ValueError(f"keras.losses.deserialize: unknown loss class {name!r}; known: "
                         f"{sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))
