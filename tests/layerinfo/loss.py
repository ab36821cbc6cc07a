"""Layer cases: being written."""
from . import LayerCase, ints, normal  # noqa: F401

CASES = []
