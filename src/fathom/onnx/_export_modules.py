"""Module-level ONNX translations: layers that ONNX has as one op.

`claims(module, args, kwargs)` says whether export records a call of this module as one
module-level call (its body unrecorded); `handler_for(module)` gives the translation.
RNN/LSTM/GRU become one ONNX RNN/LSTM/GRU node per layer (ONNX's have no num_layers), with
the gate blocks reordered; their stacked weights are initializers named
`<module>.W_l<k>`, `.R_l<k>`, `.B_l<k>` (ONNX's input names) instead of state_dict keys.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..nn.conv import _ConvTransposeNd
from ..nn.linear import EmbeddingBag
from ..nn.normalization import LayerNorm, _BatchNorm
from ..nn.rnn import RNNBase, RNNCellBase
from ..tensor import Tensor
from .export import ExportError

__all__ = ["claims", "handler_for"]


def claims(module, args, kwargs, opset) -> bool:
    if isinstance(module, (RNNBase, RNNCellBase, _ConvTransposeNd, EmbeddingBag)):
        return True
    if isinstance(module, LayerNorm):  # LayerNormalization is in opset 17
        x = args[0] if args else None
        return opset >= 17 and isinstance(x, Tensor) and \
            tuple(x.shape[x.ndim - len(module.normalized_shape):]) == module.normalized_shape
    if isinstance(module, _BatchNorm):
        x = args[0] if args else None
        return (not module.training and module.running_mean is not None and
                module.running_var is not None and isinstance(x, Tensor) and x.ndim >= 2)
    return False


def handler_for(module):
    if isinstance(module, RNNBase):
        return _rnn
    if isinstance(module, RNNCellBase):
        return _cell
    if isinstance(module, EmbeddingBag):
        return _embedding_bag
    if isinstance(module, LayerNorm):
        return _layer_norm
    if isinstance(module, _ConvTransposeNd):
        return _conv_transpose
    return _batch_norm


def _arguments(C):
    """The module's forward arguments by name, in both traces: (dict, dict)."""
    sig = inspect.signature(C.call.op.module.forward)
    out = []
    for c in (C.call, C.call2):
        b = sig.bind(*c.args, **c.op.kwargs)
        b.apply_defaults()
        out.append(b.arguments)
    return out


def _state_names(C, hx, hx2, lstm):
    """ONNX names of an initial state (a tensor, or LSTM's (h, c) pair) or []."""
    if hx is None:
        return []
    pairs = zip(hx, hx2) if lstm else [(hx, hx2)]
    return [C.tr.materialize(C.tr.resolve(t, t2), None, C.hint) for t, t2 in pairs]


def _param(C, t, dtype=None):
    return C.tr.materialize(C.tr.resolve(t, None), dtype, C.hint)


# PyTorch's gate blocks -> ONNX's: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _gates(w, mode):
    order = _ORDER[mode]
    return w.reshape((len(order), -1) + w.shape[1:])[order].reshape(w.shape)


def _rnn(C):
    m = C.call.op.module
    mode = m.mode
    if m.proj_size:
        raise ExportError("LSTM with proj_size > 0 has no ONNX form (ONNX's LSTM has no "
                          "projection)")
    x = C.args[0]
    if not isinstance(x, Tensor):
        raise ExportError("a PackedSequence input has no ONNX form (pass a padded tensor)")
    g = C.g
    H, dirs = m.hidden_size, 2 if m.bidirectional else 1
    batched = x.ndim == 3
    X = C.x(0)
    if not batched:
        X = C.node("Unsqueeze", [X, g.ints([1])])
    elif m.batch_first:
        X = C.node("Transpose", [X], perm=[1, 0, 2])
    a1, a2 = _arguments(C)
    states = [name if batched else C.node("Unsqueeze", [name, g.ints([1])])
              for name in _state_names(C, a1["hx"], a2["hx"], mode == "LSTM")]
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch applies r after the hidden GEMM
    if op == "RNN":
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * dirs
    path = C.path or "rnn"
    hs, cs = [], []
    for layer in range(m.num_layers):
        W, R, B = [], [], []
        for d in range(dirs):
            params = [getattr(m, n).data for n in m._all_weights[layer * dirs + d]]
            W.append(_gates(params[0], mode))
            R.append(_gates(params[1], mode))
            if m.bias:
                B.append(np.concatenate([_gates(params[2], mode), _gates(params[3], mode)]))
        ins = [X, g.initializer(np.stack(W), g.fresh(f"{path}.W_l{layer}")),
               g.initializer(np.stack(R), g.fresh(f"{path}.R_l{layer}")),
               g.initializer(np.stack(B), g.fresh(f"{path}.B_l{layer}")) if B else "", ""]
        for s in states:  # this layer's (dirs, N, H) slice of h_0 (and c_0)
            ins.append(C.node("Slice", [s, g.ints([layer * dirs]), g.ints([(layer + 1) * dirs]),
                                        g.ints([0])]))
        if not states:
            ins = ins[:3] if not B else ins[:4]
        n_out = 3 if op == "LSTM" else 2
        outs = C.node(op, ins, n_out=n_out, **attrs)
        hs.append(outs[1])
        if op == "LSTM":
            cs.append(outs[2])
        # Y is (T, dirs, N, H); the next layer and the output want (T, N, dirs * H)
        y = C.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])
        X = C.node("Reshape", [y, g.ints([0, 0, -1])])
    h_n = hs[0] if len(hs) == 1 else C.node("Concat", hs, axis=0)
    c_n = (cs[0] if len(cs) == 1 else C.node("Concat", cs, axis=0)) if cs else None
    out = X
    if not batched:
        out = C.node("Squeeze", [out, g.ints([1])])
        h_n = C.node("Squeeze", [h_n, g.ints([1])])
        c_n = C.node("Squeeze", [c_n, g.ints([1])]) if c_n is not None else None
    elif m.batch_first:
        out = C.node("Transpose", [out], perm=[1, 0, 2])
    return [out, h_n] + ([c_n] if c_n is not None else [])


def _cell(C):
    """RNNCell / LSTMCell / GRUCell: one step of ONNX's RNN / LSTM / GRU."""
    m = C.call.op.module
    mode, g = m._mode, C.g
    x = C.args[0]
    lead = [0] if x.ndim == 2 else [0, 1]  # (1, N, H_in), unbatched input gets N = 1 too
    X = C.node("Unsqueeze", [C.x(0), g.ints(lead)])
    a1, a2 = _arguments(C)
    states = [C.node("Unsqueeze", [name, g.ints(lead)])
              for name in _state_names(C, a1["hx"], a2["hx"], mode == "LSTM")]
    path = C.path or "cell"
    W = g.initializer(_gates(m.weight_ih.data, mode)[None], g.fresh(f"{path}.W"))
    R = g.initializer(_gates(m.weight_hh.data, mode)[None], g.fresh(f"{path}.R"))
    ins = [X, W, R]
    if m.bias:
        b = np.concatenate([_gates(m.bias_ih.data, mode), _gates(m.bias_hh.data, mode)])
        ins.append(g.initializer(b[None], g.fresh(f"{path}.B")))
    if states:
        ins += [""] * (4 - len(ins)) + [""] + states
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    attrs = {"hidden_size": m.hidden_size}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"]
    outs = C.node(op, ins, n_out=3 if op == "LSTM" else 2, **attrs)
    h = C.node("Squeeze", [outs[1], g.ints(lead)])
    if op == "LSTM":
        return [h, C.node("Squeeze", [outs[2], g.ints(lead)])]
    return h


def _embedding_bag(C):
    """Bags as the rows of a 2-D input (no offsets): Gather, then a reduce over the row."""
    m = C.call.op.module
    x = C.args[0]
    a1, a2 = _arguments(C)
    offsets, psw = a1["offsets"], a1["per_sample_weights"]
    if not isinstance(x, Tensor) or x.ndim != 2 or offsets is not None or \
            m.max_norm is not None:
        raise ExportError("EmbeddingBag exports only with 2-D input (one bag per row), no "
                          "offsets and no max_norm")
    if m.padding_idx is not None and m.mode == "max":
        raise ExportError("EmbeddingBag with mode='max' and a padding_idx has no ONNX form "
                          "here")
    g = C.g
    dt = C.out_dtype()
    ids = C.x(0)
    emb = C.node("Gather", [_param(C, m.weight), ids], axis=0)        # (N, L, D)
    if psw is not None:
        w = C.tr.materialize(C.tr.resolve(psw, a2["per_sample_weights"]), dt, C.hint)
        emb = C.node("Mul", [emb, C.node("Unsqueeze", [w, g.ints([-1])])])
    if m.padding_idx is None:
        op = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax"}[m.mode]
        return g.reduce(op, emb, [1], False, f"{C.hint}.{op}")
    pad = C.const(np.asarray(m.padding_idx, C.dtype(0)))
    keep = C.node("Cast", [C.node("Not", [C.node("Equal", [ids, pad])])], to=_dtype_code(dt))
    out = g.reduce("ReduceSum", C.node("Mul", [emb, C.node("Unsqueeze", [keep, g.ints([-1])])]),
                   [1], False, f"{C.hint}.sum")
    if m.mode == "sum":
        return out
    count = g.reduce("ReduceSum", keep, [1], True, f"{C.hint}.count")
    count = C.node("Max", [count, C.const(np.asarray(1, dt))])
    return C.node("Div", [out, count])


def _dtype_code(dt):
    from .export import _onnx_type  # noqa: PLC0415
    return _onnx_type(dt)


def _conv_transpose(C):
    m = C.call.op.module
    x = C.args[0]
    output_size = _arguments(C)[0]["output_size"]
    output_padding = m._output_padding(x, output_size)
    nd = m._nd
    batched = x.ndim == nd + 2
    X = C.x(0)
    if not batched:
        X = C.node("Unsqueeze", [X, C.g.ints([0])])
    ins = [X, _param(C, m.weight)] + ([_param(C, m.bias)] if m.bias is not None else [])
    pads = [int(p) for p in m.padding]
    y = C.node("ConvTranspose", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride),
               pads=pads + pads, dilations=list(m.dilation), group=int(m.groups),
               output_padding=[int(p) for p in output_padding])
    return C.node("Squeeze", [y, C.g.ints([0])]) if not batched else y


def _layer_norm(C):
    m = C.call.op.module
    k = len(m.normalized_shape)
    scale = _param(C, m.weight) if m.weight is not None else \
        C.const(np.ones(m.normalized_shape, C.out_dtype()))
    ins = [C.x(0), scale] + ([_param(C, m.bias)] if m.bias is not None else [])
    return C.node("LayerNormalization", ins, axis=-k, epsilon=float(m.eps))


def _batch_norm(C):
    m = C.call.op.module
    dt = C.out_dtype()
    n = m.num_features
    scale = _param(C, m.weight) if m.weight is not None else C.const(np.ones(n, dt))
    bias = _param(C, m.bias) if m.bias is not None else C.const(np.zeros(n, dt))
    return C.node("BatchNormalization", [C.x(0), scale, bias, _param(C, m.running_mean),
                                         _param(C, m.running_var)], epsilon=float(m.eps))
