"""Classify image files or .npy arrays with a trained model; top-k classes and probabilities.

    fathom predict runs/cnn-fashion-mnist shirt.png boot.jpg
    fathom predict runs/cnn-fashion-mnist images.npy --top-k 3 --json

Images are converted to the model's input (grayscale or RGB, resized) and normalized as
in training. Fashion-MNIST and MNIST show light items on a black background; pass
--invert for dark-on-light pictures. A .npy array may be (H, W), (N, H, W) or (N, C, H, W),
uint8 in 0..255 or float in 0..1.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import _common as C
from ._common import CLIError

HELP = "classify image files (PNG, JPEG) or .npy arrays with a trained model"


def add_arguments(p) -> None:
    p.add_argument("target", metavar="RUN_OR_MODEL",
                   help="a run folder of `fathom train`, or a model file")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files (PNG, JPEG, ...) or .npy arrays")
    p.add_argument("--top-k", type=int, default=3, metavar="K",
                   help="how many classes to show per input (default: 3)")
    p.add_argument("--invert", action="store_true",
                   help="invert images (dark items on a light background)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args) -> int:
    loaded = C.load_run(args.target)
    cfg = loaded.config
    shape = tuple(cfg.get("input_shape", C.DEFAULT_INPUT_SHAPE))
    classes = list(cfg.get("classes") or [])
    spec = C.DATASETS.get(cfg.get("dataset", ""))
    mean = cfg.get("mean", spec.mean if spec else (0.0,) * shape[0])
    std = cfg.get("std", spec.std if spec else (1.0,) * shape[0])
    if args.top_k < 1:
        raise CLIError(f"--top-k must be positive, got {args.top_k}")

    names, batches = [], []
    for path in args.inputs:
        x = load_input(path, shape)  # float32 (N, C, H, W) in [0, 1]
        if args.invert:
            x = 1.0 - x
        batches.append(x)
        names += [path] if len(x) == 1 and not path.endswith(".npy") else \
            [f"{path}[{i}]" for i in range(len(x))]
    x = np.concatenate(batches)
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    from .evaluate import predict_arrays
    logits = predict_arrays(loaded.model, np.ascontiguousarray((x - m) / s))
    probs = _softmax(logits)
    k = min(args.top_k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]

    def label(c):
        return classes[c] if c < len(classes) else str(c)

    results = [{"input": name,
                "predictions": [{"class": label(c), "index": int(c),
                                 "probability": float(p[c])} for c in row]}
               for name, p, row in zip(names, probs, top)]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    width = max(len(n) for n in names)
    for r in results:
        preds = "  ".join(f"{p['class']} {p['probability']:.3f}" for p in r["predictions"])
        print(f"{r['input']:<{width}}  {preds}")
    return 0


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_input(path: str, shape) -> np.ndarray:
    """One input file as float32 (N, C, H, W) in [0, 1], fitted to the model's `shape`."""
    if not Path(path).is_file():
        raise CLIError(f"{path}: no such file")
    if path.lower().endswith(".npy"):
        return _from_npy(path, shape)
    return _from_image(path, shape)


def _from_npy(path: str, shape) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CLIError(f"{path}: not a readable .npy array: {e}") from e
    if a.ndim == 2:
        a = a[None, None]
    elif a.ndim == 3:
        a = a[:, None]
    elif a.ndim != 4:
        raise CLIError(f"{path}: expected an array of shape (H, W), (N, H, W) or "
                       f"(N, C, H, W), got {a.shape}")
    if tuple(a.shape[1:]) != tuple(shape):
        raise CLIError(f"{path}: the model takes images of shape {tuple(shape)} (C, H, W); "
                       f"got {tuple(a.shape[1:])} (array shape {a.shape})")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.number):
        raise CLIError(f"{path}: expected a numeric array, got dtype {a.dtype}")
    return a.astype(np.float32)


def _from_image(path: str, shape) -> np.ndarray:
    c, h, w = shape
    try:
        from PIL import Image
    except ImportError:
        return _from_image_matplotlib(path, shape)
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.float32) / 255.0
    except OSError as e:
        raise CLIError(f"{path}: cannot read the image: {e}") from e
    return (a[None, None] if c == 1 else a.transpose(2, 0, 1)[None]).copy()


def _from_image_matplotlib(path: str, shape) -> np.ndarray:
    """Without Pillow: matplotlib reads PNG itself; no resizing."""
    c, h, w = shape
    try:
        from matplotlib.image import imread
    except ImportError:
        raise CLIError(f"{path}: reading images needs Pillow or matplotlib "
                       "(pip install pillow); or pass a .npy array") from None
    try:
        a = np.asarray(imread(path))
    except (OSError, ValueError, SyntaxError) as e:
        raise CLIError(f"{path}: cannot read the image without Pillow ({e}); "
                       "pip install pillow, or pass a .npy array") from e
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    if a.ndim == 3:
        a = a[..., :3]  # drop alpha
        a = a @ np.array([0.299, 0.587, 0.114], np.float32) if c == 1 else a.transpose(2, 0, 1)
    if a.ndim == 2:
        a = a[None] if c == 1 else np.repeat(a[None], 3, axis=0)
    if a.shape[1:] != (h, w):
        raise CLIError(f"{path}: the model takes {h}x{w} images, this one is "
                       f"{a.shape[1]}x{a.shape[2]} (install Pillow to resize)")
    return a[None].astype(np.float32)
