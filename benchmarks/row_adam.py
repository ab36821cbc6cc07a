"""Benchmark row: one Adam step over 1M float32 parameters in 10 tensors, gradients preset.

PyTorch runs its default Adam (on CPU that is the per-tensor "single tensor" path: foreach
and fused default to off for CPU tensors), Fathom its one update path.
"""
import numpy as np

import fathom
import fathom.optim

SHAPES = [(100_000,)] * 6 + [(250, 400)] * 4  # 1,000,000 parameters


def rows(torch):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]

    f_params = [fathom.tensor(p.copy(), requires_grad=True) for p in params]
    for p, g in zip(f_params, grads):
        p.grad = fathom.tensor(g.copy())
    f_opt = fathom.optim.Adam(f_params, lr=1e-3)

    t_params = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    for p, g in zip(t_params, grads):
        p.grad = torch.tensor(g.copy())
    t_opt = torch.optim.Adam(t_params, lr=1e-3)

    return [("Adam step, 1M params (10 tensors)", f_opt.step, t_opt.step, 1.0)]
