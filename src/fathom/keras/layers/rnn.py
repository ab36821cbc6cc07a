"""Keras's recurrent layers (SimpleRNN, LSTM, GRU) and Bidirectional.

Each layer holds a one-layer `fathom.nn.RNN`/`LSTM`/`GRU` (batch_first) as `cell`, so no
gate math is written here and ONNX export sees a torch-style recurrent module.
Parameters keep torch's names and layouts (`cell.weight_ih_l0` (G*units, in),
`cell.weight_hh_l0`, `cell.bias_ih_l0`, GRU also `cell.bias_hh_l0`); Keras's layouts
come out of `get_weights`: kernel (in, G*units), recurrent_kernel (units, G*units), bias.

Keras and PyTorch share the LSTM gate order (i, f, c, o). Keras's LSTM and SimpleRNN have
a single bias: the held module's `bias_hh_l0` is a constant zero buffer, not saved (load
into torch with strict=False; its bias_hh stays zero). GRU is Keras's reset_after=True,
which is PyTorch's GRU: Keras orders the gates (z, r, h), PyTorch (r, z, n), and Keras's
bias (2, 3*units) is [input bias; recurrent bias]. go_backwards runs the module on the
time-reversed input. Not supported: recurrent_dropout, stateful, masks, and activations
other than Keras's defaults (SimpleRNN also takes 'relu').
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...creation import zeros
from ...nn import functional as F
from ...ops.shape import cat
from .. import activations, initializers
from .base import Layer
from .core import known_dim, positive_int

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]


def _swap_zr(a, units, axis):
    """Swap the first two gate blocks along `axis`: Keras (z, r, h) <-> PyTorch (r, z, n)."""
    z, r, h = np.split(a, [units, 2 * units], axis=axis)
    return np.concatenate([r, z, h], axis=axis)


class _RNN(Layer):
    """What the recurrent layers share: (N, T, in) -> (N, units) or, with
    return_sequences, (N, T, units); return_state adds the final state(s) to a list."""

    gates, mode = 1, "RNN_TANH"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if recurrent_dropout:
            raise NotImplementedError(f"{cls}: recurrent_dropout is not supported in "
                                      "fathom.keras (the time loop is one fused op)")
        if stateful:
            raise NotImplementedError(f"{cls}: stateful=True is not supported in fathom.keras")
        self.units, self.use_bias = positive_int(units, "units", cls), use_bias
        self.dropout, self.seed = float(dropout), seed
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._check_activations(cls)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.unroll = go_backwards, unroll

    def _check_activations(self, cls):
        if self.activation is not activations.tanh or \
                self.recurrent_activation is not activations.sigmoid:
            raise NotImplementedError(f"{cls}: only activation='tanh' and "
                                      "recurrent_activation='sigmoid' are supported")

    def build(self, input_shape):
        n, g, u = known_dim(self, input_shape), self.gates, self.units
        cls = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(self.mode, nn.RNN)
        extra = {} if cls is not nn.RNN else \
            {"nonlinearity": "relu" if self.mode == "RNN_RELU" else "tanh"}
        self.cell = cls(n, u, bias=self.use_bias, batch_first=True, **extra)
        if self.use_bias and self.mode != "GRU":
            del self.cell.bias_hh_l0  # Keras's single bias: torch's second one is zero
            self.cell.register_buffer("bias_hh_l0", zeros(g * u), persistent=False)
        self._add_weight("kernel", (n, g * u), self.kernel_initializer,
                        attr="cell.weight_ih_l0", layout=self._layout())
        self._add_weight("recurrent_kernel", (u, g * u), self.recurrent_initializer,
                        attr="cell.weight_hh_l0", layout=self._layout())
        if self.use_bias:
            self._build_bias()

    def _layout(self):
        return (1, 0)

    def _build_bias(self):
        return self._add_weight("bias", (self.gates * self.units,), self.bias_initializer,
                               attr="cell.bias_ih_l0")

    def call(self, sequences, initial_state=None, training=None):
        if sequences.ndim != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected input (batch, "
                             f"steps, features), got shape {tuple(sequences.shape)}")
        if self.dropout and self._mode(training):
            # Keras drops the same input features at every step
            mask = F.dropout(sequences.new_ones((sequences.shape[0], 1, sequences.shape[2])),
                             self.dropout, True)
            sequences = sequences * mask
        out, states = self._run(sequences, initial_state, aligned=False)
        y = out if self.return_sequences else states[0]
        return [y, *states] if self.return_state else y

    def _run(self, sequences, initial_state, aligned):
        """(N, T, in) -> (outputs (N, T, units), [h (, c)]). With go_backwards the steps run
        last to first; outputs come in run order unless `aligned` (Bidirectional)."""
        hx = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            if len(states) != self._n_states:
                raise ValueError(f"{type(self).__name__} '{self.name}': initial_state needs "
                                 f"{self._n_states} tensors, got {len(states)}")
            hx = tuple(h.unsqueeze(0) for h in states) if self.mode == "LSTM" else \
                states[0].unsqueeze(0)
        x = sequences.flip(1) if self.go_backwards else sequences
        out, h = self.cell(x, hx)
        states = [h[0][0], h[1][0]] if self.mode == "LSTM" else [h[0]]
        if self.go_backwards and aligned:
            out = out.flip(1)
        return out, states

    _n_states = 1

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "dropout": self.dropout, "seed": self.seed,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "unroll": self.unroll}


class SimpleRNN(_RNN):
    """h_t = activation(x_t W + h_{t-1} U + b): (N, T, in) -> (N, units) (or the sequence).

    Keras weights: kernel (in, units), recurrent_kernel (units, units), bias (units,).
    """

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation, "sigmoid", use_bias, **kwargs)
        self.mode = "RNN_RELU" if self.activation is activations.relu else "RNN_TANH"

    def _check_activations(self, cls):
        if self.activation not in (activations.tanh, activations.relu):
            raise NotImplementedError("SimpleRNN: only activation='tanh' or 'relu' is supported")


class LSTM(_RNN):
    """Long short-term memory: (N, T, in) -> (N, units) (or (N, T, units) with
    return_sequences); return_state gives [output, h, c].

    Keras weights: kernel (in, 4*units), recurrent_kernel (units, 4*units), bias
    (4*units,) with gates (i, f, c, o); unit_forget_bias=True starts the forget bias at 1.
    """

    gates, mode, _n_states = 4, "LSTM", 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    def _build_bias(self):
        w = super()._build_bias()
        if self.unit_forget_bias:
            b = w.numpy()
            b[self.units:2 * self.units] = 1.0
            w.assign(b)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias,
                "recurrent_activation": activations.serialize(self.recurrent_activation)}


class GRU(_RNN):
    """Gated recurrent unit, Keras's reset_after=True form (PyTorch's GRU): (N, T, in) ->
    (N, units) (or the sequence); return_state gives [output, h].

    Keras weights: kernel (in, 3*units), recurrent_kernel (units, 3*units), both with gates
    (z, r, h), and bias (2, 3*units) = [input bias; recurrent bias].
    """

    gates, mode = 3, "GRU"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", reset_after=True, **kwargs):
        if not reset_after:
            raise NotImplementedError("GRU: only reset_after=True (Keras's default, PyTorch's "
                                      "GRU) is supported")
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, **kwargs)

    def _layout(self):
        u = self.units
        return [lambda w: _swap_zr(w.T, u, 1), lambda k: (_swap_zr(k, u, 1).T,)]

    def _build_bias(self):
        u = self.units
        self._add_weight("bias", (2, 3 * u), self.bias_initializer,
                        attr=("cell.bias_ih_l0", "cell.bias_hh_l0"),
                        layout=[lambda bi, bh: _swap_zr(np.stack([bi, bh]), u, 1),
                                lambda k: tuple(_swap_zr(k, u, 1))])

    def get_config(self):
        return {**super().get_config(), "reset_after": True,
                "recurrent_activation": activations.serialize(self.recurrent_activation)}


class Bidirectional(Layer):
    """Run `layer` forward and a copy backward over the steps and merge the two:
    (N, T, in) -> (N, 2 * units) with merge_mode 'concat' (or 'sum', 'mul', 'ave', None for
    a list); with return_sequences the backward outputs are put back in time order.

    Weights: the forward layer's, then the backward layer's (sublayers `forward_layer` and
    `backward_layer`).
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional: expects a SimpleRNN, LSTM or GRU layer, got "
                             f"{type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional: merge_mode must be concat, sum, mul, ave or None; "
                             f"got {merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{layer.name}"})
        if backward_layer is None:
            backward_layer = type(layer).from_config(
                {**config, "name": f"backward_{layer.name}",
                 "go_backwards": not config["go_backwards"]})
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            layer.build(input_shape)
            layer.built = True

    def call(self, sequences, initial_state=None, training=None):
        states = [None, None]
        if initial_state is not None:
            half = len(initial_state) // 2
            states = [initial_state[:half], initial_state[half:]]
        results = []
        for layer, state in zip((self.forward_layer, self.backward_layer), states):
            x = sequences
            if layer.dropout and layer._mode(training):
                x = x * F.dropout(x.new_ones((x.shape[0], 1, x.shape[2])), layer.dropout, True)
            results.append(layer._run(x, state, aligned=True))
        (fo, fs), (bo, bs) = results
        y = (fo, bo) if self.return_sequences else (fs[0], bs[0])
        if self.merge_mode == "concat":
            y = cat(y, -1)
        elif self.merge_mode == "sum":
            y = y[0] + y[1]
        elif self.merge_mode == "mul":
            y = y[0] * y[1]
        elif self.merge_mode == "ave":
            y = (y[0] + y[1]) / 2
        else:
            y = list(y)
        if not self.return_state:
            return y
        return (y if isinstance(y, list) else [y]) + fs + bs

    def get_config(self):
        inner = self.forward_layer.get_config()
        inner["name"] = inner["name"][len("forward_"):]
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"class_name": type(self.forward_layer).__name__, "config": inner}}

    @classmethod
    def from_config(cls, config):
        from . import deserialize  # noqa: PLC0415 - the registry imports this module

        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)
