"""Keras metrics (`keras.metrics`): streaming objects with Keras's API and names.

Each is a `fathom.metrics.Metric` (so `fathom.train.Trainer` drives it through
`update(preds, target)`, `compute()`, `reset()`) with Keras's face:
`update_state(y_true, y_pred, sample_weight=None)`, `result()`, `reset_state()`, `name`,
`get_config()`. Values are accumulated in float64 NumPy on the host.

    >>> import numpy as np
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    >>> float(m.result())
    0.5

'accuracy' / 'acc' in `compile(metrics=[...])` become `get_accuracy(name)`: the kind is
chosen at the first batch by Keras 3's rule on the shapes (y_pred's last dim 1: binary;
y_true of lower rank, or a trailing 1 against several classes: sparse categorical; else
categorical), and the History key stays the string given.

Differences from Keras: `AUC` computes Keras's 200-threshold approximation exactly as
Keras does (ROC: trapezoids; PR: Davis & Goadrich interpolation) but on the host; for
the exact area use `fathom.metrics.roc_auc`.
"""
from __future__ import annotations

import numpy as np

from .. import metrics as _fm
from ..tensor import Tensor

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "RootMeanSquaredError", "MeanAbsolutePercentageError", "Precision", "Recall", "AUC",
           "F1Score", "FBetaScore", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "get", "get_accuracy", "serialize",
           "deserialize"]

EPSILON = 1e-7


def _host(x) -> np.ndarray:
    """A NumPy array of `x` (a Tensor is detached and copied to the host)."""
    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def _match_rank(t, p):
    """Keras's squeeze_or_expand_to_same_rank on arrays."""
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        if p.ndim == 1:
            p = p[:, None]
        else:
            t = t[..., 0]
    elif p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        if t.ndim == 1:
            t = t[:, None]
        else:
            p = p[..., 0]
    return t, p


def _sample_weights(sample_weight, values):
    """Per-sample weights (N,) for per-sample `values` (N,), or None."""
    if sample_weight is None:
        return None
    w = _host(sample_weight).astype(np.float64)
    w = w.reshape(w.shape[0], -1).mean(1) if w.ndim > 1 else w
    if w.shape != values.shape[:1] and w.size != 1:
        raise ValueError(f"sample_weight of shape {w.shape} does not match {values.shape[0]} "
                         "samples")
    return np.broadcast_to(w, values.shape[:1])


# --- base classes ---------------------------------------------------------------------------
class Metric(_fm.Metric):
    """Base: subclasses write `reset_state`, `update_state(y_true, y_pred, sample_weight)`
    and `result`; the fathom names (`reset`, `update(preds, target)`, `compute`) map to
    them."""

    def __init__(self, name=None, dtype=None):
        self.dtype = dtype
        super().__init__(name=name or _snake(type(self).__name__))

    def reset(self):
        self.reset_state()

    def update(self, preds, target):
        self.update_state(target, preds)

    def compute(self):
        return self.result()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


class Mean(Metric):
    """The (weighted) mean of the values given to `update_state(values, sample_weight)`."""

    _state = ("total", "count")

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        v = _host(values).astype(np.float64)
        v = v.reshape(v.shape[0], -1).mean(1) if v.ndim > 1 else v.reshape(-1)
        w = _sample_weights(sample_weight, v)
        if w is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def update(self, preds, target):  # the Trainer's call: a mean of the outputs
        self.update_state(preds)

    def result(self):
        return self.total / self.count if self.count else 0.0


class Sum(Metric):
    """The (weighted) sum of the values given to `update_state`."""

    _state = ("total",)

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        v = _host(values).astype(np.float64)
        if sample_weight is not None:
            v = v * _host(sample_weight)
        self.total += float(v.sum())

    def update(self, preds, target):
        self.update_state(preds)

    def result(self):
        return self.total


class MeanMetricWrapper(Mean):
    """The mean over samples of `fn(y_true, y_pred, **kwargs)` (per-sample values, on
    NumPy arrays)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn, self._fn_kwargs = fn, kwargs
        super().__init__(name=name or fn.__name__, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _match_rank(_host(y_true), _host(y_pred))
        try:
            values = self._fn(t, p, **self._fn_kwargs)
        except (ValueError, IndexError) as e:
            raise ValueError(f"metric '{self.name}': y_true of shape {t.shape} does not fit "
                             f"y_pred of shape {p.shape} ({e})") from None
        super().update_state(values, sample_weight)

    def update(self, preds, target):
        self.update_state(target, preds)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


# --- per-sample functions (NumPy) -----------------------------------------------------------
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """mean(y_true == (y_pred > threshold), axis=-1)."""
    t, p = _match_rank(_host(y_true), _host(y_pred))
    return (t == (p > threshold)).mean(-1) if p.ndim > 1 else (t == (p > threshold)) * 1.0


def categorical_accuracy(y_true, y_pred):
    """argmax(y_true, -1) == argmax(y_pred, -1) (one-hot targets)."""
    t, p = _host(y_true), _host(y_pred)
    return (t.argmax(-1) == p.argmax(-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """y_true == argmax(y_pred, -1) (integer targets; a trailing 1 is dropped)."""
    t, p = _host(y_true), _host(y_pred)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    return (t.astype(np.int64) == p.argmax(-1)).astype(np.float64)


def _in_top_k(scores, labels, k):
    """Whether each label is among the k highest scores (ties count in, as Keras)."""
    target = np.take_along_axis(scores, labels[..., None], -1)
    return (scores > target).sum(-1) < k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """argmax(y_true) among the k highest scores of y_pred."""
    t, p = _host(y_true), _host(y_pred)
    return _in_top_k(p, t.argmax(-1), k).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """y_true among the k highest scores of y_pred."""
    t, p = _host(y_true), _host(y_pred)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    return _in_top_k(p, t.astype(np.int64), k).astype(np.float64)


def _accuracy(y_true, y_pred):
    return (y_true == y_pred).astype(np.float64).reshape(len(y_true), -1).mean(-1)


def _mse(y_true, y_pred):
    return ((y_pred - y_true) ** 2).reshape(len(y_true), -1).mean(-1)


def _mae(y_true, y_pred):
    return np.abs(y_pred - y_true).reshape(len(y_true), -1).mean(-1)


def _mape(y_true, y_pred):
    d = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON))
    return 100.0 * d.reshape(len(y_true), -1).mean(-1)


# --- accuracy and regression classes --------------------------------------------------------
class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly (use the categorical ones for scores)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often y_true equals y_pred > threshold."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches a one-hot y_true."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches an integer y_true."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often a one-hot y_true is among the k highest scores."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often an integer y_true is among the k highest scores."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of (y_pred - y_true)**2."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_mse, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of |y_pred - y_true|."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_mae, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """100 * mean |(y_true - y_pred) / y_true|."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(_mape, name=name, dtype=dtype)


class RootMeanSquaredError(MeanMetricWrapper):
    """sqrt of the mean of (y_pred - y_true)**2 over everything seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(_mse, name=name, dtype=dtype)

    def result(self):
        return float(np.sqrt(super().result()))


# --- thresholded counts -----------------------------------------------------------------------
class _Counts(Metric):
    """True/false positives and false negatives of `y_pred > threshold` against
    bool(y_true), over every element (Keras's Precision/Recall), optionally one class
    (`class_id`) or the `top_k` scores of each sample."""

    _state = ("tp", "fp", "fn")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        if thresholds is None:  # Keras: with top_k, every top-k score counts as positive
            thresholds = 0.5 if top_k is None else -1e10
        th = thresholds
        self._th = np.atleast_1d(np.asarray(th, dtype=np.float64))
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        n = len(self._th)
        self.tp, self.fp, self.fn = np.zeros(n), np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _match_rank(_host(y_true), _host(y_pred).astype(np.float64))
        if t.shape != p.shape:
            raise ValueError(f"{type(self).__name__}: y_true and y_pred shapes differ; got "
                             f"{t.shape} and {p.shape}")
        if self.top_k is not None:  # scores outside the top k count as negative
            kth = -np.sort(-p, axis=-1)[..., self.top_k - 1:self.top_k]
            p = np.where(p >= kth, p, -np.inf)
        if self.class_id is not None:
            t, p = t[..., self.class_id], p[..., self.class_id]
        w = np.ones(len(t)) if sample_weight is None else _host(sample_weight).astype(float)
        w = w.reshape((len(t),) + (1,) * (t.ndim - 1)) if w.ndim == 1 else w
        w = np.broadcast_to(w, t.shape).reshape(-1)
        pos = t.reshape(-1).astype(bool)
        above = p.reshape(-1)[None, :] > self._th[:, None]  # (thresholds, elements)
        self.tp += (above & pos) @ w
        self.fp += (above & ~pos) @ w
        self.fn += (~above & pos) @ w

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.thresholds, "top_k": self.top_k,
                "class_id": self.class_id}

    def _out(self, num, den):
        r = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return float(r[0]) if np.ndim(self.thresholds) == 0 else r


class Precision(_Counts):
    """tp / (tp + fp) of `y_pred > thresholds` (0.5) against bool(y_true)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._out(self.tp, self.tp + self.fp)


class Recall(_Counts):
    """tp / (tp + fn) of `y_pred > thresholds` (0.5) against bool(y_true)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._out(self.tp, self.tp + self.fn)


class AUC(Metric):
    """Area under the ROC (or PR) curve from confusion counts at `num_thresholds` (200)
    thresholds spread over [0, 1], as Keras (all elements pooled, `multi_label=False`).
    `from_logits` applies a sigmoid first."""

    _state = ("tp", "fp", "tn", "fn")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False,
                 num_labels=None, label_weights=None, from_logits=False):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring', got {summation_method!r}")
        if multi_label or label_weights is not None:
            raise NotImplementedError("AUC: multi_label and label_weights are not supported "
                                      "in fathom.keras (every element is pooled)")
        if thresholds is not None:
            inner = sorted(float(x) for x in thresholds)
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds, self.curve = num_thresholds, curve
        self.summation_method, self.from_logits = summation_method, from_logits
        self.thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        n = self.num_thresholds
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _match_rank(_host(y_true), _host(y_pred).astype(np.float64))
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        w = np.ones(len(t)) if sample_weight is None else _host(sample_weight).astype(float)
        w = np.broadcast_to(w.reshape((len(t),) + (1,) * (t.ndim - 1)), t.shape).reshape(-1)
        pos = t.reshape(-1).astype(bool)
        p = p.reshape(-1)
        for mask, above_out, below_out in ((pos, self.tp, self.fn), (~pos, self.fp, self.tn)):
            scores, weights = p[mask], w[mask]
            order = np.argsort(scores, kind="stable")
            cum = np.concatenate([[0.0], np.cumsum(weights[order])])
            # weight of the scores <= each threshold; the rest is above it
            below = cum[np.searchsorted(scores[order], self.thresholds, side="right")]
            above_out += cum[-1] - below
            below_out += below

    def result(self):
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        if self.curve == "PR" and self.summation_method == "interpolation":
            return float(self._interpolate_pr_auc())
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), _div(tp, tp + fn)
        else:
            x, y = _div(tp, tp + fn), _div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def _interpolate_pr_auc(self):
        """Davis & Goadrich (2006) interpolation of the PR curve, Keras's formula."""
        tp, fp, fn = self.tp, self.fp, self.fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return _div(slope * (dtp + intercept * np.log(ratio)),
                    np.maximum(tp[1:] + fn[1:], 0)).sum()

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "curve": self.curve, "summation_method": self.summation_method,
                "from_logits": self.from_logits}


def _div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


class FBetaScore(Metric):
    """F-beta per class from one-hot (or multi-label) y_true (N, C) and scores y_pred
    (N, C): `threshold` None takes each row's highest score as the prediction.
    `average`: None (per-class array), 'micro', 'macro' or 'weighted'."""

    _state = ("tp", "fp", "fn", "support")

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'micro', 'macro' "
                             f"or 'weighted', got {average!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.tp = self.fp = self.fn = self.support = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _host(y_true).astype(np.float64), _host(y_pred)
        if t.shape != p.shape or t.ndim != 2:
            raise ValueError(f"{type(self).__name__}: y_true and y_pred must both be (N, C) "
                             f"(one-hot targets); got {t.shape} and {p.shape}")
        if self.threshold is None:
            pred = (p >= p.max(-1, keepdims=True)).astype(np.float64)
        else:
            pred = (p > self.threshold).astype(np.float64)
        w = np.ones((len(t), 1)) if sample_weight is None else \
            _host(sample_weight).astype(np.float64).reshape(len(t), -1)
        self.tp = self.tp + (pred * t * w).sum(0)
        self.fp = self.fp + (pred * (1 - t) * w).sum(0)
        self.fn = self.fn + ((1 - pred) * t * w).sum(0)
        self.support = self.support + (t * w).sum(0)

    def result(self):
        tp, fp, fn = (np.atleast_1d(np.asarray(v, dtype=np.float64))
                      for v in (self.tp, self.fp, self.fn))
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
        b2 = self.beta ** 2
        f = _div((1 + b2) * precision * recall, b2 * precision + recall)
        if self.average is None:
            return f
        if self.average == "weighted":
            support = np.atleast_1d(self.support)
            return float(_div((f * support).sum(), support.sum()))
        return float(np.mean(f))

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 (beta = 1) per class; see FBetaScore."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config


# --- 'accuracy' resolved at the first batch -------------------------------------------------
class _AutoAccuracy(Metric):
    """'accuracy'/'acc': binary, sparse or categorical accuracy, chosen by Keras 3's rule
    on the first batch's shapes; keeps the name it was given."""

    _state = ("total", "count")

    def __init__(self, name="accuracy"):
        self.kind = None
        super().__init__(name=name)

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _host(y_true), _host(y_pred)
        if self.kind is None:
            self.kind = _accuracy_kind(t, p)
        values = self.kind(t, p)
        values = values.reshape(len(values), -1).mean(1) if values.ndim > 1 else values
        w = _sample_weights(sample_weight, values)
        self.total += float(values.sum() if w is None else (values * w).sum())
        self.count += float(values.size if w is None else w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0

    def get_config(self) -> dict:
        return {"name": self.name}


def _accuracy_kind(t, p):
    """Keras 3 compile_utils: binary if y_pred's last dim is 1; sparse if y_true has a
    lower rank or a trailing 1 against several classes; else categorical."""
    if p.ndim == 0 or p.shape[-1] == 1 or p.ndim == 1:
        return binary_accuracy
    if t.ndim < p.ndim or (t.shape[-1] == 1 and p.shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


def get_accuracy(name="accuracy") -> Metric:
    """The metric 'accuracy' (or 'acc') in compile stands for."""
    return _AutoAccuracy(name)


# --- names ----------------------------------------------------------------------------------
_CLASSES = {c.__name__: c for c in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, RootMeanSquaredError, Precision, Recall,
    AUC, F1Score, FBetaScore, Mean, Sum)}

_NAMES = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "root_mean_squared_error": RootMeanSquaredError,
    "precision": Precision, "recall": Recall, "auc": AUC, "f1_score": F1Score,
    "fbeta_score": FBetaScore,
}
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy,
              top_k_categorical_accuracy: TopKCategoricalAccuracy,
              sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy}


# Keras losses usable as metric names: the mean of the per-sample loss.
_LOSS_METRICS = ("binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "kl_divergence", "kld", "poisson", "hinge",
                 "squared_hinge", "categorical_hinge", "log_cosh", "logcosh",
                 "mean_squared_logarithmic_error", "msle", "cosine_similarity", "huber")


def _loss_metric(name: str) -> Metric:
    from . import losses  # noqa: PLC0415 - losses imports fathom ops; metrics stays light
    fn = losses.get(name).fn

    def per_sample(y_true, y_pred):
        return _host(fn(y_true, y_pred))

    m = MeanMetricWrapper(per_sample, name=name)
    return m


def _snake(name: str) -> str:
    if name.isupper():
        return name.lower()
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def get(identifier) -> Metric:
    """A fresh metric from a name ('accuracy' resolves at the first batch; 'mae',
    'precision', 'auc', ...; the History key is the string given), a config dict, a
    keras metric (as is), a metric class, or a function `fn(y_true, y_pred)` returning
    per-sample values (wrapped, named after the function)."""
    if isinstance(identifier, _fm.Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return get_accuracy(identifier)
        cls = _NAMES.get(identifier)
        if cls is None and identifier in _LOSS_METRICS:
            return _loss_metric(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric {identifier!r}; known: "
                             f"{sorted(set(_NAMES) | set(_LOSS_METRICS) | {'accuracy', 'acc'})}")
        m = cls()
        m.name = identifier
        return m
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, _fm.Metric):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"Could not interpret metric identifier {identifier!r} (expected a name, "
                    "a keras.metrics.Metric, a config dict or a function(y_true, y_pred))")


def serialize(metric):
    """A JSON-able form: the name for a string, `{'class_name', 'config'}` for this
    module's classes; None when it cannot be written (a user function)."""
    if isinstance(metric, str):
        return metric
    if isinstance(metric, _AutoAccuracy):
        return metric.name
    cls = type(metric)
    if isinstance(metric, Metric) and _CLASSES.get(cls.__name__) is cls:
        return {"class_name": cls.__name__, "config": metric.get_config()}
    if metric in _FUNCTIONS:
        return metric.__name__
    return None


def deserialize(config: dict) -> Metric:
    """A metric from `serialize`'s dict; only this module's classes (a closed registry)."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _CLASSES:
        raise ValueError(f"keras.metrics.deserialize: unknown metric class {name!r}; known: "
                         f"{sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))
