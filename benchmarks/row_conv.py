"""Benchmark rows: the convolution and pooling layers of the epoch benchmarks, one by one.

Each row is one layer's forward and backward at its shape in the CNN (batch 128) or
LeNet-5 (batch 64) training step, Fathom against PyTorch with the same weights; the
first layer of each network gets no input gradient (its input is data), as in training.
Loss = (out * w).sum() for a fixed random w; gradients reset to None each call.
"""
from __future__ import annotations

import numpy as np

import fathom

# (name, x shape, out channels, kernel, input needs a gradient)
CONVS = [
    ("CNN conv1 1->32 3x3, (128, 1, 28, 28)", (128, 1, 28, 28), 32, 3, False),
    ("CNN conv2 32->64 3x3, (128, 32, 13, 13)", (128, 32, 13, 13), 64, 3, True),
    ("LeNet-5 conv1 1->6 5x5, (64, 1, 32, 32)", (64, 1, 32, 32), 6, 5, False),
    ("LeNet-5 conv2 6->16 5x5, (64, 6, 14, 14)", (64, 6, 14, 14), 16, 5, True),
]
POOLS = [
    ("max_pool2d 2x2, (128, 32, 26, 26)", (128, 32, 26, 26)),
    ("max_pool2d 2x2, (128, 64, 11, 11)", (128, 64, 11, 11)),
]


def _step(lib, fn, leaves, x, w_out):
    def run():
        for t in leaves:
            t.grad = None
        (fn(x) * w_out).sum().backward()
    return run


def _conv(torch, shape, out_ch, k, x_grad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    tm = torch.nn.Conv2d(shape[1], out_ch, k)
    fm = fathom.nn.Conv2d(shape[1], out_ch, k)
    fm.load_state_dict(tm.state_dict())
    ho, wo = shape[2] - k + 1, shape[3] - k + 1
    w = rng.standard_normal((shape[0], out_ch, ho, wo)).astype(np.float32)
    fx = fathom.tensor(x, requires_grad=x_grad)
    tx = torch.tensor(x, requires_grad=x_grad)
    f_leaves = list(fm.parameters()) + ([fx] if x_grad else [])
    t_leaves = list(tm.parameters()) + ([tx] if x_grad else [])
    return (_step(fathom, fm, f_leaves, fx, fathom.tensor(w)),
            _step(torch, tm, t_leaves, tx, torch.tensor(w)))


def _pool(torch, shape):
    rng = np.random.default_rng(1)
    x = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)  # after a ReLU: ties
    w = rng.standard_normal(shape[:2] + (shape[2] // 2, shape[3] // 2)).astype(np.float32)
    fx, tx = fathom.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    return (_step(fathom, lambda t: fathom.nn.functional.max_pool2d(t, 2), [fx], fx,
                  fathom.tensor(w)),
            _step(torch, lambda t: torch.nn.functional.max_pool2d(t, 2), [tx], tx,
                  torch.tensor(w)))


def rows(torch):
    out = [(f"{name} fwd+bwd", *_conv(torch, shape, o, k, xg), None)
           for name, shape, o, k, xg in CONVS]
    out += [(f"{name} fwd+bwd", *_pool(torch, shape), None) for name, shape in POOLS]
    return out
