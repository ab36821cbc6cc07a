"""Flat safetensors files: validate before reading, write atomically.

The format (https://github.com/huggingface/safetensors): 8 bytes little-endian header
length N, N bytes of UTF-8 JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}`, then the tensor bytes, offsets relative to the end of the
header. Writing goes through the `safetensors` library, so every file is standard. Reading
checks the whole header against the file size first (this is where a hostile or damaged
file is caught, and each error names the problem), then reads each tensor straight into
its own array: nothing larger than the file is ever allocated, and nothing in the file is
ever executed.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from ..tensor import Tensor, _host, _make
from .atomic import atomic_path

__all__ = ["FileFormatError", "save_file", "load_file", "read_metadata"]

MAX_HEADER = 100_000_000  # bytes; the safetensors library's own cap

# safetensors dtype code -> little-endian NumPy dtype, for the dtypes Fathom has.
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
           "BF16": "<u2"}  # bfloat16 is read as its top 16 bits and widened to float32
_CODES = {np.dtype(v): k for k, v in _DTYPES.items() if k != "BF16"}
# Codes the format defines that Fathom has no dtype for (the error says so, not "unknown").
_OTHER_CODES = {"U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                "F6_E3M2", "F4", "F8_E4M3FNUZ", "F8_E5M2FNUZ"}
_SUPPORTED = "F16, F32, F64, BF16 (read as F32), I64, I32, I16, I8, U8, BOOL"


class FileFormatError(ValueError):
    """A file that is not a valid safetensors file. The message starts with the file's
    name and names the field or tensor at fault."""


def file_name(f) -> str:
    """How error messages name a path or a file object."""
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return str(getattr(f, "name", "<file object>"))


class _Source:
    """The bytes of a file or a binary file object, with their size known up front."""

    def __init__(self, f):
        self.name = file_name(f)
        if isinstance(f, (str, os.PathLike)):
            self.file = open(f, "rb")  # closed by close()
            self.owned = True
            self.size = os.fstat(self.file.fileno()).st_size
            return
        self.owned = False
        seekable = getattr(f, "seekable", None)
        if seekable is not None and seekable():
            start = f.tell()
            self.size = f.seek(0, os.SEEK_END) - start
            f.seek(start)
            self.file = f
        else:  # a pipe or socket: the rest of the stream is the file
            import io  # noqa: PLC0415 - cold path
            data = f.read()
            self.size = len(data)
            self.file = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        out = bytearray(n)
        self.readinto(out)
        return bytes(out)

    def readinto(self, arr) -> None:
        """Fill a byte buffer, looping: a raw stream may return less than asked for."""
        view, done = memoryview(arr), 0
        while done < len(view):
            if hasattr(self.file, "readinto"):
                n = self.file.readinto(view[done:])
            else:  # a file-like object with read() only
                chunk = self.file.read(len(view) - done)
                n = len(chunk)
                view[done:done + n] = chunk
            if not n:
                raise FileFormatError(f"{self.name}: truncated while reading (the file "
                                      f"changed size during loading?)")
            done += n

    def close(self) -> None:
        if self.owned:
            self.file.close()


# --- reading ------------------------------------------------------------------------------

def _sniff(name: str, head: bytes) -> None:
    """Name the kind of file when it is a well-known non-safetensors format."""
    hint = ("; Fathom never unpickles files, since unpickling can run arbitrary code "
            "(hint: in PyTorch, safetensors.torch.save_file(torch.load(f, weights_only=True), "
            "'model.safetensors') converts a state dict)")
    if head[:4] == b"PK\x03\x04":
        raise FileFormatError(f"{name}: this is a ZIP archive (the format of torch.save, "
                              f"or NumPy's .npz), not a safetensors file" + hint)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise FileFormatError(f"{name}: this is a Python pickle (protocol {head[1]}), as "
                              f"written by pickle.dump or legacy torch.save, not a "
                              f"safetensors file" + hint)
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        raise FileFormatError(f"{name}: this is an HDF5 file (Keras .h5?), not a "
                              f"safetensors file")
    if head[:6] == b"\x93NUMPY":
        raise FileFormatError(f"{name}: this is a NumPy .npy file, not a safetensors file "
                              f"(hint: numpy.load it and fathom.io.save_file the arrays)")


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise _Duplicate(k)
        d[k] = v
    return d


class _Duplicate(Exception):
    pass


def _reject_constant(text):
    raise ValueError(f"{text} is not JSON")


def parse_json(where: str, raw: bytes):
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity. Raises FileFormatError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{where} is not valid UTF-8 (byte {e.start}: "
                              f"{raw[e.start:e.start + 1]!r})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
    except _Duplicate as e:
        raise FileFormatError(f"{where} has the key {e.args[0]!r} twice") from None
    except RecursionError:
        raise FileFormatError(f"{where} is nested too deeply") from None
    except ValueError as e:
        raise FileFormatError(f"{where} is not valid JSON: {e}") from None


def _is_int(x) -> bool:
    return type(x) is int  # not bool, not float


def _check_entry(name: str, key: str, info) -> tuple:
    """One tensor's header entry -> (key, code, shape, begin, end), all checked."""
    where = f"{name}: tensor {key!r}"
    if not isinstance(info, dict):
        raise FileFormatError(f"{where}: entry must be a JSON object, got "
                              f"{type(info).__name__}")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in info:
            raise FileFormatError(f"{where}: missing field {field!r}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if code not in _DTYPES:
        what = "a dtype Fathom does not support" if code in _OTHER_CODES else "unknown dtype"
        raise FileFormatError(f"{where}: {what} {code!r} (Fathom reads {_SUPPORTED})")
    if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
        raise FileFormatError(f"{where}: shape must be a list of non-negative integers, "
                              f"got {json.dumps(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(_is_int(o) and o >= 0 for o in offsets)):
        raise FileFormatError(f"{where}: data_offsets must be two non-negative integers "
                              f"[begin, end], got {json.dumps(offsets)}")
    begin, end = offsets
    if end < begin:
        raise FileFormatError(f"{where}: data_offsets [{begin}, {end}] end before they begin")
    need = math.prod(shape) * np.dtype(_DTYPES[code]).itemsize
    if need != end - begin:
        raise FileFormatError(f"{where}: shape {shape} of {code} needs {need} bytes, "
                              f"offsets give {end - begin}")
    return key, code, tuple(shape), begin, end


def _check_header(name: str, header, data_size: int):
    """The parsed header -> (metadata, entries sorted by offset), checking that the tensors
    tile the data exactly: no overlap, no gap, nothing missing, nothing after."""
    if not isinstance(header, dict):
        raise FileFormatError(f"{name}: header must be a JSON object, got "
                              f"{type(header).__name__}")
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict):
        raise FileFormatError(f"{name}: __metadata__ must be a JSON object, got "
                              f"{type(metadata).__name__}")
    for k, v in metadata.items():
        if not isinstance(v, str):
            raise FileFormatError(f"{name}: __metadata__[{k!r}] must be a string, got "
                                  f"{type(v).__name__}")
    entries = sorted((_check_entry(name, k, v) for k, v in header.items()
                      if k != "__metadata__"), key=lambda e: (e[3], e[4]))
    pos, prev = 0, None
    for e in entries:
        if e[3] < pos:
            raise FileFormatError(f"{name}: tensor {e[0]!r} at data_offsets [{e[3]}, {e[4]}] "
                                  f"overlaps tensor {prev[0]!r} at [{prev[3]}, {prev[4]}]")
        if e[3] > pos:
            raise FileFormatError(f"{name}: gap of {e[3] - pos} bytes in the tensor data "
                                  f"before tensor {e[0]!r} at data_offsets [{e[3]}, {e[4]}]")
        pos, prev = e[4], e
    if pos > data_size:
        last = next(e for e in entries if e[4] > data_size)
        raise FileFormatError(f"{name}: truncated: tensor {last[0]!r} ends at byte {last[4]} "
                              f"of the data, but the file holds only {data_size} bytes of data "
                              f"({pos - data_size} bytes missing)")
    if pos < data_size:
        raise FileFormatError(f"{name}: {data_size - pos} trailing bytes after the last "
                              f"tensor (the header describes {pos} bytes of data, the file "
                              f"holds {data_size})")
    return metadata, entries


def _read_header(src: _Source):
    """Read and check the header; the source is left at the start of the data."""
    name, size = src.name, src.size
    head = src.read(min(size, 8))
    if size < 8:
        _sniff(name, head)
        raise FileFormatError(f"{name}: truncated: {size} bytes, too short for the 8-byte "
                              f"header length")
    n = int.from_bytes(head, "little")
    if n > size - 8:
        _sniff(name, head)
        raise FileFormatError(f"{name}: header length {n} is larger than the file "
                              f"({size} bytes; not a safetensors file, or truncated)")
    if n > MAX_HEADER:
        raise FileFormatError(f"{name}: header length {n} exceeds the {MAX_HEADER}-byte cap")
    raw = src.read(n)
    if not raw.lstrip().startswith(b"{"):
        _sniff(name, head)
    header = parse_json(f"{name}: header", raw)
    return _check_header(name, header, size - 8 - n)


def _view(name: str, data: np.ndarray, key: str, code: str, shape: tuple, begin: int,
          end: int) -> np.ndarray:
    """One tensor as a view of the file's data (a copy where it must convert or align)."""
    arr = data[begin:end].view(_DTYPES[code]).reshape(shape)
    if code == "BOOL" and arr.size and data[begin:end].max() > 1:
        raise FileFormatError(f"{name}: tensor {key!r}: BOOL data holds bytes other than 0 "
                              f"and 1")
    if code == "BF16":  # bfloat16 is the top half of a float32: widening is exact
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if not arr.dtype.isnative:
        return arr.astype(arr.dtype.newbyteorder("="))
    if not arr.flags.aligned:  # files from other writers may pack tensors unaligned
        return arr.copy()
    return arr


def read(f) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Check and read a file: (arrays by name in file order, metadata).

    The data is read with one allocation of exactly its checked size and one read; the
    arrays are views into it (one read is twice as fast as a read per tensor)."""
    src = _Source(f)
    try:
        metadata, entries = _read_header(src)
        data = np.empty(entries[-1][4] if entries else 0, dtype=np.uint8)
        src.readinto(data)
    finally:
        src.close()
    return {e[0]: _view(src.name, data, *e) for e in entries}, metadata


def load_file(path, device=None) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of Tensors (the safetensors API).

    Any standard safetensors file works (PyTorch's, JAX's, NumPy's). BF16 tensors come
    back as float32 (exact: bfloat16 is the upper half of a float32); dtypes Fathom has
    no equivalent for (U16/U32/U64, C64, FP8) raise FileFormatError. The whole file is
    checked before anything is allocated; every problem raises FileFormatError.

    Args:
        path: a path or a binary file object (read to its end).
        device: where to put the tensors (default: CPU).

        >>> fathom.io.save_file({"w": fathom.ones(2)}, "w.safetensors")
        >>> fathom.io.load_file("w.safetensors")["w"]
        tensor([1., 1.])
    """
    arrays, _ = read(path)
    out = {k: _make(a, None, 0, None) for k, a in arrays.items()}
    if device is not None:
        out = {k: t.to(device) for k, t in out.items()}
    return out


def read_metadata(path) -> dict[str, str]:
    """The `__metadata__` strings of a safetensors file (`{}` if none), after checking its
    header against the file size; the tensor data is not read."""
    src = _Source(path)
    try:
        return _read_header(src)[0]
    finally:
        src.close()


# --- writing ------------------------------------------------------------------------------

def to_array(x, where: str) -> np.ndarray:
    """A Tensor or array as a C-contiguous little-endian host array of a dtype Fathom has."""
    arr = _host(x.data) if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{where}: expected a Tensor or a NumPy array, got "
                        f"{type(x).__name__}")
    if arr.dtype.newbyteorder("=") not in _CODES:
        raise TypeError(f"{where}: cannot save dtype {arr.dtype}; supported: float16, "
                        f"float32, float64, int64, int32, int16, int8, uint8, bool")
    return np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")  # keeps 0-d


def write(arrays: dict[str, np.ndarray], f, metadata: dict[str, str] | None) -> None:
    """Write contiguous little-endian arrays as one safetensors file: to a path atomically
    (temporary file in the same folder, fsync, rename), to a file object directly."""
    from safetensors import numpy as st  # noqa: PLC0415 - only saving needs the library

    if not isinstance(f, (str, os.PathLike)):
        f.write(st.save(arrays, metadata=metadata))
        return
    with atomic_path(f) as tmp:
        st.save_file(arrays, tmp, metadata=metadata)


def save_file(tensors: dict, path, metadata: dict[str, str] | None = None) -> None:
    """Write a flat dict of Tensors (or NumPy arrays) as a standard safetensors file.

    Writes to a path are atomic: a crash leaves the old file or the new one, never a mix.

    Args:
        tensors: `{name: Tensor or ndarray}`; names are strings.
        path: a path, or a binary file object (written directly).
        metadata: optional `{str: str}` stored in the header's `__metadata__`.

        >>> fathom.io.save_file({"w": fathom.ones(2)}, "w.safetensors")
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_file: expected a dict of tensors, got {type(tensors).__name__}")
    arrays = {}
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"save_file: tensor names must be strings, got {k!r}")
        arrays[k] = to_array(v, f"save_file: tensor {k!r}")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError("save_file: metadata must be a dict of str to str")
    write(arrays, path, metadata)
