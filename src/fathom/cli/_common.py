"""What the subcommands share: datasets by name, models by name, run folders, errors.

A run folder (written by `fathom train`) holds `config.json`, which is enough to rebuild
the model and its input pipeline: model name and arguments, input shape, class names,
the normalization. `model.safetensors` carries the same facts in its metadata, so a
model file works on its own too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path


class CLIError(Exception):
    """A mistake the user can fix; printed as one line, exit status 2."""


@dataclass(frozen=True)
class DatasetSpec:
    cls: str              # class name in fathom.vision.datasets
    title: str            # for messages
    input_shape: tuple    # (C, H, W) the model sees
    mean: tuple           # per-channel normalization (statistics of the training set)
    std: tuple
    flip: bool            # a horizontal flip keeps the label (not so for digits)


DATASETS = {
    "fashion-mnist": DatasetSpec("FashionMNIST", "Fashion-MNIST", (1, 28, 28),
                                 (0.2860,), (0.3530,), True),
    "mnist": DatasetSpec("MNIST", "MNIST", (1, 28, 28), (0.1307,), (0.3081,), False),
    "cifar10": DatasetSpec("CIFAR10", "CIFAR-10", (3, 32, 32), (0.4914, 0.4822, 0.4465),
                           (0.2470, 0.2435, 0.2616), True),
}

# `fathom info NAME` without --input-shape: the input each model was drawn for
MODEL_INPUT_SHAPES = {"lenet5": (1, 32, 32), "resnet18": (3, 32, 32)}
DEFAULT_INPUT_SHAPE = (1, 28, 28)

MODEL_FILE = "model.safetensors"
LAST_CHECKPOINT = "last.safetensors"
BEST_CHECKPOINT = "best.safetensors"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion_matrix.png"
META_KEY = "fathom.run"  # safetensors metadata key of model.safetensors


# --- datasets ---------------------------------------------------------------------------
def dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise CLIError(f"unknown dataset '{name}'; choose one of: "
                       f"{', '.join(DATASETS)}") from None


def load_dataset(name: str, root, train: bool, transform=None, download: bool = False):
    """The vision dataset; its own error (what is missing, where it looked) as a CLIError."""
    from ..vision import datasets
    spec = dataset_spec(name)
    try:
        return getattr(datasets, spec.cls)(root, train=train, transform=transform,
                                           download=download)
    except (OSError, ValueError, RuntimeError) as e:
        hint = "" if download else "\n(or pass --download)"
        raise CLIError(f"{e}{hint}") from e


def normalize_images(data, mean, std) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W), normalized.

    The whole set at once: one vectorized pass instead of a transform per image.
    """
    x = np.asarray(data)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    x = x.astype(np.float32)
    if np.asarray(data).dtype == np.uint8:
        x /= 255.0
    mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((x - mean) / std)


# --- models -------------------------------------------------------------------------------
def model_names() -> list:
    from ..vision import models
    return list(models.names())


def model_kwargs(name: str, input_shape, num_classes: int) -> dict:
    """Arguments that fit the model to the data: the class count, and the input size
    for builders that take one (an MLP's `in_features`, a CNN's `in_channels`)."""
    import inspect
    from ..vision import models
    kw = {"num_classes": int(num_classes)}
    builder = getattr(models, name, None)
    try:
        params = inspect.signature(builder).parameters if callable(builder) else {}
    except (TypeError, ValueError):
        params = {}
    c, h, w = input_shape
    if "in_features" in params:
        kw["in_features"] = int(c * h * w)
    if "in_channels" in params:
        kw["in_channels"] = int(c)
    return kw


def build_model(name: str, kwargs: dict | None = None):
    from ..vision import models
    names = model_names()
    if name not in names:
        raise CLIError(f"unknown model '{name}'; choose one of: {', '.join(names)}")
    try:
        return models.get(name, **(kwargs or {}))
    except TypeError as e:
        raise CLIError(f"model '{name}': {e}") from e


def check_input_fits(model, name: str, input_shape, what: str) -> None:
    """Run a dummy batch so a model that cannot take this input fails now, in one line."""
    import fathom
    model.eval()
    try:
        with fathom.no_grad():
            model(fathom.zeros(2, *input_shape))
    except (ValueError, RuntimeError, TypeError) as e:
        raise CLIError(f"model '{name}' cannot take {what} of shape "
                       f"{tuple(input_shape)}: {e}") from e
    finally:
        model.train()


def parse_shape(text: str) -> tuple:
    """'1,28,28' or '1x28x28' -> (1, 28, 28)."""
    parts = [p for p in text.replace("x", ",").replace(" ", "").split(",") if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(s <= 0 for s in shape):
        raise CLIError(f"bad --input-shape '{text}': expected positive integers separated "
                       "by commas, e.g. 1,28,28 (channels, height, width; no batch size)")
    return shape


# --- run folders ----------------------------------------------------------------------------
def write_json(path, obj) -> None:
    """Write JSON atomically (fathom.io.atomic)."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def read_json(path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise CLIError(f"{path} is not valid JSON: {e}") from e


def model_record(cfg: dict) -> dict:
    """The part of a run's config that rebuilds the model and its inputs."""
    keys = ("model", "model_kwargs", "dataset", "input_shape", "classes", "mean", "std")
    return {k: cfg[k] for k in keys if k in cfg}


def save_model(model, path, cfg: dict) -> None:
    """Final weights as a plain safetensors file (readable by any safetensors reader), with
    what rebuilds the model in its metadata."""
    from .. import io
    io.save_file(dict(model.state_dict()), str(path),
                 metadata={META_KEY: json.dumps(model_record(cfg))})


def _state_dict_from(path: Path) -> dict:
    """Model weights from a model file (flat) or a Trainer checkpoint ({'model': ...})."""
    import fathom
    try:
        obj = fathom.load(str(path))
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot load {path}: {e}") from e
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj:
        raise CLIError(f"{path} holds no model weights")
    return obj


def _metadata(path: Path) -> dict:
    from .. import io
    try:
        meta = io.read_metadata(str(path)) or {}
    except (OSError, ValueError):
        return {}
    try:
        return json.loads(meta.get(META_KEY, "{}"))
    except json.JSONDecodeError:
        return {}


@dataclass
class LoadedRun:
    model: object
    config: dict
    weights: Path     # the file the weights came from


def load_run(target: str) -> LoadedRun:
    """A run folder or a weights file -> the model with its weights, in eval mode.

    A folder uses `model.safetensors`, else its last checkpoint (an interrupted run).
    What the model is comes from the file's own metadata (model.safetensors has it) and
    from `config.json` beside the file.
    """
    p = Path(target)
    if not p.exists():
        raise CLIError(f"{target}: no such run folder or model file")
    if p.is_dir():
        weights = next((p / n for n in (MODEL_FILE, LAST_CHECKPOINT) if (p / n).exists()),
                       None)
        if weights is None:
            raise CLIError(f"{target} holds no {MODEL_FILE} or {LAST_CHECKPOINT} "
                           "(is it a run folder of `fathom train`?)")
    else:
        weights = p
    beside = weights.parent / CONFIG_FILE
    cfg = {**(read_json(beside) if beside.exists() else {}), **_metadata(weights)}
    if "model" not in cfg:
        raise CLIError(f"{target}: cannot tell which model this is (no {CONFIG_FILE} "
                       "beside it and no fathom metadata in the file)")
    model = build_model(cfg["model"], cfg.get("model_kwargs"))
    try:
        model.load_state_dict(_state_dict_from(weights))
    except (KeyError, ValueError, RuntimeError) as e:
        raise CLIError(f"{weights}: weights do not fit model '{cfg['model']}': {e}") from e
    model.eval()
    return LoadedRun(model, cfg, weights)
