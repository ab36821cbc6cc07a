"""PyTorch 2.x's device-agnostic accelerator API: CUDA through CuPy when present."""
from __future__ import annotations

from . import backend


def is_available() -> bool:
    """True when CuPy sees an NVIDIA GPU."""
    return backend.cuda_available()


def current_accelerator():
    """device('cuda') when a GPU is usable, else None (as in PyTorch)."""
    return backend.device("cuda") if is_available() else None


def device_count() -> int:
    return 1 if is_available() else 0
