"""keras.utils: `to_categorical`, `normalize` and `set_random_seed`, as in Keras.

    >>> keras.utils.to_categorical([0, 2], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.]])

Differences from Keras, both on bad input only: `to_categorical` refuses labels outside
[0, num_classes) with a ValueError (Keras's NumPy path lets -1 wrap to the last class and
raises a bare IndexError above), and `normalize` of a NumPy array divides along `axis`
itself (Keras's NumPy path expands the norm at the last axis whatever `axis` is, so
`axis=0` is wrong there).
"""
from __future__ import annotations

import numbers
import random as _random

import numpy as np

from .. import ops
from ..dtypes import float32
from ..nn import functional as F
from ..random import manual_seed
from ..tensor import Tensor

__all__ = ["to_categorical", "normalize", "set_random_seed"]

EPSILON = 1e-7  # keras.config.epsilon()


def to_categorical(x, num_classes=None):
    """Class indices (*) -> one-hot (*, num_classes) (a trailing axis of size 1 is dropped
    first, as Keras does). Array-like input gives a float64 NumPy array (Keras's dtype); a
    fathom Tensor gives a float32 Tensor. `num_classes=None` uses max(x) + 1."""
    if num_classes is not None and (isinstance(num_classes, bool) or
                                    not isinstance(num_classes, numbers.Integral) or
                                    num_classes < 0):
        raise ValueError(f"to_categorical: num_classes must be a non-negative integer or "
                         f"None, got {num_classes!r}")
    tensor = isinstance(x, Tensor)
    labels = x.detach().cpu().numpy() if tensor else np.asarray(x)
    if labels.dtype.kind == "f":
        if not np.array_equal(labels, np.round(labels)):
            raise ValueError("to_categorical: expected integer class labels, got non-integer "
                             "values")
    elif labels.dtype.kind not in "iub":
        raise ValueError(f"to_categorical: expected integer class labels, got dtype "
                         f"{labels.dtype}")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if not num_classes:
        if flat.size == 0:
            raise ValueError("to_categorical: cannot infer num_classes from empty labels; pass "
                             "num_classes")
        num_classes = int(flat.max()) + 1
    num_classes = int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}) for "
                         f"num_classes={num_classes}; got values from {flat.min()} to "
                         f"{flat.max()}")
    if tensor:
        return F.one_hot(x.long().reshape(shape), num_classes).to(float32)
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (same shape). A NumPy array gives NumPy
    (a zero norm divides by 1); a fathom Tensor gives a differentiable Tensor (the norm is
    kept at least epsilon = 1e-7, as keras.ops.normalize)."""
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got {order!r}")
    if isinstance(x, Tensor):
        if x.ndim == 0:
            x = x.unsqueeze(0)
        if order == 2:  # Keras: x * min(rsqrt(sum(x^2)), 1 / epsilon), the same as
            # x * rsqrt(max(sum(x^2), epsilon^2)) without dividing by zero
            return x * (x * x).sum(axis, keepdim=True).clamp(min=EPSILON ** 2).rsqrt()
        norm = ops.abs(x).pow(order).sum(axis, keepdim=True).pow(1.0 / order)
        return x / norm.clamp(min=EPSILON)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis, keepdims=True))
    norm[norm == 0] = 1
    return x / norm


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator and Fathom's (`fathom.manual_seed`),
    so initializers, dropout and shuffling repeat."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
                         f"(of type {type(seed)})")
    _random.seed(int(seed))
    manual_seed(int(seed))
