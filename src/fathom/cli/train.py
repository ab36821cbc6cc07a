"""Train a model on an image dataset; the run folder gets checkpoints, config, history, plots.

    fathom train                                  # the CNN on Fashion-MNIST, 10 epochs
    fathom train --model mlp --epochs 20 --schedule onecycle --lr 3e-3
    fathom train --resume --out runs/cnn-fashion-mnist      # after Ctrl-C: go on

The run folder (--out, default runs/<model>-<dataset>) holds config.json (written first),
last.safetensors (checkpoint after each epoch, for --resume), best.safetensors (the best
validation loss), history.csv, model.safetensors (final weights), curves.png and
confusion_matrix.png (with matplotlib).
"""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

from ..train.callbacks import Callback
from . import _common as C
from ._common import CLIError

HELP = "train a model (default: the CNN on Fashion-MNIST)"
EPILOG = """\
Ctrl-C or SIGTERM stops after the current batch and saves the checkpoint; continue with
`fathom train --resume --out RUN_FOLDER`. Exit status: 0 when done or stopped by SIGTERM,
130 after Ctrl-C, 2 for bad arguments or missing data."""

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax")
# each optimizer's usual learning rate when --lr is not given
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.05, "rmsprop": 1e-3, "adagrad": 1e-2,
              "adamax": 2e-3}
SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")

# The defaults make `fathom train` alone reach >= 91% test accuracy with the CNN (91.5%
# measured; batch 128 gave 90.8%, 64 gave 91.3%: small batches mean more steps in 10 epochs).
DEFAULTS = {
    "model": "cnn", "dataset": "fashion-mnist", "data_root": None, "epochs": 10,
    "batch_size": 32, "optimizer": "adam", "lr": None, "momentum": 0.9, "weight_decay": 0.0,
    "schedule": "cosine", "seed": 0, "num_workers": 0, "val_split": 0.1, "out": None,
    "patience": None, "augment": False, "limit": None, "progress": True, "overwrite": False,
    "download": False,
}
# choices of one session, not of the run: left out of config.json
NOT_SAVED = ("overwrite", "download", "progress")
# what --resume may change; the rest defines the run (and its checkpoint)
RESUME_MAY_CHANGE = {"epochs", "patience", "num_workers", "progress", "data_root", "out",
                     "download"}


def add_arguments(p) -> None:
    # Defaults are SUPPRESSed so that `--resume` can tell given options from defaults.
    S = argparse.SUPPRESS
    d = DEFAULTS
    p.argument_default = S
    p.add_argument("--model", metavar="NAME",
                   help=f"one of {', '.join(C.model_names())} (fathom.vision.models; "
                        f"default: {d['model']})")
    p.add_argument("--dataset", choices=tuple(C.DATASETS),
                   help=f"(default: {d['dataset']})")
    p.add_argument("--data-root", metavar="DIR",
                   help="dataset folder (default: ~/.fathom/data or $FATHOM_DATA; "
                        "Fashion-MNIST also from the Debian package)")
    p.add_argument("--download", action="store_true",
                   help="fetch the dataset files if they are missing (checksummed)")
    p.add_argument("--epochs", type=int, metavar="N", help=f"(default: {d['epochs']})")
    p.add_argument("--batch-size", type=int, metavar="N", help=f"(default: {d['batch_size']})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default: {d['optimizer']})")
    p.add_argument("--lr", type=float, metavar="LR",
                   help="learning rate (default: 1e-3 for adam, 0.05 for sgd, ...)")
    p.add_argument("--momentum", type=float, metavar="M",
                   help=f"for sgd and rmsprop (default: {d['momentum']})")
    p.add_argument("--weight-decay", type=float, metavar="WD",
                   help=f"(default: {d['weight_decay']})")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help=f"learning-rate schedule (default: {d['schedule']})")
    p.add_argument("--seed", type=int, help=f"(default: {d['seed']})")
    p.add_argument("--num-workers", type=int, metavar="N",
                   help=f"data-loading worker processes (default: {d['num_workers']})")
    p.add_argument("--val-split", type=float, metavar="F",
                   help="fraction of the training set held out for validation; 0 = none, "
                        f"the test set is used only at the end (default: {d['val_split']})")
    p.add_argument("--out", metavar="DIR",
                   help="run folder (default: runs/<model>-<dataset>, or with -2, -3, ... "
                        "appended when that holds a run already)")
    p.add_argument("--resume", nargs="?", const="", metavar="PATH",
                   help="continue a run: its folder or checkpoint file (default: the "
                        "last.safetensors of --out)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in a run folder that already holds a run")
    p.add_argument("--patience", type=int, metavar="N",
                   help="early stopping: stop after N epochs without a better validation "
                        "loss (default: off)")
    p.add_argument("--augment", action="store_true",
                   help="random crops (and flips, where they keep the label)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="use only the first N training and N test images (quick runs)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="one line per epoch instead of a progress bar")


# --- configuration ----------------------------------------------------------------------------
def resolve_config(args) -> tuple[dict, Path | None]:
    """The run's config (defaults < saved run < given options) and the checkpoint to
    resume from (None for a fresh run)."""
    given = {k: v for k, v in vars(args).items()
             if k in DEFAULTS or k == "resume"}
    resume = given.pop("resume", None)
    if resume is None:
        cfg = {**DEFAULTS, **given}
        if not cfg["out"]:  # runs/cnn-fashion-mnist, else the first free -2, -3, ...
            base = f"runs/{cfg['model']}-{cfg['dataset']}"
            cfg["out"], i = base, 2
            while (Path(cfg["out"]) / C.CONFIG_FILE).exists() and not cfg["overwrite"]:
                cfg["out"], i = f"{base}-{i}", i + 1
        out = Path(cfg["out"])
        if (out / C.CONFIG_FILE).exists() and not cfg["overwrite"]:
            raise CLIError(f"{out} already holds a run; continue it with "
                           f"`fathom train --resume --out {out}`, or pass --overwrite, "
                           "or choose another --out")
        return _check(cfg), None

    checkpoint = None
    if resume:
        p = Path(resume)
        if p.is_file():
            checkpoint = p
            out = Path(given["out"]) if given.get("out") else p.parent
        elif p.is_dir():
            out = p
        else:
            raise CLIError(f"--resume {resume}: no such run folder or checkpoint")
    else:
        out = Path(given.get("out") or
                   f"runs/{given.get('model', DEFAULTS['model'])}-"
                   f"{given.get('dataset', DEFAULTS['dataset'])}")
    if not (out / C.CONFIG_FILE).exists():
        raise CLIError(f"no run to resume in {out} ({C.CONFIG_FILE} is missing)")
    saved = C.read_json(out / C.CONFIG_FILE)
    checkpoint = checkpoint or out / C.LAST_CHECKPOINT
    if not checkpoint.exists():
        raise CLIError(f"{checkpoint} does not exist yet (the run stopped before its first "
                       "checkpoint); start it again without --resume")
    for key, value in given.items():
        if key not in RESUME_MAY_CHANGE and key in saved and saved[key] != value:
            raise CLIError(f"--resume continues the run in {out} with "
                           f"--{key.replace('_', '-')} {saved[key]}; it cannot change it "
                           f"to {value} (start a new run with another --out)")
    cfg = {**DEFAULTS, **saved, **{k: v for k, v in given.items() if k in RESUME_MAY_CHANGE}}
    if saved.get("schedule") in ("cosine", "onecycle") and cfg["epochs"] != saved.get("epochs"):
        # both anneal to ~0 at the run's last epoch; more epochs would train at lr ~0
        raise CLIError(f"the run in {out} anneals the learning rate to 0 over its "
                       f"{saved.get('epochs')} epochs (--schedule {saved['schedule']}); it "
                       f"cannot go on to --epochs {cfg['epochs']}: start a new run, or train "
                       "with --schedule step, plateau or none to extend it later")
    cfg["out"] = str(out)
    return _check(cfg), checkpoint


def _check(cfg: dict) -> dict:
    C.dataset_spec(cfg["dataset"])
    if cfg["model"] not in C.model_names():
        raise CLIError(f"unknown model '{cfg['model']}'; choose one of: "
                       f"{', '.join(C.model_names())}")
    for key in ("epochs", "batch_size"):
        if cfg[key] < 1:
            raise CLIError(f"--{key.replace('_', '-')} must be at least 1, got {cfg[key]}")
    if not 0 <= cfg["val_split"] < 1:
        raise CLIError(f"--val-split must be in [0, 1), got {cfg['val_split']}")
    if cfg["limit"] is not None and cfg["limit"] < 2:
        raise CLIError(f"--limit must be at least 2, got {cfg['limit']}")
    if cfg["patience"] is not None and cfg["patience"] < 1:
        raise CLIError(f"--patience must be at least 1, got {cfg['patience']}")
    if cfg["num_workers"] < 0:
        raise CLIError(f"--num-workers must be >= 0, got {cfg['num_workers']}")
    if cfg["data_root"] is not None:  # evaluate/predict may run from another folder
        cfg["data_root"] = str(Path(cfg["data_root"]).resolve())
    if cfg["lr"] is None:
        cfg["lr"] = DEFAULT_LR[cfg["optimizer"]]
    if cfg["lr"] <= 0:
        raise CLIError(f"--lr must be positive, got {cfg['lr']}")
    return cfg


# --- data -------------------------------------------------------------------------------------
def build_data(cfg: dict):
    """(train_set, val_set or None, test_set, classes): whole splits normalized in memory
    as TensorDatasets; with --augment the training part goes through random transforms."""
    import fathom
    from ..utils.data import Subset, TensorDataset
    spec = C.dataset_spec(cfg["dataset"])
    train_raw = C.load_dataset(cfg["dataset"], cfg["data_root"], True, None, cfg["download"])
    test_raw = C.load_dataset(cfg["dataset"], cfg["data_root"], False, None, cfg["download"])
    n_train, n_test = len(train_raw.targets), len(test_raw.targets)
    if cfg["limit"]:
        n_train, n_test = min(n_train, cfg["limit"]), min(n_test, cfg["limit"])

    def tensors(raw, n):
        x = C.normalize_images(raw.data[:n], spec.mean, spec.std)
        y = np.asarray(raw.targets[:n], dtype=np.int64)
        return TensorDataset(fathom.from_numpy(x), fathom.from_numpy(y))

    full = tensors(train_raw, n_train)
    test = tensors(test_raw, n_test)
    # the split is a fixed function of the seed, so --resume gets the same one
    perm = np.random.default_rng(cfg["seed"]).permutation(n_train)
    n_val = int(round(cfg["val_split"] * n_train))
    train_idx, val_idx = perm[n_val:].tolist(), perm[:n_val].tolist()
    if n_val and not train_idx:
        raise CLIError(f"--val-split {cfg['val_split']} leaves no training images")
    if cfg["augment"]:
        train_src = C.load_dataset(cfg["dataset"], cfg["data_root"], train=True,
                                   transform=_augmentation(spec))
        train = Subset(train_src, train_idx if n_val else list(range(n_train)))
    else:
        train = Subset(full, train_idx) if n_val else full
    val = Subset(full, val_idx) if n_val else None
    return train, val, test, list(train_raw.classes)


def _augmentation(spec):
    """Random crop (after padding by 1/8 of the side) and, where it keeps the label, a
    horizontal flip; then the same tensor conversion and normalization as the rest."""
    from ..vision import transforms as T
    size = spec.input_shape[1]
    steps = [T.RandomCrop(size, padding=size // 8)]
    if spec.flip:
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize(spec.mean, spec.std)]
    return T.Compose(steps)


# --- optimizer and schedule ---------------------------------------------------------------------
def build_optimizer(cfg: dict, params):
    from .. import optim
    name, lr, wd = cfg["optimizer"], cfg["lr"], cfg["weight_decay"]
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=cfg["momentum"], weight_decay=wd)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=cfg["momentum"], weight_decay=wd)
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad,
           "adamax": optim.Adamax}[name]
    return cls(params, lr=lr, weight_decay=wd)


def build_schedule(cfg: dict, optimizer, steps_per_epoch: int):
    """(scheduler the Trainer steps once per epoch, or None; callbacks for per-batch ones)."""
    from ..optim import lr_scheduler as S
    from ..train import callbacks as cb
    kind, epochs = cfg["schedule"], cfg["epochs"]
    if kind == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), []
    if kind == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs), []
    if kind == "plateau":  # the Trainer steps it with val_loss (or loss)
        return S.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1), []
    if kind == "onecycle":  # steps every batch
        sched = S.OneCycleLR(optimizer, max_lr=cfg["lr"], epochs=epochs,
                             steps_per_epoch=steps_per_epoch)
        return None, [cb.LRScheduler(sched, interval="step")]
    return None, []


class EpochTimer(Callback):
    """Wall seconds of each epoch (training and validation)."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._t0 = None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)


# --- the command --------------------------------------------------------------------------------
def run(args) -> int:
    import fathom
    from .. import nn
    from ..train import Trainer, callbacks as cb
    from ..utils.data import DataLoader

    cfg, resume_from = resolve_config(args)
    spec = C.dataset_spec(cfg["dataset"])
    fathom.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    train_set, val_set, test_set, classes = build_data(cfg)
    kwargs = C.model_kwargs(cfg["model"], spec.input_shape, len(classes))
    model = C.build_model(cfg["model"], kwargs)
    C.check_input_fits(model, cfg["model"], spec.input_shape, f"{spec.title} images")

    out = Path(cfg["out"])
    out.mkdir(parents=True, exist_ok=True)
    cfg.update(model_kwargs=kwargs, input_shape=list(spec.input_shape), classes=classes,
               mean=list(spec.mean), std=list(spec.std), fathom_version=fathom.__version__)
    cfg.setdefault("command", " ".join(["fathom", *map(shlex.quote, getattr(args, "argv", []))]))
    if resume_from is None:
        for name in (C.HISTORY_FILE, C.LAST_CHECKPOINT, C.BEST_CHECKPOINT, C.MODEL_FILE,
                     C.CURVES_FILE, C.CONFUSION_FILE):
            (out / name).unlink(missing_ok=True)  # --overwrite: nothing stale survives
    C.write_json(out / C.CONFIG_FILE,
                 {k: v for k, v in cfg.items() if k not in NOT_SAVED})

    train_loader = DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True,
                              num_workers=cfg["num_workers"])
    val_loader = (DataLoader(val_set, batch_size=512, num_workers=cfg["num_workers"])
                  if val_set is not None else None)
    test_loader = DataLoader(test_set, batch_size=512)

    optimizer = build_optimizer(cfg, model.parameters())
    scheduler, sched_callbacks = build_schedule(cfg, optimizer, len(train_loader))
    monitor = "val_loss" if val_loader is not None else "loss"
    timer = EpochTimer()
    # ModelCheckpoint on the folder: last.safetensors (full, for --resume) every epoch and
    # best.safetensors (weights) when `monitor` improves.
    callbacks = [*sched_callbacks, timer, cb.CSVLogger(str(out / C.HISTORY_FILE)),
                 cb.ModelCheckpoint(str(out), monitor=monitor, save_weights_only=True)]
    if cfg["patience"]:
        callbacks.append(cb.EarlyStopping(monitor=monitor, patience=cfg["patience"]))
    if not cfg["progress"]:  # a line per epoch only
        callbacks.append(cb.ProgressBar(every=sys.maxsize, use_tqdm=False))
    # The Trainer turns Ctrl-C and SIGTERM into a checkpoint at the next batch boundary.
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=callbacks, scheduler=scheduler,
                      checkpoint=out / C.LAST_CHECKPOINT)

    n_val = len(val_set) if val_set is not None else 0
    print(f"Training {cfg['model']} on {spec.title} ({len(train_set)} training, {n_val} "
          f"validation, {len(test_set)} test images) for {cfg['epochs']} epochs; "
          f"run folder {out}", flush=True)
    if resume_from is not None:
        try:
            trainer.load_checkpoint(str(resume_from))  # the next fit continues from it
        except (OSError, ValueError, KeyError) as e:
            raise CLIError(f"cannot resume from {resume_from}: {e}") from e
    try:
        history = trainer.fit(train_loader, epochs=cfg["epochs"], val_loader=val_loader)
    except FloatingPointError as e:  # the loss diverged: the Trainer's message says why
        raise CLIError(str(e)) from e
    if history.interrupted:
        sig = getattr(trainer, "_stop_signal", None)
        print(f"Continue with: fathom train --resume --out {shlex.quote(str(out))}",
              file=sys.stderr)
        return 130 if sig == signal.SIGINT else 0

    C.save_model(model, out / C.MODEL_FILE, cfg)
    lines = [final_report(trainer, test_loader, test_set, classes, out, spec)]
    if timer.seconds:
        lines.append(f"Seconds per epoch: {sum(timer.seconds) / len(timer.seconds):.1f} "
                     f"(mean of {len(timer.seconds)})")
    lines.append(_where(out))
    print("\n".join(lines))
    return 0


def final_report(trainer, test_loader, test_set, classes, out: Path, spec) -> str:
    """Test loss and accuracy and the per-class report; draws the plots when matplotlib
    is installed."""
    from .. import metrics
    from .evaluate import evaluate_logits
    logits = trainer.predict(test_loader)
    targets = test_set.tensors[1].numpy()
    result = evaluate_logits(logits, targets, len(classes))
    text = [f"Test accuracy: {100 * result['accuracy']:.2f}% (loss {result['loss']:.4f}) "
            f"on {len(targets)} {spec.title} test images",
            metrics.classification_report(logits, targets, class_names=classes)]
    try:
        from ..train import plot_confusion_matrix, plot_history
        plot_history(trainer.history, out / C.CURVES_FILE)
        plot_confusion_matrix(result["confusion_matrix"], classes, out / C.CONFUSION_FILE,
                              title=f"{spec.title} test set")
    except ImportError:
        text.append("(no plots: matplotlib is not installed)")
    return "\n".join(text)


def _where(out: Path) -> str:
    q = shlex.quote(str(out))
    names = [(C.MODEL_FILE, f"final weights (fathom predict {q} IMAGE.png)"),
             (C.BEST_CHECKPOINT, "weights with the best validation loss"),
             (C.LAST_CHECKPOINT, f"checkpoint to continue (fathom train --resume --out {q})"),
             (C.CONFIG_FILE, "the run's configuration"),
             (C.HISTORY_FILE, "loss, accuracy and lr per epoch"),
             (C.CURVES_FILE, "training curves"),
             (C.CONFUSION_FILE, "test-set confusion matrix")]
    lines = [f"Run folder: {out}"]
    lines += [f"  {n:<22}{what}" for n, what in names if (out / n).exists()]
    return "\n".join(lines)
