"""Recurrent layers: RNN, LSTM, GRU and the single-step cells RNNCell, LSTMCell, GRUCell.

PyTorch's parameters (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then
the `_reverse` ones, per layer; LSTM gates i, f, g, o; GRU gates r, z, n), init
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), shapes, outputs and checks; LSTM's
proj_size; PackedSequence input (fathom.nn.utils.rnn). Each layer direction is one
`recurrence` (fathom/ops/rnn.py): one GEMM projects every step's input, one fused op
runs the time loop. The cells run it for a single step.
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import backend
from ..creation import empty
from ..errors import DTypeError, ShapeError
from ..ops.index import getitem
from ..ops.rnn import GATES, recurrence
from ..ops.shape import cat, squeeze, stack, transpose, unbind, unsqueeze
from . import functional as F, init
from .module import Module
from .parameter import Parameter
from .utils import rnn as _rnn_utils
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _zeros_like_state(input, batch, size):
    xp = backend.namespace(input.data)
    return xp.zeros((batch, size), dtype=input.data.dtype)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters, the checks and the layer loop.

    mode is 'LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU' (PyTorch's names).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size  # what h (and each layer's output) holds
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(dirs):
                in_size = input_size if layer == 0 else real_hidden * dirs
                shapes = {"weight_ih": (gate_size, in_size),
                          "weight_hh": (gate_size, real_hidden)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}" + ("_reverse" if direction else "")
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op: there is no cuDNN weight buffer to compact (as PyTorch on CPU)."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters per layer and direction: [[w_ih, w_hh, b_ih, b_hh], ...]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- checks ---------------------------------------------------------------------
    def _check_input(self, input):
        if input.ndim not in (2, 3):
            kind = "RNN" if self.mode.startswith("RNN") else self.mode
            raise ShapeError(f"{self._describe()}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead ({kind} takes (L, H_in), (L, N, H_in) or, "
                             f"with batch_first=True, (N, L, H_in))")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{self._describe()}: input.size(-1) must be equal to input_size. "
                             f"Expected {self.input_size}, got {input.shape[-1]}")
        steps = input.shape[1 if self.batch_first and input.ndim == 3 else 0]
        if steps == 0:
            raise ShapeError(f"{self._describe()}: Expected sequence length to be larger than 0 "
                             f"in RNN; got input shape {tuple(input.shape)}")

    def _check_dtypes(self, input, states):
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise DTypeError(f"{self._describe()}: RNN input dtype ({input.dtype}) does not "
                             f"match weight dtype ({w.dtype}). Convert input: "
                             f"input.to({w.dtype}), or convert model: model.to({input.dtype})")
        for s in states:
            if s.dtype != input.dtype:
                raise DTypeError(f"{self._describe()}: Input and hidden tensors are not the "
                                 f"same dtype, found input tensor with {input.dtype} and hidden "
                                 f"tensor with {s.dtype}")

    def _initial_states(self, input, x, hx, batched, order=None):
        """hx as per-layer-direction lists of (B, H) states (raw zeros where not given);
        `order` reorders the batch (packed sequences run sorted by length)."""
        n, batch = self.num_layers * (2 if self.bidirectional else 1), x.shape[1]
        sizes = (self.proj_size or self.hidden_size, self.hidden_size)  # h, c
        lstm = self.mode == "LSTM"
        if hx is None:
            self._check_dtypes(input, ())
            h0 = [_zeros_like_state(x, batch, sizes[0]) for _ in range(n)]
            return h0, ([_zeros_like_state(x, batch, sizes[1]) for _ in range(n)] if lstm
                        else None)
        if lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._describe()}: hx must be a tuple (h_0, c_0), got "
                            f"{type(hx).__name__}")
        states = tuple(hx) if lstm else (hx,)
        want = 3 if batched else 2
        if any(s.ndim != want for s in states):
            dims = ", ".join(f"{s.ndim}-D" for s in states)
            which = "hx and cx" if lstm else "hx"
            raise ShapeError(
                f"{self._describe()}: For {'batched 3-D' if batched else 'unbatched 2-D'} "
                f"input, {which} should also be {want}-D but got "
                f"{'(' + dims + ') tensors' if lstm else dims + ' tensor'}")
        if not batched:
            states = tuple(unsqueeze(s, 1) for s in states)
        for i, s in enumerate(states):
            expected = (n, batch, sizes[i])
            if tuple(s.shape) != expected:
                what = f"hidden[{i}]" if lstm else "hidden"
                raise ShapeError(f"{self._describe()}: Expected {what} size {expected}, got "
                                 f"{list(s.shape)}")
        self._check_dtypes(input, states)  # after the shape checks, which say more
        if order is not None:
            states = tuple(getitem(s, (slice(None), order)) for s in states)
        per_layer = [list(unbind(s, 0)) for s in states]
        return per_layer[0], (per_layer[1] if lstm else None)

    # --- forward ----------------------------------------------------------------------
    def _layers(self, x, h0, c0, mask=None):
        """x (T, B, H_in) time-major -> output (T, B, D * H), h_n and c_n (L * D, B, H);
        H is proj_size for the output and h_n when there are projections."""
        dirs = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                params = [getattr(self, name) for name in self._all_weights[k]]
                b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
                w_hr = params[-1] if self.proj_size else None
                res = recurrence(x, params[0], params[1], b_ih, b_hh, h0[k],
                                 c0[k] if lstm else None, mask, self.mode, d == 1, w_hr)
                outs.append(res[0])
                hs.append(res[1])
                if lstm:
                    cs.append(res[2])
            x = outs[0] if dirs == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(hs), (stack(cs) if lstm else None)

    def forward(self, input, hx=None):
        """input (L, N, H_in) ((N, L, H_in) if batch_first, (L, H_in) unbatched), hx
        (num_layers * num_directions, N, H) or None (zeros) -> (output, h_n); LSTM takes
        and returns (h, c) pairs."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            x = unsqueeze(input, 1)
        else:
            x = transpose(input, 0, 1) if self.batch_first else input
        h0, c0 = self._initial_states(input, x, hx, batched)
        out, h_n, c_n = self._layers(x, h0, c0)
        if not batched:
            out, h_n = squeeze(out, 1), squeeze(h_n, 1)
            c_n = squeeze(c_n, 1) if c_n is not None else None
        elif self.batch_first:
            out = transpose(out, 0, 1)
        return (out, (h_n, c_n)) if self.mode == "LSTM" else (out, h_n)

    def _forward_packed(self, input, hx):
        """Run padded and sorted by length, with a mask that holds each sequence's state
        past its end; pack the output again and hand h_n back in the caller's order."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        if data.ndim != 2:
            raise ShapeError(f"{self._describe()}: input must have 2 dimensions, got "
                             f"{data.ndim} (a PackedSequence's data is (sum of lengths, "
                             f"H_in)); got data shape {tuple(data.shape)}")
        self._check_input(data)
        bs = _rnn_utils._indices(batch_sizes)
        x = _rnn_utils._padded_from_packed(data, bs)           # (T, B, H_in), sorted
        mask = _rnn_utils._running(bs, x.shape[1])[:, :, None]
        h0, c0 = self._initial_states(data, x, hx, True, _rnn_utils._indices(sorted_indices))
        out, h_n, c_n = self._layers(x, h0, c0, mask)
        packed = PackedSequence(_rnn_utils._packed_from_padded(out, bs), batch_sizes,
                                sorted_indices, unsorted_indices)
        unsort = _rnn_utils._indices(unsorted_indices)
        if unsort is not None:
            h_n = getitem(h_n, (slice(None), unsort))
            c_n = None if c_n is None else getitem(c_n, (slice(None), unsort))
        return (packed, (h_n, c_n)) if self.mode == "LSTM" else (packed, h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    Args: input_size, hidden_size, num_layers=1, nonlinearity='tanh' ('relu'), bias=True,
    batch_first=False, dropout=0.0 (between layers, in training), bidirectional=False,
    device, dtype. Input (L, N, H_in) (batch_first: (N, L, H_in); unbatched (L, H_in)) and
    optional h_0 (num_layers * D, N, H); returns output (L, N, D * H) and h_n.

        >>> out, h = nn.RNN(4, 8)(fathom.ones(5, 2, 4))
        >>> out.shape, h.shape
        (fathom.Size([5, 2, 8]), fathom.Size([1, 2, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o from x_t W_ih^T + b_ih + h W_hh^T + b_hh;
    c_t = f c_{t-1} + i g, h_t = o tanh(c_t).

    Args: input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0 (between layers, in training), bidirectional=False, proj_size=0 (> 0:
    h_t = (o tanh(c_t)) W_hr^T has proj_size features), device, dtype. Input (L, N, H_in)
    and an optional (h_0, c_0), (num_layers * D, N, H_out) and (num_layers * D, N, H);
    returns output (L, N, D * H_out) and (h_n, c_n), H_out = proj_size or hidden_size.

        >>> out, (h, c) = nn.LSTM(4, 8, batch_first=True)(fathom.ones(2, 5, 4))
        >>> out.shape, c.shape
        (fathom.Size([2, 5, 8]), fathom.Size([1, 2, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sigmoid(...), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h_t = (1 - z) n + z h_{t-1}.

    Args as RNN, without nonlinearity. Returns output (L, N, D * H) and h_n.

        >>> out, h = nn.GRU(4, 8, num_layers=2)(fathom.ones(5, 4))
        >>> out.shape, h.shape
        (fathom.Size([5, 8]), fathom.Size([2, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# --- cells ----------------------------------------------------------------------------

class RNNCellBase(Module):
    """What the cells share: weight_ih (G*H, H_in), weight_hh (G*H, H), bias_ih, bias_hh."""

    _mode = None

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device,
                                         dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size),
                                         device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check(self, input, states, names):
        if input.ndim not in (1, 2):
            raise ShapeError(f"{self._describe()}: Expected input to be 1D or 2D, got "
                             f"{input.ndim}D instead")
        for s, name in zip(states, names):
            if s is not None and s.ndim not in (1, 2):
                raise ShapeError(f"{self._describe()}: Expected {name} to be 1D or 2D, "
                                 f"got {s.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{self._describe()}: input has inconsistent input_size: got "
                             f"{input.shape[-1]} expected {self.input_size}")
        for s, name in zip(states, names):
            if s is None:
                continue
            if s.ndim != input.ndim:
                raise ShapeError(f"{self._describe()}: input {tuple(input.shape)} and {name} "
                                 f"{tuple(s.shape)} must both be batched (2-D) or unbatched "
                                 "(1-D)")
            if s.ndim == 2 and s.shape[0] != input.shape[0]:
                raise ShapeError(f"{self._describe()}: Input batch size {input.shape[0]} "
                                 f"doesn't match {name} batch size {s.shape[0]}")
            if s.shape[-1] != self.hidden_size:
                raise ShapeError(f"{self._describe()}: {name} has inconsistent hidden_size: "
                                 f"got {s.shape[-1]}, expected {self.hidden_size}")
        # dtypes after shapes, whose messages say more
        if input.dtype != self.weight_ih.dtype:
            raise DTypeError(f"{self._describe()}: input dtype ({input.dtype}) does not match "
                             f"weight dtype ({self.weight_ih.dtype})")
        for s, name in zip(states, names):
            if s is not None and s.dtype != input.dtype:
                raise DTypeError(f"{self._describe()}: {name} dtype ({s.dtype}) does not match "
                                 f"input dtype ({input.dtype})")

    def _step(self, input, h, c):
        """One RNNScan step on (B, H_in) input; h, c (B, H) or None (zeros)."""
        batch = input.shape[0]
        if h is None:
            h = _zeros_like_state(input, batch, self.hidden_size)
        if self._mode == "LSTM" and c is None:
            c = _zeros_like_state(input, batch, self.hidden_size)
        return recurrence(unsqueeze(input, 0), self.weight_ih, self.weight_hh, self.bias_ih,
                          self.bias_hh, h, c, None, self._mode)


def _batch(x):
    return None if x is None else unsqueeze(x, 0)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), one step.

    Args: input_size, hidden_size, bias=True, nonlinearity='tanh', device, dtype.
    input (N, H_in) or (H_in,), hx (N, H) or (H,) or None (zeros) -> h' (N, H) or (H,).

        >>> nn.RNNCell(4, 8)(fathom.ones(3, 4)).shape
        fathom.Size([3, 8])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity} (select 'tanh' or 'relu')")
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input, hx=None):
        self._check(input, (hx,), ("hidden",))
        if input.ndim == 1:
            return squeeze(self._step(unsqueeze(input, 0), _batch(hx), None)[1], 0)
        return self._step(input, hx, None)[1]


class LSTMCell(RNNCellBase):
    """One LSTM step: gates i, f, g, o; c' = f c + i g, h' = o tanh(c').

    Args: input_size, hidden_size, bias=True, device, dtype. input (N, H_in) or (H_in,),
    hx = (h, c) each (N, H) or (H,), or None (zeros) -> (h', c').

        >>> h, c = nn.LSTMCell(4, 8)(fathom.ones(3, 4))
        >>> h.shape
        fathom.Size([3, 8])
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._describe()}: hx must be a tuple (h_0, c_0), got "
                            f"{type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        self._check(input, (h, c), ("hx[0]", "hx[1]"))
        if input.ndim == 1:
            _, h, c = self._step(unsqueeze(input, 0), _batch(h), _batch(c))
            return squeeze(h, 0), squeeze(c, 0)
        _, h, c = self._step(input, h, c)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step: r, z = sigmoid(...), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h' = (1 - z) n + z h.

    Args: input_size, hidden_size, bias=True, device, dtype. input (N, H_in) or (H_in,),
    hx (N, H) or (H,) or None (zeros) -> h'.

        >>> nn.GRUCell(4, 8)(fathom.ones(4)).shape
        fathom.Size([8])
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        self._check(input, (hx,), ("hidden",))
        if input.ndim == 1:
            return squeeze(self._step(unsqueeze(input, 0), _batch(hx), None)[1], 0)
        return self._step(input, hx, None)[1]
