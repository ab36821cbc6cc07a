"""DataLoader overhead: one epoch over a 60000x784 float32 TensorDataset (+ int64 targets),
batch 128, shuffled, Fathom vs PyTorch on the same data, interleaved in one run.

    cd benchmarks && python data_loader.py [num_workers]
"""
import sys

import harness  # noqa: E402  (pins BLAS threads first; run from benchmarks/)
import numpy as np  # noqa: E402
import torch  # noqa: E402

import fathom  # noqa: E402
from fathom.utils.data import DataLoader, TensorDataset  # noqa: E402

torch.set_num_threads(harness.THREADS)
rng = np.random.default_rng(0)
X = rng.random((60000, 784), dtype=np.float32)
Y = rng.integers(0, 10, 60000)


class NoGetitems(TensorDataset):
    __getitems__ = None  # what the DataLoader sees for a dataset without the fast path


def epoch(loader):
    def run():
        for _ in loader:
            pass
    return run


def main():
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    fx, fy = fathom.from_numpy(X), fathom.from_numpy(Y)
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
    kw = dict(batch_size=128, shuffle=True, num_workers=workers,
              persistent_workers=workers > 0)
    t_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(tx, ty), **kw)
    rows = [("__getitems__", DataLoader(TensorDataset(fx, fy), **kw)),
            ("per sample", DataLoader(NoGetitems(fx, fy), **kw))]
    print(f"one epoch, 60000x784 float32, batch 128, shuffle, num_workers={workers}")
    for name, f_loader in rows:
        r = harness.compare(epoch(f_loader), epoch(t_loader), repeat=5, target_s=0.3)
        print(f"  fathom {name:13s} {r['fathom_s'] * 1e3:8.1f} ms   torch {r['peer_s'] * 1e3:8.1f}"
              f" ms   ratio {r['ratio']:.3f}")


if __name__ == "__main__":
    main()
