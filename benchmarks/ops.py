"""Per-op speed: Fathom vs PyTorch on the same workloads, interleaved in one run.

    python benchmarks/ops.py [--repeat 15] [--json out.json]

Rows: (a) x + y on 64x128; (b) (x @ w).relu().sum().backward(); (c) conv2d
forward + backward on (128, 32, 13, 13) with 64 3x3 filters; (d) a 784-256-128-10
MLP forward + backward at batch 128. Ratio = Fathom time / PyTorch time (lower is
better), median over interleaved repetitions, threads pinned equal.
"""
from __future__ import annotations

import sys

import harness  # noqa: F401 - pins threads before NumPy/PyTorch load
import numpy as np

import fathom
import fathom.nn.functional as F


def workloads(torch):
    rng = np.random.default_rng(0)

    def arr(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    rows = []

    # (a) elementwise add: pure per-op overhead
    x, y = arr(64, 128), arr(64, 128)
    fx, fy = fathom.from_numpy(x), fathom.from_numpy(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    rows.append(("(a) x + y, 64x128", lambda: fx + fy, lambda: tx + ty, None))

    # (b) tiny forward + backward
    w = arr(128, 64, scale=0.1)
    fw = fathom.from_numpy(w.copy()).requires_grad_()
    tw = torch.from_numpy(w.copy()).requires_grad_()

    def fb():
        fw.grad = None
        (fx @ fw).relu().sum().backward()

    def tb():
        tw.grad = None
        (tx @ tw).relu().sum().backward()
    rows.append(("(b) (x @ w).relu().sum().backward()", fb, tb, 1.0))

    # (c) conv2d forward + backward
    xc = arr(128, 32, 13, 13)
    wc, bc = arr(64, 32, 3, 3, scale=0.05), arr(64, scale=0.1)
    g = arr(128, 64, 11, 11)
    fxc = fathom.from_numpy(xc.copy()).requires_grad_()
    fwc = fathom.from_numpy(wc.copy()).requires_grad_()
    fbc = fathom.from_numpy(bc.copy()).requires_grad_()
    txc = torch.from_numpy(xc.copy()).requires_grad_()
    twc = torch.from_numpy(wc.copy()).requires_grad_()
    tbc = torch.from_numpy(bc.copy()).requires_grad_()
    fg, tg = fathom.from_numpy(g), torch.from_numpy(g)

    def fc():
        for p in (fxc, fwc, fbc):
            p.grad = None
        F.conv2d(fxc, fwc, fbc).backward(fg)

    def tc():
        for p in (txc, twc, tbc):
            p.grad = None
        torch.nn.functional.conv2d(txc, twc, tbc).backward(tg)
    rows.append(("(c) conv2d fwd+bwd (128,32,13,13), 64 3x3", fc, tc, 1.5))

    # (d) MLP 784-256-128-10 forward + backward, batch 128
    xm = arr(128, 784)
    ym = rng.integers(0, 10, 128)
    sizes = [(256, 784), (128, 256), (10, 128)]
    ws = [arr(o, i, scale=1 / np.sqrt(i)) for o, i in sizes]
    bs = [arr(o, scale=0.01) for o, _ in sizes]
    fps = [fathom.from_numpy(a.copy()).requires_grad_() for a in ws + bs]
    tps = [torch.from_numpy(a.copy()).requires_grad_() for a in ws + bs]
    fxm, fym = fathom.from_numpy(xm), fathom.from_numpy(ym)
    txm, tym = torch.from_numpy(xm), torch.from_numpy(ym)

    def fm():
        for p in fps:
            p.grad = None
        h = F.relu(F.linear(fxm, fps[0], fps[3]))
        h = F.relu(F.linear(h, fps[1], fps[4]))
        F.cross_entropy(F.linear(h, fps[2], fps[5]), fym).backward()

    def tm():
        for p in tps:
            p.grad = None
        tf = torch.nn.functional
        h = tf.relu(tf.linear(txm, tps[0], tps[3]))
        h = tf.relu(tf.linear(h, tps[1], tps[4]))
        tf.cross_entropy(tf.linear(h, tps[2], tps[5]), tym).backward()
    rows.append(("(d) MLP 784-256-128-10 fwd+bwd, batch 128", fm, tm, 1.0))
    return rows


if __name__ == "__main__":
    sys.exit(harness.main(__doc__.split("\n")[0], workloads))
