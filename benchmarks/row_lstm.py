"""Benchmark rows: recurrent layers, the row-by-row MNIST shape (28 rows of 28 pixels).

Fathom's nn.LSTM / nn.GRU against PyTorch's in float32, same weights, batch_first
input (N, L, H_in); loss = output[:, -1].sum(); forward and backward with the
gradients reset to None each call, as a training loop's zero_grad() does.
"""
from __future__ import annotations

import numpy as np

import fathom

BATCH, STEPS, IN, HIDDEN = 128, 28, 28, 128


def _pair(torch, name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, IN)).astype(np.float32)
    tm = getattr(torch.nn, name)(IN, HIDDEN, batch_first=True)
    fm = getattr(fathom.nn, name)(IN, HIDDEN, batch_first=True)
    fm.load_state_dict(tm.state_dict())
    tx, fx = torch.from_numpy(x), fathom.from_numpy(x.copy())
    t_params, f_params = list(tm.parameters()), list(fm.parameters())

    def fathom_fn():
        for p in f_params:
            p.grad = None
        out, _ = fm(fx)
        out[:, -1].sum().backward()

    def torch_fn():
        for p in t_params:
            p.grad = None
        out, _ = tm(tx)
        out[:, -1].sum().backward()

    return fathom_fn, torch_fn


def rows(torch):
    shape = f"batch {BATCH}, {STEPS} steps, {IN} in, {HIDDEN} hidden"
    return [
        (f"LSTM 1 layer fwd+bwd, {shape}", *_pair(torch, "LSTM"), 1.5),
        (f"GRU 1 layer fwd+bwd, {shape}", *_pair(torch, "GRU"), None),
    ]
