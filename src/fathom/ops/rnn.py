"""Recurrent ops: one direction of one LSTM, GRU or Elman RNN layer over a whole sequence.

`recurrence(x, w_ih, w_hh, b_ih, b_hh, h0, c0, ...)` is what nn.RNN / LSTM / GRU and
the cells call: one `linear` projects the input of every step at once, then the
fused `RNNScan` op runs the time loop.

Fused for speed (benchmarks/row_lstm.py): composed from ops, an LSTM step records about
a dozen graph nodes, and its backward makes 2 GEMMs per step plus a zero-filled
(T, B, 4H) gradient for each step's slice of the projection. RNNScan runs the loop on
raw arrays: per step one h @ W_hh.T GEMM and the gate math forward, one GEMM back;
the W_hh gradient is a single GEMM over all steps.

Sigmoid as tanh: sigmoid(z) = (1 + tanh(z / 2)) / 2, exact and overflow-free. The
sigmoid gates' rows of W_ih, W_hh and the biases are halved once per call (small
weight-sized products, differentiated by the engine), so one tanh over (B, G*H)
serves all of a step's gates with no per-step rescaling; RNNScan's gx, w_hh and
b_hh are in that halved form.

Double backward: the step formulas are written once against `F` (the array module,
or Fathom's differentiable ops under `create_graph=True`); in graph mode backward
first re-runs the forward through differentiable ops from the inputs, so the gates
it uses are in the graph.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..tensor import Tensor
from .elementwise import add, mul
from .nn import Linear

_np = backend.np

__all__ = []  # internal: fathom.nn.LSTM / GRU / RNN and the cells are the public faces

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


# --- cells: one step forward (state in, state out, what backward needs) and back --------
# gx_t: (B, G*H) input projection of step t; gh: h @ W_hh.T (+ b_hh) (B, G*H); the
# sigmoid gates' parts of both are z / 2. back(...) -> (d gx_t, d gh, d h_prev not
# through gh, d c_prev). With T = tanh(z / 2), d sigmoid / d(z / 2) = (1 - T^2) / 2.
# w_hr: the LSTM's projection (proj_size > 0), h = (o tanh(c)) @ W_hr.T; else None
# (step gets W_hr.T, back gets W_hr).

def _lstm_step(F, gx_t, gh, h, c, w_hr_t):
    H = c.shape[-1]
    T = F.tanh(gx_t + gh)                       # gates i, f, g, o
    i_f = T[:, :2 * H] * 0.5 + 0.5
    i, f, g = i_f[:, :H], i_f[:, H:], T[:, 2 * H:3 * H]
    o = T[:, 3 * H:] * 0.5 + 0.5
    c = f * c + i * g
    tc = F.tanh(c)
    h = o * tc
    if w_hr_t is None:
        return h, c, (T, i_f, o, tc, None)
    return F.matmul(h, w_hr_t), c, (T, i_f, o, tc, h)


def _lstm_back(F, dh, dc, sv, h_prev, c_prev, h, w_hr):
    T, i_f, o, tc, m = sv
    if m is not None:
        dh = F.matmul(dh, w_hr)  # through the projection
    H = tc.shape[-1]
    i, f, g = i_f[:, :H], i_f[:, H:], T[:, 2 * H:3 * H]
    dc = dc + dh * o * (1 - tc * tc)
    half = dc * 0.5
    dz = F.concatenate([half * g, half * c_prev, dc * i, (dh * 0.5) * tc], 1) * (1 - T * T)
    return dz, dz, None, dc * f


def _gru_step(F, gx_t, gh, h, c, w_hr_t):
    H = h.shape[-1]
    rz = F.tanh(gx_t[:, :2 * H] + gh[:, :2 * H]) * 0.5 + 0.5
    ghn = gh[:, 2 * H:]
    n = F.tanh(gx_t[:, 2 * H:] + rz[:, :H] * ghn)          # n = tanh(W_in x + r (W_hn h + b))
    return n + rz[:, H:] * (h - n), None, (rz, n, ghn)     # (1 - z) n + z h


def _gru_back(F, dh, dc, sv, h_prev, c_prev, h, w_hr):
    rz, n, ghn = sv
    H = n.shape[-1]
    r, z = rz[:, :H], rz[:, H:]
    dn = dh * (1 - z) * (1 - n * n)
    # (1 - T^2) / 2 = 2 s (1 - s) for s = (1 + T) / 2
    drz = F.concatenate([dn * ghn, dh * (h_prev - n)], 1) * (rz * (2 - 2 * rz))
    return F.concatenate([drz, dn], 1), F.concatenate([drz, dn * r], 1), dh * z, None


def _tanh_step(F, gx_t, gh, h, c, w_hr_t):
    return F.tanh(gx_t + gh), None, None


def _tanh_back(F, dh, dc, sv, h_prev, c_prev, h, w_hr):
    dz = dh * (1 - h * h)
    return dz, dz, None, None


def _relu_step(F, gx_t, gh, h, c, w_hr_t):
    return F.maximum(gx_t + gh, 0), None, None


def _relu_back(F, dh, dc, sv, h_prev, c_prev, h, w_hr):
    dz = F.where(h > 0, dh, 0)
    return dz, dz, None, None


_CELLS = {"LSTM": (_lstm_step, _lstm_back), "GRU": (_gru_step, _gru_back),
          "RNN_TANH": (_tanh_step, _tanh_back), "RNN_RELU": (_relu_step, _relu_back)}


def _scan(F, mode, gx, w_hh, b_hh, w_hr, h0, c0, mask, reverse):
    """The forward loop: out (T, B, H) in time order, last h, last c, per-step c and saves."""
    step = _CELLS[mode][0]
    T = gx.shape[0]
    w_t = F.swapaxes(w_hh, 0, 1)
    if not isinstance(w_t, Tensor):
        w_t = w_t.copy()  # C-contiguous: the per-step GEMM runs ~10% faster (measured)
    w_hr_t = None if w_hr is None else F.swapaxes(w_hr, 0, 1)
    h, c = h0, c0
    hs, cs, svs = [None] * T, [None] * T, [None] * T
    for t in _order(T, reverse):
        gh = F.matmul(h, w_t)
        if b_hh is not None:
            gh = gh + b_hh
        h_new, c_new, svs[t] = step(F, gx[t], gh, h, c, w_hr_t)
        if mask is not None:  # sequences past their end keep their state
            h_new = F.where(mask[t], h_new, h)
            c_new = None if c is None else F.where(mask[t], c_new, c)
        h, c = h_new, c_new
        hs[t], cs[t] = h, c
    return F.stack(hs), h, c, cs, svs


class RNNScan(Op):
    """One layer direction's time loop: out, h_n (, c_n) from every step's input projection.

    gx (T, B, G*H) with G = 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n) or 1 (RNN);
    w_hh (G*H, H); b_hh (G*H,) or None (LSTM and RNN fold it into gx; GRU cannot,
    since r multiplies W_hn h + b_hn). The sigmoid gates' parts of gx, w_hh and b_hh
    come halved (see `recurrence`). w_hr (P, H) or None: LSTM's projection of h to
    P < H features (w_hh is then (4H, P), and h0, out, h_n have P features).
    h0 (B, H); c0 (B, H) for LSTM, else None;
    mask (T, B, 1) bool or None: where False, the step leaves that sequence's state
    unchanged (variable lengths: packed sequences). reverse=True runs from step T-1
    down to 0 (the backward direction of a bidirectional layer); out stays in time
    order. Returns (out (T, B, H), h_n (B, H)) and, for LSTM, c_n (B, H).
    """

    def forward(ctx, gx, w_hh, b_hh, w_hr, h0, c0, mask, mode, reverse):
        out, h, c, cs, svs = _scan(ctx.F, mode, gx, w_hh, b_hh, w_hr, h0, c0, mask, reverse)
        ctx.mode, ctx.reverse, ctx.mask = mode, reverse, mask
        ctx.save(gx, w_hh, b_hh, w_hr, h0, c0, out, cs, svs)
        return (out, h, c) if mode == "LSTM" else (out, h)

    def backward(ctx, g_out, g_h=None, g_c=None):
        gx, w_hh, b_hh, w_hr, h0, c0, out, cs, svs = ctx.saved
        F, mode, reverse, mask = ctx.F, ctx.mode, ctx.reverse, ctx.mask
        if isinstance(w_hh, Tensor):  # create_graph: rebuild the gates inside the graph
            out, _, _, cs, svs = _scan(F, mode, gx, w_hh, b_hh, w_hr, h0, c0, mask, reverse)
        back = _CELLS[mode][1]
        order = list(_order(out.shape[0], reverse))
        dh = F.zeros_like(h0) if g_h is None else g_h
        dc = None if c0 is None else F.zeros_like(c0) if g_c is None else g_c
        dgxs, dghs = [None] * len(order), [None] * len(order)
        dhs = [None] * len(order) if w_hr is not None else None  # for W_hr's gradient
        for j in range(len(order) - 1, -1, -1):
            t = order[j]
            h_prev = h0 if j == 0 else out[order[j - 1]]
            c_prev = c0 if j == 0 else cs[order[j - 1]]
            if g_out is not None:
                dh = dh + g_out[t]
            dh_skip = dc_skip = None
            if mask is not None:  # a held state passes its gradient straight back
                dh, dh_skip = F.where(mask[t], dh, 0), F.where(mask[t], 0, dh)
                if dc is not None:
                    dc, dc_skip = F.where(mask[t], dc, 0), F.where(mask[t], 0, dc)
            if dhs is not None:
                dhs[t] = dh
            dgxs[t], dghs[t], dh_direct, dc = back(F, dh, dc, svs[t], h_prev, c_prev, out[t],
                                                   w_hr)
            dh = F.matmul(dghs[t], w_hh)
            for extra in (dh_direct, dh_skip):
                if extra is not None:
                    dh = dh + extra
            if dc_skip is not None:
                dc = dc + dc_skip
        dgh = F.stack(dghs)
        dgx = dgh if dghs[0] is dgxs[0] else F.stack(dgxs)
        gw = gb = gw_hr = None
        if ctx.needs_grad[1]:
            # all steps in one GEMM: sum_t dgh_t.T @ h_prev_t
            h_prevs = F.concatenate([F.expand_dims(h0, 0), out[:-1]] if not reverse else
                                    [out[1:], F.expand_dims(h0, 0)], 0)
            gw = _sum_outer(F, dgh, h_prevs)
        if b_hh is not None and ctx.needs_grad[2]:
            gb = F.sum(dgh, axis=(0, 1))
        if w_hr is not None and ctx.needs_grad[3]:
            gw_hr = _sum_outer(F, F.stack(dhs), F.stack([sv[4] for sv in svs]))
        return dgx, gw, gb, gw_hr, dh, dc, None, None, None


def _sum_outer(F, a, b):
    """sum over steps and batch of a[t, n]^T b[t, n]: (T, B, M), (T, B, K) -> (M, K)."""
    return F.matmul(F.swapaxes(F.reshape(a, (-1, a.shape[-1])), 0, 1),
                    F.reshape(b, (-1, b.shape[-1])))


def _half_sigmoid_rows(mode, w):
    """(G*H, 1) factors: 1/2 on the sigmoid gates' rows (LSTM i, f, o; GRU r, z), else 1."""
    H = w.shape[0] // GATES[mode]
    s = backend.namespace(w.data).full((w.shape[0], 1), 0.5, dtype=w.data.dtype)
    s[2 * H:3 * H] = 1  # LSTM's g, GRU's n: plain tanh
    return s


def recurrence(x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask=None, mode="LSTM", reverse=False,
               w_hr=None):
    """One direction of one layer: x (T, B, H_in) -> (out (T, B, H), h_n (, c_n)).

    w_ih (G*H, H_in), w_hh (G*H, H), b_ih and b_hh (G*H,) or None, h0 (B, H), c0 (B, H)
    for LSTM, mask (T, B, 1) bool or None (False: hold the state), PyTorch's gate order;
    w_hr (P, H): LSTM projection (then w_hh is (4H, P) and h0, out, h_n have P features).
    """
    if b_ih is not None and mode != "GRU":
        b_ih, b_hh = add(b_ih, b_hh), None  # one bias add per sequence, not per step
    if mode in ("LSTM", "GRU"):
        s = _half_sigmoid_rows(mode, w_hh)
        w_ih, w_hh = mul(w_ih, s), mul(w_hh, s)
        b_ih = None if b_ih is None else mul(b_ih, s[:, 0])
        b_hh = None if b_hh is None else mul(b_hh, s[:, 0])
    gx = Linear.apply(x, w_ih, b_ih)  # every step's input projection in one GEMM
    return RNNScan.apply(gx, w_hh, b_hh, w_hr, h0, c0, mask, mode=mode, reverse=reverse)
