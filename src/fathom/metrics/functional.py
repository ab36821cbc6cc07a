"""Evaluation metrics as plain functions, checked against scikit-learn.

Inputs may be fathom Tensors (any device; the graph is ignored), NumPy arrays or lists.
`preds` are class labels (N,), scores/logits/probabilities (N, C) (argmax taken), or for
two classes scores (N,) of class 1 (probabilities thresholded at 0.5, logits at 0).
`target` holds class indices 0..C-1. Scalars come back as Python floats; per-class
values, matrices and curves as NumPy arrays.

Choices (where scikit-learn would warn or differ):
- A ratio with a zero denominator is 0 (sklearn's `zero_division=0`), silently.
- With `num_classes=None`, 'macro' averages over the classes that occur in preds or
  target (sklearn's default labels); with `num_classes` given, over all of them (sklearn's
  `labels=range(num_classes)`). Per-class results (`average=None`) are indexed by class
  index, so a class seen nowhere reads 0.
- Scores (N, C) whose rows are not probabilities get a softmax before ROC metrics.
- R2 of a constant target column is 1 for a perfect fit and 0 otherwise (sklearn's
  `force_finite=True`); with fewer than two samples it is NaN.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, fmt_shape
from ._inputs import (check_lengths, class_scores, finite_scores, host, pred_labels,
                      regression_pair, target_labels)

AVERAGES = ("binary", "macro", "micro", "weighted", None)
_MAX_CLASSES = 2**14  # a (C, C) int64 matrix of 2 GiB: larger labels are a mistake


# --- classification -------------------------------------------------------------------
def accuracy(preds, target, top_k: int = 1) -> float:
    """Fraction of samples whose target is among the `top_k` highest scores.

    Args:
        preds: labels (N,), binary scores (N,) or scores (N, C) (needed for top_k > 1).
        target: class labels (N,).
    Example:
        >>> accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])
        0.5
    """
    hits, n = count_hits("accuracy", preds, target, top_k)
    if n == 0:
        raise ValueError("accuracy: got no samples (preds and target are empty)")
    return hits / n


def count_hits(op: str, preds, target, top_k: int) -> tuple[int, int]:
    """(number of correct samples, number of samples) for top-k accuracy."""
    t = target_labels(op, target)
    if not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"{op}: top_k must be a positive integer, got {top_k!r}")
    if top_k == 1:
        p, width, shape = pred_labels(op, preds)
        check_lengths(op, shape, t.shape)
        _check_target_fits(op, t, width, shape)
        return int(np.count_nonzero(p == t)), t.shape[0]
    s = host(preds)
    if s.ndim != 2:
        raise ShapeError(f"{op}: top_k={top_k} needs scores of shape (N, C), got preds shape "
                         f"{fmt_shape(s.shape)}")
    check_lengths(op, s.shape, t.shape)
    n, c = s.shape
    if top_k > c:
        raise ValueError(f"{op}: top_k={top_k} is larger than the number of classes ({c}) "
                         f"in preds of shape {fmt_shape(s.shape)}")
    _check_target_fits(op, t, c, s.shape)
    # The target's rank = classes scored higher, plus equal scores at lower indices (so
    # ties break toward the lower index, as argmax does for top_k=1). No sort needed.
    st = s[np.arange(n), t][:, None]
    rank = (s > st).sum(1) + ((s == st) & (np.arange(c) < t[:, None])).sum(1)
    return int(np.count_nonzero(rank < top_k)), n


def _check_target_fits(op, t, width, pshape):
    if width and t.size and t.max() >= width:
        raise ValueError(f"{op}: target has class {t.max()} but preds of shape "
                         f"{fmt_shape(pshape)} give scores for {width} classes")


def confusion_matrix(preds, target, num_classes: int | None = None) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class (as scikit-learn).

    C is `num_classes`, else the score width, else the largest label + 1.
    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0]).tolist()
        [[1, 1], [0, 1]]
    """
    return confusion_counts("confusion_matrix", preds, target, num_classes)


def confusion_counts(op: str, preds, target, num_classes: int | None) -> np.ndarray:
    p, width, shape = pred_labels(op, preds)
    t = target_labels(op, target)
    check_lengths(op, shape, t.shape)
    _check_target_fits(op, t, width, shape)
    hi = int(max(p.max(initial=-1), t.max(initial=-1))) + 1
    if num_classes is not None:
        if width and width != num_classes:
            raise ShapeError(f"{op}: num_classes={num_classes} but preds of shape "
                             f"{fmt_shape(shape)} give scores for {width} classes")
        if hi > num_classes:
            which = "target" if t.size and t.max() + 1 == hi else "preds"
            raise ValueError(f"{op}: {which} has class {hi - 1}, but num_classes="
                             f"{num_classes} (labels must be 0..{num_classes - 1})")
        k = num_classes
    else:
        k = max(width, hi)
    if k > _MAX_CLASSES:
        raise ValueError(f"{op}: labels go up to {k - 1}; a confusion matrix that large needs "
                         f"{k * k * 8 / 2**30:.1f} GiB (hint: labels are class indices "
                         f"0..C-1)")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _ratio(a, b):
    a = np.asarray(a, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=np.asarray(b) != 0)


def scores_from_counts(op: str, cm: np.ndarray, average, pos_label: int = 1,
                       all_classes: bool = False):
    """(precision, recall, f1) from a confusion matrix; see the module docstring."""
    if average not in AVERAGES:
        raise ValueError(f"{op}: average must be one of {AVERAGES}, got {average!r}")
    if average == "binary":
        check_binary(op, cm)
        if pos_label not in (0, 1):
            raise ValueError(f"{op}: pos_label must be 0 or 1 for average='binary', "
                             f"got {pos_label!r}")
        cm = np.pad(cm, (0, 2 - cm.shape[0]))  # only class 0 seen: class 1 counts are 0
    tp = np.diag(cm)
    predicted, actual = cm.sum(0), cm.sum(1)
    if average == "binary":
        tp, predicted, actual = tp[pos_label], predicted[pos_label], actual[pos_label]
    elif average == "micro":
        tp, predicted, actual = tp.sum(), predicted.sum(), actual.sum()
    p, r, f = _ratio(tp, predicted), _ratio(tp, actual), _ratio(2 * tp, predicted + actual)
    if average in ("binary", "micro"):
        return float(p), float(r), float(f)
    if average is None:
        return p, r, f
    if average == "macro":
        used = np.ones(len(tp), bool) if all_classes else (predicted + actual) > 0
        w = used.astype(np.float64)
    else:  # weighted by support
        w = actual.astype(np.float64)
    total = w.sum()
    if total == 0:
        return 0.0, 0.0, 0.0
    return tuple(float(w @ x / total) for x in (p, r, f))


def check_binary(op: str, cm: np.ndarray) -> None:
    if cm.shape[0] > 2:
        seen = np.flatnonzero(cm.sum(0) + cm.sum(1)).tolist()
        raise ValueError(f"{op}: average='binary' needs two classes, got {cm.shape[0]} "
                         f"(classes seen in preds and target: {seen}) (hint: use "
                         f"average='macro', 'micro', 'weighted' or None for several classes)")


def _prf(op, preds, target, average, num_classes, pos_label):
    cm = confusion_counts(op, preds, target, num_classes)
    return scores_from_counts(op, cm, average, pos_label, num_classes is not None)


def precision(preds, target, average: str | None = "binary", num_classes: int | None = None,
              pos_label: int = 1):
    """TP / (TP + FP), per class or averaged ('binary', 'macro', 'micro', 'weighted', None).

    Example:
        >>> precision([1, 1, 0, 1], [1, 0, 0, 1])
        0.6666666666666666
    """
    return _prf("precision", preds, target, average, num_classes, pos_label)[0]


def recall(preds, target, average: str | None = "binary", num_classes: int | None = None,
           pos_label: int = 1):
    """TP / (TP + FN), per class or averaged ('binary', 'macro', 'micro', 'weighted', None).

    Example:
        >>> recall([1, 0, 0, 1], [1, 1, 0, 1])
        0.6666666666666666
    """
    return _prf("recall", preds, target, average, num_classes, pos_label)[1]


def f1_score(preds, target, average: str | None = "binary", num_classes: int | None = None,
             pos_label: int = 1):
    """2 TP / (2 TP + FP + FN), per class or averaged; 'macro' is the mean of class F1s.

    Example:
        >>> f1_score([0, 1, 2, 2], [0, 1, 1, 2], average="macro")
        0.7777777777777777
    """
    return _prf("f1_score", preds, target, average, num_classes, pos_label)[2]


def classification_report(preds, target, class_names=None, digits: int = 2) -> str:
    """scikit-learn's text report: per-class precision, recall, F1 and support, then
    accuracy and the macro and weighted averages.

    Rows are the classes seen in preds or target, or every class of `class_names`.
    """
    op = "classification_report"
    k = None if class_names is None else len(class_names)
    cm = confusion_counts(op, preds, target, k)
    p, r, f = scores_from_counts(op, cm, None)
    support = cm.sum(1)
    if class_names is None:
        rows = np.flatnonzero(cm.sum(0) + support)
        names = [str(c) for c in rows]
    else:
        rows, names = np.arange(k), [str(c) for c in class_names]
    width = max(max((len(x) for x in names), default=0), len("weighted avg"), digits)
    out = f"{'':>{width}s} " + "".join(f" {h:>9}" for h in
                                        ("precision", "recall", "f1-score", "support"))
    out += "\n\n"
    line = "{:>{w}s} " + " {:>9.{d}f}" * 3 + " {:>9}\n"
    for name, c in zip(names, rows):
        out += line.format(name, p[c], r[c], f[c], support[c], w=width, d=digits)
    n = int(support.sum())
    acc = float(np.trace(cm) / n) if n else 0.0
    out += "\n" + f"{'accuracy':>{width}s} " + f" {'':>9}" * 2 + f" {acc:>9.{digits}f}" + \
        f" {n:>9}\n"
    for avg in ("macro", "weighted"):
        ap, ar, af = scores_from_counts(op, cm, avg, all_classes=class_names is not None)
        out += line.format(f"{avg} avg", ap, ar, af, n, w=width, d=digits)
    return out


# --- ROC ------------------------------------------------------------------------------
def _positive_scores(op, scores, pos_label):
    """Scores (N,) for class `pos_label`: a 1-D input as is, else that column."""
    s = finite_scores(op, scores)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim == 2:
        if not 0 <= pos_label < s.shape[1]:
            raise ValueError(f"{op}: pos_label={pos_label} but scores of shape "
                             f"{fmt_shape(s.shape)} have {s.shape[1]} classes")
        s = class_scores(s)[:, pos_label]
    elif s.ndim != 1:
        raise ShapeError(f"{op}: expected scores of shape (N,) or (N, C), got shape "
                         f"{fmt_shape(s.shape)}")
    return s


def roc_curve(scores, target, pos_label: int = 1):
    """The ROC curve of class `pos_label` against the rest: (fpr, tpr, thresholds).

    Matches scikit-learn's `roc_curve` (drop_intermediate=True): thresholds decrease,
    the first is inf, collinear points are dropped. Scores (N, C) give column
    `pos_label` (after softmax if rows are not probabilities). Without negatives (or
    positives) fpr (or tpr) is NaN, as in scikit-learn (silently).
    Example:
        >>> fpr, tpr, thr = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        >>> tpr.tolist()
        [0.0, 0.5, 0.5, 1.0, 1.0]
    """
    op = "roc_curve"
    scores, y = host(scores), host(target)
    check_lengths(op, scores.shape, y.shape)
    s = _positive_scores(op, scores, pos_label)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ShapeError(f"{op}: expected target labels of shape (N,), got shape "
                         f"{fmt_shape(y.shape)}")
    order = np.argsort(s)[::-1]  # any sort works: only the end of each tie group is read
    s, pos = s[order], (y == pos_label)[order]
    ends = np.append(np.flatnonzero(np.diff(s)), s.size - 1)  # last index of each value
    tps = np.cumsum(pos)[ends]
    fps = ends + 1 - tps
    thresholds = s[ends]
    if fps.size > 2:  # drop points on a straight line between their neighbours
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps, thresholds = tps[keep], fps[keep], thresholds[keep]
    tps, fps = np.r_[0, tps].astype(np.float64), np.r_[0, fps].astype(np.float64)
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, np.r_[np.inf, thresholds]


def binary_auc(s: np.ndarray, pos: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties 1/2.

    Sorting the two groups apart and counting with searchsorted gives exactly the
    trapezoid area of the full curve, faster than one argsort of everything.
    """
    neg = np.sort(s[~pos])
    p = np.sort(s[pos])
    below = np.searchsorted(neg, p, "left").sum() + np.searchsorted(neg, p, "right").sum()
    return float(below / (2.0 * p.size * neg.size))


def roc_auc(scores, target, average: str | None = "macro", multi_class: str = "ovr"):
    """Area under the ROC curve; several classes are scored one-vs-rest.

    Args:
        scores: (N,) scores of class 1, or (N, C) per-class scores (softmax applied when
            rows are not probabilities).
        target: class labels (N,).
        average: for C > 2: 'macro' (mean over classes present in target), 'weighted'
            (by class support), 'micro' (all one-vs-rest pairs pooled) or None (per class,
            NaN for classes absent from target).
    Example:
        >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        0.75
    """
    op = "roc_auc"
    if multi_class != "ovr":
        raise ValueError(f"{op}: multi_class must be 'ovr' (one-vs-rest), got {multi_class!r}")
    if average not in ("macro", "weighted", "micro", None):
        raise ValueError(f"{op}: average must be 'macro', 'weighted', 'micro' or None, got "
                         f"{average!r}")
    s = finite_scores(op, scores)
    t = target_labels(op, target)
    check_lengths(op, s.shape, t.shape)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim > 2:
        raise ShapeError(f"{op}: expected scores of shape (N,) or (N, C), got shape "
                         f"{fmt_shape(s.shape)}")
    width = 2 if s.ndim == 1 else s.shape[1]
    _check_target_fits(op, t, width, s.shape)
    support = np.bincount(t, minlength=width)
    present = np.flatnonzero(support)
    if present.size < 2:
        raise ValueError(f"{op}: target holds only class {present.tolist()}; ROC AUC needs "
                         f"samples of at least two classes")
    if width == 2:
        return binary_auc(s if s.ndim == 1 else class_scores(s)[:, 1], t == 1)
    s = class_scores(s)
    if average == "micro":
        return binary_auc(s.ravel(), (t[:, None] == np.arange(width)).ravel())
    per_class = np.full(width, np.nan)
    for c in present:
        per_class[c] = binary_auc(s[:, c], t == c)
    if average is None:
        return per_class
    w = support if average == "weighted" else (support > 0)
    return float(w[present] @ per_class[present] / w[present].sum())


# --- regression -----------------------------------------------------------------------
MULTIOUTPUT = ("uniform_average", "raw_values", "variance_weighted")


def reduce_outputs(per_output: np.ndarray, multioutput: str, weights=None):
    """Combine per-output values as scikit-learn's `multioutput` does."""
    if multioutput == "raw_values":
        return per_output
    if multioutput == "uniform_average" or not np.any(weights):
        return float(per_output.mean())
    return float(weights @ per_output / weights.sum())


def check_multioutput(op, multioutput, allowed=MULTIOUTPUT):
    if multioutput not in allowed:
        raise ValueError(f"{op}: multioutput must be one of {allowed}, got {multioutput!r}")


def mean_squared_error(preds, target, multioutput: str = "uniform_average"):
    """Mean of (preds - target)**2; outputs (N, D) are averaged per column, then together.

    Example:
        >>> mean_squared_error([1.0, 2.0], [1.0, 4.0])
        2.0
    """
    op = "mean_squared_error"
    check_multioutput(op, multioutput, MULTIOUTPUT[:2])
    p, t = regression_pair(op, preds, target)
    _nonempty(op, p)
    return reduce_outputs(((p - t) ** 2).mean(0), multioutput)


def mean_absolute_error(preds, target, multioutput: str = "uniform_average"):
    """Mean of |preds - target|; outputs (N, D) are averaged per column, then together.

    Example:
        >>> mean_absolute_error([1.0, 2.0], [1.0, 4.0])
        1.0
    """
    op = "mean_absolute_error"
    check_multioutput(op, multioutput, MULTIOUTPUT[:2])
    p, t = regression_pair(op, preds, target)
    _nonempty(op, p)
    return reduce_outputs(np.abs(p - t).mean(0), multioutput)


def r2_score(preds, target, multioutput: str = "uniform_average"):
    """Coefficient of determination 1 - SS_res / SS_tot per output, then averaged.

    Example:
        >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        0.7857142857142857
    """
    op = "r2_score"
    check_multioutput(op, multioutput)
    p, t = regression_pair(op, preds, target)
    _nonempty(op, p)
    ss_res = ((t - p) ** 2).sum(0)
    ss_tot = ((t - t.mean(0)) ** 2).sum(0)
    return r2_from_sums(op, ss_res, ss_tot, p.shape[0], multioutput)


def r2_from_sums(op, ss_res, ss_tot, n, multioutput):
    if n < 2:  # undefined, as in scikit-learn
        return np.full(ss_res.shape, np.nan) if multioutput == "raw_values" else float("nan")
    r2 = np.where(ss_res == 0, 1.0, 1.0 - _ratio(ss_res, ss_tot))
    r2[(ss_res != 0) & (ss_tot == 0)] = 0.0
    return reduce_outputs(r2, multioutput, ss_tot)


def _nonempty(op, p):
    if p.shape[0] == 0:
        raise ValueError(f"{op}: got no samples (preds and target are empty)")
