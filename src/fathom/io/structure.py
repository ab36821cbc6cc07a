"""fathom.save / fathom.load: nested structures of tensors and numbers in one safetensors file.

A structure (a checkpoint: model and optimizer state dicts, scheduler state, RNG state,
epoch) is split in two. Every Tensor and NumPy array becomes a tensor of the file, named
by its path ("model/fc.weight", "optimizer/state/0/exp_avg"); everything else becomes JSON
in the header metadata under "fathom.structure", which records the exact Python types
(tuple vs list, int vs str keys, int vs float, inf and nan) and where each tensor goes.
Python's pickle is never involved, on either side.
"""
from __future__ import annotations

import json
import math
import types
from collections import OrderedDict

import numpy as np

from ..backend import device as _device
from ..nn.parameter import Parameter
from ..tensor import Tensor, _make
from .safetensors_file import FileFormatError, file_name, parse_json, read, to_array, write

__all__ = ["save", "load"]

FORMAT_KEY = "fathom.structure"
VERSION = 1
_ALLOWED = ("fathom.save stores dicts (str or int keys), lists, tuples, Tensors, NumPy "
            "arrays, int, float, bool, str and None")


def _where(keys) -> str:
    return "obj" + "".join(f"[{k!r}]" for k in keys)


class _Flattener:
    """Walks a structure once: tensors out to `arrays`, the rest into JSON-able nodes."""

    def __init__(self):
        self.arrays = {}   # storage name -> contiguous little-endian array
        self.names = {}    # id(tensor or array) -> storage name (shared objects stored once)
        self.keep = []     # the objects behind `names`, alive so their ids stay unique
        self.open = set()  # ids of the containers on the current path (cycle check)

    def _store(self, x, keys) -> str:
        name = "/".join(map(str, keys)) or "obj"
        base, i = name, 1
        while name in self.arrays:  # a key containing "/" can collide with a path
            name, i = f"{base}~{i}", i + 1
        self.arrays[name] = to_array(x, f"{_where(keys)}")
        return name

    def node(self, x, keys: tuple):
        t = type(x)
        if x is None or t is bool or t is int or t is str:
            return x
        if t is float:
            return x if math.isfinite(x) else {"float": repr(x)}  # 'nan', 'inf', '-inf'
        if isinstance(x, (Tensor, np.ndarray)):
            name = self.names.get(id(x))
            if name is None:
                name = self.names[id(x)] = self._store(x, keys)
                self.keep.append(x)
            out = {"tensor": name}
            if isinstance(x, Tensor):
                if x.requires_grad:
                    out["requires_grad"] = True
                if isinstance(x, Parameter):
                    out["parameter"] = True
                if x.device.type != "cpu":
                    out["device"] = str(x.device)
            return out
        if isinstance(x, np.generic):  # a NumPy scalar keeps its type through a 0-d tensor
            return {"scalar": self._store(np.asarray(x), keys)}
        if t is dict or t is OrderedDict or t is list or t is tuple:
            if id(x) in self.open:
                raise TypeError(f"{_where(keys)}: cannot save a structure that contains "
                                f"itself")
            self.open.add(id(x))
            if t is list or t is tuple:
                out = {t.__name__: [self.node(v, keys + (i,)) for i, v in enumerate(x)]}
            else:
                items = []
                for k, v in x.items():
                    if type(k) is not str and type(k) is not int:
                        raise TypeError(f"{_where(keys)}: cannot save a dict key of type "
                                        f"{type(k).__name__} ({k!r}); keys must be str or int")
                    items.append([k, self.node(v, keys + (k,))])
                out = {"dict": items}
                if t is OrderedDict:
                    out["ordered"] = True
            self.open.discard(id(x))
            return out
        raise TypeError(f"{_where(keys)}: cannot save {_describe(x)}; {_ALLOWED} (no pickle: "
                        f"{_hint(x)})")


def _describe(x) -> str:
    if isinstance(x, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"a function ({getattr(x, '__qualname__', x)!r})"
    name = type(x).__name__
    article = "an" if name[0] in "aeiouAEIOU" else "a"
    if hasattr(x, "state_dict") and hasattr(x, "parameters"):
        return f"{article} {name} (a Module)"
    return f"{article} {name}"


def _hint(x) -> str:
    if hasattr(x, "state_dict"):
        return "save its state_dict() instead"
    if isinstance(x, (set, frozenset)):
        return "convert the set to a sorted list"
    if isinstance(x, dict):
        return "convert it to a plain dict"
    if isinstance(x, (list, tuple)):
        return "convert it to a plain list or tuple"
    return "convert it to the types above"


def save(obj, f) -> None:
    """Save a nested structure of tensors and numbers, like `torch.save`, as one standard
    safetensors file.

    `obj` may nest dicts (str or int keys; OrderedDict too), lists, tuples, Tensors (any
    dtype, 0-d, non-contiguous; `requires_grad` and Parameter are kept), NumPy arrays and
    scalars, int, float (inf and nan too), bool, str and None: model, optimizer and
    scheduler state dicts, RNG states, epochs. A Tensor that appears in two places is
    stored once and comes back as one object.

    Unlike torch.save there is no pickle, so arbitrary Python objects (a Module, a
    function, a set, a class instance) are refused with a TypeError that names their
    place; save their state instead. In exchange, loading a file never runs code.

    Args:
        obj: the structure.
        f: a path (written atomically: temporary file in the same folder, fsync, rename)
            or a binary file object (written directly).

        >>> model = fathom.nn.Linear(2, 1)
    >>> fathom.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
        >>> fathom.load("ckpt.safetensors")["epoch"]
        3
    """
    flat = _Flattener()
    root = flat.node(obj, ())
    meta = json.dumps({"version": VERSION, "root": root}, allow_nan=False,
                      separators=(",", ":"))
    write(flat.arrays, f, {FORMAT_KEY: meta})


def load(f, map_location=None):
    """Load what `save` wrote, with the same Python types; tensors come back as Tensors
    (NumPy arrays too).

    The file is fully checked before anything is allocated (see fathom.io.load_file) and
    nothing in it is executed: pickle and ZIP files (torch.save's) are rejected with a
    FileFormatError. A plain safetensors file (no Fathom structure) loads as a dict of
    Tensors, so `fathom.load` reads PyTorch's `safetensors.torch.save_file` output too.

    Args:
        f: a path or a binary file object (read to its end).
        map_location: None (each tensor goes back to the device it was saved from), or
            'cpu', 'cuda', 'cuda:0', a fathom.device: put every tensor there.
    """
    if map_location is not None and not isinstance(map_location, (str, _device)):
        raise TypeError(f"load: map_location must be None, a fathom.device or a device "
                        f"string such as 'cpu', got {type(map_location).__name__}")
    target = None if map_location is None else _device(map_location)
    arrays, metadata = read(f)
    name = file_name(f)
    if FORMAT_KEY not in metadata:
        out = {k: _make(a, None, 0, None) for k, a in arrays.items()}
        return out if target is None else {k: t.to(target) for k, t in out.items()}
    where = f"{name}: metadata {FORMAT_KEY!r}"
    doc = parse_json(where, metadata[FORMAT_KEY].encode("utf-8"))
    if not isinstance(doc, dict) or "root" not in doc or not _is_int(doc.get("version")):
        raise FileFormatError(f"{where}: expected an object with 'version' and 'root'")
    if doc["version"] > VERSION:
        raise FileFormatError(f"{where}: format version {doc['version']} is newer than this "
                              f"Fathom reads ({VERSION}); upgrade Fathom")
    builder = _Builder(arrays, target, where)
    try:
        obj = builder.build(doc["root"], ())
    except RecursionError:
        raise FileFormatError(f"{where}: nested too deeply") from None
    unused = sorted(set(arrays) - builder.used)
    if unused:
        raise FileFormatError(f"{where}: tensors {unused[:5]} are in the file but not in the "
                              f"structure")
    return obj


def _is_int(x) -> bool:
    return type(x) is int


class _Builder:
    """Rebuilds a structure from its JSON nodes, checking each one."""

    def __init__(self, arrays, target, where):
        self.arrays, self.target, self.where = arrays, target, where
        self.tensors = {}  # storage name -> Tensor (shared objects come back shared)
        self.used = set()

    def fail(self, keys, problem):
        raise FileFormatError(f"{self.where}: at {_where(keys)}: {problem}")

    def array(self, name, keys):
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(keys, f"refers to tensor {name!r}, which the file does not hold")
        self.used.add(name)
        return self.arrays[name]

    def build(self, node, keys):
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if isinstance(node, float):
            return node
        if not isinstance(node, dict) or not node:
            self.fail(keys, f"unexpected JSON value {json.dumps(node)[:80]}")
        tag, value = next(iter(node.items()))
        if tag in ("list", "tuple"):
            if not isinstance(value, list):
                self.fail(keys, f"{tag} must hold a JSON array")
            items = [self.build(v, keys + (i,)) for i, v in enumerate(value)]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            out = OrderedDict() if node.get("ordered") is True else {}
            if not isinstance(value, list):
                self.fail(keys, "dict must hold a JSON array of [key, value] pairs")
            for pair in value:
                if not (isinstance(pair, list) and len(pair) == 2
                        and (isinstance(pair[0], str) or _is_int(pair[0]))):
                    self.fail(keys, f"bad dict item {json.dumps(pair)[:80]}")
                out[pair[0]] = self.build(pair[1], keys + (pair[0],))
            return out
        if tag == "float":
            if value not in ("nan", "inf", "-inf"):
                self.fail(keys, f"bad float {value!r}")
            return float(value)
        if tag == "scalar":
            arr = self.array(value, keys)
            if arr.ndim:
                self.fail(keys, f"scalar tensor {value!r} has shape {list(arr.shape)}")
            return arr[()]
        if tag == "tensor":
            return self.tensor(node, keys)
        self.fail(keys, f"unknown tag {tag!r}")

    def device(self, name, keys):
        try:
            return _device(name)
        except (TypeError, ValueError):
            self.fail(keys, f"bad device {name!r}")

    def tensor(self, node, keys):
        name = node["tensor"]
        t = self.tensors.get(name) if isinstance(name, str) else None
        if t is not None:
            return t
        t = _make(self.array(name, keys), None, 0, None)
        dev = self.target or (self.device(node["device"], keys) if "device" in node else None)
        if dev is not None and dev != t.device:
            t = t.to(dev)
        if node.get("parameter") is True:
            t = Parameter(t, requires_grad=node.get("requires_grad") is True)
        elif node.get("requires_grad") is True:
            t.requires_grad_(True)
        self.tensors[name] = t
        return t
