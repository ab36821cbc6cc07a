"""keras.activations: Keras's activation functions by name, over fathom.nn.functional.

`get(name_or_callable)` resolves what a layer's `activation=` argument holds; only the
names in this file can be saved and loaded (`serialize` gives the name).

    >>> keras.activations.get("relu")(fathom.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""
from __future__ import annotations

from .. import ops as _ops
from ..nn import functional as F

__all__ = ["relu", "relu6", "sigmoid", "softmax", "log_softmax", "tanh", "linear", "elu",
           "selu", "softplus", "softsign", "silu", "swish", "gelu", "exponential",
           "hard_sigmoid", "hard_silu", "leaky_relu", "mish", "get", "serialize",
           "deserialize"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) (Keras's options: a negative slope, a cap, a threshold), Keras's formula:
    x where x > threshold else 0, clipped to [0, max_value], minus
    negative_slope * relu(threshold - x)."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return F.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return F.leaky_relu(x, negative_slope)
    y = _ops.where(x > threshold, x, x.new_zeros(())) if threshold else F.relu(x)
    if max_value is not None:
        y = y.clamp(0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * F.relu(threshold - x)
    return y


def relu6(x):
    """min(max(x, 0), 6)."""
    return F.relu6(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return F.sigmoid(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis` (the last by default)."""
    return F.softmax(x, axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) along `axis`, computed stably."""
    return F.log_softmax(x, axis)


def tanh(x):
    return F.tanh(x)


def linear(x):
    """The identity (what `activation=None` means)."""
    return x


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def selu(x):
    return F.selu(x)


def softplus(x):
    """log(1 + exp(x))."""
    return F.softplus(x)


def softsign(x):
    """x / (1 + |x|)."""
    return F.softsign(x)


def silu(x):
    """x * sigmoid(x) (Keras also calls it swish)."""
    return F.silu(x)


swish = silu


def gelu(x, approximate=False):
    """x * Phi(x); `approximate=True` uses the tanh formula."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


def exponential(x):
    return x.exp()


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3's definition, PyTorch's hardsigmoid)."""
    return F.hardsigmoid(x)


def hard_silu(x):
    """x * hard_sigmoid(x)."""
    return F.hardswish(x)


def leaky_relu(x, negative_slope=0.2):
    """x for x >= 0, negative_slope * x below (Keras's default slope is 0.2)."""
    return F.leaky_relu(x, negative_slope)


def mish(x):
    return F.mish(x)


_BY_NAME = {f.__name__: f for f in (relu, relu6, sigmoid, softmax, log_softmax, tanh, linear,
                                     elu, selu, softplus, softsign, silu, gelu, exponential,
                                     hard_sigmoid, hard_silu, leaky_relu, mish)}
_BY_NAME["swish"] = silu
_BY_NAME["hard_swish"] = hard_silu


def get(identifier):
    """The activation function for a name ('relu'), None (linear) or a callable (returned
    as is; only the functions in this module can be saved)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret activation function identifier: "
                             f"{identifier!r} (known: {', '.join(sorted(_BY_NAME))})")
        return _BY_NAME[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(fn) -> str:
    """The name of a built-in activation; anything else cannot be saved."""
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    raise ValueError(f"cannot serialize activation {fn!r}: only the keras.activations "
                     "functions (by name) can be saved; a custom function is code")


def deserialize(name):
    """The inverse of `serialize`: a built-in name (never an import path)."""
    if not isinstance(name, str):
        raise ValueError(f"activation must be a name string, got {type(name).__name__}")
    return get(name)
