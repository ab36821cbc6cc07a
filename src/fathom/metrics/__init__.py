"""fathom.metrics: evaluation metrics, as functions and as streaming `Metric` objects.

    from fathom import metrics
    metrics.f1_score(logits, labels, average="macro")     # one call on all the data
    m = metrics.get("f1")                                  # or batch by batch
    m.update(logits, labels); m.compute()

See `functional` for the input conventions and the choices made where scikit-learn
would warn (zero division gives 0, silently).
"""
from __future__ import annotations

import re

from .functional import (accuracy, classification_report, confusion_matrix, f1_score,
                         mean_absolute_error, mean_squared_error, precision, r2_score, recall,
                         roc_auc, roc_curve)
from .streaming import (ROCAUC, Accuracy, ConfusionMatrix, F1Score, Mean, MeanAbsoluteError,
                        MeanSquaredError, Metric, Precision, R2Score, Recall)

__all__ = ["accuracy", "classification_report", "confusion_matrix", "f1_score",
           "mean_absolute_error", "mean_squared_error", "precision", "r2_score", "recall",
           "roc_auc", "roc_curve", "Metric", "Accuracy", "ConfusionMatrix", "F1Score",
           "Mean", "MeanAbsoluteError", "MeanSquaredError", "Precision", "R2Score", "Recall",
           "ROCAUC", "get", "names"]

_CLASS_SCORES = {"precision": Precision, "recall": Recall, "f1": F1Score}


def _build(name: str):
    """name -> fresh Metric, or None. Class scores default to 'macro' here: a name in a
    metrics list must work for any number of classes ('binary_f1' asks for binary)."""
    if name in ("accuracy", "acc"):
        return Accuracy()
    top = re.fullmatch(r"top_?(\d+)_acc(uracy)?", name)
    if top:
        return Accuracy(top_k=int(top.group(1)))
    if name == "top_k_accuracy":  # Keras's top_k_categorical_accuracy default k
        return Accuracy(top_k=5)
    kind = re.fullmatch(r"(?:(binary|macro|micro|weighted)_)?(precision|recall|f1)(?:_score)?",
                        name)
    if kind:
        average, which = kind.groups()
        return _CLASS_SCORES[which](average=average or "macro",
                                    name=f"{average}_{which}" if average else which)
    simple = {"auc": ROCAUC, "roc_auc": ROCAUC, "mse": MeanSquaredError,
              "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
              "mean_absolute_error": MeanAbsoluteError, "r2": R2Score, "r2_score": R2Score}
    return simple[name]() if name in simple else None


def names() -> list[str]:
    """The names `get` knows (plus 'top<k>_accuracy' for any k)."""
    return ["accuracy", "acc", "top5_accuracy", "top_k_accuracy", "precision", "recall", "f1",
            "f1_score", "binary_f1", "macro_f1", "micro_f1", "weighted_f1",
            "binary_precision", "macro_precision", "micro_precision", "weighted_precision",
            "binary_recall", "macro_recall", "micro_recall", "weighted_recall", "auc",
            "roc_auc", "mse", "mean_squared_error", "mae", "mean_absolute_error", "r2",
            "r2_score"]


def get(metric) -> Metric:
    """A fresh Metric for a name ('accuracy', 'top5_accuracy', 'f1', 'auc', 'mse', ...);
    a Metric instance comes back as is, a Metric class is instantiated.

    'precision', 'recall' and 'f1' average over classes ('macro'); 'binary_f1',
    'micro_f1', 'weighted_f1' (and likewise for precision, recall) choose another average.
    Example:
        >>> get("top5_accuracy")
        Accuracy(top_k=5)
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if not isinstance(metric, str):
        raise TypeError(f"metrics.get: expected a metric name or a Metric, got "
                        f"{type(metric).__name__}")
    found = _build(metric.lower())
    if found is None:
        raise ValueError(f"metrics.get: unknown metric {metric!r}; known names: "
                         f"{', '.join(names())} (and 'top<k>_accuracy' for any k)")
    return found
