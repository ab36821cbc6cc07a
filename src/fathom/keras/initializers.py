"""keras.initializers: Keras's weight initializers, by name or object.

An initializer is called with a Keras-layout shape, `init(shape, dtype=None)`, and
returns a float32 NumPy array drawn from Fathom's default generator (so
`fathom.manual_seed` makes it repeatable); a `seed` argument gives its own stream.
Fans follow Keras: for shape (..., fan_in_axis, fan_out_axis) the leading dims form
the receptive field. Layers convert the array to the PyTorch layout they store.

    >>> keras.initializers.get("glorot_uniform")((784, 256)).shape
    (784, 256)
"""
from __future__ import annotations

import math

import numpy as np

from ..random import default_generator

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
           "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal", "Identity", "get",
           "serialize", "deserialize"]


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    field = math.prod(shape[:-2])
    return shape[-2] * field, shape[-1] * field


class Initializer:
    """Base class: `__call__(shape, dtype=None) -> array`; `get_config()` is JSON data."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return default_generator.rng if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    """All zeros."""

    def __init__(self):
        super().__init__()

    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), np.float32)

    def get_config(self):
        return {}


class Ones(Zeros):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), np.float32)


class Constant(Initializer):
    """Every element `value`."""

    def __init__(self, value=0.0):
        super().__init__()
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return np.full(tuple(shape), self.value, np.float32)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """N(mean, stddev^2)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, tuple(shape)).astype(np.float32)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """U(minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, tuple(shape)).astype(np.float32)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated(rng, stddev, shape):
    """N(0, stddev^2) redrawn outside two standard deviations (Keras's truncated normal)."""
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2
    return (x * stddev).astype(np.float32)


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) truncated at two standard deviations."""

    def __call__(self, shape, dtype=None):
        return _truncated(self._rng(), self.stddev, tuple(shape)) + np.float32(self.mean)


class VarianceScaling(Initializer):
    """Variance `scale / n` with n the fan_in, fan_out or their mean (`mode`); distribution
    'truncated_normal', 'untruncated_normal' or 'uniform'."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg; "
                             f"got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"VarianceScaling: distribution must be truncated_normal, "
                             f"untruncated_normal or uniform; got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, shape).astype(np.float32)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(var), shape).astype(np.float32)
        # the constant is the stddev of a unit normal truncated at +-2 (Keras's correction)
        return _truncated(rng, math.sqrt(var) / 0.87962566103423978, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _scaling(name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    doc = f"VarianceScaling(scale={scale}, mode='{mode}', distribution='{distribution}')."
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                            "__doc__": doc})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times `gain`, for shape (..., cols) flattened to 2-D."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have at least 2 dims; got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # a uniform draw over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D shape; got {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain}


_CLASSES = {c.__name__: c for c in (Zeros, Ones, Constant, RandomNormal, RandomUniform,
                                     TruncatedNormal, VarianceScaling, GlorotUniform,
                                     GlorotNormal, HeNormal, HeUniform, LecunNormal,
                                     LecunUniform, Orthogonal, Identity)}
_ALIASES = {"zeros": "Zeros", "ones": "Ones", "constant": "Constant",
            "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
            "normal": "RandomNormal", "uniform": "RandomUniform",
            "truncated_normal": "TruncatedNormal", "variance_scaling": "VarianceScaling",
            "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
            "he_normal": "HeNormal", "he_uniform": "HeUniform", "lecun_normal": "LecunNormal",
            "lecun_uniform": "LecunUniform", "orthogonal": "Orthogonal", "identity": "Identity"}


def get(identifier) -> Initializer:
    """An initializer from a name ('glorot_uniform', 'GlorotUniform'), a config dict
    ({'class_name': ..., 'config': {...}}) or an Initializer (returned as is). Only the
    built-in names are accepted: nothing is imported."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name not in _CLASSES:
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r} "
                             f"(known: {', '.join(sorted(_ALIASES))})")
        return _CLASSES[name]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r} "
                     "(a name, a config dict or a keras.initializers.Initializer)")


def serialize(init: Initializer) -> dict:
    """{'class_name': ..., 'config': {...}}: JSON data naming a built-in class."""
    name = type(init).__name__
    if _CLASSES.get(name) is not type(init):
        raise ValueError(f"cannot serialize initializer {init!r}: only the built-in "
                         "keras.initializers classes can be saved")
    return {"class_name": name, "config": init.get_config()}


def deserialize(config: dict) -> Initializer:
    """The inverse of `serialize`; the class must be a built-in initializer."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if not isinstance(name, str) or _ALIASES.get(name, name) not in _CLASSES:
        raise ValueError(f"unknown initializer {name!r} (known: {', '.join(sorted(_CLASSES))})")
    kwargs = config.get("config", {})
    if not isinstance(kwargs, dict):
        raise ValueError(f"initializer {name!r}: 'config' must be a dict, got "
                         f"{type(kwargs).__name__}")
    try:
        return _CLASSES[_ALIASES.get(name, name)](**kwargs)
    except TypeError as e:
        raise ValueError(f"initializer {name!r}: bad config {kwargs!r} ({e})") from None
