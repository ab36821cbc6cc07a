"""Benchmark rows: exact GELU forward+backward and Embedding forward+backward, float32.

Both were slow before (GELU through a pure-NumPy erf, Embedding's gradient through
np.add.at); these rows keep them measured against PyTorch.
"""
import numpy as np

import fathom
import fathom.nn.functional as F


def _gelu_row(torch):
    x = np.random.default_rng(0).standard_normal((64, 1024)).astype(np.float32)
    fx = fathom.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)

    def f_run():
        fx.grad = None
        F.gelu(fx).sum().backward()

    def t_run():
        tx.grad = None
        torch.nn.functional.gelu(tx).sum().backward()

    return "gelu fwd+bwd (64,1024)", f_run, t_run, None


def _embedding_row(torch):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((10_000, 128)).astype(np.float32)
    idx = rng.integers(0, 10_000, (32, 64))
    fw, fi = fathom.tensor(w, requires_grad=True), fathom.tensor(idx)
    tw, ti = torch.tensor(w, requires_grad=True), torch.tensor(idx)

    def f_run():
        fw.grad = None
        F.embedding(fi, fw).sum().backward()

    def t_run():
        tw.grad = None
        torch.nn.functional.embedding(ti, tw).sum().backward()

    return "embedding fwd+bwd vocab 10k dim 128 idx 32x64", f_run, t_run, None


def rows(torch):
    return [_gelu_row(torch), _embedding_row(torch)]
