"""Fathom's dtypes and PyTorch's type-promotion rules.

A `dtype` wraps a NumPy dtype and prints like PyTorch's (`fathom.float32`).
Promotion follows PyTorch, not NumPy: operands fall into three tiers (tensors
with dimensions, 0-d tensors, Python numbers) and a lower tier only changes the
result when it is of a higher category (bool < integer < floating). So
`int64 tensor + 2.5` is float32 (the default float), `float32 tensor + float64
0-d tensor` stays float32, and `int32 + float32` is float32 (NumPy says float64).
"""
from __future__ import annotations

import numpy as np

__all__ = ["dtype", "float32", "float64", "float16", "int64", "int32", "int16", "int8",
           "uint8", "bool", "get_default_dtype", "set_default_dtype", "result_type"]

import builtins

_builtin_bool = builtins.bool
_py_float = builtins.float
_py_int = builtins.int


class dtype:
    """A tensor element type. Compare with `is` or `==`; `.np` is the NumPy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"fathom.{self.name}"

    def __reduce__(self):  # dtypes are singletons, even across processes
        return (_by_name, (self.name,))


float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
float16 = dtype("float16", np.float16)
int64 = dtype("int64", np.int64)
int32 = dtype("int32", np.int32)
int16 = dtype("int16", np.int16)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)  # noqa: A001 - PyTorch's name

# PyTorch aliases
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

_ALL = (float32, float64, float16, int64, int32, int16, int8, uint8, bool)
_FROM_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_default_float = float32


def _by_name(name):
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The Fathom dtype of a NumPy dtype; raises TypeError for unsupported ones."""
    d = _FROM_NP.get(np_dtype)
    if d is None:
        d = _FROM_NP.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(f"fathom: NumPy dtype {np.dtype(np_dtype)} is not supported; "
                            f"supported: {', '.join(x.name for x in _ALL)}")
    return d


def as_dtype(d) -> dtype:
    """Normalize any accepted spelling of a dtype to a Fathom dtype."""
    if type(d) is dtype:
        return d
    if d is _py_float:
        return _default_float
    if d is _py_int:
        return int64
    if d is _builtin_bool:
        return bool
    return from_numpy_dtype(np.dtype(d))


def get_default_dtype() -> dtype:
    """The dtype of floating tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d) -> None:
    """Set the default floating dtype (float32 or float64), as torch.set_default_dtype."""
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_float = d


# --- promotion ---------------------------------------------------------------

def _category(npd) -> int:
    k = npd.kind
    return 2 if k == "f" else (0 if k == "b" else 1)


def _promote_pair(a, b):
    """PyTorch's promotion of two NumPy dtypes of any tier (None = nothing yet)."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca == 2 or cb == 2:
        if ca != cb:  # integer/bool with float: the float type wins (NumPy would widen)
            return a if ca == 2 else b
        return a if a.itemsize >= b.itemsize else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """PyTorch's combine_categories: a lower tier only matters when it is of a higher category."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return _promote_pair(higher, lower)
    return higher


def _scalar_np_dtype(x):
    t = type(x)
    if t is _builtin_bool or t is np.bool_:
        return bool.np
    if t is _py_int:
        return int64.np
    if t is _py_float:
        return _default_float.np
    if isinstance(x, np.generic):  # a NumPy scalar acts like a 0-d tensor of its type
        return None
    raise TypeError(f"unsupported scalar type {t.__name__}")


def result_type(*operands) -> np.dtype:
    """PyTorch's result dtype for raw operands: arrays (by ndim tier) and Python numbers."""
    dim = zero = wrapped = None
    for x in operands:
        if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "__cuda_array_interface__"):
            if x.ndim:
                dim = _promote_pair(dim, x.dtype)
            else:
                zero = _promote_pair(zero, x.dtype)
        else:
            wrapped = _promote_pair(wrapped, _scalar_np_dtype(x))
    return _combine(dim, _combine(zero, wrapped))
