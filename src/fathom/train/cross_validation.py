"""k-fold cross-validation on top of `Trainer`: per-fold metrics, their mean and std.

    >>> result = cross_validate(lambda: fathom.nn.Linear(4, 3), dataset, k=5)  # doctest: +SKIP
    >>> print(result)                                                          # doctest: +SKIP
    5-fold cross-validation
    fold 1: loss 0.9812 accuracy 0.6000
    ...
    mean +- std: loss 0.9644 +- 0.0312, accuracy 0.6125 +- 0.0433
"""
from __future__ import annotations

from .. import backend
from .trainer import Trainer

_np = backend.np


class CVResult:
    """`folds`: one dict of validation metrics per fold ('loss' and the metric names);
    `mean` and `std` (population std, ddof=0, as sklearn's reports): dicts over the keys;
    `histories`: each fold's `History`."""

    def __init__(self, folds: list, histories: list):
        self.folds = folds
        self.histories = histories
        keys = [k for k in folds[0] if all(_is_number(f.get(k)) for f in folds)]
        self.mean = {k: float(_np.mean([f[k] for f in folds])) for k in keys}
        self.std = {k: float(_np.std([f[k] for f in folds])) for k in keys}

    def __getitem__(self, key):
        return {"folds": self.folds, "mean": self.mean, "std": self.std}[key]

    def __str__(self):
        lines = [f"{len(self.folds)}-fold cross-validation"]
        for i, f in enumerate(self.folds):
            lines.append(f"fold {i + 1}: " + " ".join(f"{k} {f[k]:.4f}" for k in self.mean))
        lines.append("mean +- std: " + ", ".join(f"{k} {self.mean[k]:.4f} +- {self.std[k]:.4f}"
                                                 for k in self.mean))
        return "\n".join(lines)

    __repr__ = __str__


def _is_number(v) -> bool:
    return isinstance(v, (int, float, _np.floating, _np.integer))


def cross_validate(model_fn, dataset, k: int = 5, *, epochs: int = 1, batch_size: int = 64,
                   optimizer_fn=None, loss_fn=None, metrics=("accuracy",), stratified=True,
                   seed: int = 0, targets=None, num_workers: int = 0, callbacks_fn=None,
                   trainer_kwargs=None, progress: bool = False) -> CVResult:
    """Train a fresh model on k-1 folds and evaluate it on the held-out fold, k times.

    Args:
        model_fn: `model_fn() -> Module`, called once per fold.
        dataset: a map-style dataset.
        k: the number of folds.
        optimizer_fn: `optimizer_fn(parameters) -> Optimizer` (default Adam, lr 1e-3).
        loss_fn: default `CrossEntropyLoss()`.
        metrics: as `Trainer`'s.
        stratified: `StratifiedKFold` (class proportions kept per fold; targets from
            `targets`, else `dataset.targets`, else read from the samples) or `KFold`.
        seed: shuffles the folds (`random_state=seed`) and seeds fathom with `seed + fold`
            before building each fold's model, so the run repeats exactly.
        callbacks_fn: `callbacks_fn(fold) -> list` of callbacks for that fold.
        trainer_kwargs: more `Trainer` arguments (clip_grad_norm, ema_decay, ...).
    Returns a `CVResult` (`folds`, `mean`, `std`).
    """
    from .. import nn, optim  # noqa: PLC0415
    from ..random import manual_seed  # noqa: PLC0415
    from ..utils.data import DataLoader, KFold, StratifiedKFold  # noqa: PLC0415
    if int(k) < 2:
        raise ValueError(f"cross_validate: k must be at least 2, got {k}")
    if stratified:
        if targets is None and getattr(dataset, "targets", None) is None:
            targets = [_label(dataset[i]) for i in range(len(dataset))]
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        splits = splitter.split(dataset, targets)
    else:
        splits = KFold(n_splits=k, shuffle=True, random_state=seed).split(dataset)
    folds, histories = [], []
    for fold, (train_set, val_set) in enumerate(splits):
        manual_seed(seed + fold)
        model = model_fn()
        opt = optimizer_fn(model.parameters()) if optimizer_fn is not None else \
            optim.Adam(model.parameters(), lr=1e-3)
        trainer = Trainer(model, opt, loss_fn if loss_fn is not None else nn.CrossEntropyLoss(),
                          metrics=metrics,
                          callbacks=callbacks_fn(fold) if callbacks_fn is not None else (),
                          progress=progress, **(trainer_kwargs or {}))
        train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                  num_workers=num_workers)
        val_loader = DataLoader(val_set, batch_size=batch_size, num_workers=num_workers)
        histories.append(trainer.fit(train_loader, epochs))
        folds.append(trainer.evaluate(val_loader))
    return CVResult(folds, histories)


def _label(sample):
    y = sample[1] if isinstance(sample, (tuple, list)) else sample
    return int(y.item() if hasattr(y, "item") else y)
