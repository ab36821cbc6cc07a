"""Model packages: a folder with `model.safetensors` and `config.json`, all a server needs.

    save_package(model, "models/mlp/1", name="mlp",
                 architecture={"registry": "fathom.vision.models", "name": "mlp",
                               "kwargs": {"num_classes": 10}},
                 inputs=[{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}],
                 outputs=[{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}])
    package = load_package("models/mlp/1")
    package.predict([x])     # -> [logits], preprocessing applied, eval mode, no grad

config.json (format_version 1)::

    {"format": "fathom-package", "format_version": 1, "name": "mlp", "version": 1,
     "architecture": {"registry": "fathom.vision.models" | "registered", "name", "kwargs"},
     "inputs":  [{"name", "datatype", "shape"}],      # OIP datatypes, -1 = the batch dim
     "outputs": [{"name", "datatype", "shape"}],
     "preprocessing": {"mean": [...], "std": [...]} or null,
     "labels": [...] or null, "training_stats": {input name: {...}} or null}

Safety: the file never names importable code. The architecture comes from a closed
registry: the models of `fathom.vision.models`, or classes the operator registers in
code (`register(name, cls)`) or on the command line (`fathom serve --register
module:Class`). Weights are read by `fathom.io` (safetensors, checked before reading,
never pickle).

Preprocessing, when present, is applied by the server to the first input before the
model sees it: `(x - mean) / std` per channel (axis 1; one value means all channels),
so clients send the raw values (images in [0, 1]) and `training_stats` describe those.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["PackageError", "TensorSpec", "Package", "save_package", "load_package",
           "register", "registered", "DATATYPES", "CONFIG_FILE", "WEIGHTS_FILE"]

FORMAT = "fathom-package"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VISION_REGISTRY = "fathom.vision.models"
REGISTERED = "registered"
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # training_stats may be large; a config is never huge
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")

# Open Inference Protocol datatype -> NumPy dtype (the numeric ones a model can take)
DATATYPES = {"BOOL": np.dtype(bool), "UINT8": np.dtype(np.uint8),
             "UINT16": np.dtype(np.uint16), "UINT32": np.dtype(np.uint32),
             "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
             "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32),
             "INT64": np.dtype(np.int64), "FP16": np.dtype(np.float16),
             "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64)}

# architectures added by the operator (never by a package file)
_REGISTERED: dict = {}


class PackageError(ValueError):
    """A package that cannot be saved or loaded; the message names the file and field."""


def register(name: str, cls) -> None:
    """Add an architecture: `cls(**kwargs)` builds it for packages whose config says
    {"registry": "registered", "name": name}. Only code (or `--register`) can call this."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"register: bad architecture name {name!r}")
    if not callable(cls):
        raise TypeError(f"register: {name!r} must be a class or callable, got "
                        f"{type(cls).__name__}")
    _REGISTERED[name] = cls


def registered() -> dict:
    """The architectures added by `register`, name -> class (a copy)."""
    return dict(_REGISTERED)


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a package: name, OIP datatype, shape with -1 for the batch."""
    name: str
    datatype: str
    shape: tuple

    @property
    def dtype(self) -> np.dtype:
        return DATATYPES[self.datatype]

    def to_json(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass
class Package:
    """A loaded package: the model (eval mode) and its signature. `predict` runs it."""
    path: Path
    name: str
    version: int
    architecture: dict
    inputs: list
    outputs: list
    model: object
    preprocessing: dict | None = None
    labels: list | None = None
    training_stats: dict | None = None
    config: dict = field(default_factory=dict)
    _pre: tuple | None = field(default=None, repr=False)

    platform = "fathom"

    def predict(self, arrays: list) -> list:
        """Inputs (one array (B, ...) per `inputs` entry, their datatypes) -> outputs
        (one array (B, ...) per `outputs` entry), eval mode, no grad."""
        import fathom
        xs = list(arrays)
        if self._pre is not None:
            mean, inv_std = self._pre
            xs[0] = (xs[0] - mean) * inv_std
        with fathom.no_grad():
            out = self.model(*[fathom.from_numpy(np.ascontiguousarray(x)) for x in xs])
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if len(outs) != len(self.outputs):
            raise RuntimeError(f"model {self.name} v{self.version} returned {len(outs)} "
                               f"outputs; its package declares {len(self.outputs)}")
        return [np.asarray(o.numpy() if hasattr(o, "numpy") else o).astype(s.dtype, copy=False)
                for o, s in zip(outs, self.outputs)]


# --- validation ---------------------------------------------------------------------------

def _fail(where: str, field_name: str, problem: str):
    raise PackageError(f"{where}: field '{field_name}': {problem}")


def _check_specs(where: str, key: str, value) -> list:
    if not isinstance(value, list) or not value:
        _fail(where, key, f"expected a non-empty list of {{name, datatype, shape}}, got "
                          f"{_short(value)}")
    specs, seen = [], set()
    for i, item in enumerate(value):
        f = f"{key}[{i}]"
        if not isinstance(item, dict):
            _fail(where, f, f"expected an object, got {_short(item)}")
        extra = set(item) - {"name", "datatype", "shape"}
        if extra:
            _fail(where, f, f"unknown keys {sorted(extra)}")
        name, dt, shape = item.get("name"), item.get("datatype"), item.get("shape")
        if not isinstance(name, str) or not NAME_RE.match(name):
            _fail(where, f + ".name", f"expected a name of letters, digits, _ . -, got "
                                      f"{_short(name)}")
        if name in seen:
            _fail(where, f + ".name", f"duplicate name {name!r}")
        seen.add(name)
        if dt not in DATATYPES:
            _fail(where, f + ".datatype", f"expected one of {', '.join(DATATYPES)}, got "
                                          f"{_short(dt)}")
        if (not isinstance(shape, list) or len(shape) < 1 or len(shape) > 16
                or not all(type(d) is int for d in shape)):
            _fail(where, f + ".shape", f"expected a list of 1 to 16 integers, got "
                                       f"{_short(shape)}")
        if shape[0] != -1 or any(d < 1 for d in shape[1:]):
            _fail(where, f + ".shape", f"expected -1 (the batch) first and positive sizes "
                                       f"after it, got {shape}")
        specs.append(TensorSpec(name, dt, tuple(shape)))
    return specs


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_config(cfg, where: str = CONFIG_FILE) -> dict:
    """Check a package config; returns the parsed parts. Raises PackageError naming
    `where` (the file) and the field at fault."""
    if not isinstance(cfg, dict):
        raise PackageError(f"{where}: expected a JSON object, got {type(cfg).__name__}")
    if cfg.get("format") != FORMAT:
        _fail(where, "format", f"expected {FORMAT!r}, got {_short(cfg.get('format'))} "
                               "(is this a Fathom model package?)")
    fv = cfg.get("format_version")
    if type(fv) is not int or fv < 1:
        _fail(where, "format_version", f"expected a positive integer, got {_short(fv)}")
    if fv > FORMAT_VERSION:
        _fail(where, "format_version", f"{fv} is newer than this Fathom reads "
                                       f"({FORMAT_VERSION}); upgrade Fathom")
    name = cfg.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        _fail(where, "name", f"expected a name of letters, digits, _ . - (at most 128), got "
                             f"{_short(name)}")
    version = cfg.get("version")
    if type(version) is not int or version < 1:
        _fail(where, "version", f"expected a positive integer, got {_short(version)}")
    arch = cfg.get("architecture")
    if not isinstance(arch, dict):
        _fail(where, "architecture", f"expected an object {{registry, name, kwargs}}, got "
                                     f"{_short(arch)}")
    if arch.get("registry") not in (VISION_REGISTRY, REGISTERED):
        _fail(where, "architecture.registry", f"expected {VISION_REGISTRY!r} or "
                                              f"{REGISTERED!r}, got "
                                              f"{_short(arch.get('registry'))}")
    if not isinstance(arch.get("name"), str) or not NAME_RE.match(arch["name"]):
        _fail(where, "architecture.name", f"expected a name, got {_short(arch.get('name'))}")
    kwargs = arch.get("kwargs", {})
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        _fail(where, "architecture.kwargs", f"expected an object, got {_short(kwargs)}")
    inputs = _check_specs(where, "inputs", cfg.get("inputs"))
    outputs = _check_specs(where, "outputs", cfg.get("outputs"))
    pre = cfg.get("preprocessing")
    if pre is not None:
        pre = _check_preprocessing(where, pre, inputs[0])
    labels = cfg.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(s, str) for s in labels):
            _fail(where, "labels", f"expected a list of strings or null, got {_short(labels)}")
        last = outputs[0].shape[-1] if len(outputs[0].shape) > 1 else None
        if last is not None and len(labels) != last:
            _fail(where, "labels", f"{len(labels)} labels for output "
                                   f"{outputs[0].name!r} of {last} classes")
    stats = cfg.get("training_stats")
    if stats is not None:
        if not isinstance(stats, dict):
            _fail(where, "training_stats", f"expected an object or null, got {_short(stats)}")
        unknown = set(stats) - {s.name for s in inputs}
        if unknown:
            _fail(where, "training_stats", f"statistics for unknown inputs {sorted(unknown)}")
    return {"name": name, "version": version,
            "architecture": {"registry": arch["registry"], "name": arch["name"],
                             "kwargs": kwargs},
            "inputs": inputs, "outputs": outputs, "preprocessing": pre, "labels": labels,
            "training_stats": stats}


def _check_preprocessing(where: str, pre, first: TensorSpec) -> dict:
    if not isinstance(pre, dict) or set(pre) != {"mean", "std"}:
        _fail(where, "preprocessing", f"expected {{\"mean\": [...], \"std\": [...]}} or null, "
                                      f"got {_short(pre)}")
    channels = first.shape[1] if len(first.shape) > 1 else 1
    for key in ("mean", "std"):
        v = pre[key]
        if (not isinstance(v, list) or not v or not all(
                type(x) in (int, float) and math.isfinite(x) for x in v)):
            _fail(where, f"preprocessing.{key}", f"expected a list of finite numbers, got "
                                                 f"{_short(v)}")
        if len(v) not in (1, channels):
            _fail(where, f"preprocessing.{key}", f"{len(v)} values for input "
                                                 f"{first.name!r} of {channels} channels "
                                                 "(axis 1); give 1 or one per channel")
    if any(x <= 0 for x in pre["std"]):
        _fail(where, "preprocessing.std", f"must be positive, got {pre['std']}")
    if first.dtype.kind != "f":
        _fail(where, "preprocessing", f"input {first.name!r} is {first.datatype}; "
                                      "preprocessing needs a floating-point input")
    return {"mean": [float(x) for x in pre["mean"]], "std": [float(x) for x in pre["std"]]}


# --- architecture -------------------------------------------------------------------------

def build_architecture(arch: dict, registry: dict | None = None, where: str = CONFIG_FILE):
    """A new model from a validated `architecture`: the vision registry or a registered
    class (`registry` if given, else those added by `register`)."""
    name, kwargs = arch["name"], arch.get("kwargs") or {}
    if arch["registry"] == VISION_REGISTRY:
        from ..vision import models
        if name not in models.names():
            _fail(where, "architecture.name", f"{name!r} is not in {VISION_REGISTRY} "
                                              f"({', '.join(models.names())})")
        factory = lambda **kw: models.get(name, **kw)  # noqa: E731
    else:
        table = _REGISTERED if registry is None else registry
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            _fail(where, "architecture.name", f"{name!r} is not registered (registered: "
                                              f"{known}); start the server with "
                                              "--register module:Class")
        factory = table[name]
    try:
        model = factory(**kwargs)
    except (TypeError, ValueError) as e:
        _fail(where, "architecture.kwargs", f"{name}({_short(kwargs)}) failed: {e}")
    if not hasattr(model, "load_state_dict") or not hasattr(model, "eval"):
        _fail(where, "architecture.name", f"{name!r} did not build a fathom.nn.Module")
    return model


# --- save / load --------------------------------------------------------------------------

def _spec_json(items) -> list:
    out = []
    for s in items or []:
        s = s.to_json() if isinstance(s, TensorSpec) else dict(s)
        if isinstance(s.get("shape"), tuple):
            s["shape"] = list(s["shape"])
        out.append(s)
    return out


def save_package(model, path, *, name: str, architecture, inputs, outputs, version: int = 1,
                 preprocessing: dict | None = None, labels=None, training_stats=None,
                 registry: dict | None = None, overwrite: bool = False) -> Path:
    """Write `model` as a package folder at `path` (created); returns the path.

    Args:
        architecture: {"registry": "fathom.vision.models" | "registered", "name",
            "kwargs"}, or a vision model name (kwargs {}). It must rebuild `model`: the
            weights are checked against a fresh build before anything is written.
        inputs, outputs: [{"name", "datatype" (OIP: FP32, INT64, ...), "shape" (-1 first)}].
        preprocessing: {"mean": [...], "std": [...]} for the first input, or None.
        labels: class names for the first output's last axis, or None.
        training_stats: {input name: fathom.serve.drift.input_statistics(x)}, or None.

    The weights are written first and config.json last (both atomically), so a server
    polling a repository never sees a config without its weights.
    """
    from .. import io
    path = Path(path)
    if isinstance(architecture, str):
        architecture = {"registry": VISION_REGISTRY, "name": architecture, "kwargs": {}}
    cfg = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
           "version": version, "architecture": dict(architecture),
           "inputs": _spec_json(inputs), "outputs": _spec_json(outputs),
           "preprocessing": preprocessing, "labels": list(labels) if labels is not None else
           None, "training_stats": training_stats}
    where = str(path / CONFIG_FILE)
    try:
        text = json.dumps(cfg, indent=2, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise PackageError(f"{where}: cannot be written as JSON: {e}") from e
    parsed = validate_config(json.loads(text), where)
    state = dict(model.state_dict())
    fresh = build_architecture(parsed["architecture"], registry, where)
    try:
        fresh.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as e:
        raise PackageError(f"{where}: the model's weights do not fit architecture "
                           f"{parsed['architecture']['name']!r}: {e}") from e
    if (path / CONFIG_FILE).exists() and not overwrite:
        raise PackageError(f"{path} already holds a package (pass overwrite=True to "
                           "replace it)")
    path.mkdir(parents=True, exist_ok=True)
    io.save_file(state, str(path / WEIGHTS_FILE))
    from ..io.atomic import atomic_path
    with atomic_path(path / CONFIG_FILE) as tmp, open(tmp, "w") as f:
        f.write(text + "\n")
    return path


def read_config(path) -> dict:
    """The parsed (not validated) config.json of package folder `path`."""
    where = Path(path) / CONFIG_FILE
    try:
        size = os.path.getsize(where)
        if size > MAX_CONFIG_BYTES:
            raise PackageError(f"{where}: {size} bytes, more than a config may hold "
                               f"({MAX_CONFIG_BYTES})")
        raw = where.read_bytes()
    except FileNotFoundError:
        raise PackageError(f"{where}: missing (a package folder holds {CONFIG_FILE} and "
                           f"{WEIGHTS_FILE})") from None
    except OSError as e:
        raise PackageError(f"{where}: cannot read: {e.strerror}") from e
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as e:
        raise PackageError(f"{where}: not valid JSON: {e}") from e


def _no_constant(token):
    raise ValueError(f"{token} is not valid JSON")


def load_package(path, registry: dict | None = None, *, check: bool = True) -> Package:
    """Load a package folder: validate config.json, build the architecture from the
    closed registry, read the weights (safetensors), eval mode.

    Args:
        registry: name -> class for "registered" architectures (default: those added by
            `register`).
        check: run one batch of zeros through the model and check the outputs against
            the declared ones, so a mismatched package fails here and not at a request.
    """
    from .. import io
    path = Path(path)
    where = str(path / CONFIG_FILE)
    raw = read_config(path)
    parsed = validate_config(raw, where)
    model = build_architecture(parsed["architecture"], registry, where)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise PackageError(f"{weights}: missing (the package's weights)")
    try:
        state = io.load_file(str(weights))
    except (OSError, ValueError) as e:
        raise PackageError(f"{weights}: {e}") from e
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as e:
        raise PackageError(f"{weights}: weights do not fit architecture "
                           f"{parsed['architecture']['name']!r}: {e}") from e
    model.eval()
    pre = None
    if parsed["preprocessing"] is not None:
        first = parsed["inputs"][0]
        shape = (1, -1) + (1,) * (len(first.shape) - 2) if len(first.shape) > 1 else (-1,)
        mean = np.asarray(parsed["preprocessing"]["mean"], first.dtype).reshape(shape)
        inv = (1.0 / np.asarray(parsed["preprocessing"]["std"], np.float64)).astype(
            first.dtype).reshape(shape)
        pre = (mean, inv)
    pkg = Package(path=path, name=parsed["name"], version=parsed["version"],
                  architecture=parsed["architecture"], inputs=parsed["inputs"],
                  outputs=parsed["outputs"], model=model,
                  preprocessing=parsed["preprocessing"], labels=parsed["labels"],
                  training_stats=parsed["training_stats"], config=raw, _pre=pre)
    if check:
        _dry_run(pkg, where)
    return pkg


def _dry_run(pkg: Package, where: str) -> None:
    xs = [np.zeros((1,) + s.shape[1:], s.dtype) for s in pkg.inputs]
    try:
        outs = pkg.predict(xs)
    except Exception as e:  # any failure of the model is the package's fault here
        raise PackageError(f"{where}: the model cannot take its declared inputs "
                           f"({', '.join(f'{s.name} {list(s.shape)}' for s in pkg.inputs)})"
                           f": {type(e).__name__}: {e}") from e
    for i, (o, s) in enumerate(zip(outs, pkg.outputs)):
        if o.ndim != len(s.shape) or tuple(o.shape[1:]) != s.shape[1:] or o.shape[0] != 1:
            _fail(where, f"outputs[{i}].shape", f"declared {list(s.shape)}, but the model "
                                                f"returns shape {list(o.shape)} for a batch "
                                                "of 1")
