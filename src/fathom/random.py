"""Random numbers: generators, seeding, and the random creation functions.

A `Generator` wraps NumPy's PCG64 bit generator, so a seed gives the same
numbers on every run and platform. The numbers differ from PyTorch's for the
same seed (different algorithms); the distributions are the same.
"""
from __future__ import annotations

import json

import numpy as _np

from . import dtypes as _dt
from .creation import _place, _size
from .tensor import Tensor, _make


class Generator:
    """A random-number stream: `g = fathom.Generator().manual_seed(0)`."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721  # PyTorch's default seed
        self.rng = _np.random.Generator(_np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.rng = _np.random.Generator(_np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        s = int(_np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The generator state as a uint8 tensor (JSON bytes), for checkpoints."""
        state = {"seed": self._seed, "bit_generator": self.rng.bit_generator.state}
        raw = json.dumps(state, default=int).encode()
        return _make(_np.frombuffer(raw, dtype=_np.uint8).copy(), None, 0, None)

    def set_state(self, state: Tensor) -> Generator:
        data = json.loads(bytes(_np.asarray(state.data if isinstance(state, Tensor) else state,
                                            dtype=_np.uint8)))
        self._seed = data["seed"]
        self.rng.bit_generator.state = data["bit_generator"]
        return self


default_generator = Generator()


def _rng(generator):
    return (generator or default_generator).rng


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and NumPy's global one, for user code that uses it)."""
    _np.random.seed(int(seed) % (2 ** 32))
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def _float_dtype(dtype):
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if not d.is_floating_point:
        raise TypeError(f"expected a floating dtype, got {d}")
    return d.np


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    dt = _float_dtype(dtype)
    gen_dt = dt if dt in (_np.float32, _np.float64) else _np.float32
    arr = _rng(generator).random(_size(size), dtype=gen_dt).astype(dt, copy=False)
    return _place(arr, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal."""
    dt = _float_dtype(dtype)
    gen_dt = dt if dt in (_np.float32, _np.float64) else _np.float32
    arr = _rng(generator).standard_normal(_size(size), dtype=gen_dt).astype(dt, copy=False)
    return _place(arr, device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high): `randint(10, (3,))` or `randint(2, 10, (3,))`."""
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dt = _dt.as_dtype(dtype).np if dtype is not None else _np.int64
    arr = _rng(generator).integers(low, high, size=tuple(size), dtype=_np.int64).astype(dt)
    return _place(arr, device, False)


def randperm(n: int, *, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    dt = _dt.as_dtype(dtype).np if dtype is not None else _np.int64
    return _place(_rng(generator).permutation(int(n)).astype(dt), device, False)


def rand_like(input, generator=None, dtype=None) -> Tensor:
    return rand(tuple(input.shape), generator=generator, dtype=dtype or input.dtype)


def randn_like(input, generator=None, dtype=None) -> Tensor:
    return randn(tuple(input.shape), generator=generator, dtype=dtype or input.dtype)


def randint_like(input, low=0, high=None, generator=None, dtype=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None) -> Tensor:
    """Samples of N(mean, std); mean and std may be tensors (broadcast)."""
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    shape = tuple(size) if size is not None else _np.broadcast_shapes(_np.shape(m), _np.shape(s))
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dt = _float_dtype(dtype or (ref.dtype if ref is not None else None))
    z = _rng(generator).standard_normal(shape)
    return _place((m + s * z).astype(dt), None, False)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability `input` (elementwise), else 0; same dtype as input."""
    probs = input.data if p is None else _np.full(input.data.shape, p)
    if (probs < 0).any() or (probs > 1).any():
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    draws = _rng(generator).random(input.data.shape) < probs
    return _place(draws.astype(input.data.dtype), None, False)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Indices sampled from the rows of `input` (non-negative weights)."""
    w = _np.asarray(input.data, dtype=_np.float64)
    rows = w.reshape(-1, w.shape[-1])
    if (rows < 0).any() or not _np.isfinite(rows).all():
        raise ValueError("multinomial: weights must be finite and non-negative")
    rng = _rng(generator)
    out = _np.empty((rows.shape[0], num_samples), dtype=_np.int64)
    for r, row in enumerate(rows):
        total = row.sum()
        if total <= 0:
            raise ValueError(f"multinomial: row {r} has no positive weight")
        if not replacement and num_samples > (row > 0).sum():
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from {(row > 0).sum()} categories")
        out[r] = rng.choice(row.size, size=num_samples, replace=replacement, p=row / total)
    return _place(out.reshape(w.shape[:-1] + (num_samples,)), None, False)


# --- in-place fills (Tensor.normal_ / uniform_ / bernoulli_) ---------------------------------

def _fill(t, values):
    from .autograd.grad_mode import no_grad  # noqa: PLC0415
    with no_grad():
        t.data[...] = values.astype(t.data.dtype, copy=False)
    t._vc[0] += 1
    return t


def normal_(t, mean=0.0, std=1.0, generator=None):
    return _fill(t, mean + std * _rng(generator).standard_normal(t.data.shape))


def uniform_(t, a=0.0, b=1.0, generator=None):
    return _fill(t, _rng(generator).uniform(a, b, t.data.shape))


def bernoulli_(t, p=0.5, generator=None):
    return _fill(t, (_rng(generator).random(t.data.shape) < p))
