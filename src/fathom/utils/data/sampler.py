"""Samplers: which dataset indices a DataLoader visits, and in what order.

A sampler's `__iter__` draws all the randomness it needs for the pass when it
is called (PyTorch draws at the first `next`); the DataLoader relies on this
to replay a pass exactly when it resumes from a `state_dict`.
"""
from __future__ import annotations

import itertools

import numpy as np

from ... import random as _random
from ...tensor import Tensor


def _draw_seed(generator=None) -> int:
    """A fresh 63-bit seed from `generator` (default: fathom's global generator)."""
    return int(_random._rng(generator).integers(0, 2 ** 63 - 1))


def _check_positive_int(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


class Sampler:
    """Base class: subclasses define `__iter__` over indices (and usually `__len__`)."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices, or `num_samples` draws with replacement.

    Without a generator each pass seeds a private generator from fathom's
    global RNG, so `fathom.manual_seed` fixes the order of every epoch.
    Without replacement and `num_samples > len(data_source)`, whole
    permutations are chained (PyTorch's rule).
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        _check_positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        gen = self.generator
        if gen is None:
            gen = _random.Generator().manual_seed(_draw_seed())
        m = self.num_samples
        rng = gen.rng
        if self.replacement:
            # drawn in chunks of 32 like PyTorch, so a long pass costs little up front
            return _chunks(lambda k: rng.integers(0, n, size=k).tolist(), m, 32)
        return _chunks(lambda k: rng.permutation(n)[:k].tolist(), m, n)

    def __len__(self) -> int:
        return self.num_samples


def _chunks(draw, total, size):
    """Yield `total` indices, drawing `size` at a time with `draw(k)`; the first draw is eager."""
    first = draw(min(size, total))

    def run():
        yield from first
        left = total - len(first)
        while left > 0:
            k = min(size, left)
            yield from draw(k)
            left -= k
    return run()


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new order each pass)."""

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = _random._rng(self.generator).permutation(len(self.indices)).tolist()
        return (self.indices[i] for i in order)

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probability proportional to `weights` (N,)."""

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        _check_positive_int("num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights.data if isinstance(weights, Tensor) else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all():
            raise ValueError("weights should be finite and non-negative")
        if w.sum() <= 0:
            raise ValueError("weights should have at least one positive value")
        if not replacement and num_samples > (w > 0).sum():
            raise ValueError(f"cannot draw num_samples={num_samples} indices without "
                             f"replacement from {(w > 0).sum()} positive weights")
        self.weights = _as_tensor(w)
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = self.weights.data
        rng = _random._rng(self.generator)
        idx = rng.choice(w.size, size=self.num_samples, replace=self.replacement, p=w / w.sum())
        return iter(idx.tolist())

    def __len__(self) -> int:
        return self.num_samples


def _as_tensor(arr):
    from ...creation import from_numpy  # noqa: PLC0415
    return from_numpy(arr)


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size`.

    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        _check_positive_int("batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)  # eager, so the sampler's draws happen now
        return self._batches(it)

    def _batches(self, it):
        size = self.batch_size
        if self.drop_last:
            for batch in zip(*[it] * size):
                yield [*batch]
        else:
            batch = [*itertools.islice(it, size)]
            while batch:
                yield batch
                batch = [*itertools.islice(it, size)]

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
