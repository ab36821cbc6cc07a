"""A small training run driven by tests/test_train_resume.py in a subprocess.

Synthetic 4-class data, an MLP with dropout (so the RNG matters), SGD with momentum, a
StepLR scheduler, EarlyStopping (never triggering) and a ModelCheckpoint in --dir. At the
end it writes the final weights to --out (.npz) and prints one line 'RESULT {...}'.

    python tests/train_script.py --dir D --out w.npz [--workers 2] [--resume true]
        [--sleep 0.01] [--kill-self SIGTERM@7] [--noise]
"""
import argparse
import json
import os
import signal
import sys
import time

import numpy as np

import fathom
from fathom.train import EarlyStopping, LambdaCallback, ModelCheckpoint, Trainer
from fathom.utils.data import DataLoader, Dataset, TensorDataset


class NoisyDataset(Dataset):
    """Adds fathom.randn noise per sample: a random transform (drawn in the worker)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * fathom.randn(self.x.shape[1]), self.y[i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--kill-self", default=None, help="SIGNAL@global_batch")
    ap.add_argument("--noise", action="store_true")
    ap.add_argument("--ema", action="store_true")
    args = ap.parse_args()

    rng = np.random.default_rng(123)
    w = rng.standard_normal((10, 4))
    x = rng.standard_normal((384, 10)).astype(np.float32)
    y = np.argmax(x @ w + 0.5 * rng.standard_normal((384, 4)), axis=1)
    xv = rng.standard_normal((64, 10)).astype(np.float32)
    yv = np.argmax(xv @ w, axis=1)
    fathom.manual_seed(args.seed)
    xt, yt = fathom.tensor(x), fathom.tensor(y)
    train_set = NoisyDataset(xt, yt) if args.noise else TensorDataset(xt, yt)
    loader = DataLoader(train_set, batch_size=16, shuffle=True, num_workers=args.workers)
    val_loader = DataLoader(TensorDataset(fathom.tensor(xv), fathom.tensor(yv)), batch_size=32)

    net = fathom.nn.Sequential(fathom.nn.Linear(10, 32), fathom.nn.ReLU(), fathom.nn.Dropout(0.3),
                               fathom.nn.Linear(32, 4))
    opt = fathom.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    sched = fathom.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    batches = [0]

    def on_batch_end(batch, logs):
        batches[0] += 1
        if args.kill_self:
            name, at = args.kill_self.split("@")
            if batches[0] == int(at):
                os.kill(os.getpid(), getattr(signal, name))
        if args.sleep:
            time.sleep(args.sleep)

    def on_epoch_end(epoch, logs):
        print(f"EPOCH_END {epoch + 1}", flush=True)

    callbacks = [ModelCheckpoint(args.dir), EarlyStopping(monitor="val_loss", patience=100),
                 LambdaCallback(on_train_begin=lambda logs: print("STARTED", flush=True),
                                on_train_batch_end=on_batch_end, on_epoch_end=on_epoch_end)]
    trainer = Trainer(net, opt, fathom.nn.CrossEntropyLoss(), metrics=["accuracy"],
                      scheduler=sched, callbacks=callbacks, progress=False,
                      ema_decay=0.9 if args.ema else None)
    resume = {"true": True, None: None}.get(args.resume, args.resume)
    history = trainer.fit(loader, args.epochs, val_loader=val_loader, resume=resume)
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    if trainer.ema_model is not None:
        weights.update({"ema." + k: v.numpy() for k, v in trainer.ema_model.state_dict().items()})
    np.savez(args.out, **weights)
    print("RESULT " + json.dumps({"interrupted": history.interrupted, "epoch": trainer.epoch,
                                  "step": trainer.step, "history": history.history,
                                  "epochs": history.epoch}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
