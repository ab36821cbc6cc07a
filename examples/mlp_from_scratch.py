"""A 2-layer MLP trained by a hand-written SGD loop on a synthetic 3-class spiral.

Everything is Fathom's engine: tensors, autograd and a few ops; no nn.Module,
no optimizer class. Run: python examples/mlp_from_scratch.py
"""
import math
import time

import fathom


def spiral(n_per_class=300, classes=3, noise=0.2, generator=None):
    """The classic interleaved spirals: not linearly separable, easy for an MLP."""
    xs, ys = [], []
    for c in range(classes):
        r = fathom.linspace(0.0, 1.0, n_per_class)
        theta = fathom.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) \
            + noise * fathom.randn(n_per_class, generator=generator)
        xs.append(fathom.stack([r * fathom.sin(theta), r * fathom.cos(theta)], dim=1))
        ys.append(fathom.full((n_per_class,), c))
    return fathom.cat(xs), fathom.cat(ys)


def cross_entropy(logits, targets):
    """Mean negative log-likelihood of the targets under softmax(logits), computed stably."""
    shifted = logits - logits.max(dim=1, keepdim=True).values.detach()
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[fathom.arange(len(targets)), targets].mean()


def main(steps=2000, hidden=100, lr=1.0, seed=0):
    gen = fathom.Generator().manual_seed(seed)
    x, y = spiral(generator=gen)

    # He initialisation for the ReLU layer, small weights for the output layer
    w1 = (fathom.randn(2, hidden, generator=gen) * math.sqrt(2 / 2)).requires_grad_()
    b1 = fathom.zeros(hidden, requires_grad=True)
    w2 = (fathom.randn(hidden, 3, generator=gen) * 0.01).requires_grad_()
    b2 = fathom.zeros(3, requires_grad=True)
    params = [w1, b1, w2, b2]

    start = time.perf_counter()
    for step in range(steps + 1):
        logits = (x @ w1 + b1).relu() @ w2 + b2
        loss = cross_entropy(logits, y)
        for p in params:
            p.grad = None
        loss.backward()
        with fathom.no_grad():
            for p in params:
                p -= lr * p.grad          # plain gradient descent, in place
        if step % 500 == 0:
            acc = (logits.argmax(dim=1) == y).float().mean().item()
            print(f"step {step:5d}  loss {loss.item():.4f}  train accuracy {acc:.3f}")
    seconds = time.perf_counter() - start

    with fathom.no_grad():
        acc = (((x @ w1 + b1).relu() @ w2 + b2).argmax(dim=1) == y).float().mean().item()
    print(f"final training accuracy: {acc:.3f} ({steps} steps in {seconds:.1f} s)")
    return acc


if __name__ == "__main__":
    main()
