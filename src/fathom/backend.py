"""The array-library seam: the one module that chooses NumPy or CuPy.

Every op receives its array module as `ctx.xp` (from `namespace(array)`), so a
CuPy array flows through the same code. Nothing else in Fathom imports NumPy's
array functions for tensor data by another path.
"""
from __future__ import annotations

import numpy

np = numpy  # the host namespace: CPU tensors, and host-side bookkeeping everywhere
ndarray = numpy.ndarray
_cupy = None
_cupy_checked = False


def _load_cupy():
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: PLC0415 - optional, imported on first GPU use only
            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
        except Exception:  # no CuPy, no driver or no device: CPU only
            _cupy = None
    return _cupy


def namespace(array):
    """The array module (numpy or cupy) that owns `array`."""
    if type(array) is ndarray or not hasattr(array, "__cuda_array_interface__"):
        return numpy
    return _load_cupy()


def cuda_available() -> bool:
    return _load_cupy() is not None


class device:
    """A device like PyTorch's: `device('cpu')`, `device('cuda')`, `device('cuda', 0)`."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        elif ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda', got {type!r}")
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and \
            (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def device_of(array) -> device:
    return CPU if namespace(array) is numpy else device("cuda", array.device.id)


def to_device(array, dev) -> object:
    """Copy `array` to device `dev` (a no-op when it is already there)."""
    dev = device(dev) if not isinstance(dev, device) else dev
    if dev.type == "cpu":
        return array if namespace(array) is numpy else array.get()
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError("to('cuda'): CuPy with a visible NVIDIA GPU is required "
                           "(pip install cupy-cuda12x); none was found")
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(array)
