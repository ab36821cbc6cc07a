"""fathom.train callbacks: EarlyStopping, ModelCheckpoint, LR scheduling, CSVLogger,
TensorBoard, ProgressBar, LambdaCallback and the plots."""
import csv
import io
import os
import re
import sys

import numpy as np
import pytest

import fathom
from fathom import nn
from fathom.train import (Callback, CSVLogger, EarlyStopping, LambdaCallback,
                          LearningRateScheduler, LRScheduler, ModelCheckpoint, PlotHistory,
                          ProgressBar, ReduceLROnPlateau, TensorBoard, Trainer,
                          plot_confusion_matrix, plot_history)
from fathom.utils.data import DataLoader, TensorDataset


def _data(n=64, d=5, k=3):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = np.argmax(x @ rng.standard_normal((d, k)), axis=1)
    return TensorDataset(fathom.tensor(x), fathom.tensor(y))


def _trainer(callbacks=(), lr=0.1, **kw):
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    kw.setdefault("progress", False)
    return Trainer(model, fathom.optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss(),
                   callbacks=callbacks, **kw)


def _scripted(key, values):
    """A callback (put it first) that overwrites logs[key] with values[epoch]."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update({key: values[epoch]}))


def _fit(callbacks, values=None, key="val_loss", epochs=None, **kw):
    cbs = ([_scripted(key, values)] if values is not None else []) + list(callbacks)
    t = _trainer(cbs, **kw)
    ds = _data()
    h = t.fit(DataLoader(ds, batch_size=16), epochs=epochs or len(values),
              val_loader=DataLoader(ds, batch_size=64))
    return t, h


# --- EarlyStopping ------------------------------------------------------------------------
@pytest.mark.parametrize("values,kw,epochs_run", [
    ([5, 4, 4.5, 4.2, 4.1, 3], dict(patience=2), 4),           # 2 epochs without improvement
    ([5, 4, 4.5, 4.2, 3.9, 3], dict(patience=3), 6),
    ([5, 4.99, 4.98, 4.97, 1], dict(patience=2, min_delta=0.05), 3),
    ([5, 4, 3, 2, 1], dict(patience=0), 5),
    ([5, 6, 4, 7, 8], dict(patience=0), 2),
    ([1, 2, 3, 2, 1], dict(patience=1, mode="max"), 5 - 1),
    ([1, 2, 3, 3, 3], dict(patience=1, mode="min"), 2),
])
def test_early_stopping_patience_min_delta_mode(values, kw, epochs_run):
    es = EarlyStopping(**kw)
    _, h = _fit([es], values)
    assert len(h.epoch) == epochs_run


def test_early_stopping_auto_mode_and_missing_monitor():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    assert EarlyStopping(monitor="f1").mode == "max"
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    es = EarlyStopping(monitor="val_accuracy", patience=1)  # auto -> max
    _, h = _fit([es], [0.5, 0.6, 0.55, 0.7, 0.8], key="val_accuracy")
    assert len(h.epoch) == 3
    with pytest.warns(UserWarning, match="not in the logs"):
        _, h = _fit([EarlyStopping(monitor="val_nope")], epochs=2)
    assert len(h.epoch) == 2


def test_early_stopping_restores_best_weights():
    snaps = []
    record = LambdaCallback(on_epoch_end=lambda e, logs: snaps.append(
        {k: v.numpy().copy() for k, v in t.model.state_dict().items()}))
    es = EarlyStopping(patience=2, restore_best_weights=True)
    t = _trainer([_scripted("val_loss", [3, 1, 2, 2.5, 0.5]), record, es])
    ds = _data()
    h = t.fit(DataLoader(ds, batch_size=16), epochs=5, val_loader=DataLoader(ds, batch_size=64))
    assert len(h.epoch) == 4 and es.best_epoch == 1 and es.stopped_epoch == 3
    for k, v in t.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snaps[1][k])
    sd = es.state_dict()
    assert sd["best"] == 1 and sd["wait"] == 2


# --- ModelCheckpoint ----------------------------------------------------------------------
def test_model_checkpoint_best_and_last(tmp_path):
    mc = ModelCheckpoint(tmp_path / "ck")
    t, _ = _fit([mc], [3.0, 2.0, 2.5, 1.0, 1.5])
    files = sorted(os.listdir(tmp_path / "ck"))
    assert files == ["best.safetensors", "last.safetensors"]  # no temporary files left
    last = fathom.load(mc.last_path)
    assert last["epoch"] == 5 and last["format"] == "fathom.train.checkpoint/1"
    best = fathom.load(mc.best_path)
    assert best["epoch"] == 4 and best["callbacks"]["ModelCheckpoint"]["best"] == 1.0
    assert mc.best == 1.0
    t.model.load_state_dict(best["model"])


def test_model_checkpoint_is_atomic_when_a_save_fails(tmp_path):
    class Breaks(Callback):
        def __init__(self):
            super().__init__()
            self.epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

        def state_dict(self):
            return {"bad": {1, 2}} if self.epochs == 2 else {}  # a set cannot be saved

    mc = ModelCheckpoint(tmp_path)
    with pytest.raises(TypeError):
        _fit([mc, Breaks()], [2.0, 1.0, 0.5])
    assert fathom.load(mc.last_path)["epoch"] == 1  # the previous file, whole
    assert sorted(f for f in os.listdir(tmp_path)) == ["best.safetensors", "last.safetensors"]


def test_model_checkpoint_file_template_and_weights_only(tmp_path):
    pattern = str(tmp_path / "m-{epoch:02d}-{val_loss:.1f}.safetensors")
    mc = ModelCheckpoint(pattern, save_best_only=True, save_weights_only=True)
    t, _ = _fit([mc], [3.0, 2.0, 2.5])
    assert sorted(os.listdir(tmp_path)) == ["m-01-3.0.safetensors", "m-02-2.0.safetensors"]
    t.model.load_state_dict(fathom.load(tmp_path / "m-02-2.0.safetensors"))
    every = ModelCheckpoint(str(tmp_path / "e{epoch}.safetensors"))
    _fit([every], [3.0, 2.0, 2.5])
    assert fathom.load(tmp_path / "e3.safetensors")["epoch"] == 3


# --- learning rate --------------------------------------------------------------------------
def test_reduce_lr_on_plateau_keras_semantics():
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=0.02)
    _, h = _fit([cb], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    # Keras: reduce once `patience` epochs passed without improvement; lr is logged before
    assert h.history["lr"] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.04, cooldown=1)
    _, h = _fit([cb], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert h.history["lr"] == [0.1, 0.1, 0.05, 0.05, 0.04, 0.04]
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_lr_scheduler_callback_with_pytorch_schedulers():
    t = _trainer()
    sched = fathom.optim.lr_scheduler.ReduceLROnPlateau(t.optimizer, factor=0.5, patience=0)
    t.callbacks = [_scripted("val_loss", [1.0, 1.0, 1.0]), LRScheduler(sched)]
    ds = _data()
    h = t.fit(DataLoader(ds, batch_size=16), 3, val_loader=DataLoader(ds, batch_size=64))
    assert h.history["lr"] == [0.1, 0.1, 0.05]  # PyTorch: reduce after patience + 1 bad
    t = _trainer()
    step = fathom.optim.lr_scheduler.StepLR(t.optimizer, step_size=1, gamma=0.5)
    t.callbacks = [LRScheduler(step, interval="step")]
    h = t.fit(DataLoader(ds, batch_size=16), 2)  # 4 batches an epoch
    assert h.history["lr"] == [0.1 * 0.5 ** 4, 0.1 * 0.5 ** 8]
    assert t.callbacks[0].state_dict()["scheduler"]["last_epoch"] == 8
    keras_style = LearningRateScheduler(lambda epoch, lr: lr if epoch < 1 else lr * 0.1)
    _, h = _fit([keras_style], epochs=3)
    assert h.history["lr"] == pytest.approx([0.1, 0.01, 0.001])
    with pytest.raises(ValueError, match="interval"):
        LRScheduler(step, interval="batch")


# --- CSV, TensorBoard, progress --------------------------------------------------------------
def test_csv_logger_rows_match_history(tmp_path):
    path = tmp_path / "logs" / "train.csv"
    _, h = _fit([CSVLogger(path)], epochs=3)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "loss", "lr", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for i, r in enumerate(rows[1:]):
        assert float(r[1]) == h.history["loss"][i] and float(r[3]) == h.history["val_loss"][i]
    _fit([CSVLogger(path, append=True)], epochs=2)
    rows = list(csv.reader(open(path)))
    assert len(rows) == 1 + 3 + 2 and rows.count(rows[0]) == 1
    _fit([CSVLogger(path, separator=";")], epochs=1)
    assert open(path).read().startswith("epoch;loss;lr;val_loss")


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    _fit([TensorBoard(tmp_path / "tb", update_freq=2)], epochs=2)
    files = os.listdir(tmp_path / "tb")
    assert any(f.startswith("events.out.tfevents") for f in files)
    raw = b"".join(open(tmp_path / "tb" / f, "rb").read() for f in files)
    assert b"epoch_loss" in raw and b"epoch_val_loss" in raw and b"batch_loss" in raw


def test_tensorboard_without_tensorboardx_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match="pip install tensorboardX"):
        TensorBoard("logs")


def test_progress_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    t = _trainer([ProgressBar(every=2, file=out)], metrics=["accuracy"])
    ds = _data()
    t.fit(DataLoader(ds, batch_size=16), epochs=2, val_loader=DataLoader(ds, batch_size=64))
    lines = out.getvalue().splitlines()
    step = re.compile(r"^epoch 1/2 step 2/4 loss \d\.\d{4} accuracy \d\.\d{4} \| \d+ samples/s "
                      r"ETA \d:\d\d:\d\d$")
    assert step.match(lines[0]), lines[0]
    assert lines[1].startswith("epoch 1/2 done 4/4 loss ") and "val_accuracy" in lines[1]
    assert "lr 0.1" in lines[1] and "samples/s" in lines[1]
    assert len(lines) == 4 and lines[3].startswith("epoch 2/2 done 4/4")


def test_progress_default_and_tqdm_on_a_terminal(capsys):
    pytest.importorskip("tqdm")
    t = _trainer(progress=True)  # the default bar writes plain lines to a non-terminal stderr
    t.fit(DataLoader(_data(), batch_size=16), epochs=1)
    assert "epoch 1/1 done 4/4 loss" in capsys.readouterr().err

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    term = Terminal()
    bar = ProgressBar(file=term)
    _trainer([bar]).fit(DataLoader(_data(), batch_size=16), epochs=1)
    text = term.getvalue()
    assert bar._tqdm and "epoch 1/1" in text and "4/4" in text and "loss=" not in text
    assert "loss" in text


# --- LambdaCallback and hooks -----------------------------------------------------------------
def test_lambda_callback_and_hook_order():
    calls = []
    cb = LambdaCallback(on_train_begin=lambda logs: calls.append("train_begin"),
                        on_epoch_begin=lambda e, logs: calls.append(f"epoch_begin {e}"),
                        on_train_batch_end=lambda b, logs: calls.append(f"batch {b}"),
                        on_epoch_end=lambda e, logs: calls.append(f"epoch_end {e}"),
                        on_train_end=lambda logs: calls.append("train_end"),
                        on_test_begin=lambda logs: calls.append("test"))
    _fit([cb], epochs=2)
    assert calls == ["train_begin", "epoch_begin 0", "batch 0", "batch 1", "batch 2", "batch 3",
                     "test", "epoch_end 0", "epoch_begin 1", "batch 0", "batch 1", "batch 2",
                     "batch 3", "test", "epoch_end 1", "train_end"]
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_everything=print)


def test_keras_batch_alias_and_stop_training_from_a_batch():
    class Old(Callback):  # Keras 2 style: on_batch_end
        def __init__(self):
            super().__init__()
            self.n = 0

        def on_batch_end(self, batch, logs=None):
            self.n += 1
            if self.n == 3:
                self.trainer.stop_training = True

    old = Old()
    _, h = _fit([old], epochs=3)
    assert old.n == 3 and len(h.epoch) == 1 and old.model is not None


# --- plots -----------------------------------------------------------------------------------
def test_plots_write_png(tmp_path):
    pytest.importorskip("matplotlib")
    ds = _data()
    t = _trainer([PlotHistory(tmp_path, class_names=["a", "b", "c"])], metrics=["accuracy"])
    t.fit(DataLoader(ds, batch_size=16), epochs=2, val_loader=DataLoader(ds, batch_size=64))
    for name in ("history.png", "confusion_matrix.png"):
        assert open(tmp_path / name, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    plot_history({"loss": [1.0, 0.5], "val_loss": [1.2, 0.8], "lr": [0.1, 0.01]},
                 tmp_path / "h.png")
    plot_confusion_matrix(np.array([[5, 1], [2, 7]]), ["x", "y"], tmp_path / "cm.png",
                          normalize=True)
    assert os.path.getsize(tmp_path / "cm.png") > 1000
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)), path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        plot_history({}, tmp_path / "x.png")


def test_step_schedules_follow_optimizer_steps_with_accumulation():
    t = _trainer(accumulate_steps=2)
    step = fathom.optim.lr_scheduler.StepLR(t.optimizer, step_size=1, gamma=0.5)
    t.callbacks = [LRScheduler(step, interval="step")]
    h = t.fit(DataLoader(_data(), batch_size=16), 1)  # 4 batches, 2 optimizer steps
    assert t.global_step == 2 and h.history["lr"] == [0.1 * 0.5 ** 2]


def test_callbacks_given_to_fit_are_used_once():
    seen = []
    t = _trainer()
    t.fit(DataLoader(_data(), batch_size=16), 2,
          callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    t.fit(DataLoader(_data(), batch_size=16), 1)
    assert seen == [0, 1]
