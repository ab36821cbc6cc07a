"""Callbacks for `fathom.train.Trainer`, with Keras's names, hooks and arguments.

A callback overrides any of the hooks `on_train_begin/end(logs)`,
`on_epoch_begin/end(epoch, logs)`, `on_train_batch_begin/end(batch, logs)`,
`on_test_begin/end(logs)`, `on_test_batch_begin/end(batch, logs)` and the `predict`
ones; the trainer calls only the hooks a callback overrides. Epochs and batches are
0-based; `logs` at an epoch end holds 'loss', the metric names, 'val_*' and 'lr'. A callback
sees the trainer as `self.trainer` (and the model as `self.model`) and stops training
with `self.trainer.stop_training = True`. `state_dict()`/`load_state_dict()` carry its
state through checkpoints.

    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings

from .. import backend

_np = backend.np


class Callback:
    """Base class: every hook does nothing."""

    def __init__(self):
        self.trainer = None
        self.params = {}
        self._model = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def set_model(self, model) -> None:
        self._model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    @property
    def model(self):
        if self._model is not None:
            return self._model
        return self.trainer.model if self.trainer is not None else None

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    def state_dict(self) -> dict:
        """What a resumed run needs (fathom.save-able); empty by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def _after_epoch(self, epoch: int, logs: dict) -> None:
        """Called after every callback's on_epoch_end and the History update, when the
        trainer's state is that of a finished epoch: the moment to write checkpoints."""


class History(Callback):
    """What `fit` returns: `history` (dict of per-epoch lists, Keras's keys 'loss',
    '<metric>', 'val_loss', 'val_<metric>', 'lr'), `epoch` (0-based indices) and
    `interrupted` (True when a signal stopped the run)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.interrupted = False

    def _append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            self.history.setdefault(k, []).append(_plain(v))

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _plain(v):
    if isinstance(v, (_np.floating, _np.integer)):
        return v.item()
    return v


# --- monitored quantities ------------------------------------------------------------------
_MAX_NAMES = ("acc", "accuracy", "auc", "precision", "recall", "f1", "f1_score", "r2",
              "r2_score", "top_k_accuracy")


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if name in _MAX_NAMES or name.endswith("accuracy") or name.endswith("_acc") \
        else "min"


def _finite_or_none(x):
    return None if x is None or not math.isfinite(x) else float(x)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved for `patience` epochs (Keras 3 semantics).

    Improvement means `current < best - min_delta` (mode 'min'; 'max' mirrors it; 'auto'
    picks 'max' for accuracy-like names). `baseline`: training also stops when the value
    has not beaten it after `patience` epochs. `restore_best_weights`: at the end of
    training the model gets the weights of the best epoch. `start_from_epoch`: epochs to
    wait before monitoring.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _monitor_mode(monitor, mode)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights = None
        self._warned = False

    def on_train_begin(self, logs=None):
        if self.trainer is None or not self.trainer._resuming():
            self._reset()

    def _is_improvement(self, value, reference) -> bool:
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            if not self._warned:
                warnings.warn(f"EarlyStopping: '{self.monitor}' is not in the logs (available: "
                              f"{sorted(logs or {})}); not stopping on it", stacklevel=2)
                self._warned = True
            return
        if epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _snapshot(self.model)
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _snapshot(self.model)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", file=sys.stderr)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.", file=sys.stderr)
            self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best": _finite_or_none(self.best), "best_epoch": self.best_epoch,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        best = state["best"]
        self.best = (math.inf if self.mode == "min" else -math.inf) if best is None else best
        self.best_epoch = int(state["best_epoch"])
        self.best_weights = state.get("best_weights")


def _snapshot(model) -> dict:
    """A copy of the model's state dict (the model keeps training in place)."""
    from ..tensor import _make  # noqa: PLC0415
    return {k: _make(v.data.copy(), None, 0, None) for k, v in model.state_dict().items()}


class ModelCheckpoint(Callback):
    """Save checkpoints at epoch ends, atomically (through `fathom.save`).

    `filepath` a directory (no `.safetensors` suffix): `last.safetensors` there every
    epoch (a full training checkpoint, what `fit(resume=...)` reads; also where an
    interrupted fit saves) unless `save_last=False`, and `best.safetensors` whenever
    `monitor` improves (`save_best_only` does not apply in this mode).

    `filepath` a file name ending in `.safetensors` (template mode): written every epoch
    (only on improvement with `save_best_only`), formatted with `epoch` (1-based) and the
    logs, e.g. `"ckpt/e{epoch:02d}-{val_loss:.3f}.safetensors"`.

    With `save_weights_only`, the best file (directory mode) or every file (template
    mode) holds the model's state dict only, loaded with
    `model.load_state_dict(fathom.load(path))`; otherwise files are full training
    checkpoints (the weights are under 'model').
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", *, save_last=True,
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _monitor_mode(monitor, mode)
        self.save_last = save_last
        self.is_directory = not self.filepath.endswith(".safetensors")
        self.best = initial_value_threshold
        self._pending = []
        self._warned = False

    @property
    def last_path(self):
        return os.path.join(self.filepath, "last.safetensors") \
            if self.is_directory and self.save_last else None

    @property
    def best_path(self):
        return os.path.join(self.filepath, "best.safetensors") if self.is_directory else None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        improved = False
        if value is None:
            if (self.is_directory or self.save_best_only) and not self._warned:
                warnings.warn(f"ModelCheckpoint: '{self.monitor}' is not in the logs "
                              f"(available: {sorted(logs)}); no best checkpoint",
                              stacklevel=2)
                self._warned = True
        elif self._improved(float(value)):
            improved = True
            self.best = float(value)
        if self.is_directory:
            if self.save_last:
                self._pending.append((self.last_path, False))
            if improved:
                self._pending.append((self.best_path, self.save_weights_only))
        elif improved or not self.save_best_only:
            path = self.filepath.format(epoch=epoch + 1, **logs)
            self._pending.append((path, self.save_weights_only))

    def _after_epoch(self, epoch, logs):
        pending, self._pending = self._pending, []
        for path, weights_only in pending:
            _save(self.trainer, path, weights_only)
            if self.verbose:
                print(f"Epoch {epoch + 1}: saved {path}", file=sys.stderr)

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")


def _save(trainer, path, weights_only: bool) -> None:
    if weights_only:
        from .. import io  # noqa: PLC0415
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        io.save(trainer.model.state_dict(), path)
    else:
        trainer.save_checkpoint(path)


# --- learning rate -------------------------------------------------------------------------
class LRScheduler(Callback):
    """Step a `fathom.optim.lr_scheduler` scheduler at each epoch end (`interval="epoch"`)
    or after each batch (`interval="step"`); `ReduceLROnPlateau` gets `logs[monitor]`
    (falling back to 'loss' when `monitor` is missing). `scheduler` may also be a function
    `schedule(epoch, lr) -> lr` applied at each epoch's beginning (Keras's
    LearningRateScheduler). Its state travels in checkpoints."""

    def __init__(self, scheduler, interval="epoch", monitor="val_loss", verbose=0):
        super().__init__()
        if interval not in ("epoch", "step"):
            raise ValueError(f"LRScheduler: interval must be 'epoch' or 'step', got {interval!r}")
        self.scheduler = scheduler
        self.interval = interval
        self.monitor = monitor
        self.verbose = verbose
        self._seen_step = None

    def _is_function(self) -> bool:
        return not hasattr(self.scheduler, "step")

    def on_train_begin(self, logs=None):
        self._seen_step = self.trainer.global_step

    def on_epoch_begin(self, epoch, logs=None):
        if self._is_function():
            group = self.trainer.optimizer.param_groups
            lr = float(self.scheduler(epoch, group[0]["lr"]))
            for g in group:
                g["lr"] = lr
            if self.verbose:
                print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                      f"{lr}.", file=sys.stderr)

    def on_train_batch_end(self, batch, logs=None):
        # once per optimizer step (a batch inside an accumulation group does not step)
        if self.interval == "step" and not self._is_function() and \
                self.trainer.global_step != self._seen_step:
            self._seen_step = self.trainer.global_step
            self._step(logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.interval == "epoch" and not self._is_function():
            self._step(logs)

    def _step(self, logs):
        from ..optim.lr_scheduler import ReduceLROnPlateau  # noqa: PLC0415
        if isinstance(self.scheduler, ReduceLROnPlateau):
            logs = logs or {}
            self.scheduler.step(logs.get(self.monitor, logs.get("loss")))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return {} if self._is_function() else {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state and not self._is_function():
            self.scheduler.load_state_dict(state["scheduler"])


class LearningRateScheduler(LRScheduler):
    """Keras's: `schedule(epoch, lr) -> lr` sets every group's rate at each epoch begin."""

    def __init__(self, schedule, verbose=0):
        super().__init__(schedule, verbose=verbose)


class ReduceLROnPlateau(LRScheduler):
    """Keras's ReduceLROnPlateau: multiply the rate by `factor` once `monitor` has not
    improved by more than `min_delta` for `patience` epochs, then wait `cooldown` epochs;
    never below `min_lr`. Runs `fathom.optim.lr_scheduler.ReduceLROnPlateau`
    (threshold_mode 'abs', patience - 1: PyTorch reduces after patience + 1 bad epochs,
    Keras after patience)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0, got "
                             f"{factor}")
        super().__init__(None, monitor=monitor, verbose=verbose)
        self.factor, self.patience, self.min_delta = factor, patience, min_delta
        self.cooldown, self.min_lr = cooldown, min_lr
        self.mode = _monitor_mode(monitor, mode)
        self._state = None

    def _is_function(self) -> bool:
        return False

    def set_trainer(self, trainer) -> None:
        from ..optim.lr_scheduler import ReduceLROnPlateau as Plateau  # noqa: PLC0415
        super().set_trainer(trainer)
        if self.scheduler is None or self.scheduler.optimizer is not trainer.optimizer:
            self.scheduler = Plateau(trainer.optimizer, mode=self.mode, factor=self.factor,
                                     patience=max(int(self.patience) - 1, 0),
                                     threshold=self.min_delta, threshold_mode="abs",
                                     cooldown=self.cooldown, min_lr=self.min_lr)
            if self._state is not None:
                self.scheduler.load_state_dict(self._state)

    def _step(self, logs):
        before = self.trainer.optimizer.param_groups[0]["lr"]
        super()._step(logs)
        after = self.trainer.optimizer.param_groups[0]["lr"]
        if self.verbose and after != before:
            print(f"ReduceLROnPlateau reducing learning rate to {after}.", file=sys.stderr)

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is None:
            self._state = state.get("scheduler")
        else:
            super().load_state_dict(state)


# --- logging -------------------------------------------------------------------------------
class CSVLogger(Callback):
    """One CSV row per epoch: `epoch` then the log keys (sorted), as Keras. A resumed fit
    appends (as does `append=True`); the header is written once."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None

    def on_train_begin(self, logs=None):
        self.keys = None
        resuming = self.trainer is not None and self.trainer._resuming()
        if not (self.append or resuming):
            folder = os.path.dirname(self.filename)
            if folder:
                os.makedirs(folder, exist_ok=True)
            open(self.filename, "w").close()
        elif os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            self.keys = header[1:] if header else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        new_file = self.keys is None
        if new_file:
            self.keys = sorted(logs)
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.sep)
            if new_file:
                writer.writerow(["epoch"] + self.keys)
            writer.writerow([epoch] + [_csv_value(logs.get(k, "NA")) for k in self.keys])


def _csv_value(v):
    if isinstance(v, _np.ndarray):
        return "[" + ", ".join(str(x) for x in v.ravel().tolist()) + "]"
    return v


class TensorBoard(Callback):
    """Scalars for TensorBoard through tensorboardX: each epoch's logs as `epoch_<key>`
    (x = epoch number), and with `update_freq` an int, the running loss every that many
    optimizer steps as `batch_loss`. Needs `pip install tensorboardX`."""

    def __init__(self, log_dir="logs", update_freq="epoch"):
        super().__init__()
        try:
            import tensorboardX  # noqa: F401, PLC0415
        except ImportError as e:
            raise ImportError("TensorBoard callback needs the tensorboardX package "
                              "(pip install tensorboardX); it writes the event files "
                              "TensorBoard reads") from e
        if update_freq not in ("epoch", "batch") and not isinstance(update_freq, int):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or an int, "
                             f"got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.writer = None
        self._logged = None

    def on_train_begin(self, logs=None):
        from tensorboardX import SummaryWriter  # noqa: PLC0415
        self.writer = SummaryWriter(self.log_dir)
        self._logged = self.trainer.global_step

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq != "epoch" and self.writer is not None:
            step = self.trainer.global_step
            if step % self.update_freq == 0 and step != self._logged and logs:
                self._logged = step
                self.writer.add_scalar("batch_loss", logs["loss"], step)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float, _np.floating)):
                self.writer.add_scalar(f"epoch_{k}", float(v), epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class LambdaCallback(Callback):
    """A callback from functions: `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`.
    Any hook name is accepted as a keyword (Keras's `on_batch_end` included)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(getattr(Callback, name, None)) or not name.startswith("on_"):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)  # an instance attribute: the trainer sees the override


# --- progress ------------------------------------------------------------------------------
class ProgressBar(Callback):
    """Progress per epoch on `file` (default stderr): a tqdm bar when `file` is a
    terminal and tqdm is installed, else plain lines every `every` steps (default: about
    ten per epoch) and one at each epoch end, e.g.

        epoch 1/3 step 50/100 loss 0.4123 accuracy 0.8511 | 2210 samples/s ETA 0:00:02
        epoch 1/3 done 100/100 loss 0.4012 accuracy 0.8543 val_loss 0.3970 ... | 4.6s

    `use_tqdm` forces the choice.
    """

    def __init__(self, every=None, file=None, use_tqdm=None):
        super().__init__()
        self.every = every
        self.file = file
        self.use_tqdm = use_tqdm
        self._bar = None

    def _out(self):
        return self.file if self.file is not None else sys.stderr

    def on_train_begin(self, logs=None):
        out = self._out()
        use = self.use_tqdm
        if use is None:
            use = bool(getattr(out, "isatty", lambda: False)())
        if use:
            try:
                import tqdm  # noqa: F401, PLC0415
            except ImportError:
                use = False
        self._tqdm = use

    def on_epoch_begin(self, epoch, logs=None):
        if self._bar is not None:  # left open by a run that raised
            self._bar.close()
            self._bar = None
        self._epoch = epoch
        self._steps = self.params.get("steps")
        self._start = time.perf_counter()
        self._first = self.trainer.step  # a resumed epoch starts mid-way
        self._samples = 0
        self._last_post = 0.0
        if self._steps:
            self._every = self.every or max(1, self._steps // 10)
        else:
            self._every = self.every or 50
        if self._tqdm:
            from tqdm.auto import tqdm  # noqa: PLC0415
            self._bar = tqdm(total=self._steps, initial=self._first, file=self._out(),
                             desc=f"epoch {epoch + 1}/{self.params.get('epochs')}",
                             unit="step", dynamic_ncols=True, leave=True)

    def on_train_batch_end(self, batch, logs=None):
        self._samples += (logs or {}).get("size", 0)
        done = batch + 1
        if self._bar is not None:
            self._bar.update(1)
            now = time.perf_counter()
            if now - self._last_post > 0.5:  # postfix text costs a metric compute
                self._last_post = now
                self._bar.set_postfix_str(_fmt(self.trainer.running_logs()), refresh=False)
        elif done % self._every == 0 and done != self._steps:
            print(self._line(done, self.trainer.running_logs()) + self._rate(done),
                  file=self._out(), flush=True)

    def _line(self, done, logs) -> str:
        total = f"/{self._steps}" if self._steps else ""
        return (f"epoch {self._epoch + 1}/{self.params.get('epochs')} step {done}{total} "
                + _fmt(logs))

    def _rate(self, done) -> str:
        elapsed = time.perf_counter() - self._start
        rate = self._samples / elapsed if elapsed > 0 else 0.0
        text = f" | {rate:.0f} samples/s"
        ran = done - self._first
        if self._steps and ran > 0:
            eta = elapsed / ran * (self._steps - done)
            text += f" ETA {_hms(eta)}"
        return text

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        rate = self._samples / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.set_postfix_str(_fmt(logs or {}), refresh=True)
            self._bar.close()
            self._bar = None
        else:
            done = self.trainer.step or self._steps or 0
            total = f"/{self._steps}" if self._steps else ""
            print(f"epoch {epoch + 1}/{self.params.get('epochs')} done {done}{total} "
                  f"{_fmt(logs or {})} | {elapsed:.1f}s {rate:.0f} samples/s",
                  file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _fmt(logs: dict) -> str:
    parts = []
    for k, v in logs.items():
        if k in ("size", "batch"):
            continue
        if isinstance(v, (float, _np.floating)):
            parts.append(f"{k} {v:.4g}" if k == "lr" else f"{k} {v:.4f}")
        elif isinstance(v, int):
            parts.append(f"{k} {v}")
    return " ".join(parts)


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# --- plots ---------------------------------------------------------------------------------
class PlotHistory(Callback):
    """Write `history.png` (loss and each metric, train vs validation, per epoch) into
    `dirpath` at every epoch end, and at the end of training `confusion_matrix.png` from
    the validation predictions (classification: outputs (N, C), integer targets) when
    `confusion_matrix` and a validation loader exist. Needs matplotlib."""

    def __init__(self, dirpath, confusion_matrix=True, class_names=None):
        super().__init__()
        from .plots import _require_matplotlib  # noqa: PLC0415
        _require_matplotlib()
        self.dirpath = os.fspath(dirpath)
        self.confusion_matrix = confusion_matrix
        self.class_names = class_names

    def _after_epoch(self, epoch, logs):
        from .plots import plot_history  # noqa: PLC0415
        plot_history(self.trainer.history, os.path.join(self.dirpath, "history.png"))

    def on_train_end(self, logs=None):
        trainer = self.trainer
        if not self.confusion_matrix or trainer.val_loader is None or trainer.interrupted:
            return
        from .plots import plot_confusion_matrix  # noqa: PLC0415
        from ..metrics import confusion_matrix  # noqa: PLC0415
        outputs, targets = trainer._predict(trainer.val_loader, with_targets=True)
        if targets is None or outputs.ndim != 2 or targets.ndim != 1:
            return
        n = outputs.shape[1]
        cm = confusion_matrix(outputs, targets, num_classes=n)
        plot_confusion_matrix(cm, self.class_names, os.path.join(self.dirpath,
                                                                 "confusion_matrix.png"))
