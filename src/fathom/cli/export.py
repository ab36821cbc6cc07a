"""Export a trained model: a serving package (for `fathom serve`) or an ONNX file.

    fathom export runs/mlp-fashion-mnist --out models/mlp/1      # a package, version 1
    fathom export runs/cnn-fashion-mnist/best.safetensors --out models/cnn/2
    fathom export runs/cnn-fashion-mnist --format onnx --out cnn.onnx

A package is a folder with model.safetensors and config.json: the architecture (by its
name in fathom.vision.models), the input/output signature, the normalization (the
server applies it, so clients send images in [0, 1]), the class names, and statistics
of the training images for drift monitoring. When --out ends in <name>/<number>, as in
a model repository, those give the default --name and --version.

The ONNX file takes the same input as the package (images in [0, 1], shape
(batch, C, H, W), the batch size free): the normalization is part of the graph.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import _common as C
from ._common import CLIError

HELP = "export a trained model as a serving package or an ONNX file"
STATS_ROWS = 10_000  # training images summarized for drift (a seeded sample)


def add_arguments(p) -> None:
    p.add_argument("target", metavar="RUN_OR_CHECKPOINT",
                   help="a run folder of `fathom train`, or a weights/checkpoint file in one "
                        "(best.safetensors, last.safetensors)")
    p.add_argument("--format", choices=("package", "onnx"), default="package",
                   help="(default: package)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="the package folder (e.g. models/mlp/1) or the .onnx file")
    p.add_argument("--name", help="model name in the package (default: from --out "
                                  "<name>/<version>, else the architecture's name)")
    p.add_argument("--version", type=int, help="package version, a positive integer "
                                               "(default: from --out, else 1)")
    p.add_argument("--no-stats", dest="stats", action="store_false",
                   help="leave out the training statistics (no drift metrics)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing package")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")


def _name_version(out: Path, name, version, model: str):
    parent, leaf = out.parent.name, out.name
    from_path = leaf.isdigit() and int(leaf) >= 1 and parent
    if name is None:
        name = parent if from_path else model
    if version is None:
        version = int(leaf) if from_path else 1
    if version < 1:
        raise CLIError(f"--version must be a positive integer, got {version}")
    return name, version


def training_images(cfg: dict) -> np.ndarray | None:
    """A seeded sample of the run's training images as the server receives them: float32
    (N, C, H, W) in [0, 1]; None when the dataset is not available."""
    if cfg.get("dataset") not in C.DATASETS:
        return None
    try:
        raw = C.load_dataset(cfg["dataset"], cfg.get("data_root"), train=True)
    except CLIError:
        return None
    n = len(raw.targets)
    idx = np.sort(np.random.default_rng(0).permutation(n)[:STATS_ROWS])
    channels = C.dataset_spec(cfg["dataset"]).input_shape[0]
    return C.normalize_images(np.asarray(raw.data)[idx], (0.0,) * channels,
                              (1.0,) * channels)


def run(args) -> int:
    import sys
    loaded = C.load_run(args.target)
    cfg = loaded.config
    shape = [int(s) for s in cfg.get("input_shape", C.DEFAULT_INPUT_SHAPE)]
    classes = [str(c) for c in cfg.get("classes") or []] or None
    spec = C.DATASETS.get(cfg.get("dataset", ""))
    mean = cfg.get("mean", list(spec.mean) if spec else None)
    std = cfg.get("std", list(spec.std) if spec else None)
    out = Path(args.out)

    if args.format == "onnx":
        return _export_onnx(loaded.model, shape, mean, std, out, args.opset)

    from ..serve import drift
    from ..serve.package import PackageError, save_package
    name, version = _name_version(out, args.name, args.version, cfg["model"])
    # the logits' width, from one dry run (the run's config may not record it)
    import fathom
    with fathom.no_grad():
        width = int(loaded.model(fathom.zeros(1, *shape)).shape[-1])
    stats = None
    if args.stats:
        x = training_images(cfg)
        if x is None:
            print(f"fathom export: warning: the {cfg.get('dataset')} training set is not "
                  "available; the package has no training statistics (no drift metrics)",
                  file=sys.stderr)
        else:
            stats = {"input": drift.input_statistics(x)}
    try:
        save_package(
            loaded.model, out, name=name, version=version,
            architecture={"registry": "fathom.vision.models", "name": cfg["model"],
                          "kwargs": cfg.get("model_kwargs") or {}},
            inputs=[{"name": "input", "datatype": "FP32", "shape": [-1, *shape]}],
            outputs=[{"name": "logits", "datatype": "FP32", "shape": [-1, width]}],
            preprocessing={"mean": list(mean), "std": list(std)} if mean and std else None,
            labels=classes if classes and len(classes) == width else None,
            training_stats=stats, overwrite=args.overwrite)
    except PackageError as e:
        raise CLIError(str(e)) from e
    # the repository (REPO/<name>/<version>), or the package itself
    where = out.parent.parent if out.name.isdigit() else out
    print(f"Exported {cfg['model']} from {loaded.weights} as package {name!r} version "
          f"{version} in {out}\nServe it with: fathom serve {where}")
    return 0


def _export_onnx(model, shape, mean, std, out: Path, opset: int) -> int:
    import fathom
    from .. import nn
    try:
        from ..onnx import export
    except ImportError as e:
        raise CLIError(f"ONNX export needs the onnx package ({e}); "
                       "pip install 'fathom[onnx]'") from e

    class Normalized(nn.Module):
        """(x - mean) / std, then the model: the graph takes images in [0, 1]."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            c = shape[0]
            m = np.asarray(mean if mean else [0.0], np.float32)
            s = np.asarray(std if std else [1.0], np.float32)
            self.register_buffer("mean", fathom.from_numpy(
                np.broadcast_to(m, (c,)).reshape(1, c, 1, 1).copy()))
            self.register_buffer("inv_std", fathom.from_numpy(
                (1.0 / np.broadcast_to(s, (c,))).astype(np.float32).reshape(1, c, 1, 1)))

        def forward(self, x):
            return self.inner((x - self.mean) * self.inv_std)

    wrapped = Normalized(model).eval()
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    try:
        export(wrapped, fathom.zeros(1, *shape), str(out), input_names=["input"],
               output_names=["logits"],
               dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
               opset_version=opset)
    except (ValueError, TypeError, NotImplementedError, RuntimeError) as e:
        raise CLIError(f"ONNX export failed: {e}") from e
    print(f"Exported ONNX (opset {opset}) to {out}: input 'input' (batch, "
          f"{', '.join(map(str, shape))}) in [0, 1], output 'logits'")
    return 0
