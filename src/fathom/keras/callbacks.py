"""Keras callbacks (`keras.callbacks`) on `fathom.train`'s callbacks.

Every callback is a `fathom.train.Callback` with Keras's hooks (`on_epoch_end(epoch,
logs)`, `on_train_batch_end(batch, logs)`, ...), `self.model` (the keras model) and
`self.params` ({'verbose', 'epochs', 'steps'}); set `self.model.stop_training = True`
to stop. EarlyStopping, CSVLogger and LambdaCallback are fathom.train's (already
Keras's semantics); ReduceLROnPlateau and LearningRateScheduler add Keras 3's
'learning_rate' log key; ModelCheckpoint writes through `model.save` /
`model.save_weights`; BackupAndRestore resumes through the Trainer's checkpoints.

    >>> from fathom import keras
    >>> stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import time
import warnings

from .. import backend
from ..train import callbacks as _tc
from ..train.callbacks import CSVLogger, EarlyStopping, History, LambdaCallback

_np = backend.np

__all__ = ["Callback", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TensorBoard",
           "BackupAndRestore", "LambdaCallback", "TerminateOnNaN", "CallbackList"]


class Callback(_tc.Callback):
    """Keras's base class: override any hook; `self.model` is the keras model,
    `self.params` holds 'verbose', 'epochs' and 'steps'."""

    def set_params(self, params: dict) -> None:
        verbose = getattr(self.trainer, "verbose", None)
        self.params = dict(params) if verbose is None else {"verbose": verbose, **params}


class CallbackList(list):
    """Keras's container of callbacks: here a plain list."""


# --- progress -----------------------------------------------------------------------------
class ProgbarLogger(Callback):
    """Keras's progress output on stdout. verbose=1: 'Epoch 1/5' (when epochs > 1) then

        1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 2ms/step - accuracy: 0.8115 - loss: 0.5218

    redrawn in place on a terminal (about every 0.05 s); elsewhere (a file, a pipe) only
    the final line of each epoch is printed (Keras prints a line per update there).
    verbose=2: one line per epoch, '1875/1875 - 3s - 2ms/step - accuracy: ... - loss: ...'.
    """

    width = 20
    interval = 0.05

    def __init__(self, verbose=1, file=None, mode="train", steps=None):
        super().__init__()
        self.verbose = verbose
        self.file = file
        self.mode = mode  # 'train', 'test' or 'predict'
        self.steps = steps  # batches of an evaluate/predict pass (fit reads params)
        self._start = self._last = 0.0
        self._seen = 0
        self._printed = 0

    def _out(self):
        return self.file if self.file is not None else sys.stdout

    def _dynamic(self) -> bool:
        return bool(getattr(self._out(), "isatty", lambda: False)())

    def _begin(self):
        self._start = self._last = time.perf_counter()
        self._seen = 0
        self._printed = 0

    # train
    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs") or 1
        if epochs > 1 and self.verbose:
            print(f"Epoch {epoch + 1}/{epochs}", file=self._out(), flush=True)
        self._begin()

    def on_train_batch_end(self, batch, logs=None):
        self._step(batch, lambda: self.trainer.running_logs())

    def on_epoch_end(self, epoch, logs=None):
        self._final(logs or {})

    # evaluate / predict
    def on_test_begin(self, logs=None):
        if self.mode == "test":
            self._begin()

    def on_test_batch_end(self, batch, logs=None):
        if self.mode == "test":
            self._step(batch, lambda: dict(logs or {}))

    def on_test_end(self, logs=None):
        if self.mode == "test":
            self._final(logs or {})

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_batch_end(self, batch, logs=None):
        self._step(batch, dict)

    def on_predict_end(self, logs=None):
        self._final({})

    # drawing
    def _step(self, batch, logs_fn):
        self._seen = batch + 1
        if self.verbose != 1 or not self._dynamic():
            return
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        line = self._line(self._seen, logs_fn(), final=False)
        pad = max(0, self._printed - len(line))
        print("\r" + line + " " * pad, end="", file=self._out(), flush=True)
        self._printed = len(line)

    def _final(self, logs):
        if not self.verbose:
            return
        line = self._line(self._seen, logs, final=True)
        if self.verbose == 1 and self._dynamic():
            pad = max(0, self._printed - len(line))
            print("\r" + line + " " * pad, file=self._out(), flush=True)
        else:
            print(line, file=self._out(), flush=True)
        self._printed = 0

    def _target(self):
        if self.mode == "train":
            return self.params.get("steps")
        return self.steps

    def _line(self, current, logs, final) -> str:
        target = self._target()
        elapsed = time.perf_counter() - self._start
        per_step = _format_per_step(elapsed / current if current else 0.0)
        count = f"{current}/{target}" if target else f"{current}"
        if target:
            count = f"{current:>{len(str(target))}d}/{target}"
        values = "".join(f" - {k}: {_format_value(v)}" for k, v in sorted(logs.items())
                         if k not in ("size", "batch") and _is_number(v))
        if self.verbose == 2 and final:
            return f"{count} - {elapsed:.0f}s - {per_step}{values}"
        bar = ""
        if target:
            done = int(self.width * min(current, target) / target)
            bar = " " + "━" * done + "━" * (self.width - done) if not self._dynamic() else \
                " \x1b[32m" + "━" * done + "\x1b[0m\x1b[37m" + "━" * (self.width - done) + \
                "\x1b[0m"
        if final or not target:
            timing = f"{elapsed:.0f}s {per_step}"
        else:
            timing = f"{_format_eta(elapsed / current * (target - current))} {per_step}"
        return f"{count}{bar} {timing}{values}"


def _is_number(v) -> bool:
    return isinstance(v, (int, float, _np.floating, _np.integer)) and not isinstance(v, bool)


def _format_value(v) -> str:
    v = float(v)
    return f"{v:.4f}" if abs(v) > 1e-3 or v == 0 else f"{v:.4e}"


def _format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


# --- learning rate ------------------------------------------------------------------------
class ReduceLROnPlateau(_tc.ReduceLROnPlateau):
    """Keras's ReduceLROnPlateau (fathom.train's, which runs
    fathom.optim.lr_scheduler.ReduceLROnPlateau), adding 'learning_rate' to the logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.trainer.optimizer.param_groups[0]["lr"])
        super().on_epoch_end(epoch, logs)


class LearningRateScheduler(_tc.LearningRateScheduler):
    """`schedule(epoch, lr) -> lr` at each epoch's beginning; 'learning_rate' in the logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.trainer.optimizer.param_groups[0]["lr"])
        super().on_epoch_end(epoch, logs)


class TerminateOnNaN(Callback):
    """Stop when a batch's loss is NaN or infinite. (fathom's Trainer already raises
    FloatingPointError on a non-finite loss before applying that batch; `fit` turns it
    into a stop when this callback is present.)"""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training", file=sys.stdout)
            self.model.stop_training = True


# --- saving -------------------------------------------------------------------------------
class ModelCheckpoint(Callback):
    """Save the model (`model.save`) or its weights (`model.save_weights`) at epoch ends
    (or every `save_freq` batches), to `filepath` formatted with `epoch` (1-based) and
    the logs, e.g. `"ckpt/model-{epoch:02d}-{val_loss:.2f}.fathom.keras"`.

    `save_best_only`: only when `monitor` improves (mode 'auto' picks 'max' for
    accuracy-like names); `initial_value_threshold`: the value to beat first.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, "
                             f"got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _tc._monitor_mode(monitor, mode)
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self._batches = 0

    def _improved(self, value) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self.trainer.epoch, dict(logs or {}), batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, dict(logs or {}))

    def _save(self, epoch, logs, batch=None):
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: can save best model only with "
                              f"{self.monitor} available, skipping (logs have "
                              f"{sorted(logs)})", stacklevel=2)
                return
            if not self._improved(float(value)):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}", file=sys.stdout)
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best} to "
                      f"{float(value):.5f}, saving model", file=sys.stdout)
            self.best = float(value)
        path = self._path(epoch, logs, batch)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            _save_weights(self.model, path)
        else:
            self.model.save(path)
        if self.verbose and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}", file=sys.stdout)

    def _path(self, epoch, logs, batch):
        try:
            return self.filepath.format(epoch=epoch + 1, batch=batch, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} names {e} but the "
                           f"logs have {sorted(logs)}") from None

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")


def _save_weights(model, path):
    if hasattr(model, "save_weights"):
        model.save_weights(path)
    else:  # a plain fathom Module: its state dict, atomically
        from .. import io  # noqa: PLC0415
        io.save(model.state_dict(), path)


class BackupAndRestore(Callback):
    """Resume an interrupted `fit`: a full training checkpoint (weights, optimizer, epoch,
    RNG, callbacks, history) goes to `backup_dir/backup.safetensors` at each epoch end
    (or every `save_freq` batches); a later `fit` with this callback finds it and
    continues where the run stopped, ending with the weights an uninterrupted run would
    have. A run that finishes deletes the backup (`delete_checkpoint=True`). With this
    callback, Ctrl-C (SIGINT) or SIGTERM stop `fit` gracefully at the next batch, saving
    the backup (mid-epoch) and returning the History with `interrupted=True`; without
    it, Ctrl-C raises KeyboardInterrupt as in Keras."""

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True,
                 double_checkpoint=False):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch" and save_freq is not False and \
                not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch', False or a positive "
                             f"int, got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.double_checkpoint = double_checkpoint
        self._batches = 0

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.backup_dir, "backup.safetensors")

    def on_train_batch_end(self, batch, logs=None):
        if isinstance(self.save_freq, int) and self.save_freq is not False:
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._backup(mid_epoch=True)

    def _after_epoch(self, epoch, logs):
        if self.save_freq == "epoch":
            self._backup(mid_epoch=False)

    def _backup(self, mid_epoch):
        path = self.checkpoint_path
        if self.double_checkpoint and os.path.exists(path):
            shutil.copyfile(path, path + ".prev")
        self.trainer.save_checkpoint(path, mid_epoch=mid_epoch)

    def on_train_end(self, logs=None):
        if self.trainer.interrupted or not self.delete_checkpoint:
            return
        for p in (self.checkpoint_path, self.checkpoint_path + ".prev"):
            if os.path.exists(p):
                os.remove(p)


# --- logging ------------------------------------------------------------------------------
class TensorBoard(Callback):
    """Keras's TensorBoard layout through tensorboardX: `log_dir/train` and
    `log_dir/validation` event files with scalars `epoch_<name>` per epoch (the
    validation values under the train names, so TensorBoard overlays them), and with
    `update_freq` 'batch' or an int, `batch_<name>` every that many steps.
    `histogram_freq`: weight histograms every that many epochs. `write_graph`,
    `write_images`, `write_steps_per_second`, `profile_batch` and the embeddings options
    are accepted and not written. Needs `pip install tensorboardX`."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        try:
            import tensorboardX  # noqa: F401, PLC0415
        except ImportError as e:
            raise ImportError("TensorBoard callback needs the tensorboardX package "
                              "(pip install tensorboardX)") from e
        if update_freq not in ("epoch", "batch") and not isinstance(update_freq, int):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or an int, "
                             f"got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._batch = 0

    def _writer(self, kind):
        if kind not in self._writers:
            from tensorboardX import SummaryWriter  # noqa: PLC0415
            self._writers[kind] = SummaryWriter(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        self._batch += 1
        if self._batch % self.update_freq == 0 and logs:
            self._writer("train").add_scalar("batch_loss", float(logs["loss"]), self._batch)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            if not _is_number(v):
                continue
            kind, name = ("validation", k[4:]) if k.startswith("val_") else ("train", k)
            self._writer(kind).add_scalar(f"epoch_{name}", float(v), epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            writer = self._writer("train")
            for name, p in self.model.named_parameters():
                writer.add_histogram(name, p.detach().numpy(), epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}


# --- internal -----------------------------------------------------------------------------
class _KerasLogs(Callback):
    """First of every fit's callbacks: the epoch logs get Keras's keys (no 'lr'; keys
    sorted, as Keras 3 orders them) before the other callbacks and History see them."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs.pop("lr", None)
        items = sorted(logs.items())
        logs.clear()
        logs.update(items)
