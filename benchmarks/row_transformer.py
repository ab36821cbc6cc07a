"""Benchmark rows: a Transformer encoder layer at a small-model shape.

Fathom's nn.TransformerEncoderLayer against PyTorch's in float32 with the same weights:
d_model 128, 4 heads, dim_feedforward 512, batch_first input (32, 64, 128), post-norm,
ReLU. Training rows run in train mode and backpropagate out.sum() to the input and every
parameter, with the gradients reset to None each call as zero_grad() does. The goal row
has dropout 0, so both do the same arithmetic; the dropout 0.1 row (no goal) adds the
masks, which each framework draws from its own generator, and PyTorch's time on that
path varies several-fold between runs on a 2-core machine. The eval row is a forward
under no_grad, where PyTorch runs its fused inference kernel.
"""
from __future__ import annotations

import numpy as np

import fathom

BATCH, SEQ, D, HEADS, FF = 32, 64, 128, 4, 512


def _pair(torch, train=True, dropout=0.0):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, D)).astype(np.float32)
    torch.manual_seed(0)
    tm = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=dropout, batch_first=True)
    fm = fathom.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=dropout, batch_first=True)
    fm.load_state_dict(tm.state_dict())
    tm.train(train)
    fm.train(train)
    tx = torch.from_numpy(x).requires_grad_(train)
    fx = fathom.from_numpy(x.copy()).requires_grad_(train)
    t_params, f_params = list(tm.parameters()), list(fm.parameters())

    def fathom_fn():
        for p in f_params:
            p.grad = None
        fx.grad = None
        fm(fx).sum().backward()

    def torch_fn():
        for p in t_params:
            p.grad = None
        tx.grad = None
        tm(tx).sum().backward()

    def fathom_eval():
        with fathom.no_grad():
            fm(fx)

    def torch_eval():
        with torch.no_grad():
            tm(tx)

    return (fathom_fn, torch_fn) if train else (fathom_eval, torch_eval)


def rows(torch):
    shape = f"d={D}, {HEADS} heads, seq {SEQ}, batch {BATCH}"
    return [
        (f"TransformerEncoderLayer fwd+bwd, {shape}", *_pair(torch), 1.5),
        (f"TransformerEncoderLayer fwd+bwd, dropout 0.1, {shape}",
         *_pair(torch, dropout=0.1), None),
        (f"TransformerEncoderLayer eval fwd, {shape}", *_pair(torch, train=False), None),
    ]
