"""Seconds per training epoch on Fashion-MNIST: Fathom vs PyTorch, same model, same run.

    cd benchmarks && python epochs.py [--models mlp,cnn,lstm,lenet5] [--repeat 1] [--limit N]
                                      [--batch-size N]

Each model is built by `fathom.vision.models` and mirrored in PyTorch with the same
weights; both train one epoch with Adam (lr 1e-3, batch 128; LeNet-5: batch 64) over the
same shuffled batches of the normalized training images, already in memory as tensors (no
DataLoader on either side, so the ratio is the framework's). Epochs are interleaved
(Fathom, PyTorch, Fathom, ...) with threads pinned equal.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import harness

from fathom.bench.twins import epoch_fn, twin

BATCH = {"lenet5": 64}


def load_fashion(limit):
    import numpy as np

    from fathom.vision import datasets
    ds = datasets.FashionMNIST(None, train=True)
    x = ((ds.data[:limit].astype(np.float32) / 255 - 0.2860) / 0.3530)[:, None]
    return np.ascontiguousarray(x), ds.targets[:limit].astype(np.int64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp,cnn,lstm,lenet5")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--limit", type=int, default=60000, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, help="for every model (default: 128; "
                        "LeNet-5: 64)")
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    import fathom
    from fathom.vision import models
    torch.set_num_threads(harness.THREADS)
    x, y = load_fashion(args.limit)
    order = np.random.default_rng(0).permutation(len(x))
    print(f"Fathom {fathom.__version__} vs PyTorch {torch.__version__}, {harness.THREADS} "
          f"threads, {len(x)} images per epoch")
    rows = []
    for name in args.models.split(","):
        fathom.manual_seed(0)
        f_model = models.get(name)
        t_model = twin(torch, name, f_model)
        batch = args.batch_size or BATCH.get(name, 128)
        f_run = epoch_fn(fathom, f_model, x, y, batch, order)
        t_run = epoch_fn(torch, t_model, x, y, batch, order)
        f_times, t_times = [], []
        for _ in range(args.repeat):
            for run, times in ((f_run, f_times), (t_run, t_times)):
                time.sleep(harness.SETTLE_S)
                times.append(harness.time_call(run, 1))
        f_s, t_s = statistics.median(f_times), statistics.median(t_times)
        rows.append((name, f_s, t_s))
        print(f"{name:<8} Fathom {f_s:7.2f} s/epoch   PyTorch {t_s:7.2f} s/epoch   "
              f"ratio {f_s / t_s:5.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
