"""The training loop: `Trainer`, `History`, checkpoints and graceful interruption.

One loop serves both dialects (the Keras `Model.fit` sits on it). Per batch it runs
forward, loss, backward, then (every `accumulate_steps` batches) the L1/L2 penalty
gradients, clipping, the optimizer step and `zero_grad(set_to_none=True)`; metrics are
updated on detached outputs; callbacks that override a hook are called.

    >>> import fathom
    >>> from fathom.utils.data import DataLoader, TensorDataset
    >>> net = fathom.nn.Linear(4, 3)
    >>> data = TensorDataset(fathom.randn(32, 4), fathom.randint(3, (32,)))
    >>> trainer = Trainer(net, fathom.optim.SGD(net.parameters(), lr=0.1),
    ...                   fathom.nn.CrossEntropyLoss(), metrics=["accuracy"], progress=False)
    >>> history = trainer.fit(DataLoader(data, batch_size=8), epochs=2)
    >>> sorted(history.history)
    ['accuracy', 'loss', 'lr']

Batches: a tuple or list is `(inputs, targets, *ignored)` (a 1-tuple or a bare tensor has
no targets: the loss is called as `loss_fn(outputs)`); a dict takes its inputs from the
first of the keys 'input', 'inputs', 'x', 'image', 'images', 'data' and its targets from
'target', 'targets', 'label', 'labels', 'y'. Override `unpack_batch`, or `compute_loss`
for anything else.

Checkpoints (`save_checkpoint`, `ModelCheckpoint`'s `last.safetensors`) hold the model,
optimizer, scheduler, EMA copy, epoch and step, fathom's and NumPy's global RNG states,
the train loader's position (mid-epoch only), every callback's state and the history,
through `fathom.save` (safetensors, no pickle). `fit(..., resume=path)` restores them
all, so the resumed run ends with the weights an uninterrupted run would have.

Interruption: while `fit` runs (in the main thread) SIGINT and SIGTERM set a flag; at the
next batch boundary (after a complete accumulation group) the trainer saves a checkpoint,
calls `on_train_end`, and `fit` returns the History with `interrupted=True`: a graceful
stop for SIGINT too, so a script goes on (and a SIGTERM'd one exits 0). Signals arriving
during the save are ignored; a second SIGINT before the save starts raises
KeyboardInterrupt at once (a hard stop, no checkpoint). The checkpoint goes to
`Trainer(checkpoint=...)` if given, else to the first directory `ModelCheckpoint`'s
`last.safetensors`, else to `./interrupted.safetensors`.
"""
from __future__ import annotations

import copy
import math
import os
import signal
import sys
import threading

from .. import backend
from ..autograd.grad_mode import no_grad
from ..nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from ..optim.lr_scheduler import ReduceLROnPlateau as _Plateau
from ..tensor import Tensor
from .callbacks import Callback, History, ModelCheckpoint, ProgressBar

_np = backend.np

CHECKPOINT_FORMAT = "fathom.train.checkpoint/1"
_INPUT_KEYS = ("input", "inputs", "x", "image", "images", "data")
_TARGET_KEYS = ("target", "targets", "label", "labels", "y")
_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end")
# Keras's aliases: overriding on_batch_begin/end counts as overriding the train-batch hooks.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class Trainer:
    """Fit, evaluate and predict with one loop.

    Args:
        model: a `fathom.nn.Module`.
        optimizer: a `fathom.optim.Optimizer` over the model's parameters.
        loss_fn: a loss module or any callable `loss_fn(outputs, targets) -> 0-d Tensor`.
        metrics: names (`'accuracy'`, `'f1'`, ...) or `fathom.metrics` objects; History
            keys are their `name`s (and `val_<name>`).
        callbacks: `fathom.train.callbacks` objects, called in order.
        scheduler: an lr scheduler stepped once per epoch, after validation;
            `ReduceLROnPlateau` gets `val_loss` (or `loss` without validation). For a
            per-batch schedule use `callbacks=[LRScheduler(s, interval="step")]`.
        clip_grad_norm: scale the gradients so their total 2-norm is at most this.
        clip_grad_value: clamp each gradient element to [-v, v] (applied before the norm).
        l1, l2: penalties `l1 * sum|p| + l2 * sum p^2` over all trainable parameters,
            added to the gradients before clipping (Keras's regularizer definitions). They
            shape the training objective; the logged `loss` is the data loss, comparable
            with `val_loss`.
        ema_decay: keep an exponential moving average of the weights
            (`fathom.optim.swa_utils.AveragedModel`, buffers included), updated after each
            optimizer step; `evaluate`, validation and `predict` use it. `self.model`
            keeps the raw trained weights; the average is `self.ema_model`.
        accumulate_steps: sum gradients over this many batches (each loss scaled by
            1/accumulate_steps) before one optimizer step; the last, shorter group of an
            epoch also steps.
        progress: add a `ProgressBar` unless one is among the callbacks.
        checkpoint: where an interrupted `fit` saves, and what `resume=True` reads (see
            the module docstring for the rule without it).
    """

    def __init__(self, model, optimizer, loss_fn=None, *, metrics=(), callbacks=(),
                 scheduler=None, clip_grad_norm=None, clip_grad_value=None, l1=0.0, l2=0.0,
                 ema_decay=None, accumulate_steps=1, progress=True, checkpoint=None):
        if int(accumulate_steps) < 1:
            raise ValueError(f"Trainer: accumulate_steps must be >= 1, got {accumulate_steps}")
        if l1 < 0 or l2 < 0:
            raise ValueError(f"Trainer: l1 and l2 must be >= 0, got l1={l1}, l2={l2}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.metrics = [_resolve_metric(m) for m in metrics]
        self.callbacks = list(callbacks)
        self.scheduler = scheduler
        self.clip_grad_norm = clip_grad_norm
        self.clip_grad_value = clip_grad_value
        self.l1, self.l2 = float(l1), float(l2)
        self.accumulate_steps = int(accumulate_steps)
        self.progress = progress
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.ema_model = None
        if ema_decay is not None:
            from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn  # noqa: PLC0415
            self.ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay),
                                           use_buffers=True)
        self.history = History()
        self.stop_training = False
        self.interrupted = False
        self.epoch = 0            # the epoch running (0-based), or the next one between fits
        self.epochs = 0           # the `epochs` argument of the running fit
        self.step = 0             # batches done in the current epoch
        self.global_step = 0      # optimizer steps so far
        self.train_loader = None
        self.val_loader = None
        self._val_metrics = [copy.deepcopy(m) for m in self.metrics]
        self._active = []         # callbacks of the running fit
        self._hooks = {}
        self._resume_state = None
        self.resumed = False      # whether the running fit continues a checkpoint
        self._stop_signal = None
        self._saving = False
        self._loss_sum, self._count = 0.0, 0

    # --- one batch ------------------------------------------------------------------
    @staticmethod
    def unpack_batch(batch):
        """`(inputs, targets)` from a batch, by the rule in the module docstring."""
        if isinstance(batch, (tuple, list)):
            if len(batch) >= 2:
                return batch[0], batch[1]
            if len(batch) == 1:
                return batch[0], None
            raise ValueError("Trainer: got an empty batch")
        if isinstance(batch, dict):
            x = next((batch[k] for k in _INPUT_KEYS if k in batch), None)
            if x is None:
                raise ValueError(f"Trainer: a dict batch needs one of the keys {_INPUT_KEYS} "
                                 f"for the inputs; got keys {sorted(batch)} (hint: override "
                                 "Trainer.unpack_batch)")
            return x, next((batch[k] for k in _TARGET_KEYS if k in batch), None)
        return batch, None

    def compute_loss(self, batch, model=None):
        """Forward one batch through `model` (default `self.model`; evaluation passes the
        EMA copy). Returns `(loss, outputs, targets)`; override for custom batches."""
        inputs, targets = self.unpack_batch(batch)
        outputs = (model or self.model)(inputs)
        if self.loss_fn is None:
            raise ValueError("Trainer: no loss_fn given; fit and evaluate need one")
        loss = self.loss_fn(outputs) if targets is None else self.loss_fn(outputs, targets)
        return loss, outputs, targets

    def train_step(self, batch):
        """Forward and backward of one batch (gradients accumulate into `.grad`); the loop
        does the penalties, clipping, optimizer step and zero_grad. Returns
        `(loss, outputs, targets)` with the unscaled loss."""
        loss, outputs, targets = self.compute_loss(batch)
        (loss / self.accumulate_steps if self.accumulate_steps > 1 else loss).backward()
        return loss, outputs, targets

    def eval_step(self, batch):
        """`compute_loss` on the evaluation model; called under no_grad."""
        return self.compute_loss(batch, self._eval_model())

    def _optimizer_step(self):
        params = self._params
        if self.l1 or self.l2:
            self._add_penalty_grads(params)
        if self.clip_grad_value is not None:
            clip_grad_value_(params, self.clip_grad_value)
        if self.clip_grad_norm is not None:
            clip_grad_norm_(params, self.clip_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.global_step += 1
        if self.ema_model is not None:
            self.ema_model.update_parameters(self.model)

    def _add_penalty_grads(self, params):
        # d/dp (l1 |p| + l2 p^2) = l1 sign(p) + 2 l2 p; the engine never shares a .grad
        # buffer between leaves, so adding in place is safe.
        l1, l2 = self.l1, 2.0 * self.l2
        for p in params:
            if p.grad is None:
                continue
            g, w = p.grad.data, p.data
            xp = backend.namespace(g)
            if l1:
                g += l1 * xp.sign(w)
            if l2:
                g += l2 * w
            p.grad._vc[0] += 1

    # --- fit ---------------------------------------------------------------------------
    def fit(self, train_loader, epochs: int = 1, *, val_loader=None, validation_split=None,
            initial_epoch: int = 0, resume=None, callbacks=None) -> History:
        """Train for epochs `initial_epoch .. epochs-1` (or from a checkpoint).

        Args:
            train_loader: an iterable of batches. A `DataLoader` (its `state_dict`) makes
                mid-epoch resumption exact; another iterable is replayed and the consumed
                batches dropped, exact only if it yields the same batches again.
            val_loader: evaluated after each epoch: `val_<name>` keys.
            validation_split: a fraction in (0, 1): as Keras, the *last* fraction of
                `train_loader.dataset` (before any shuffling) becomes the validation set;
                the loader is rebuilt on the rest with the same settings.
            resume: a checkpoint path, or True for this trainer's checkpoint path (a
                missing file then means a fresh start).
            callbacks: extra callbacks for this call only.
        Returns the `History` (also `self.history`).
        """
        if validation_split:
            if val_loader is not None:
                raise ValueError("fit: give val_loader or validation_split, not both")
            train_loader, val_loader = _split_loader(train_loader, validation_split)
        self.train_loader, self.val_loader = train_loader, val_loader
        self.epochs = int(epochs)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._setup_callbacks(list(callbacks or ()))
        start, skip = int(initial_epoch), 0
        path = self._resume_path(resume)
        if path is not None:
            self.load_checkpoint(path)
        if self._resume_state is not None:
            start, skip = self._resume_state["epoch"], self._resume_state["step"]
        else:
            self.history = History()
        self.resumed = self._resume_state is not None
        self.history.set_trainer(self)
        self.history.set_params({"epochs": self.epochs, "steps": _length(train_loader)})
        self.history.interrupted = False
        self.stop_training = self.interrupted = False
        self._stop_signal = None
        restore = self._install_signal_handlers()
        try:
            self._call("on_train_begin", {})
            for epoch in range(start, self.epochs):
                self._run_epoch(epoch, skip)
                skip = 0
                if self.interrupted or self.stop_training:
                    break
            self._call("on_train_end", {"interrupted": self.interrupted}
                       if self.interrupted else {})
        finally:
            self._resume_state = None
            restore()
        self.history.interrupted = self.interrupted
        return self.history

    def _run_epoch(self, epoch: int, skip: int) -> None:
        self.epoch, self.step = epoch, skip
        self.model.train()
        loader = self.train_loader
        state = self._resume_state
        self._resume_state = None
        if state is not None and state.get("running") and skip:
            self._load_running(state["running"])
        else:
            self._reset_running()
        if state is not None and skip:
            loader_state = state.get("loader")
            if loader_state is not None:
                loader.load_state_dict(loader_state)
        self._call("on_epoch_begin", epoch, {})
        steps = _length(loader)
        if state is not None and skip and state.get("loader") is None:
            steps_to_skip = skip  # a loader without state_dict: replay and drop
        else:
            steps_to_skip = 0
        accumulate, metrics = self.accumulate_steps, self.metrics
        begin, end = self._hooks["on_train_batch_begin"], self._hooks["on_train_batch_end"]
        i, pending, stopped_mid_epoch = skip, False, False
        it = iter(loader)
        for batch in it:
            if steps_to_skip:
                steps_to_skip -= 1
                continue
            for f in begin:
                f(i, {"batch": i})
            loss, outputs, targets = self.train_step(batch)
            value = float(loss)
            if not math.isfinite(value):
                self.optimizer.zero_grad(set_to_none=True)
                raise FloatingPointError(
                    f"Trainer: the loss is {value} at epoch {epoch + 1}, step {i + 1} "
                    f"(global optimizer step {self.global_step}); training stopped before "
                    "applying this batch. Hints: lower the learning rate, clip gradients "
                    "(clip_grad_norm=1.0), check the inputs and targets for nan/inf.")
            n = _batch_len(targets if targets is not None else outputs)
            self._loss_sum += value * n
            self._count += n
            if metrics:
                out = outputs.detach()
                for m in metrics:
                    m.update(out, targets)
            i += 1
            self.step = i
            pending = not (i % accumulate == 0 or i == steps)
            if not pending:
                self._optimizer_step()
            if end:
                logs = {"loss": self._loss_sum / self._count, "size": n}
                for f in end:
                    f(i - 1, logs)
            if not pending and (self._stop_signal is not None or self.stop_training):
                stopped_mid_epoch = self._stop_signal is not None and i != steps
                break
        if pending:  # a loader of unknown length ended inside an accumulation group
            self._optimizer_step()
        if stopped_mid_epoch:
            self._interrupt(mid_epoch=True)
            del it
            return
        del it
        self._end_epoch(epoch)
        if self._stop_signal is not None:
            self._interrupt(mid_epoch=False)

    def _end_epoch(self, epoch: int) -> None:
        logs = self.running_logs()
        if self.val_loader is not None:
            val = self._evaluate(self.val_loader, during_fit=True)
            logs.update({"val_" + k: v for k, v in val.items()})
        lr = self.optimizer.param_groups[0].get("lr")
        if lr is not None:
            logs["lr"] = float(lr)
        if self.scheduler is not None:
            if isinstance(self.scheduler, _Plateau):
                self.scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                self.scheduler.step()
        self._call("on_epoch_end", epoch, logs)
        self.history._append(epoch, logs)
        self.epoch, self.step = epoch + 1, 0
        for cb in self._active:
            cb._after_epoch(epoch, logs)

    def running_logs(self) -> dict:
        """The current epoch's running loss (mean weighted by batch size) and metrics."""
        logs = {"loss": self._loss_sum / self._count if self._count else float("nan")}
        for m in self.metrics:
            logs[m.name] = _scalar(m.compute()) if self._count else float("nan")
        return logs

    def _reset_running(self):
        self._loss_sum, self._count = 0.0, 0
        for m in self.metrics:
            m.reset()

    def _running_state(self) -> dict:
        return {"loss_sum": self._loss_sum, "count": self._count,
                "metrics": [_metric_state(m) for m in self.metrics]}

    def _load_running(self, state: dict):
        self._reset_running()
        self._loss_sum, self._count = float(state["loss_sum"]), int(state["count"])
        for m, s in zip(self.metrics, state.get("metrics") or ()):
            _load_metric_state(m, s)

    # --- evaluate / predict --------------------------------------------------------------
    def _eval_model(self):
        return self.ema_model if self.ema_model is not None else self.model

    def evaluate(self, loader) -> dict:
        """Mean loss (weighted by batch size) and metrics over `loader`, under no_grad
        and eval mode (the EMA weights when `ema_decay` is set):
        `{'loss': ..., '<metric name>': ...}`."""
        if not self._hooks:
            self._setup_callbacks([], for_fit=False)
        return self._evaluate(loader, during_fit=False)

    def _evaluate(self, loader, during_fit: bool) -> dict:
        model = self._eval_model()
        was_training = model.training
        model.eval()
        metrics = self._val_metrics
        for m in metrics:
            m.reset()
        loss_sum, count = 0.0, 0
        begin, end = self._hooks["on_test_batch_begin"], self._hooks["on_test_batch_end"]
        self._call("on_test_begin", {})
        try:
            with no_grad():
                for i, batch in enumerate(loader):
                    for f in begin:
                        f(i, {"batch": i})
                    loss, outputs, targets = self.eval_step(batch)
                    n = _batch_len(targets if targets is not None else outputs)
                    loss_sum += float(loss) * n
                    count += n
                    for m in metrics:
                        m.update(outputs, targets)
                    for f in end:
                        f(i, {"loss": loss_sum / count, "size": n})
        finally:
            model.train(was_training)
        if count == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches")
        logs = {"loss": loss_sum / count}
        for m in metrics:
            logs[m.name] = _scalar(m.compute())
        self._call("on_test_end", logs)
        return logs

    def predict(self, loader) -> Tensor:
        """The model's outputs over `loader`, concatenated along dim 0 (no_grad, eval
        mode, EMA weights when set). Batches may carry targets: they are ignored."""
        return self._predict(loader)[0]

    def _predict(self, loader, with_targets: bool = False):
        from ..ops.shape import cat  # noqa: PLC0415
        if not self._hooks:
            self._setup_callbacks([], for_fit=False)
        model = self._eval_model()
        was_training = model.training
        model.eval()
        outputs, targets = [], []
        self._call("on_predict_begin", {})
        try:
            with no_grad():
                for i, batch in enumerate(loader):
                    for f in self._hooks["on_predict_batch_begin"]:
                        f(i, {"batch": i})
                    x, y = self.unpack_batch(batch)
                    out = model(x)
                    outputs.append(out.detach())
                    if with_targets and y is not None:
                        targets.append(y if isinstance(y, Tensor) else _as_tensor(y))
                    for f in self._hooks["on_predict_batch_end"]:
                        f(i, {"outputs": out})
        finally:
            model.train(was_training)
        self._call("on_predict_end", {})
        if not outputs:
            raise ValueError("Trainer.predict: the loader yielded no batches")
        return cat(outputs, 0), (cat(targets, 0) if targets else None)

    # --- callbacks -----------------------------------------------------------------------
    def _setup_callbacks(self, extra: list, for_fit: bool = True) -> None:
        active = self.callbacks + extra
        if for_fit and self.progress and not any(isinstance(c, ProgressBar) for c in active):
            active.append(ProgressBar())
        # The progress bar reports last, after the other callbacks edited the logs.
        active = ([c for c in active if not isinstance(c, ProgressBar)]
                  + [c for c in active if isinstance(c, ProgressBar)])
        self._active = active
        for cb in active:
            cb.set_trainer(self)
            cb.set_params({"epochs": self.epochs, "steps": _length(self.train_loader)
                           if self.train_loader is not None else None})
        self._hooks = {h: [getattr(cb, h) for cb in active if _overrides(cb, h)] for h in _HOOKS}

    def _resuming(self) -> bool:
        return self.resumed

    def _call(self, hook: str, *args) -> None:
        for f in self._hooks[hook]:
            f(*args)

    # --- checkpoints ---------------------------------------------------------------------
    def state_dict(self, mid_epoch: bool = False) -> dict:
        """Everything a resumed `fit` needs, as a `fathom.save`-able structure."""
        np_state = _np.random.get_state()
        state = {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "ema": self.ema_model.state_dict() if self.ema_model is not None else None,
            "epoch": self.epoch,
            "step": self.step if mid_epoch else 0,
            "global_step": self.global_step,
            "rng": _rng_state(),
            "numpy_rng": {"keys": np_state[1].astype(_np.int64), "pos": int(np_state[2]),
                          "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
            "loader": None,
            "running": self._running_state() if mid_epoch else None,
            "callbacks": {key: cb.state_dict() for key, cb in _keyed(self._active or
                                                                      self.callbacks)},
            "history": {"history": self.history.history, "epoch": self.history.epoch},
        }
        if mid_epoch and hasattr(self.train_loader, "state_dict"):
            state["loader"] = self.train_loader.state_dict()
        return state

    def save_checkpoint(self, path, *, mid_epoch: bool = False) -> None:
        """Write `state_dict()` to `path` with `fathom.save` (atomic)."""
        from .. import io  # noqa: PLC0415 - fathom.io is optional until first used
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        io.save(self.state_dict(mid_epoch=mid_epoch), path)

    def load_checkpoint(self, path) -> dict:
        """Restore a `save_checkpoint` file into this trainer; the next `fit` continues
        from its epoch and step. Returns the loaded structure."""
        from .. import io  # noqa: PLC0415
        path = os.fspath(path)
        ck = io.load(path)
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"Trainer.load_checkpoint: {path} is not a training checkpoint "
                             f"(no format {CHECKPOINT_FORMAT!r}); a weights-only file loads "
                             "with model.load_state_dict(fathom.load(path))")
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.scheduler is not None and ck.get("scheduler") is not None:
            self.scheduler.load_state_dict(ck["scheduler"])
        if self.ema_model is not None and ck.get("ema") is not None:
            self.ema_model.load_state_dict(ck["ema"])
        saved = ck.get("callbacks") or {}
        for key, cb in _keyed(self._active or self.callbacks):
            if key in saved:
                cb.load_state_dict(saved[key])
        hist = ck.get("history") or {}
        self.history = History()
        self.history.history = {k: list(v) for k, v in (hist.get("history") or {}).items()}
        self.history.epoch = [int(e) for e in hist.get("epoch") or ()]
        self.epoch, self.step = int(ck["epoch"]), int(ck["step"])
        self.global_step = int(ck.get("global_step", 0))
        _set_rng_state(ck["rng"])
        if ck.get("numpy_rng") is not None:
            s = ck["numpy_rng"]
            _np.random.set_state(("MT19937", _np.asarray(_array(s["keys"]), dtype=_np.uint32),
                                  int(s["pos"]), int(s["has_gauss"]),
                                  float(s["cached_gaussian"])))
        self._resume_state = {"epoch": self.epoch, "step": self.step,
                              "loader": ck.get("loader"), "running": ck.get("running")}
        return ck

    def checkpoint_path(self):
        """The interrupt/resume path: `checkpoint=`, else the first directory
        ModelCheckpoint's last file, else None."""
        if self.checkpoint is not None:
            return self.checkpoint
        for cb in self._active or self.callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.last_path is not None:
                return cb.last_path
        return None

    def _resume_path(self, resume):
        if resume is None or resume is False:
            return None
        if resume is True:
            path = self.checkpoint_path()
            if path is None:
                raise ValueError("fit(resume=True) needs Trainer(checkpoint=path) or a "
                                 "ModelCheckpoint writing to a directory")
            return path if os.path.exists(path) else None  # nothing yet: a fresh start
        path = os.fspath(resume)
        if not os.path.exists(path):
            raise FileNotFoundError(f"fit(resume=...): no checkpoint at {path}")
        return path

    # --- interruption ----------------------------------------------------------------------
    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError):  # not allowed here (an embedded interpreter)
                pass

        def restore():
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)
        return restore

    def _on_signal(self, signum, frame):
        if self._saving:
            return  # never tear a checkpoint in half
        if self._stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now, without a checkpoint
        self._stop_signal = signum

    def _interrupt(self, mid_epoch: bool) -> None:
        path = self.checkpoint_path() or "interrupted.safetensors"
        self._saving = True
        try:
            self.save_checkpoint(path, mid_epoch=mid_epoch)
        finally:
            self._saving = False
        self.interrupted = True
        name = signal.Signals(self._stop_signal).name
        where = f"epoch {self.epoch + 1}, step {self.step}" if mid_epoch else \
            f"the end of epoch {self.epoch}"
        print(f"fathom.train: {name} received; stopped at {where} and saved a checkpoint to "
              f"{path} (continue with fit(..., resume={path!r}))", file=sys.stderr, flush=True)


# --- helpers ------------------------------------------------------------------------------
def _overrides(cb, hook: str) -> bool:
    """Whether `cb` defines `hook` (or its Keras alias) itself, in its class or instance
    (LambdaCallback stores functions on the instance)."""
    for name in (hook, _ALIASES.get(hook)):
        if name is not None and (name in vars(cb) or
                                 getattr(type(cb), name) is not getattr(Callback, name)):
            return True
    return False


def _keyed(callbacks):
    """(key, callback) pairs: the class name, numbered from the second of a kind."""
    seen = {}
    for cb in callbacks:
        name = type(cb).__name__
        k = seen.get(name, 0)
        seen[name] = k + 1
        yield (name if k == 0 else f"{name}.{k}"), cb


def _resolve_metric(m):
    from .. import metrics  # noqa: PLC0415
    return metrics.get(m)


_SAVEABLE = (type(None), bool, int, float, str, _np.ndarray, _np.generic)


def _saveable(v) -> bool:
    if isinstance(v, (list, tuple)):
        return all(_saveable(x) for x in v)
    return isinstance(v, _SAVEABLE)


def _metric_state(m) -> dict:
    """A metric's running state: its state_dict(), else its plain attributes (counts,
    arrays, lists of arrays: what fathom.metrics objects keep)."""
    if hasattr(m, "state_dict"):
        return m.state_dict()
    return {k: v for k, v in vars(m).items() if _saveable(v)}


def _load_metric_state(m, state: dict) -> None:
    if hasattr(m, "load_state_dict"):
        m.load_state_dict(state)
        return

    def plain(v):  # fathom.load gives Tensors back; the metric kept NumPy arrays
        if isinstance(v, Tensor):
            return v.numpy().copy()
        if isinstance(v, (list, tuple)):
            return type(v)(plain(x) for x in v)
        return v
    vars(m).update({k: plain(v) for k, v in state.items()})


def _length(loader):
    try:
        return len(loader)
    except TypeError:
        return None


def _batch_len(x) -> int:
    if isinstance(x, Tensor):
        return x.shape[0] if x.ndim else 1
    if isinstance(x, (tuple, list)) and x and not isinstance(x[0], (int, float)):
        return _batch_len(x[0])
    try:
        return len(x)
    except TypeError:
        return 1


def _scalar(v):
    """A metric's value for the logs: a Python float when it is one number."""
    if isinstance(v, Tensor):
        v = v.data
    if isinstance(v, (int, float)):
        return float(v)
    arr = _np.asarray(v)
    return float(arr) if arr.ndim == 0 else arr


def _as_tensor(y):
    from ..creation import as_tensor  # noqa: PLC0415
    return as_tensor(y)


def _array(v):
    return v.numpy() if isinstance(v, Tensor) else _np.asarray(v)


def _rng_state():
    from ..random import get_rng_state  # noqa: PLC0415
    return get_rng_state()


def _set_rng_state(state):
    from ..random import set_rng_state  # noqa: PLC0415
    set_rng_state(state)


def _split_loader(loader, fraction):
    """Keras's validation_split: the last `fraction` of the dataset validates."""
    from ..utils.data import DataLoader, RandomSampler, Subset  # noqa: PLC0415
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fit: validation_split must be in (0, 1), got {fraction}")
    if not isinstance(loader, DataLoader):
        raise TypeError("fit: validation_split needs a DataLoader (over a map-style dataset); "
                        f"got {type(loader).__name__}")
    dataset = loader.dataset
    n = len(dataset)
    split = int(math.floor(n * (1.0 - float(fraction))))
    if split <= 0 or split >= n:
        raise ValueError(f"fit: validation_split={fraction} of {n} samples leaves an empty "
                         "training or validation set")
    common = {"batch_size": loader.batch_size, "num_workers": loader.num_workers,
              "collate_fn": loader.collate_fn,
              "worker_init_fn": getattr(loader, "worker_init_fn", None)}
    shuffle = isinstance(loader.sampler, RandomSampler)
    train = DataLoader(Subset(dataset, list(range(split))), shuffle=shuffle,
                       drop_last=loader.drop_last, generator=getattr(loader, "generator", None),
                       **common)
    val = DataLoader(Subset(dataset, list(range(split, n))), shuffle=False, **common)
    return train, val
