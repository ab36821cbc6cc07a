"""Turning metric inputs (Tensors, arrays, lists) into checked host NumPy arrays.

Metrics are bookkeeping, not math to differentiate: a Tensor on any device is copied
to the host without its graph, and everything after that is plain NumPy.
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError, fmt_shape
from ..tensor import Tensor


def host(x) -> np.ndarray:
    """A NumPy array from a fathom Tensor (any device, graph ignored), array or list."""
    if isinstance(x, Tensor):
        return x.numpy(force=True)
    if hasattr(x, "__cuda_array_interface__"):  # a raw CuPy array
        return x.get()
    return np.asarray(x)


def check_lengths(op: str, preds_shape: tuple, target_shape: tuple) -> None:
    """Both inputs hold the same number of samples (their first dimension)."""
    if not preds_shape or not target_shape or preds_shape[0] != target_shape[0]:
        raise ShapeError(f"{op}: preds and target must have the same number of samples "
                         f"(first dimension); got preds shape {fmt_shape(preds_shape)} and "
                         f"target shape {fmt_shape(target_shape)}")


def as_labels(op: str, arg: str, a: np.ndarray) -> np.ndarray:
    """Class indices as int64; floats must hold whole numbers, and no label is negative."""
    kind = a.dtype.kind
    if kind == "b" or kind in "iu":
        labels = a.astype(np.int64, copy=False)
    elif kind == "f":
        labels = a.astype(np.int64)
        bad = labels != a
        if bad.any():
            raise ValueError(f"{op}: {arg} must hold integer class labels 0..C-1; got the "
                             f"value {a[bad][0].item()!r} in shape {fmt_shape(a.shape)}")
    else:
        raise DTypeError(f"{op}: {arg} must hold integer class labels, got dtype {a.dtype} "
                         f"with shape {fmt_shape(a.shape)}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{op}: {arg} class labels must be >= 0, got {labels.min()}")
    return labels


def target_labels(op: str, target) -> np.ndarray:
    """Target class labels (N,) from labels (N,) or (N, 1)."""
    t = host(target)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ShapeError(f"{op}: expected target class labels of shape (N,), got shape "
                         f"{fmt_shape(t.shape)} (hint: for one-hot targets pass "
                         f"target.argmax(1))")
    return as_labels(op, "target", t)


def is_label_array(p: np.ndarray) -> bool:
    """True for 1-D preds that are labels rather than binary scores."""
    if p.dtype.kind != "f":
        return True
    return bool(np.array_equal(p, np.floor(p))) and (p.size == 0 or p.min() >= 0)


def pred_labels(op: str, preds) -> tuple[np.ndarray, int, tuple]:
    """Predicted labels (N,), the number of classes the scores imply (0 for labels) and
    the shape preds came in.

    (N, C) scores give their argmax. 1-D float preds that are not whole numbers are
    probabilities of class 1 (thresholded at 0.5) or, when any lies outside [0, 1],
    logits (thresholded at 0), as in scikit-learn's top_k_accuracy_score.
    """
    p = host(preds)
    shape = p.shape
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim == 2:
        return p.argmax(1), p.shape[1], shape
    if p.ndim != 1:
        raise ShapeError(f"{op}: expected preds of shape (N,) (labels or binary scores) or "
                         f"(N, C) (scores per class), got shape {fmt_shape(p.shape)}")
    if is_label_array(p):
        return as_labels(op, "preds", p), 0, shape
    threshold = 0.5 if p.min() >= 0 and p.max() <= 1 else 0.0
    return (p > threshold).astype(np.int64), 2, shape


def class_scores(s: np.ndarray) -> np.ndarray:
    """Scores (N, C) as probabilities: rows that are not already a distribution get softmax.

    One-vs-rest ranking of a column depends on this (softmax is not monotone per column),
    so logits and their probabilities give the same AUC.
    """
    if s.size and s.min() >= 0 and s.max() <= 1 and np.allclose(s.sum(1), 1.0, atol=1e-4):
        return s
    e = np.exp(s - s.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def finite_scores(op: str, s) -> np.ndarray:
    s = host(s)
    if s.dtype.kind not in "biuf":
        raise DTypeError(f"{op}: scores must be numbers, got dtype {s.dtype}")
    s = s.astype(np.float64, copy=False)
    if not np.isfinite(s).all():
        raise ValueError(f"{op}: scores contain NaN or infinity (shape {fmt_shape(s.shape)})")
    return s


def regression_pair(op: str, preds, target) -> tuple[np.ndarray, np.ndarray]:
    """preds and target as float64 (N, D); (N, 1) and (N,) pair up, other shapes must match."""
    p = host(preds).astype(np.float64, copy=False)
    t = host(target).astype(np.float64, copy=False)
    if p.shape != t.shape:
        if p.shape == t.shape + (1,):
            p = p[..., 0]
        elif t.shape == p.shape + (1,):
            t = t[..., 0]
        else:
            raise ShapeError(f"{op}: preds and target must have the same shape; got preds "
                             f"shape {fmt_shape(p.shape)} and target shape "
                             f"{fmt_shape(t.shape)}")
    if p.ndim == 0:
        raise ShapeError(f"{op}: expected inputs of shape (N,) or (N, D), got scalars")
    shape = (p.shape[0], int(np.prod(p.shape[1:])))  # (N, D); -1 cannot size N = 0
    return p.reshape(shape), t.reshape(shape)
