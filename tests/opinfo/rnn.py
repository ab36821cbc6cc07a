"""Op-table entries for fathom.ops.rnn: the fused recurrence behind nn.RNN / LSTM / GRU.

`recurrence` (input projection + the fused `RNNScan` op) is internal (the layers and
cells are its public faces), so each entry calls it directly: x (T, B, H_in), w_ih,
w_hh, b_ih and b_hh (or None), h0 and, for LSTM, c0; optional mask (T, B, 1) and
reverse. The NumPy and PyTorch references are plain step loops with the textbook gate
formulas (sigmoid as 1 / (1 + exp(-x))), independent of the op's tanh-based sigmoid
and its halved gate rows.
"""
import numpy as np

from fathom.ops.rnn import recurrence

from .core import OpInfo, SampleInput


def _scan_op(mode):
    def op(x, w_ih, w_hh, b_ih, b_hh, h0, c0=None, w_hr=None, mask=None, reverse=False):
        return recurrence(x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask, mode, reverse, w_hr)
    return op


def _reference(lib, mode):
    """The step loop written against `lib` (a small namespace over NumPy or PyTorch)."""
    def ref(x, w_ih, w_hh, b_ih, b_hh, h0, c0=None, w_hr=None, mask=None, reverse=False):
        T, H = x.shape[0], w_hh.shape[0] // {"LSTM": 4, "GRU": 3}.get(mode, 1)
        gx = x @ lib.t(w_ih)
        if b_ih is not None:
            gx = gx + b_ih
        h, c = h0, c0
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h_old, c_old = h, c
            gh = h @ lib.t(w_hh)
            if b_hh is not None:
                gh = gh + b_hh
            x = gx[t]
            if mode == "LSTM":
                z = x + gh
                i, f = lib.sigmoid(z[:, :H]), lib.sigmoid(z[:, H:2 * H])
                g, o = lib.tanh(z[:, 2 * H:3 * H]), lib.sigmoid(z[:, 3 * H:])
                c = f * c + i * g
                h = o * lib.tanh(c)
                if w_hr is not None:
                    h = h @ lib.t(w_hr)
            elif mode == "GRU":
                r = lib.sigmoid(x[:, :H] + gh[:, :H])
                z = lib.sigmoid(x[:, H:2 * H] + gh[:, H:2 * H])
                n = lib.tanh(x[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1 - z) * n + z * h
            elif mode == "RNN_TANH":
                h = lib.tanh(x + gh)
            else:
                h = lib.relu(x + gh)
            if mask is not None:  # past a sequence's end its state is held
                h = lib.where(mask[t], h, h_old)
                c = None if c is None else lib.where(mask[t], c, c_old)
            outs[t] = h
        out = lib.stack(outs)
        return (out, h, c) if mode == "LSTM" else (out, h)
    return ref


class _NumpyLib:
    t = staticmethod(lambda w: w.T)
    sigmoid = staticmethod(lambda x: 1 / (1 + np.exp(-x)))
    tanh = staticmethod(np.tanh)
    relu = staticmethod(lambda x: np.maximum(x, 0))
    stack = staticmethod(np.stack)
    where = staticmethod(np.where)


def _torch_ref(mode):
    def run(*args, **kwargs):
        import torch  # noqa: PLC0415 - only where the torch fixture has found it

        class Lib:
            t = staticmethod(lambda w: w.T)
            sigmoid = staticmethod(torch.sigmoid)
            tanh = staticmethod(torch.tanh)
            relu = staticmethod(torch.relu)
            stack = staticmethod(torch.stack)
            where = staticmethod(torch.where)
        return _reference(Lib, mode)(*args, **kwargs)
    return run


def _samples(mode):
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)

    def samples(rng):
        def case(T, B, H, bias=True, reverse=False, lengths=None, scale=0.8, I=2, proj=0):
            def r(*shape):
                return rng.standard_normal(shape) * scale
            c0 = (r(B, H),) if mode == "LSTM" else ()
            if proj:
                c0 += (r(proj, H),)  # w_hr
            kw = {"reverse": reverse}
            if lengths is not None:  # variable lengths: steps past a sequence's end are off
                kw["mask"] = (np.arange(T)[:, None] < np.array(lengths)[None, :])[:, :, None]
            P = proj or H
            return SampleInput(r(T, B, I), r(G * H, I), r(G * H, P), r(G * H) if bias else None,
                               r(G * H) if bias else None, r(B, P), *c0, **kw,
                               name=f"T={T} B={B} H={H} P={P} bias={bias} lengths={lengths} ")
        return [case(3, 2, 2), case(3, 2, 2, reverse=True), case(2, 1, 3, bias=False),
                case(1, 2, 2), case(4, 1, 1, reverse=True), case(4, 3, 1, lengths=[4, 2, 1]),
                case(3, 2, 2, reverse=True, lengths=[3, 1])] + (
                    [case(3, 2, 3, proj=2), case(3, 2, 2, proj=1, reverse=True, lengths=[3, 2])]
                    if mode == "LSTM" else [])
    return samples


OPS = [
    OpInfo(f"ops.rnn.recurrence[{mode}]", _scan_op(mode), _samples(mode),
           ref=_reference(_NumpyLib, mode), torch_op=_torch_ref(mode),
           notes="internal op of nn.RNN/LSTM/GRU and the cells; references are step loops")
    for mode in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU")
]
