"""Streaming metrics: `update(preds, target)` per batch, `compute()` at the end, `reset()`.

Each gives the same value as its functional form on all batches concatenated, while
keeping little state: counts for accuracy, a confusion matrix for precision/recall/F1,
running means (merged with Chan's update) for regression. Only `ROCAUC` keeps its
inputs, since the area depends on the ranking of every score. `name` is the key the
training loop's History uses.

    m = Accuracy()
    for preds, target in batches:
        m.update(preds, target)
    m.compute()
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, fmt_shape
from . import functional as F
from ._inputs import finite_scores, host, regression_pair, target_labels


class Metric:
    """Base class: subclasses keep state in `reset()`, add to it in `update()` and turn it
    into the result in `compute()`. Inputs may be Tensors on any device (graph ignored),
    arrays or lists."""

    name = "metric"
    _state: tuple = ()  # the attributes reset() sets: the running state

    def __init__(self, *, name: str | None = None):
        if name is not None:
            self.name = name
        self.reset()

    def state_dict(self) -> dict:
        """The running state (numbers, NumPy arrays, lists of arrays), for checkpoints
        taken mid-epoch; `fathom.save` can write it."""
        return {k: _copy(getattr(self, k)) for k in self._state}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`'s output (Tensors, as `fathom.load` gives, are fine)."""
        missing = [k for k in self._state if k not in state]
        if missing:
            raise KeyError(f"{self!r}.load_state_dict: missing keys {missing}; expected "
                           f"{list(self._state)}")
        for k in self._state:
            setattr(self, k, _copy(state[k]))

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, preds, target) -> None:
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _nothing_yet(self):
        return RuntimeError(f"{self!r}.compute(): no samples seen yet (call update() with "
                            f"at least one sample first, and again after reset())")


class Accuracy(Metric):
    """Top-k accuracy: preds labels (N,), binary scores (N,) or scores (N, C); target (N,).

    `name` is 'accuracy', or 'top5_accuracy' for top_k=5.
    """

    _state = ("correct", "total")

    def __init__(self, top_k: int = 1, *, name: str | None = None):
        if not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"Accuracy: top_k must be a positive integer, got {top_k!r}")
        self.top_k = top_k
        self.name = "accuracy" if top_k == 1 else f"top{top_k}_accuracy"
        super().__init__(name=name)

    def reset(self):
        self.correct = 0
        self.total = 0

    def update(self, preds, target):
        hits, n = F.count_hits(repr(self), preds, target, self.top_k)
        self.correct += hits
        self.total += n

    def compute(self) -> float:
        if self.total == 0:
            raise self._nothing_yet()
        return self.correct / self.total

    def extra_repr(self):
        return f"top_k={self.top_k}"


class ConfusionMatrix(Metric):
    """Accumulated confusion matrix (C, C), rows = true class; grows with new classes
    unless `num_classes` is given."""

    name = "confusion_matrix"
    _state = ("matrix", "total")

    def __init__(self, num_classes: int | None = None, *, name: str | None = None):
        self.num_classes = num_classes
        super().__init__(name=name)

    def reset(self):
        k = self.num_classes or 0
        self.matrix = np.zeros((k, k), np.int64)
        self.total = 0

    def _merged(self, preds, target):
        """The matrix with this batch added (not stored yet, so a bad batch loses nothing)."""
        cm = F.confusion_counts(repr(self), preds, target, self.num_classes)
        k = max(cm.shape[0], self.matrix.shape[0])
        out = np.zeros((k, k), np.int64)
        out[:cm.shape[0], :cm.shape[0]] += cm
        out[:self.matrix.shape[0], :self.matrix.shape[0]] += self.matrix
        return out, int(cm.sum())

    def update(self, preds, target):
        self.matrix, n = self._merged(preds, target)
        self.total += n

    def compute(self) -> np.ndarray:
        if self.total == 0:
            raise self._nothing_yet()
        return self.matrix.copy()

    def extra_repr(self):
        return f"num_classes={self.num_classes}"


class _ClassScores(ConfusionMatrix):
    """Precision, recall or F1 from the accumulated confusion matrix."""

    _index = 0

    def __init__(self, average: str | None = "binary", num_classes: int | None = None,
                 pos_label: int = 1, *, name: str | None = None):
        if average not in F.AVERAGES:
            raise ValueError(f"{type(self).__name__}: average must be one of {F.AVERAGES}, "
                             f"got {average!r}")
        self.average = average
        self.pos_label = pos_label
        super().__init__(num_classes, name=name)

    def update(self, preds, target):
        matrix, n = self._merged(preds, target)
        if self.average == "binary":
            F.check_binary(repr(self), matrix)
        self.matrix = matrix
        self.total += n

    def compute(self):
        if self.total == 0:
            raise self._nothing_yet()
        return F.scores_from_counts(repr(self), self.matrix, self.average, self.pos_label,
                                    self.num_classes is not None)[self._index]

    def extra_repr(self):
        return (f"average={self.average!r}, num_classes={self.num_classes}, "
                f"pos_label={self.pos_label}")


class Precision(_ClassScores):
    """Streaming `functional.precision` (same arguments)."""

    name = "precision"
    _index = 0


class Recall(_ClassScores):
    """Streaming `functional.recall` (same arguments)."""

    name = "recall"
    _index = 1


class F1Score(_ClassScores):
    """Streaming `functional.f1_score` (same arguments)."""

    name = "f1"
    _index = 2


class ROCAUC(Metric):
    """Streaming `functional.roc_auc`: keeps every score (N, C) or (N,) and target (N,)."""

    name = "auc"
    _state = ("scores", "targets")

    def __init__(self, average: str | None = "macro", multi_class: str = "ovr", *,
                 name: str | None = None):
        self.average = average
        self.multi_class = multi_class
        super().__init__(name=name)

    def reset(self):
        self.scores, self.targets = [], []

    def update(self, preds, target):
        op = repr(self)
        # copies: a caller may reuse its buffers for the next batch
        s = finite_scores(op, np.array(host(preds), np.float64))
        t = target_labels(op, np.array(host(target)))
        F.check_lengths(op, s.shape, t.shape)
        if self.scores and s.shape[1:] != self.scores[0].shape[1:]:
            raise ShapeError(f"{op}.update: scores of shape {fmt_shape(s.shape)} do not "
                             f"match earlier batches' {fmt_shape(self.scores[0].shape)}")
        self.scores.append(s)
        self.targets.append(t)

    def compute(self):
        if not self.scores or sum(len(t) for t in self.targets) == 0:
            raise self._nothing_yet()
        if len(self.scores) > 1:  # keep one array so the next compute need not join again
            self.scores = [np.concatenate(self.scores)]
            self.targets = [np.concatenate(self.targets)]
        return F.roc_auc(self.scores[0], self.targets[0], self.average, self.multi_class)

    def extra_repr(self):
        return f"average={self.average!r}, multi_class={self.multi_class!r}"


class _Regression(Metric):
    """Running per-output means over rows of (N, D), merged batch by batch."""

    _multioutputs = F.MULTIOUTPUT[:2]
    _state = ("count", "state")

    def __init__(self, multioutput: str = "uniform_average", *, name: str | None = None):
        F.check_multioutput(type(self).__name__, multioutput, self._multioutputs)
        self.multioutput = multioutput
        super().__init__(name=name)

    def reset(self):
        self.count = 0
        self.state = None

    def _pair(self, preds, target):
        p, t = regression_pair(repr(self), preds, target)
        if self.state is not None and p.shape[1] != self.state[0].shape[0]:
            raise ShapeError(f"{self!r}.update: {p.shape[1]} outputs per sample, earlier "
                             f"batches had {self.state[0].shape[0]}; got preds shape "
                             f"{fmt_shape(host(preds).shape)}")
        return p, t

    def update(self, preds, target):
        p, t = self._pair(preds, target)
        n = p.shape[0]
        if n == 0:
            return
        batch = self._error(p, t).mean(0)
        self.count += n
        if self.state is None:
            self.state = [batch]
        else:  # a running mean: no large sums that lose the small terms
            self.state[0] += (batch - self.state[0]) * (n / self.count)

    def compute(self):
        if self.count == 0:
            raise self._nothing_yet()
        return F.reduce_outputs(self.state[0].copy(), self.multioutput)

    def extra_repr(self):
        return "" if self.multioutput == "uniform_average" else \
            f"multioutput={self.multioutput!r}"


class MeanSquaredError(_Regression):
    """Streaming `functional.mean_squared_error`."""

    name = "mse"

    @staticmethod
    def _error(p, t):
        return (p - t) ** 2


class MeanAbsoluteError(_Regression):
    """Streaming `functional.mean_absolute_error`."""

    name = "mae"

    @staticmethod
    def _error(p, t):
        return np.abs(p - t)


class R2Score(_Regression):
    """Streaming `functional.r2_score`: per output, the residual sum of squares and the
    target's mean and sum of squared deviations, merged with Chan et al.'s update."""

    name = "r2"
    _multioutputs = F.MULTIOUTPUT

    def update(self, preds, target):
        p, t = self._pair(preds, target)
        n = p.shape[0]
        if n == 0:
            return
        ss_res = ((t - p) ** 2).sum(0)
        mean = t.mean(0)
        m2 = ((t - mean) ** 2).sum(0)
        if self.state is None:
            self.count, self.state = n, [mean, m2, ss_res]
            return
        old_mean, old_m2, old_res = self.state
        total = self.count + n
        delta = mean - old_mean
        self.state = [old_mean + delta * (n / total),
                      old_m2 + m2 + delta ** 2 * (self.count * n / total),
                      old_res + ss_res]
        self.count = total

    def compute(self):
        if self.count == 0:
            raise self._nothing_yet()
        _, ss_tot, ss_res = self.state
        return F.r2_from_sums(repr(self), ss_res, ss_tot, self.count, self.multioutput)


class Mean(Metric):
    """Weighted running mean of values (a loss, say): `update(value, weight=1)`."""

    name = "mean"
    _state = ("weight", "mean")

    def __init__(self, name: str = "mean"):
        super().__init__(name=name)

    def reset(self):
        self.weight = 0.0
        self.mean = 0.0

    def update(self, value, weight=1):
        v = host(value).astype(np.float64, copy=False)
        w = np.broadcast_to(host(weight).astype(np.float64, copy=False), v.shape)
        total = float(w.sum())
        if total == 0:
            return
        self.weight += total
        self.mean += (float((v * w).sum()) / total - self.mean) * (total / self.weight)

    def compute(self) -> float:
        if self.weight == 0:
            raise self._nothing_yet()
        return self.mean

    def extra_repr(self):
        return f"name={self.name!r}"


def _copy(v):
    """A private copy of a state value; Tensors (from fathom.load) become NumPy arrays."""
    if isinstance(v, (list, tuple)):
        return [_copy(x) for x in v]
    if isinstance(v, (int, float, type(None))):
        return v
    a = np.array(host(v))
    return a.item() if a.ndim == 0 else a
