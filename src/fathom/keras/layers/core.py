"""Core Keras layers over fathom.nn.functional: Dense, Activation (and ReLU, Softmax,
LeakyReLU), Flatten, Reshape, Permute, Dropout, Embedding and the merge layers."""
from __future__ import annotations

import numbers

from ... import ops
from ...dtypes import int64
from ...errors import ShapeError
from ...nn import functional as F
from .. import activations, initializers
from .base import Layer

__all__ = ["Dense", "Activation", "ReLU", "Softmax", "LeakyReLU", "Flatten", "Reshape",
           "Permute", "Dropout", "Embedding", "Concatenate", "Add", "Subtract", "Multiply",
           "Average", "Maximum", "Minimum"]


def positive_int(value, what, cls):
    """`value` as an int (NumPy integers too), or a ValueError naming the layer class."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{cls}: {what} must be a positive integer, got {value!r}")
    return int(value)


def known_dim(layer, input_shape, axis=-1):
    """The size of `axis` of a build shape, or an error naming the layer."""
    if input_shape is None or len(input_shape) < 2 or input_shape[axis] is None:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) needs a known size "
                         f"for axis {axis} of its input; got input shape {input_shape}")
    return int(input_shape[axis])


class Dense(Layer):
    """activation(inputs @ kernel + bias): (..., in) -> (..., units).

    Keras weights: kernel (in, units), bias (units,); stored as PyTorch's Linear
    (`weight` (units, in), `bias`), so the state_dict is a torch Linear's.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units, self.use_bias = positive_int(units, "units", "Dense"), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias = None

    def build(self, input_shape):
        n = known_dim(self, input_shape)
        self._add_weight("kernel", (n, self.units), self.kernel_initializer, attr="weight",
                        layout=(1, 0))
        if self.use_bias:
            self._add_weight("bias", (self.units,), self.bias_initializer)

    def call(self, inputs):
        if inputs.shape[-1] != self.weight.shape[1]:
            raise ShapeError(f"Dense '{self.name}': expected the last axis of the input to be "
                             f"{self.weight.shape[1]}, got input shape {tuple(inputs.shape)}")
        return self.activation(F.linear(inputs, self.weight, self.bias))

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Activation(Layer):
    """activation(inputs), any shape; `activation` is a keras.activations name."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class ReLU(Layer):
    """max(x, 0), with Keras's max_value, negative_slope and threshold; any shape."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs):
        return activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """x if x >= 0 else negative_slope * x (Keras 3's default slope 0.3); any shape."""

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, inputs):
        return F.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """softmax along `axis` (default -1); any shape."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return F.softmax(inputs, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...), in the input's (channels-last) order."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            # Keras flattens channels-first inputs in channels-last order
            inputs = inputs.permute(0, *range(2, inputs.ndim), 1)
        return inputs.reshape(inputs.shape[0], -1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs):
        try:
            return inputs.reshape((inputs.shape[0],) + self.target_shape)
        except (ShapeError, ValueError, RuntimeError) as e:
            raise ShapeError(f"Reshape '{self.name}': cannot reshape input of shape "
                             f"{tuple(inputs.shape)} to (batch, *{self.target_shape})") from e

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch axes: `dims` are 1-based, as in Keras."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class Dropout(Layer):
    """Zero a fraction `rate` of the inputs while training (scaling the rest by
    1 / (1 - rate)); any shape. Draws from fathom's default generator (`seed` unused)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported in fathom.keras")
        self.rate, self.seed = float(rate), seed

    def call(self, inputs, training=None):
        return F.dropout(inputs, self.rate, self._mode(training))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Embedding(Layer):
    """Integer indices (N, ...) -> vectors (N, ..., output_dim).

    Keras weight `embeddings` (input_dim, output_dim), initialized U(-0.05, 0.05); stored
    as a torch Embedding's `weight`. mask_zero is not supported.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, **kwargs):
        super().__init__(**kwargs)
        if mask_zero:
            raise NotImplementedError("Embedding: mask_zero=True (Keras masking) is not "
                                      "supported in fathom.keras")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self._add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, attr="weight")

    def call(self, inputs):
        if inputs.dtype != int64:
            inputs = inputs.long()
        return F.embedding(inputs, self.weight)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer)}


class _Merge(Layer):
    """A layer over a list of inputs of one shape (Concatenate allows one axis to differ)."""

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) should be called on "
                             f"a list of at least 2 inputs; got {type(inputs).__name__}")
        return list(inputs)

    def call(self, inputs):
        inputs = self._check(inputs)
        shapes = [tuple(t.shape) for t in inputs]
        if len(set(shapes)) != 1:
            raise ShapeError(f"{type(self).__name__} '{self.name}': inputs must have the same "
                             f"shape; got {', '.join(map(str, shapes))}")
        out = inputs[0]
        for t in inputs[1:]:
            out = self._merge(out, t)
        return self._finish(out, len(inputs))

    def _finish(self, out, n):
        return out


class Add(_Merge):
    """Sum of a list of same-shape inputs."""

    def _merge(self, a, b):
        return a + b


class Subtract(_Merge):
    """inputs[0] - inputs[1]."""

    def call(self, inputs):
        if len(self._check(inputs)) != 2:
            raise ValueError(f"Subtract '{self.name}' takes exactly 2 inputs, got {len(inputs)}")
        return super().call(inputs)

    def _merge(self, a, b):
        return a - b


class Multiply(_Merge):
    """Elementwise product of a list of same-shape inputs."""

    def _merge(self, a, b):
        return a * b


class Average(Add):
    """Elementwise mean of a list of same-shape inputs."""

    def _finish(self, out, n):
        return out / n


class Maximum(_Merge):
    """Elementwise maximum of a list of same-shape inputs."""

    def _merge(self, a, b):
        return ops.maximum(a, b)


class Minimum(_Merge):
    """Elementwise minimum of a list of same-shape inputs."""

    def _merge(self, a, b):
        return ops.minimum(a, b)


class Concatenate(_Merge):
    """Concatenate a list of inputs along `axis` (default -1); other axes must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        inputs = self._check(inputs)
        try:
            return ops.cat(inputs, self.axis)
        except ShapeError as e:
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise ShapeError(f"Concatenate '{self.name}': inputs must match except on axis "
                             f"{self.axis}; got {shapes}") from e

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
