"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/full/empty, arange,
linspace, eye, and the *_like forms. Random creation lives in `fathom.random`."""
from __future__ import annotations

import builtins
import math

from . import backend
from . import dtypes as _dt
from .tensor import Tensor, _make

_np = backend.np


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default
    return _dt.as_dtype(dtype).np


def _place(arr, device, requires_grad):
    if device is not None:
        arr = backend.to_device(arr, device)
    t = _make(arr, None, 0, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_np_dtype(arr, data):
    """PyTorch's inference: Python floats -> default float, ints -> int64, bools -> bool."""
    k = arr.dtype.kind
    if k == "f":
        if isinstance(data, (_np.ndarray, _np.generic)):
            return arr.dtype
        return _dt.get_default_dtype().np
    if k in "iu":
        if isinstance(data, (_np.ndarray, _np.generic)):
            return arr.dtype
        return _np.dtype(_np.int64)
    if k == "b":
        return arr.dtype
    raise TypeError(f"tensor: could not infer a dtype from data of NumPy kind {arr.dtype} "
                    f"(supported: bool, integers, floats)")


def _as_array(data):
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        return _np.array([_as_array(x) for x in data])
    return data


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (nested lists, numbers, arrays, tensors).

    >>> fathom.tensor([[1., 2.], [3., 4.]]).shape
    fathom.Size([2, 2])
    """
    raw = _as_array(data)
    xp = backend.namespace(raw)
    arr = xp.array(raw)
    target = _np_dtype(dtype) or _infer_np_dtype(arr, raw if xp is _np else _np.asarray(0.0))
    if arr.dtype != target:
        arr = arr.astype(target)
    return _place(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like `tensor`, but shares memory with a NumPy array or Tensor when it can."""
    if isinstance(data, Tensor) and (dtype is None or _dt.as_dtype(dtype) is data.dtype) and \
            device is None:
        return data
    if isinstance(data, _np.ndarray) and (dtype is None or _dt.as_dtype(dtype).np == data.dtype):
        _dt.from_numpy_dtype(data.dtype)
        return _place(data, device, False)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing memory with `ndarray`."""
    if not isinstance(ndarray, _np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    _dt.from_numpy_dtype(ndarray.dtype)
    return _make(ndarray, None, 0, None)


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, _np.integer)) or s < 0:
            raise ValueError(f"invalid shape {tuple(size)}: sizes must be non-negative ints")
    return tuple(builtins.int(s) for s in size)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(_size(size), 0, dtype=dtype or _dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(_size(size), 1, dtype=dtype or _dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uninitialized memory in PyTorch; zeros here (NumPy's empty saves nothing measurable)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of `size` filled with `fill_value` (dtype inferred from it if not given)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _infer_np_dtype(_np.asarray(fill_value), fill_value)
    arr = _np.full(_size((size,) if isinstance(size, int) else (tuple(size),)), fill_value,
                   dtype=_np_dtype(dtype))
    return _place(arr, device, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(input.shape, 0, dtype=dtype or input.dtype, device=device or _dev(input),
                requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(input.shape, 1, dtype=dtype or input.dtype, device=device or _dev(input),
                requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device or _dev(input),
                requires_grad=requires_grad)


def _dev(t):
    d = t.device
    return None if d.type == "cpu" else d


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from start (default 0) up to, not including, end: integers give int64."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in vals)
        dtype = _dt.get_default_dtype() if is_float else _dt.int64
    n = builtins.max(0, math.ceil((vals[1] - vals[0]) / vals[2]))
    arr = (vals[0] + _np.arange(n, dtype=_np.float64) * vals[2]) if \
        _dt.as_dtype(dtype).is_floating_point else _np.arange(vals[0], vals[1], vals[2])
    return _place(arr.astype(_np_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    arr = _np.linspace(start, end, steps, dtype=_np.float64)
    return _place(arr.astype(_np_dtype(dtype, _dt.get_default_dtype().np)), device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None) -> Tensor:
    arr = _np.logspace(start, end, steps, base=base, dtype=_np.float64)
    return _place(arr.astype(_np_dtype(dtype, _dt.get_default_dtype().np)), device, False)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    arr = _np.eye(n, m, dtype=_np_dtype(dtype, _dt.get_default_dtype().np))
    return _place(arr, device, requires_grad)


def scalar_tensor(value, dtype=None, device=None) -> Tensor:
    return tensor(value, dtype=dtype or _dt.get_default_dtype(), device=device)
