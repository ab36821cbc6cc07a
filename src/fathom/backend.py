"""The array-library seam: the one module that chooses NumPy or CuPy.

Every op receives its array module as `ctx.xp` (from `namespace(array)`), so a
CuPy array flows through the same code. Nothing else in Fathom imports NumPy's
array functions for tensor data by another path.
"""
from __future__ import annotations

import os
import sys

# OpenBLAS's idle workers spin for 2^28 cycles (about 0.1 s) after each GEMM. With as many
# BLAS threads as cores they hold the core that Fathom's op threads (ops/_parallel.py)
# need for the copies and elementwise passes between GEMMs: splitting those passes then
# lost (CNN epoch 1.5 -> 1.7x PyTorch's). At 2^20 cycles (~0.3 ms) they still bridge the
# short gaps between an LSTM step's GEMMs, and yield in the long ones (CNN 1.5 -> 1.3x,
# ResNet-18 2.8 -> 2.3x; docs/benchmarks.md). OpenBLAS reads this once, when NumPy loads:
# it takes effect only when Fathom is imported first (a value you set is always kept).
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import numpy  # noqa: E402

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


# glibc returns every freed block above its mmap threshold (128 KiB, rising to at most
# 32 MiB) to the OS, so each training step faults its big temporaries (im2col columns,
# activations, gradients) back in page by page: about 2,600 faults a step for the CNN
# benchmark, and a no-grad LSTM forward took 34 ms against 11 ms with freed memory kept.
MMAP_THRESHOLD = 64 << 20   # blocks below this come from the heap and are reused
TRIM_THRESHOLD = 256 << 20  # free memory kept at the heap top before giving it back


def tune_malloc(environ=os.environ) -> bool:
    """Raise glibc's mmap and trim thresholds so freed large arrays are reused, not unmapped.

    Runs once at import. A process-wide setting (like `MALLOC_MMAP_THRESHOLD_`), so it is
    skipped when FATHOM_MALLOC_TUNE=0, when the user set glibc's own MALLOC_* variables or
    tunables, and on anything but Linux with glibc. Up to TRIM_THRESHOLD of freed memory
    stays with the process (the CNN benchmark epoch's peak grew by 22 MiB, to 168 MiB).
    Returns whether it applied.
    """
    if environ.get("FATHOM_MALLOC_TUNE", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    if any(k in environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                  "GLIBC_TUNABLES")):
        return False
    import ctypes  # noqa: PLC0415 - only needed here, once

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl, or no libc.so.6
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and \
        bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))


MALLOC_TUNED = tune_malloc()


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
