"""The spiral classifier again, now written the PyTorch way: nn.Module, a loss module,
Adam, a warmup-then-cosine learning-rate schedule, gradient clipping and an EMA copy
of the weights. Swap `fathom` for `torch` in the imports and it runs unchanged.

Run: python examples/nn_classifier.py
"""
import time

import fathom
from fathom import nn, optim
from fathom.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from fathom.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def spiral(n_per_class=300, classes=3, noise=0.2, generator=None):
    """Interleaved spirals: not linearly separable, easy for an MLP."""
    xs, ys = [], []
    for c in range(classes):
        r = fathom.linspace(0.0, 1.0, n_per_class)
        theta = fathom.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) \
            + noise * fathom.randn(n_per_class, generator=generator)
        xs.append(fathom.stack([r * fathom.sin(theta), r * fathom.cos(theta)], dim=1))
        ys.append(fathom.full((n_per_class,), c))
    return fathom.cat(xs), fathom.cat(ys)


class MLP(nn.Module):
    def __init__(self, hidden=64, classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.body(x))


def main(steps=600, seed=0):
    fathom.manual_seed(seed)
    x, y = spiral(generator=fathom.Generator().manual_seed(seed))
    model = MLP()
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    warmup = 50
    sched = SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=warmup),
                               CosineAnnealingLR(opt, T_max=steps - warmup)], [warmup])
    start = time.perf_counter()
    for step in range(steps + 1):
        model.train()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
        opt.step()
        sched.step()
        ema.update_parameters(model)
        if step % 150 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}  lr {sched.get_last_lr()[0]:.5f}")
    seconds = time.perf_counter() - start
    model.eval()
    with fathom.no_grad():
        acc = (model(x).argmax(dim=1) == y).float().mean().item()
        ema_acc = (ema(x).argmax(dim=1) == y).float().mean().item()
    print(f"training accuracy {acc:.3f}, EMA weights {ema_acc:.3f} "
          f"({steps} steps in {seconds:.1f} s)")
    return acc


if __name__ == "__main__":
    main()
