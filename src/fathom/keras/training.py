"""compile / fit / evaluate / predict for `keras.Model`, on `fathom.train.Trainer`.

Each function takes the model as its first argument (`self`); `keras.Model` attaches
them in its class body (`compile = training.compile`, ...). Training runs through the
one loop, `fathom.train.Trainer` (a subclass overrides only `compute_loss`, the
documented hook, to call the Keras loss as `loss(y_true, y_pred, sample_weight)`).

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
    loss, acc = model.evaluate(x_test, y_test)
    probs = model.predict(x_test)

Data: NumPy arrays, fathom Tensors, lists/dicts of them (several inputs), a
`fathom.utils.data.Dataset` (batched here) or any iterable of batches such as a
`DataLoader`, yielding `(x, y)` or `(x, y, sample_weight)`. Floating arrays become
float32 (Keras's floatx); integer arrays keep their type (Embedding indices).

Differences from Keras: `weighted_metrics` and multi-output losses (lists/dicts of
losses) are not supported (a clear error); metrics never see sample weights, as Keras's
plain `metrics`. The Trainer raises FloatingPointError on a non-finite loss (Keras goes
on with NaN) unless `TerminateOnNaN` is among the callbacks (then training stops).
Without a terminal the progress bar prints one line per epoch (Keras prints a line per
update there). Ctrl-C raises KeyboardInterrupt as in Keras; with `BackupAndRestore` among
the callbacks the Trainer's graceful stop saves the backup instead.
"""
from __future__ import annotations

import math
import os

from .. import backend
from ..autograd.grad_mode import no_grad
from ..creation import from_numpy
from ..tensor import Tensor
from ..train import Trainer
from . import callbacks as _cb
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers

_np = backend.np

__all__ = ["compile", "fit", "evaluate", "predict", "train_on_batch", "test_on_batch",
           "predict_on_batch", "reset_metrics"]


# --- compile ------------------------------------------------------------------------------
def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,  # noqa: A001
            weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
            jit_compile="auto", auto_scale_loss=True):
    """Configure training: the optimizer, the loss and the metrics (Keras 3 signature).

    Args:
        optimizer: a name ('rmsprop' (default), 'adam', 'sgd', 'adagrad', 'adamax',
            'adamw', 'adadelta'), a `keras.optimizers` object or its config dict.
        loss: a name ('sparse_categorical_crossentropy', 'mse', ...), a
            `keras.losses.Loss`, a config dict or a function `fn(y_true, y_pred)`
            returning per-sample losses.
        metrics: a list of names ('accuracy'/'acc' resolve by the shapes at the first
            batch, as Keras 3), `keras.metrics` objects or functions.
        loss_weights: a float scaling the loss (one output).
        run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted; Fathom
            always runs eagerly, one step at a time.
    Sets `model.optimizer`, `model.loss`, `model.compiled_loss`, `model.compiled_metrics`
    and `model.compile_config` (a JSON-able dict `compile(**config)` replays, or None
    when an argument is a user function).
    """
    if weighted_metrics:
        raise NotImplementedError("compile: weighted_metrics are not supported by "
                                  "fathom.keras (metrics are computed without sample weights)")
    if isinstance(loss, (list, tuple, dict)) and not _is_config(loss):
        if isinstance(loss, (list, tuple)) and len(loss) == 1:
            loss = loss[0]
        else:
            raise NotImplementedError("compile: one loss per output (a list or dict of losses "
                                      "for several outputs) is not supported by fathom.keras; "
                                      "give one loss")
    if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1:
        loss_weights = loss_weights[0]
    if loss_weights is not None and not isinstance(loss_weights, (int, float)):
        raise NotImplementedError("compile: loss_weights must be one number (one output)")
    if isinstance(metrics, dict):
        raise NotImplementedError("compile: metrics per output (a dict) are not supported")
    if metrics is not None and not isinstance(metrics, (list, tuple)):
        raise TypeError(f"compile: metrics must be a list, got {type(metrics).__name__} "
                        "(hint: metrics=['accuracy'])")
    opt = _optimizers.get(optimizer)
    loss_obj = _losses.get(loss)
    metric_objs = [_metrics.get(m) for m in (metrics or [])]
    names = [m.name for m in metric_objs]
    dup = sorted({n for n in names if names.count(n) > 1} | ({"loss"} & set(names)))
    if dup:
        raise ValueError(f"compile: metric names must be unique and not 'loss'; got {dup} "
                         "(hint: give the metric objects distinct name=...)")
    self.optimizer = opt
    self.loss = loss
    self.compiled_loss = loss_obj
    self.compiled_metrics = metric_objs
    self.loss_weights = None if loss_weights is None else float(loss_weights)
    self.compile_config = _compile_config(optimizer, opt, loss, loss_obj, metrics or [],
                                          metric_objs, loss_weights)
    self.stop_training = False
    self._keras_batch_state = None
    self._keras_compiled = True


def _is_config(obj) -> bool:
    return isinstance(obj, dict) and "class_name" in obj


def _compile_config(optimizer, opt, loss, loss_obj, metrics, metric_objs, loss_weights):
    """JSON-able arguments that rebuild this compile, or None."""
    opt_conf = optimizer if isinstance(optimizer, str) else _optimizers.serialize(opt)
    loss_conf = None if loss is None else (loss if isinstance(loss, str)
                                           else _losses.serialize(loss_obj))
    metric_confs = [m if isinstance(m, str) else _metrics.serialize(obj)
                    for m, obj in zip(metrics, metric_objs)]
    if (loss is not None and loss_conf is None) or any(c is None for c in metric_confs):
        return None
    return {"optimizer": opt_conf, "loss": loss_conf, "metrics": metric_confs or None,
            "loss_weights": loss_weights}


def _check_compiled(self, what):
    if not getattr(self, "_keras_compiled", False):
        raise RuntimeError(f"You must call `compile()` before using the model ({what}).")
    if what in ("fit", "evaluate", "train_on_batch", "test_on_batch") and \
            self.compiled_loss is None:
        raise ValueError(f"{what}: the model was compiled without a loss (hint: "
                         "model.compile(optimizer=..., loss='sparse_categorical_crossentropy'))")


# --- data ---------------------------------------------------------------------------------
def _is_loader(x) -> bool:
    """A Dataset or an iterable of batches (anything that is not array data)."""
    if x is None or isinstance(x, (Tensor, _np.ndarray, list, tuple, dict)):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__getitem__")


def _array(x, what):
    """Host array data: a NumPy array (float64 -> float32), or a list/dict of them."""
    if isinstance(x, (list, tuple)) and x and not _is_scalar_list(x):
        return [_array(v, what) for v in x]
    if isinstance(x, dict):
        return {k: _array(v, f"{what}[{k!r}]") for k, v in x.items()}
    a = x.detach().numpy() if isinstance(x, Tensor) else _np.asarray(x)
    if a.dtype.kind == "O":
        raise TypeError(f"{what}: could not turn the data into a numeric array "
                        f"(got an object array of shape {a.shape})")
    if a.dtype.kind in "fb" and a.dtype != _np.float32:
        a = a.astype(_np.float32)
    if a.ndim == 0:
        raise ValueError(f"{what}: expected data with a batch dimension, got a scalar")
    return a


def _is_scalar_list(x) -> bool:
    return isinstance(x[0], (int, float, bool, _np.number))


def _leaves(x):
    if isinstance(x, list):
        return [leaf for v in x for leaf in _leaves(v)]
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in _leaves(v)]
    return [x]


def _take(x, idx):
    """Rows `idx` of array data, as fathom Tensors (x) ."""
    if isinstance(x, list):
        return [_take(v, idx) for v in x]
    if isinstance(x, dict):
        return {k: _take(v, idx) for k, v in x.items()}
    return from_numpy(_np.ascontiguousarray(x[idx]))


def _rows(x, idx):
    """Rows `idx` of host data, kept as NumPy (targets, weights)."""
    if x is None:
        return None
    if isinstance(x, list):
        return [_rows(v, idx) for v in x]
    if isinstance(x, dict):
        return {k: _rows(v, idx) for k, v in x.items()}
    return x[idx]


def _slice(x, start, stop):
    if x is None:
        return None
    if isinstance(x, list):
        return [_slice(v, start, stop) for v in x]
    if isinstance(x, dict):
        return {k: _slice(v, start, stop) for k, v in x.items()}
    return x[start:stop]


class _ArrayBatches:
    """Batches `(x, y, sample_weight)` over in-memory arrays, in order or reshuffled each
    epoch (a seed drawn from fathom's RNG, so `fathom.manual_seed` makes runs repeat).
    `steps` caps the batches per pass (cycling through the data when it asks for more).
    `state_dict` lets a checkpoint taken mid-epoch resume at the same batch."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False,
                 steps=None, predict=False):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = len(_leaves(x)[0])
        self.batch_size = int(batch_size)
        self.shuffle, self.predict = shuffle, predict
        self.per_pass = math.ceil(self.n / self.batch_size)
        self.steps = self.per_pass if steps is None else int(steps)
        self._resume = None

    def __len__(self):
        return self.steps

    def _order(self, seed):
        if seed is None:
            return _np.arange(self.n)
        return _np.random.default_rng(seed).permutation(self.n)

    def _seed(self):
        if not self.shuffle:
            return None
        from ..random import randint  # noqa: PLC0415
        return int(randint(0, 2 ** 62, (1,)).item())

    def __iter__(self):
        if self._resume is not None:
            seeds, done = self._resume
            self._resume = None
        else:
            seeds, done = [self._seed()], 0
        self._seeds, self._done = seeds, done
        order = self._order(seeds[-1])
        pos = (done % self.per_pass) * self.batch_size
        for _ in range(done, self.steps):
            if pos >= self.n:  # steps beyond one pass: a fresh order
                seeds.append(self._seed())
                order, pos = self._order(seeds[-1]), 0
            idx = order[pos:pos + self.batch_size]
            pos += self.batch_size
            self._done += 1
            if self.predict:
                yield (_take(self.x, idx),)
            else:
                yield _take(self.x, idx), _rows(self.y, idx), _rows(self.sample_weight, idx)

    def state_dict(self) -> dict:
        return {"seeds": [-1 if s is None else s for s in self._seeds], "done": self._done}

    def load_state_dict(self, state: dict) -> None:
        seeds = [None if int(s) == -1 else int(s) for s in _plain_list(state["seeds"])]
        self._resume = (seeds, int(state["done"]))


def _plain_list(v):
    if isinstance(v, Tensor):
        return v.numpy().reshape(-1).tolist()
    return list(_np.asarray(v).reshape(-1).tolist()) if not isinstance(v, list) else v


def _class_weights(class_weight, y):
    """Keras's class_weight: each sample weighs class_weight[its class] (the argmax of a
    one-hot target, the value of an integer or (N, 1) binary target)."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"fit: class_weight must be a dict {{class: weight}}, got "
                        f"{type(class_weight).__name__}")
    if not isinstance(y, _np.ndarray):
        raise ValueError("fit: class_weight needs a single array of targets")
    labels = y.argmax(-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = _np.rint(labels).astype(_np.int64)
    known = _np.array(sorted(int(k) for k in class_weight))
    missing = sorted(set(_np.unique(labels).tolist()) - set(known.tolist()))
    if missing:
        raise ValueError(f"fit: class_weight has no entry for classes {missing} (it has "
                         f"{known.tolist()})")
    table = _np.zeros(int(max(known.max(), labels.max())) + 1, dtype=_np.float32)
    for k, w in class_weight.items():
        table[int(k)] = float(w)
    return table[labels]


def _check_lengths(x, y, sample_weight, what):
    sizes = {}
    for name, data in (("x", x), ("y", y)):
        leaves = [] if data is None else _leaves(data)
        for i, leaf in enumerate(leaves):
            sizes[f"{what} {name}" + (f"[{i}]" if len(leaves) > 1 else "")] = len(leaf)
    if sample_weight is not None:
        sizes[f"{what} sample_weight"] = len(sample_weight)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{what}: the data have different numbers of samples: "
                         + ", ".join(f"{k} has {v}" for k, v in sizes.items()))


def _loader(x, y, sample_weight, batch_size, shuffle, steps, what, predict=False):
    """An iterable of batches for `x` (arrays or a loader), and its input shape source."""
    if _is_loader(x):
        if y is not None:
            raise ValueError(f"{what}: `y` must not be given when x is a dataset or loader "
                             "(its batches carry the targets)")
        if sample_weight is not None:
            raise ValueError(f"{what}: sample_weight must not be given with a dataset or "
                             "loader (yield (x, y, sample_weight) batches instead)")
        from ..utils.data import DataLoader, Dataset  # noqa: PLC0415
        if isinstance(x, Dataset) and not isinstance(x, DataLoader):
            x = DataLoader(x, batch_size=batch_size or 32, shuffle=shuffle)
        elif batch_size is not None:
            raise ValueError(f"{what}: do not give batch_size with a loader (it batches "
                             "itself)")
        return x if steps is None else _Limited(x, steps)
    if x is None:
        raise ValueError(f"{what}: no data given (x is None)")
    xa = _array(x, f"{what} x")
    ya = None if y is None else _array(y, f"{what} y")
    sw = None if sample_weight is None else _array(sample_weight, f"{what} sample_weight")
    _check_lengths(xa, ya, sw, what)
    return _ArrayBatches(xa, ya, sw, batch_size or 32, shuffle, steps, predict)


class _Limited:
    """The first `steps` batches of a loader per pass."""

    def __init__(self, loader, steps):
        self.loader, self.steps = loader, int(steps)

    def __len__(self):
        return self.steps

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i >= self.steps:
                break
            yield batch


def _unpack(batch):
    """(x, y, sample_weight) from a batch."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 1:
            return batch[0], None, None
        raise ValueError(f"a batch must be (x,), (x, y) or (x, y, sample_weight); got "
                         f"{len(batch)} items")
    x, y = Trainer.unpack_batch(batch)
    return x, y, None


def _input_shape(x):
    """Keras's build shape (batch dim None) of array data or a batch."""
    if isinstance(x, list):
        return [_input_shape(v) for v in x]
    if isinstance(x, dict):
        return {k: _input_shape(v) for k, v in x.items()}
    return (None,) + tuple(x.shape[1:])


def _ensure_built(self, loader):
    """Build the model (from the data's shape) and the optimizer over its parameters."""
    if not getattr(self, "built", True):
        if isinstance(loader, _ArrayBatches):
            x = loader.x
        else:
            first = next(iter(loader), None)
            if first is None:
                raise ValueError("fit: the data yielded no batches")
            x = _unpack(first)[0]
        self.build(_input_shape(x))
    opt = getattr(self, "optimizer", None)
    if opt is not None and not opt.built:
        opt.build(list(self.parameters()))


# --- the trainer --------------------------------------------------------------------------
class _KerasTrainer(Trainer):
    """fathom.train.Trainer with Keras's loss call and `model.stop_training`."""

    def __init__(self, model, verbose=0, graceful=False, **kwargs):
        self.verbose = verbose
        self.graceful = graceful
        opt = model.optimizer.fathom_optimizer if getattr(model, "optimizer", None) is not None \
            and model.optimizer.built else None
        accumulate = getattr(model.optimizer, "gradient_accumulation_steps", None) or 1
        super().__init__(model, opt, model.compiled_loss, metrics=model.compiled_metrics,
                         progress=False, accumulate_steps=accumulate, **kwargs)

    @property
    def stop_training(self):
        return bool(getattr(self.model, "stop_training", False))

    @stop_training.setter
    def stop_training(self, value):
        self.model.stop_training = bool(value)

    def _install_signal_handlers(self):
        # Keras semantics: Ctrl-C raises KeyboardInterrupt and writes nothing; only with
        # BackupAndRestore does the Trainer's graceful stop save (to the backup).
        if not self.graceful:
            return lambda: None
        return super()._install_signal_handlers()

    def compute_loss(self, batch, model=None):
        x, y, sw = _unpack(batch)
        outputs = (model or self.model)(x)
        if isinstance(outputs, (list, tuple)):
            raise NotImplementedError("fit/evaluate: models with several outputs are not "
                                      "supported by fathom.keras training (one output)")
        if y is None:
            raise ValueError("fit/evaluate: the batches carry no targets (y)")
        loss = self.loss_fn(y, outputs, sample_weight=sw)
        weight = getattr(self.model, "loss_weights", None)
        if weight is not None:
            loss = loss * weight
        extra = getattr(self.model, "losses", None)
        if extra and (model is None or model is self.model):
            for term in extra:  # layer regularization (Keras adds them to the loss)
                loss = loss + term
        return loss, outputs, y


def _verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, False, True):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _user_callbacks(callbacks):
    cbs = list(callbacks or [])
    for cb in cbs:
        if not isinstance(cb, _cb._tc.Callback):
            raise TypeError(f"callbacks: {cb!r} is not a keras.callbacks.Callback (subclass "
                            "keras.callbacks.Callback and override its hooks)")
    return cbs


# --- fit ----------------------------------------------------------------------------------
def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_batch_size=None, validation_freq=1):
    """Train for `epochs` (Keras 3 signature); returns a `History` whose `.history` has
    Keras's keys ('loss', metric names, 'val_loss', 'val_<metric>').

    Args:
        x, y: arrays/Tensors (or lists/dicts of them for several inputs), or x a Dataset
            or loader of (x, y[, sample_weight]) batches with y None.
        batch_size: samples per batch (32); not with a loader.
        validation_split: the last fraction of the arrays (before shuffling) validates.
        validation_data: (x_val, y_val[, sample_weight_val]) or a loader.
        shuffle: reshuffle the arrays every epoch.
        class_weight: {class: weight}, turned into per-sample weights of the loss.
        sample_weight: (N,) weights of each sample's loss.
        initial_epoch: the epoch to start at (epochs counts from 0, as Keras).
        steps_per_epoch, validation_steps: batches per epoch / per validation.
        validation_batch_size: batch size of the validation arrays (batch_size).
        validation_freq: must be 1 (validation every epoch).
    """
    _check_compiled(self, "fit")
    if validation_freq != 1:
        raise NotImplementedError("fit: validation_freq other than 1 is not supported")
    verbose = _verbose(verbose)
    if class_weight is not None and sample_weight is not None:
        raise ValueError("fit: give class_weight or sample_weight, not both")
    if validation_split and validation_data is not None:
        validation_split = 0.0  # Keras: validation_data overrides validation_split
    split_loader = None
    if _is_loader(x):
        if class_weight is not None:
            raise ValueError("fit: class_weight needs array data (with a loader, yield "
                             "(x, y, sample_weight) batches)")
        train = _loader(x, y, sample_weight, batch_size, shuffle, steps_per_epoch, "fit")
        split_loader = validation_split or None
    else:
        xa = _array(x, "fit x") if x is not None else None
        if xa is None:
            raise ValueError("fit: no data given (x is None)")
        ya = None if y is None else _array(y, "fit y")
        sw = None if sample_weight is None else _array(sample_weight, "fit sample_weight")
        if class_weight is not None:
            if ya is None:
                raise ValueError("fit: class_weight needs targets y")
            sw = _class_weights(class_weight, ya)
        _check_lengths(xa, ya, sw, "fit")
        if validation_split:
            if not 0.0 < float(validation_split) < 1.0:
                raise ValueError(f"fit: validation_split must be in (0, 1), got "
                                 f"{validation_split}")
            n = len(_leaves(xa)[0])
            cut = int(math.floor(n * (1.0 - float(validation_split))))
            if cut <= 0 or cut >= n:
                raise ValueError(f"fit: validation_split={validation_split} of {n} samples "
                                 "leaves an empty training or validation set")
            validation_data = (_slice(xa, cut, n), _slice(ya, cut, n))
            xa, ya, sw = _slice(xa, 0, cut), _slice(ya, 0, cut), _slice(sw, 0, cut)
        train = _ArrayBatches(xa, ya, sw, batch_size or 32, shuffle, steps_per_epoch)
    val = None
    if validation_data is not None:
        val = _validation_loader(validation_data, validation_batch_size or batch_size,
                                 validation_steps)
    _ensure_built(self, train)
    user = _user_callbacks(callbacks)
    backup = next((c for c in user if isinstance(c, _cb.BackupAndRestore)), None)
    given_bar = any(isinstance(c, _cb.ProgbarLogger) for c in user)
    progress = [_cb.ProgbarLogger(verbose)] if verbose and not given_bar else []
    trainer = _KerasTrainer(self, verbose=verbose, graceful=backup is not None,
                            callbacks=[_cb._KerasLogs()] + user + progress,
                            checkpoint=backup.checkpoint_path if backup else None)
    self.stop_training = False
    resume = backup.checkpoint_path if backup and os.path.exists(backup.checkpoint_path) \
        else None
    was = self.training  # Keras: a direct call after fit runs inference, as before it
    try:
        history = trainer.fit(train, epochs=epochs, val_loader=val,
                              validation_split=split_loader, initial_epoch=initial_epoch,
                              resume=resume)
    except FloatingPointError:
        if not any(isinstance(c, _cb.TerminateOnNaN) for c in user):
            raise
        history = trainer.history
        print("fit: invalid loss, terminating training (TerminateOnNaN)")
    finally:
        self.train(was)
    history.params = {"verbose": verbose, "epochs": int(epochs), "steps": len(train)
                      if hasattr(train, "__len__") else None}
    self.history = history
    return history


def _validation_loader(data, batch_size, steps):
    if _is_loader(data):
        return _loader(data, None, None, batch_size, False, steps, "validation_data")
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("fit: validation_data must be (x_val, y_val), (x_val, y_val, "
                         f"sample_weight_val) or a loader; got {type(data).__name__}"
                         + (f" of length {len(data)}" if isinstance(data, (tuple, list))
                            else ""))
    sw = data[2] if len(data) == 3 else None
    return _loader(data[0], data[1], sw, batch_size, False, steps, "validation_data")


# --- evaluate / predict -------------------------------------------------------------------
def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
             steps=None, callbacks=None, return_dict=False):
    """The loss (and metrics) over the data, in eval mode without gradients.

    Returns the loss as a float when the model has no metrics, else
    `[loss, metric, ...]` in compile order; `return_dict=True` gives
    `{'loss': ..., '<metric name>': ...}`.
    """
    _check_compiled(self, "evaluate")
    verbose = _verbose(verbose)
    loader = _loader(x, y, sample_weight, batch_size, False, steps, "evaluate")
    _ensure_built(self, loader)
    trainer = _eval_trainer(self, loader, verbose, callbacks, "test")
    logs = trainer.evaluate(loader)
    if return_dict:
        return dict(logs)
    values = [logs["loss"]] + [logs[m.name] for m in self.compiled_metrics]
    return values[0] if len(values) == 1 else values


def _eval_trainer(self, loader, verbose, callbacks, mode):
    cbs = _user_callbacks(callbacks)
    if verbose:
        steps = len(loader) if hasattr(loader, "__len__") else None
        cbs.append(_cb.ProgbarLogger(verbose, mode=mode, steps=steps))
    if getattr(self, "_keras_compiled", False):
        return _KerasTrainer(self, verbose=verbose, callbacks=cbs)
    return _PredictTrainer(self, cbs)


class _PredictTrainer(Trainer):
    """A Trainer for predict on an uncompiled model."""

    def __init__(self, model, callbacks):
        super().__init__(model, None, None, callbacks=callbacks, progress=False)


def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """The model's outputs over `x` as a NumPy array (a list of arrays for several
    outputs), in eval mode without gradients; batches may carry targets (ignored)."""
    verbose = _verbose(verbose)
    if _is_loader(x):
        loader = _loader(x, None, None, batch_size, False, steps, "predict")
    else:
        loader = _ArrayBatches(_array(x, "predict x"), batch_size=batch_size or 32,
                               steps=steps, predict=True)
    if not getattr(self, "built", True):
        _ensure_built(self, loader)
    trainer = _eval_trainer(self, loader, verbose, callbacks, "predict")
    if len(getattr(self, "outputs", None) or ()) > 1:
        return _predict_outputs(self, loader)
    return trainer.predict(loader).numpy()


def _predict_outputs(self, loader):
    """A functional model with several outputs (the Trainer's predict concatenates one
    output): each output concatenated over the batches."""
    was = self.training
    self.eval()
    parts = None
    try:
        with no_grad():
            for batch in loader:
                out = self(_unpack(batch)[0])
                arrays = [o.detach().numpy() for o in out]
                parts = [[a] for a in arrays] if parts is None else \
                    [p + [a] for p, a in zip(parts, arrays)]
    finally:
        self.train(was)
    if parts is None:
        raise ValueError("predict: the data yielded no batches")
    return [_np.concatenate(p, 0) for p in parts]


# --- one batch ----------------------------------------------------------------------------
def _batch_state(self):
    """The running loss and metrics of train_on_batch / test_on_batch calls (as Keras 3,
    they accumulate until `reset_metrics()`)."""
    state = getattr(self, "_keras_batch_state", None)
    if state is None:
        state = {"loss_sum": 0.0, "count": 0}
        self._keras_batch_state = state
    return state


def _batch_logs(self, loss, outputs, y, n, return_dict):
    state = _batch_state(self)
    state["loss_sum"] += float(loss) * n
    state["count"] += n
    logs = {"loss": state["loss_sum"] / state["count"]}
    for m in self.compiled_metrics:
        m.update(outputs.detach(), y)
        logs[m.name] = m.compute()
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def reset_metrics(self):
    """Reset the running values train_on_batch / test_on_batch report."""
    self._keras_batch_state = None
    for m in getattr(self, "compiled_metrics", None) or []:
        m.reset()


def _one_batch(x, y, sample_weight, class_weight, what):
    xa = _array(x, f"{what} x")
    ya = None if y is None else _array(y, f"{what} y")
    sw = None if sample_weight is None else _array(sample_weight, f"{what} sample_weight")
    if class_weight is not None:
        if sw is not None:
            raise ValueError(f"{what}: give class_weight or sample_weight, not both")
        sw = _class_weights(class_weight, ya)
    _check_lengths(xa, ya, sw, what)
    n = len(_leaves(xa)[0])
    return _ArrayBatches(xa, ya, sw, batch_size=max(n, 1)), n


def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """One optimizer step on one batch; returns the running loss (and metrics) since the
    last `reset_metrics()`, as Keras 3."""
    _check_compiled(self, "train_on_batch")
    loader, n = _one_batch(x, y, sample_weight, class_weight, "train_on_batch")
    _ensure_built(self, loader)
    trainer = _KerasTrainer(self)
    batch = next(iter(loader))
    was = self.training
    self.train()
    try:
        loss, outputs, targets = trainer.train_step(batch)
    finally:
        self.train(was)
    value = float(loss)
    opt = trainer.optimizer
    if not math.isfinite(value):
        opt.zero_grad(set_to_none=True)
        raise FloatingPointError(f"train_on_batch: the loss is {value}; the step was not "
                                 "applied")
    opt.step()
    opt.zero_grad(set_to_none=True)
    return _batch_logs(self, loss, outputs, targets, n, return_dict)


def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
    """The loss (and metrics) of one batch in eval mode, accumulated as train_on_batch."""
    _check_compiled(self, "test_on_batch")
    loader, n = _one_batch(x, y, sample_weight, None, "test_on_batch")
    _ensure_built(self, loader)
    trainer = _KerasTrainer(self)
    was = self.training
    self.eval()
    try:
        with no_grad():
            loss, outputs, targets = trainer.compute_loss(next(iter(loader)))
    finally:
        self.train(was)
    return _batch_logs(self, loss, outputs, targets, n, return_dict)


def predict_on_batch(self, x):
    """The model's outputs for one batch, as NumPy (eval mode, no gradients)."""
    xa = _array(x, "predict_on_batch x")
    if not getattr(self, "built", True):
        self.build(_input_shape(xa))
    was = self.training
    self.eval()
    try:
        with no_grad():
            out = self(_take(xa, slice(None)))
    finally:
        self.train(was)
    if isinstance(out, (list, tuple)):
        return [o.detach().numpy() for o in out]
    return out.detach().numpy()
