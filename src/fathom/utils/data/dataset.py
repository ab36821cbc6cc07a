"""Datasets: map-style `Dataset`, `IterableDataset`, and the wrappers `TensorDataset`,
`Subset`, `ConcatDataset`, `ChainDataset`, plus `random_split`."""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np

from ...random import randperm
from ...tensor import Tensor, _make


class Dataset:
    """A map from keys (usually ints) to samples; subclasses define `__getitem__`.

    They may also define `__len__` (needed by the default samplers) and
    `__getitems__(indices) -> list of samples`, which the DataLoader calls
    instead of one `__getitem__` per index when present.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples; subclasses define `__iter__`.

    With `num_workers > 0` every worker iterates its own copy of the dataset;
    use `get_worker_info()` inside `__iter__` to split the work between them.
    """

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


def _row(t, index):
    """`t[index]` for a Tensor or an array, skipping the autograd op for plain data."""
    if isinstance(t, Tensor):
        if t.requires_grad:
            return t[index]
        # `, ...` keeps a 0-d result an array (NumPy would hand back a scalar)
        return _make(t.data[index, ...], None, 0, None)
    return t[index]


class _Rows(Sequence):
    """The samples `[dataset[i] for i in indices]` of a TensorDataset, made only when read.

    It is the list of samples that `__getitems__` promises (len, indexing,
    iteration), but `default_collate` gathers each tensor with one fancy index
    instead of stacking one row per sample.
    """

    __slots__ = ("tensors", "indices")

    def __init__(self, tensors, indices):
        self.tensors = tensors
        self.indices = indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        return tuple(_row(t, self.indices[k]) for t in self.tensors)

    def __repr__(self):
        return repr(list(self))

    def gather(self):
        """The collated batch: each tensor indexed with all indices at once."""
        idx = np.asarray(self.indices, dtype=np.int64)
        return [_make(t.data[idx], None, 0, None) if isinstance(t, Tensor) and
                not t.requires_grad else _collate_one(t, idx) for t in self.tensors]


def _collate_one(t, idx):
    from ...creation import as_tensor  # noqa: PLC0415
    if isinstance(t, Tensor):
        return t[idx]
    return as_tensor(np.asarray(t)[idx])


class TensorDataset(Dataset):
    """Samples are `tuple(t[i] for t in tensors)`; all tensors share their first dimension.

    >>> ds = TensorDataset(fathom.randn(10, 3), fathom.arange(10))
    >>> x, y = ds[0]   # x: (3,), y: ()
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            sizes = [len(t) for t in tensors]
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple([_row(t, index) for t in self.tensors])

    def __getitems__(self, indices) -> _Rows:
        return _Rows(self.tensors, indices)

    def __len__(self) -> int:
        return len(self.tensors[0])


class ConcatDataset(Dataset):
    """The datasets one after another: indices 0..len(a)-1 are `a`, then `b`, ..."""

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets chained one after another (lazily)."""

    def __init__(self, datasets) -> None:
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of `dataset` at `indices`: `Subset(ds, [4, 2])[1] is ds[2]`."""

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset, lengths: Sequence, generator=None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    `lengths` may be fractions summing to 1: each split gets
    floor(frac * len(dataset)) items, and the remainder is handed out one by
    one, round-robin from the first split (PyTorch's rule).

    >>> a, b = random_split(range(10), [0.7, 0.3], generator=fathom.Generator().manual_seed(0))
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. "
                              f"This might result in an empty dataset.", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset! "
                         f"(lengths {list(lengths)} sum to {sum(lengths)}, dataset has {n})")
    perm = randperm(sum(lengths), generator=generator).tolist()
    return [Subset(dataset, perm[end - size:end])
            for end, size in zip(itertools.accumulate(lengths), lengths)]
