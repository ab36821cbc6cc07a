"""Collation: turning a list of samples into a batch (`default_collate`), and
`default_convert` for loaders without automatic batching.

Follows PyTorch's rules: tensors and NumPy arrays are stacked into a new first
dimension; Python ints, floats and bools become int64, float64 and bool
tensors; strings and bytes are kept as a list; mappings, namedtuples and
sequences are collated field by field (a tuple sample gives a list, as in
PyTorch).
"""
from __future__ import annotations

import collections.abc
import copy

import numpy as np

from ... import dtypes as _dt
from ...errors import ShapeError
from ...tensor import Tensor, _make
from .dataset import _Rows

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _wrap(arr):
    _dt.from_numpy_dtype(arr.dtype)  # raises for dtypes fathom has no tensor for
    return _make(arr, None, 0, None)


def _stack(arrays, what):
    """Stack along a new first axis, with an error that names the first pair of different
    shapes. np.array of a list of arrays is 2-4x faster than np.stack for small samples."""
    try:
        out = np.array(arrays)
        if out.dtype != object and out.ndim == arrays[0].ndim + 1:
            return out
    except ValueError:
        pass
    try:
        return np.stack(arrays)
    except ValueError:
        first = np.shape(arrays[0])
        for i, a in enumerate(arrays):
            if np.shape(a) != first:
                raise ShapeError(
                    f"default_collate: cannot stack {what} of different shapes; got shape "
                    f"{first} at index 0 and shape {np.shape(a)} at index {i} (hint: resize or "
                    f"pad the samples to one shape, or pass a collate_fn)") from None
        raise


def _collate_tensors(batch):
    if any(t.requires_grad for t in batch):
        from ...ops import stack  # noqa: PLC0415
        return stack(list(batch), 0)
    xp = type(batch[0].data)
    if xp is not np.ndarray:  # CuPy arrays stack on their device
        import cupy  # noqa: PLC0415
        return _make(cupy.stack([t.data for t in batch]), None, 0, None)
    return _make(_stack([t.data for t in batch], "tensors"), None, 0, None)


def _collate_arrays(batch):
    if batch[0].dtype.kind in "SaUO":
        raise TypeError(_ERR.format(batch[0].dtype))
    return _wrap(_stack(batch, "arrays"))


def _sequence_like(elem, values):
    """A collated sequence of the sample's own type where it can be built, else a list."""
    if isinstance(elem, tuple):
        return values  # PyTorch returns a list for tuple samples
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring for the rules).

    >>> default_collate([(np.zeros(2), 1), (np.ones(2), 0)])   # [Tensor (2, 2), Tensor (2,)]
    """
    if type(batch) is _Rows:
        return batch.gather()
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _collate_tensors(batch)
    if isinstance(elem, np.ndarray):
        return _collate_arrays(batch)
    if isinstance(elem, (bool, np.bool_)):
        return _make(np.array(batch, dtype=np.bool_), None, 0, None)
    if isinstance(elem, np.generic):
        return _wrap(np.array(batch))
    if isinstance(elem, float):
        return _make(np.array(batch, dtype=np.float64), None, 0, None)
    if isinstance(elem, int):
        return _make(np.array(batch, dtype=np.int64), None, 0, None)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(out)
                return clone
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return _sequence_like(elem, [default_collate(s) for s in zip(*batch)])
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """Turn NumPy arrays and scalars (also inside mappings and sequences) into tensors;
    leave everything else as it is. The collate_fn of loaders with `batch_size=None`."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "SaUO" else _wrap(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        out = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(out)
                return clone
            return type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _sequence_like(data, [default_convert(d) for d in data])
    return data
