"""Evaluate a trained model on a dataset split: loss, accuracy, per-class metrics, ROC AUC.

    fathom evaluate runs/cnn-fashion-mnist
    fathom evaluate runs/cnn-fashion-mnist/best.safetensors --split train --json
"""
from __future__ import annotations

import json

import numpy as np

from . import _common as C
from ._common import CLIError

HELP = "loss, accuracy, precision/recall/F1 and ROC AUC of a trained model"


def add_arguments(p) -> None:
    p.add_argument("target", metavar="RUN_OR_MODEL",
                   help="a run folder of `fathom train`, or a model/checkpoint file")
    p.add_argument("--dataset", choices=tuple(C.DATASETS),
                   help="(default: the run's dataset)")
    p.add_argument("--data-root", metavar="DIR", help="dataset folder (default: the run's)")
    p.add_argument("--download", action="store_true",
                   help="fetch the dataset files if they are missing")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="(default: test)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    p.add_argument("--batch-size", type=int, default=512, metavar="N",
                   help="(default: 512)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args) -> int:
    loaded = C.load_run(args.target)
    cfg = loaded.config
    name = args.dataset or cfg.get("dataset")
    if name is None:
        raise CLIError(f"{args.target}: the run names no dataset; pass --dataset")
    spec = C.dataset_spec(name)
    if tuple(cfg.get("input_shape", spec.input_shape)) != spec.input_shape:
        raise CLIError(f"model '{cfg['model']}' takes inputs of shape "
                       f"{tuple(cfg['input_shape'])}, but {spec.title} images are "
                       f"{spec.input_shape}")
    root = args.data_root if args.data_root is not None else cfg.get("data_root")
    raw = C.load_dataset(name, root, args.split == "train", None, args.download)
    n = len(raw.targets) if not args.limit else min(args.limit, len(raw.targets))
    mean, std = cfg.get("mean", spec.mean), cfg.get("std", spec.std)
    x = C.normalize_images(raw.data[:n], mean, std)
    y = np.asarray(raw.targets[:n], dtype=np.int64)
    logits = predict_arrays(loaded.model, x, args.batch_size)
    classes = list(cfg.get("classes") or raw.classes)
    result = evaluate_logits(logits, y, len(classes))

    if args.json:
        out = {"model": cfg["model"], "weights": str(loaded.weights), "dataset": name,
               "split": args.split, "samples": int(n), "classes": classes,
               **{k: _jsonable(v) for k, v in result.items()}}
        print(json.dumps(out, indent=2))
        return 0
    from .. import metrics
    print(f"{cfg['model']} ({loaded.weights}) on {n} {spec.title} {args.split} images")
    print(f"loss      {result['loss']:.4f}")
    print(f"accuracy  {100 * result['accuracy']:.2f}%")
    if result["roc_auc"] is not None:
        print(f"ROC AUC   {result['roc_auc']:.4f} (one-vs-rest, macro)")
    print()
    print(metrics.classification_report(logits, y, class_names=classes))
    return 0


def predict_arrays(model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits for float32 inputs (N, C, H, W): Trainer.predict (eval mode, no_grad)."""
    import fathom
    from ..train import Trainer
    from ..utils.data import DataLoader, TensorDataset
    if batch_size < 1:
        raise CLIError(f"--batch-size must be positive, got {batch_size}")
    loader = DataLoader(TensorDataset(fathom.from_numpy(x)), batch_size=batch_size)
    return Trainer(model, None, progress=False).predict(loader).numpy()


def evaluate_logits(logits, targets, num_classes: int) -> dict:
    """Loss, accuracy, precision/recall/F1 (per class and macro), ROC AUC (one-vs-rest,
    macro) and the confusion matrix, from logits (N, C) and integer targets (N,)."""
    import fathom
    from .. import metrics
    from ..nn import functional as F
    z = fathom.as_tensor(np.asarray(logits.numpy() if hasattr(logits, "numpy") else logits))
    t = np.asarray(targets, dtype=np.int64)
    loss = float(F.cross_entropy(z, fathom.from_numpy(t)).item())
    probs = F.softmax(z, dim=1).numpy()
    result = {"loss": loss, "accuracy": metrics.accuracy(z, t)}
    for name, fn in (("precision", metrics.precision), ("recall", metrics.recall),
                     ("f1", metrics.f1_score)):
        result[name] = fn(z, t, average="macro", num_classes=num_classes)
        result[f"{name}_per_class"] = fn(z, t, average=None, num_classes=num_classes)
    try:
        result["roc_auc"] = metrics.roc_auc(probs, t, average="macro", multi_class="ovr")
    except ValueError:  # a class absent from the targets (tiny --limit): AUC undefined
        result["roc_auc"] = None
    result["confusion_matrix"] = metrics.confusion_matrix(z, t, num_classes=num_classes)
    return result


def _jsonable(v):
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    a = np.asarray(v)
    return a.tolist() if a.ndim else a.item()
