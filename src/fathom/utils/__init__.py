"""Utilities in PyTorch's layout: `fathom.utils.data` (datasets, samplers, DataLoader)."""
from . import data  # noqa: F401
