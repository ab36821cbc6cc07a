"""K-fold cross-validation splits of a dataset into `Subset`s, with scikit-learn's fold
assignment (the same folds as `sklearn.model_selection.KFold` / `StratifiedKFold` for
the same arguments, including `shuffle=True` with an integer `random_state`)."""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ...tensor import Tensor
from .dataset import Subset


def _random_state(seed):
    """scikit-learn's check_random_state: None -> NumPy's global RandomState."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")


class _BaseKFold:
    def __init__(self, n_splits=5, shuffle=False, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
            raise ValueError(f"The number of folds must be of Integral type. {n_splits} of type "
                             f"{type(n_splits)} was passed.")
        if n_splits <= 1:
            raise ValueError(f"k-fold cross-validation requires at least one train/test split by "
                             f"setting n_splits=2 or more, got n_splits={n_splits}.")
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False; got {shuffle}")
        if not shuffle and random_state is not None:
            raise ValueError("Setting a random_state has no effect since shuffle is False. You "
                             "should leave random_state to its default (None), or set "
                             "shuffle=True.")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, dataset=None, targets=None) -> int:
        return self.n_splits

    def split(self, dataset, targets=None):
        """Yield `(train_subset, val_subset)` for each fold; indices inside each are sorted."""
        n = len(dataset)
        if self.n_splits > n:
            raise ValueError(f"Cannot have number of splits n_splits={self.n_splits} greater "
                             f"than the number of samples: n_samples={n}.")
        folds = self._test_folds(dataset, targets, n)
        for k in range(self.n_splits):
            val = folds == k
            yield (Subset(dataset, np.flatnonzero(~val).tolist()),
                   Subset(dataset, np.flatnonzero(val).tolist()))

    def __repr__(self):
        return (f"{type(self).__name__}(n_splits={self.n_splits}, "
                f"random_state={self.random_state!r}, shuffle={self.shuffle})")


class KFold(_BaseKFold):
    """k consecutive folds (after one shuffle when `shuffle=True`); each is the
    validation set once. The first `n % k` folds get one extra sample.

    >>> [len(v) for _, v in KFold(3).split(range(10))]
    [4, 3, 3]
    """

    def _test_folds(self, dataset, targets, n):
        order = np.arange(n)
        if self.shuffle:
            _random_state(self.random_state).shuffle(order)
        sizes = np.full(self.n_splits, n // self.n_splits, dtype=np.int64)
        sizes[:n % self.n_splits] += 1
        folds = np.empty(n, dtype=np.int64)
        folds[order] = np.repeat(np.arange(self.n_splits), sizes)
        return folds


class StratifiedKFold(_BaseKFold):
    """Folds that keep each class's share: like KFold, but per class.

    Targets come from `split(dataset, targets)` or else `dataset.targets`.
    """

    def _test_folds(self, dataset, targets, n):
        if targets is None:
            targets = getattr(dataset, "targets", None)
            if targets is None:
                raise ValueError("StratifiedKFold.split: pass targets=..., or use a dataset "
                                 "with a .targets attribute")
        y = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"StratifiedKFold.split: targets must be 1-D with one label per "
                             f"sample; got shape {y.shape} for {n} samples")
        if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
            raise ValueError("Supported target types are: ('binary', 'multiclass'). Got "
                             "'continuous' instead.")
        rng = _random_state(self.random_state)
        # classes numbered by first appearance, as scikit-learn does
        _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
        _, class_perm = np.unique(first, return_inverse=True)
        encoded = class_perm[inverse.reshape(-1)]
        n_classes = len(first)
        counts = np.bincount(encoded)
        if np.all(self.n_splits > counts):
            raise ValueError(f"n_splits={self.n_splits} cannot be greater than the number of "
                             f"members in each class.")
        if self.n_splits > counts.min():
            warnings.warn(f"The least populated class in y has only {counts.min()} members, "
                          f"which is less than n_splits={self.n_splits}.", UserWarning,
                          stacklevel=3)
        # samples per class per fold: deal the sorted labels round robin over the folds
        ordered = np.sort(encoded)
        allocation = np.asarray([np.bincount(ordered[i::self.n_splits], minlength=n_classes)
                                 for i in range(self.n_splits)])
        folds = np.empty(n, dtype=np.int64)
        for c in range(n_classes):
            per_class = np.arange(self.n_splits).repeat(allocation[:, c])
            if self.shuffle:
                rng.shuffle(per_class)
            folds[encoded == c] = per_class
        return folds
