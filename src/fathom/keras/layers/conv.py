"""Keras convolution and pooling layers over fathom.nn.functional, channels-last by default.

A channels-last input is transposed to PyTorch's channels-first layout, run through the
functional op, and transposed back. padding='same' pads as TensorFlow does: the output
is ceil(size / stride) and an odd total padding puts the extra row/column at the
bottom/right (asymmetric, applied with F.pad before a padding-free op).
"""
from __future__ import annotations

import math

from ... import nn
from ...creation import ones
from ...nn import functional as F
from .. import activations, initializers
from .base import Layer
from .core import known_dim, positive_int

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "MaxPooling1D", "MaxPooling2D",
           "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
           "ZeroPadding2D"]


def _tuple(value, n, what, layer):
    t = (value,) * n if isinstance(value, int) else tuple(value)
    if len(t) != n or not all(isinstance(v, int) and v > 0 for v in t):
        raise ValueError(f"{layer}: {what} must be an int or {n} positive ints, got {value!r}")
    return t


def _format(data_format, layer):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    return data_format


def _padding(padding, layer, allowed=("valid", "same")):
    padding = str(padding).lower()
    if padding not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, got {padding!r}")
    return padding


def same_pads(size, k, s, d=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the extra one after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def to_first(x, nd):
    """(N, *spatial, C) -> (N, C, *spatial)."""
    return x.permute(0, nd + 1, *range(1, nd + 1))


def to_last(x, nd):
    """(N, C, *spatial) -> (N, *spatial, C)."""
    return x.permute(0, *range(2, nd + 2), 1)


def _pad_spatial(x, pads, value=0.0):
    """Pad the trailing spatial dims of a channels-first x by [(before, after), ...]."""
    flat = [p for pair in reversed(pads) for p in pair]
    return F.pad(x, flat, value=value) if any(flat) else x


class _Conv(Layer):
    """What Conv1D and Conv2D share: arguments, the kernel, layout and padding."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self.filters = positive_int(filters, "filters", cls)
        self.groups, self.use_bias = positive_int(groups, "groups", cls), use_bias
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", cls)
        self.strides = _tuple(strides, n, "strides", cls)
        self.dilation_rate = _tuple(dilation_rate, n, "dilation_rate", cls)
        allowed = ("valid", "same", "causal") if n == 1 else ("valid", "same")
        self.padding = _padding(padding, cls, allowed)
        self.data_format = _format(data_format, cls)
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias = None

    def _channels(self, input_shape):
        return known_dim(self, input_shape, -1 if self.data_format == "channels_last" else 1)

    def build(self, input_shape):
        c = self._channels(input_shape)
        if c % self.groups or self.filters % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': input channels ({c}) and "
                             f"filters ({self.filters}) must be divisible by groups "
                             f"({self.groups})")
        n = self.rank
        # Keras kernel (*k, in/groups, out); torch weight (out, in/groups, *k)
        self._add_weight("kernel", self.kernel_size + (c // self.groups, self.filters),
                        self.kernel_initializer, attr="weight",
                        layout=(n + 1, n) + tuple(range(n)))
        if self.use_bias:
            self._add_weight("bias", (self.filters,), self.bias_initializer)

    def _pads(self, spatial):
        if self.padding == "valid":
            return [(0, 0)] * self.rank
        if self.padding == "causal":
            return [((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)]
        return [same_pads(n, k, s, d) for n, k, s, d in
                zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]

    def call(self, inputs):
        n, last = self.rank, self.data_format == "channels_last"
        x = to_first(inputs, n) if last else inputs
        pads = self._pads(x.shape[2:])
        symmetric = all(a == b for a, b in pads)
        if not symmetric:
            x = _pad_spatial(x, pads)
        conv = F.conv2d if n == 2 else F.conv1d
        y = conv(x, self.weight, self.bias, self.strides, [a for a, _ in pads] if symmetric
                 else 0, self.dilation_rate, self.groups)
        y = self.activation(y)
        return to_last(y, n) if last else y

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Conv2D(_Conv):
    """2-D convolution: (N, H, W, C) -> (N, H', W', filters) (channels_first: (N, C, H, W)).

    Keras weights: kernel (kh, kw, C/groups, filters), bias (filters,); stored as torch
    Conv2d's `weight` (filters, C/groups, kh, kw) and `bias`.
    """

    rank = 2


class Conv1D(_Conv):
    """1-D convolution: (N, L, C) -> (N, L', filters); padding 'valid', 'same' or 'causal'.

    Keras weights: kernel (k, C/groups, filters), bias; stored as torch Conv1d's.
    """

    rank = 1


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution: (N, H, W, C) -> (N, H', W', filters), with Keras's output
    sizes: 'valid' (H - 1) * s + max(k, s), 'same' H * s (or, with output_padding,
    (H - 1) * s + k - 2 * pad + output_padding).

    Keras weights: kernel (kh, kw, filters, C), bias; stored as a held bias-free
    nn.ConvTranspose2d's `conv.weight` (C, filters, kh, kw), and `bias` (added after the
    output is cropped or padded to Keras's size).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, kernel_initializer, bias_initializer, **kwargs)
        self.output_padding = None if output_padding is None else \
            _tuple(output_padding, 2, "output_padding", "Conv2DTranspose") if output_padding \
            not in (0, (0, 0)) else (0, 0)

    def build(self, input_shape):
        c = self._channels(input_shape)
        # a held module (not F.conv_transpose2d) so that ONNX export sees ConvTranspose
        self.conv = nn.ConvTranspose2d(c, self.filters, self.kernel_size, self.strides,
                                       bias=False, dilation=self.dilation_rate)
        # Keras kernel (kh, kw, out, in); torch weight (in, out, kh, kw)
        self._add_weight("kernel", self.kernel_size + (self.filters, c), self.kernel_initializer,
                        attr="conv.weight", layout=(3, 2, 0, 1))
        if self.use_bias:
            self._add_weight("bias", (self.filters,), self.bias_initializer)

    def _crop(self, size, k, s, d, op):
        """(left, right) pads (negative: crop) that turn the full transposed output of an
        axis of input `size` into Keras's."""
        dk = (k - 1) * d + 1
        full = (size - 1) * s + dk
        if op is None:
            if self.padding == "valid":
                out, before = (size - 1) * s + max(dk, s), 0
            else:
                out, before = size * s, max(dk - s, 0) // 2
        elif self.padding == "valid":
            before, out = 0, (size - 1) * s + dk + op
        else:
            # Keras's (TensorFlow's) placement: of the total padding dk + dk % 2 - 2 + op
            # of the stride-dilated input, the larger half (at most dk - 1) goes first
            total = dk + dk % 2 - 2 + op
            before = dk - 1 - min(total - total // 2, dk - 1)
            out = (size - 1) * s + dk % 2 + op
        return -before, before + out - full

    def call(self, inputs):
        last = self.data_format == "channels_last"
        x = to_first(inputs, 2) if last else inputs
        y = self.conv(x)
        ops_ = self.output_padding or (None, None)
        pads = [self._crop(n, k, s, d, op) for n, k, s, d, op in
                zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate, ops_)]
        y = _pad_spatial(y, pads)
        if self.bias is not None:  # after the padding: TensorFlow adds it everywhere
            y = y + self.bias.reshape(1, -1, 1, 1)
        y = self.activation(y)
        return to_last(y, 2) if last else y

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = None if self.output_padding is None else \
            list(self.output_padding)
        return config


class _Pool(Layer):
    """What the pooling layers share: pool_size, strides (default pool_size), padding."""

    rank, kind = 2, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self.pool_size = _tuple(pool_size, n, "pool_size", cls)
        self.strides = self.pool_size if strides is None else _tuple(strides, n, "strides", cls)
        self.padding = _padding(padding, cls)
        self.data_format = _format(data_format, cls)

    def call(self, inputs):
        n, last = self.rank, self.data_format == "channels_last"
        x = to_first(inputs, n) if last else inputs
        if n == 1:
            x = x.unsqueeze(2)
        k, s = (1,) * (2 - n) + self.pool_size, (1,) * (2 - n) + self.strides
        pads = [(0, 0)] * 2 if self.padding == "valid" else \
            [same_pads(size, kk, ss) for size, kk, ss in zip(x.shape[2:], k, s)]
        if self.kind == "max":
            # TensorFlow's 'same' max pooling never picks a padded value
            y = F.max_pool2d(_pad_spatial(x, pads, -math.inf), k, s)
        else:
            y = F.avg_pool2d(_pad_spatial(x, pads), k, s)
            if any(p for pair in pads for p in pair):
                # TensorFlow averages over the real (unpadded) values only
                mask = _pad_spatial(ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype), pads)
                y = y / F.avg_pool2d(mask, k, s)
        if n == 1:
            y = y.squeeze(2)
        return to_last(y, n) if last else y

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling2D(_Pool):
    """Max over pool_size windows: (N, H, W, C) -> (N, H', W', C)."""


class AveragePooling2D(_Pool):
    """Mean over pool_size windows: (N, H, W, C) -> (N, H', W', C)."""

    kind = "avg"


class MaxPooling1D(_Pool):
    """Max over pool_size windows: (N, L, C) -> (N, L', C)."""

    rank = 1


class AveragePooling1D(_Pool):
    """Mean over pool_size windows: (N, L, C) -> (N, L', C)."""

    rank, kind = 1, "avg"


class _GlobalPool(Layer):
    """Reduce every spatial axis: (N, *spatial, C) -> (N, C) (keepdims: size-1 axes)."""

    rank, kind = 2, "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _format(data_format, type(self).__name__)
        self.keepdims = keepdims

    def call(self, inputs):
        start = 1 if self.data_format == "channels_last" else 2
        axes = tuple(range(start, start + self.rank))
        if self.kind == "avg":
            return inputs.mean(axes, keepdim=self.keepdims)
        return inputs.amax(axes, keepdim=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPool):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""


class GlobalMaxPooling2D(_GlobalPool):
    """Max over H and W: (N, H, W, C) -> (N, C)."""

    kind = "max"


class GlobalAveragePooling1D(_GlobalPool):
    """Mean over the steps: (N, L, C) -> (N, C)."""

    rank = 1


class GlobalMaxPooling1D(_GlobalPool):
    """Max over the steps: (N, L, C) -> (N, C)."""

    rank, kind = 1, "max"


class ZeroPadding2D(Layer):
    """Pad H and W with zeros: padding int, (h, w) or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        elif all(isinstance(p, int) for p in padding):
            padding = tuple((p, p) for p in padding)
        self.padding = tuple(tuple(int(v) for v in p) for p in padding)
        if len(self.padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in self.padding):
            raise ValueError(f"ZeroPadding2D: bad padding {padding!r}")
        self.data_format = _format(data_format, "ZeroPadding2D")

    def call(self, inputs):
        last = self.data_format == "channels_last"
        x = to_first(inputs, 2) if last else inputs
        y = _pad_spatial(x, self.padding)
        return to_last(y, 2) if last else y

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding],
                "data_format": self.data_format}
