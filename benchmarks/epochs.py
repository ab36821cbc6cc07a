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

BATCH = {"lenet5": 64}


def torch_model(torch, name):
    """The PyTorch twin of fathom.vision.models.<name> (same layers, same state-dict keys)."""
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                             nn.ReLU(), nn.Linear(128, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(128, 10))
    if name == "lenet5":
        F = nn.functional

        class LeNet5(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
                self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), \
                    nn.Linear(84, 10)

            def forward(self, x):
                x = F.pad(x, (2, 2, 2, 2)) if x.shape[2] == 28 else x
                x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
                return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
        return LeNet5()
    if name == "lstm":
        class RowLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(28, 128, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, x):
                out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
                return self.fc(out[:, -1])
        return RowLSTM()
    raise ValueError(name)


def load_fashion(limit):
    import numpy as np

    from fathom.vision import datasets
    ds = datasets.FashionMNIST(None, train=True)
    x = ((ds.data[:limit].astype(np.float32) / 255 - 0.2860) / 0.3530)[:, None]
    return np.ascontiguousarray(x), ds.targets[:limit].astype(np.int64)


def epoch_fn(lib, model, x, y, batch, order):
    """One epoch of Adam steps over x[order] in batches; lib is fathom or torch."""
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    xs, ys = lib.from_numpy(x), lib.from_numpy(y)
    starts = range(0, len(order), batch)
    index = [lib.from_numpy(order[s:s + batch]) for s in starts]

    def run():
        model.train()
        for idx in index:
            loss = loss_fn(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.detach())
    return run


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
        t_model = torch_model(torch, name)
        t_model.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                 for k, v in f_model.state_dict().items()})
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
