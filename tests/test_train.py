"""fathom.train.Trainer: the loop, its options, evaluate/predict, interruption in-process,
and cross_validate."""
import copy
import os
import signal

import numpy as np
import pytest

import fathom
import fathom.io
from fathom import nn
from fathom.train import LambdaCallback, ModelCheckpoint, Trainer, cross_validate
from fathom.utils.data import DataLoader, Subset, TensorDataset


def _data(n=96, d=6, k=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(dtype)
    y = np.argmax(x @ rng.standard_normal((d, k)), axis=1)
    return TensorDataset(fathom.tensor(x), fathom.tensor(y))


def _mlp(d=6, k=3, dropout=0.0):
    layers = [nn.Linear(d, 16), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, nn.Linear(16, k))


def _trainer(model=None, lr=0.1, **kw):
    model = model or _mlp()
    kw.setdefault("progress", False)
    return Trainer(model, fathom.optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss(),
                   **kw)


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# --- fit, History, evaluate, predict --------------------------------------------------------
def test_history_has_keras_keys_and_epochs():
    ds = _data()
    t = _trainer(metrics=["accuracy"])
    h = t.fit(DataLoader(ds, batch_size=16, shuffle=True), epochs=3,
              val_loader=DataLoader(ds, batch_size=32))
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert h.epoch == [0, 1, 2] and h is t.history and h.interrupted is False
    assert all(len(v) == 3 for v in h.history.values())
    assert all(isinstance(v, float) for v in h.history["loss"])
    assert h.history["lr"] == [0.1] * 3
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_fit_without_validation_and_initial_epoch():
    t = _trainer()
    h = t.fit(DataLoader(_data(), batch_size=32), epochs=5, initial_epoch=3)
    assert list(h.history) == ["loss", "lr"] and h.epoch == [3, 4]
    assert t.global_step == 2 * 3


def test_evaluate_is_batch_size_weighted_and_predict_concatenates():
    ds = _data(n=50)
    model = _mlp(dropout=0.5)
    t = _trainer(model, metrics=["accuracy"])
    model.train()
    res = t.evaluate(DataLoader(ds, batch_size=16))  # batches of 16, 16, 16, 2
    assert model.training  # the mode is restored
    model.eval()
    with fathom.no_grad():
        out = model(ds.tensors[0])
    model.train()
    full = float(nn.functional.cross_entropy(out, ds.tensors[1]))
    assert res["loss"] == pytest.approx(full, rel=1e-6)
    acc = float((out.argmax(1) == ds.tensors[1]).float().mean())
    assert res["accuracy"] == pytest.approx(acc)
    pred = t.predict(DataLoader(ds, batch_size=16))
    np.testing.assert_allclose(pred.numpy(), out.numpy(), rtol=1e-6)
    assert not pred.requires_grad
    # batches without targets (1-tuples) predict too
    only_x = t.predict(DataLoader(TensorDataset(ds.tensors[0]), batch_size=7))
    np.testing.assert_allclose(only_x.numpy(), out.numpy(), rtol=1e-6)


def test_train_and_eval_modes_and_no_graph_in_metrics():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            seen.append(self.training)
            return self.fc(x)

    class GraphCheck(fathom.metrics.Metric):
        name = "graph_check"

        def reset(self):
            self.flags = []

        def update(self, preds, target):
            self.flags.append(preds.requires_grad)

        def compute(self):
            return float(any(self.flags))

    ds = _data(n=32)
    t = _trainer(Probe(), metrics=[GraphCheck()])
    h = t.fit(DataLoader(ds, batch_size=16), epochs=1, val_loader=DataLoader(ds, batch_size=32))
    assert seen == [True, True, False]
    assert h.history["graph_check"] == [0.0] and h.history["val_graph_check"] == [0.0]


def test_validation_split_takes_the_last_fraction():
    ds = _data(n=100)
    t = _trainer(metrics=["accuracy"])
    h = t.fit(DataLoader(ds, batch_size=10, shuffle=True), epochs=2, validation_split=0.25)
    assert len(t.train_loader.dataset) == 75 and list(t.val_loader.dataset.indices) == \
        list(range(75, 100))
    last = t.evaluate(DataLoader(Subset(ds, range(75, 100)), batch_size=10))
    assert h.history["val_loss"][-1] == pytest.approx(last["loss"])
    with pytest.raises(ValueError, match="not both"):
        t.fit(DataLoader(ds), validation_split=0.2, val_loader=DataLoader(ds))
    with pytest.raises(ValueError, match="validation_split"):
        t.fit(DataLoader(ds), validation_split=1.5)


def test_batch_rules_dicts_lists_and_override():
    ds = _data(n=32)
    x, y = ds.tensors
    dict_batches = [{"image": x[i:i + 8], "label": y[i:i + 8]} for i in range(0, 32, 8)]
    t = _trainer(metrics=["accuracy"])
    h = t.fit(dict_batches, epochs=2)  # any iterable of batches works, here a list
    assert len(h.history["loss"]) == 2 and t.global_step == 8
    with pytest.raises(ValueError, match="keys"):
        _trainer().fit([{"inputs_": x, "y": y}])

    class PairTrainer(Trainer):  # a batch (x, w, y): the documented override point
        def compute_loss(self, batch, model=None):
            xb, wb, yb = batch
            out = (model or self.model)(xb * wb)
            return self.loss_fn(out, yb), out, yb

    m = _mlp()
    pt = PairTrainer(m, fathom.optim.SGD(m.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                     progress=False)
    pt.fit([(x, fathom.ones(32, 1), y)], epochs=1)
    assert pt.evaluate([(x, fathom.ones(32, 1), y)])["loss"] > 0


def test_loss_may_be_a_plain_function_and_targets_optional():
    x = fathom.randn(16, 4)
    model = nn.Linear(4, 4)
    t = Trainer(model, fathom.optim.SGD(model.parameters(), lr=0.01),
                lambda out: (out * out).mean(), progress=False)  # no targets: loss(outputs)
    h = t.fit([(x,)] * 3, epochs=2)
    assert h.history["loss"][1] < h.history["loss"][0]


def test_nan_loss_stops_with_epoch_and_step():
    ds = _data(n=64)
    x = ds.tensors[0].numpy().copy()
    x[40] = np.nan  # in batch 3 of the second epoch's unshuffled pass
    bad = TensorDataset(fathom.tensor(x), ds.tensors[1])
    t = _trainer()
    t.fit(DataLoader(ds, batch_size=16), epochs=1)
    before = _weights(t.model)
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 2, step 3"):
        t.fit(DataLoader(bad, batch_size=16), epochs=2, initial_epoch=1)
    after = _weights(t.model)
    assert all(np.isfinite(v).all() for v in after.values())
    assert any(not np.array_equal(before[k], after[k]) for k in before)  # steps 1-2 applied
    assert all(p.grad is None for p in t.model.parameters())


# --- options: clipping, penalties, EMA, accumulation ----------------------------------------
def _one_step_manual(model, x, y, lr, l1=0.0, l2=0.0, clip_norm=None, clip_value=None):
    m = copy.deepcopy(model)
    loss = nn.functional.cross_entropy(m(x), y)
    for p in m.parameters():
        if l1:
            loss = loss + l1 * p.abs().sum()
        if l2:
            loss = loss + l2 * (p * p).sum()
    loss.backward()
    grads = [p.grad.numpy().astype(np.float64) for p in m.parameters()]
    if clip_value is not None:
        grads = [np.clip(g, -clip_value, clip_value) for g in grads]
    if clip_norm is not None:
        total = np.sqrt(sum((g * g).sum() for g in grads))
        grads = [g * min(1.0, clip_norm / (total + 1e-6)) for g in grads]
    return [p.detach().numpy() - lr * g for p, g in zip(m.parameters(), grads)]


@pytest.mark.parametrize("opts", [dict(clip_norm=0.05), dict(clip_value=0.01),
                                  dict(clip_value=0.02, clip_norm=0.03), dict(l1=0.01),
                                  dict(l2=0.05), dict(l1=0.02, l2=0.03, clip_norm=0.1)],
                         ids=["norm", "value", "value+norm", "l1", "l2", "l1+l2+norm"])
def test_one_step_matches_manual(opts):
    ds = _data(n=16)
    x, y = ds.tensors
    model = _mlp()
    expected = _one_step_manual(model, x, y, 0.5, **opts)
    t = _trainer(model, lr=0.5, clip_grad_norm=opts.get("clip_norm"),
                 clip_grad_value=opts.get("clip_value"), l1=opts.get("l1", 0.0),
                 l2=opts.get("l2", 0.0))
    h = t.fit([(x, y)], epochs=1)
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-5, atol=1e-6)
    plain = float(nn.functional.cross_entropy(_mlp_copy_eval(expected, x), y))
    assert np.isfinite(plain) and h.history["loss"][0] > 0  # logged loss: the data loss only


def _mlp_copy_eval(params, x):
    m = _mlp()
    for p, v in zip(m.parameters(), params):
        p.data[...] = v
    return m(x)


def test_clip_and_penalty_change_the_step():
    x, y = _data(n=16).tensors
    base = _mlp()
    runs = {}
    for name, kw in {"plain": {}, "clip": {"clip_grad_norm": 1e-3}, "l2": {"l2": 0.5}}.items():
        m = copy.deepcopy(base)
        _trainer(m, lr=0.5, **kw).fit([(x, y)], epochs=1)
        runs[name] = _weights(m)
    for other in ("clip", "l2"):
        assert any(not np.allclose(runs["plain"][k], runs[other][k]) for k in runs["plain"])


def test_gradient_accumulation_equals_one_big_batch():
    ds = _data(n=32, dtype=np.float64)
    base = nn.Linear(6, 3).double()
    big, small = copy.deepcopy(base), copy.deepcopy(base)
    _trainer(big, lr=0.3).fit(DataLoader(ds, batch_size=32), epochs=2)
    t = _trainer(small, lr=0.3, accumulate_steps=4)
    t.fit(DataLoader(ds, batch_size=8), epochs=2)
    assert t.global_step == 2
    for k, v in _weights(big).items():
        np.testing.assert_allclose(_weights(small)[k], v, rtol=1e-12, atol=1e-14)
    # an epoch of 5 batches with accumulate_steps=2: steps after batches 2, 4 and 5
    t2 = _trainer(accumulate_steps=2)
    t2.fit(DataLoader(_data(n=40), batch_size=8), epochs=1)
    assert t2.global_step == 3


def test_ema_weights_are_used_for_evaluation():
    ds = _data(n=48)
    model = _mlp()
    seen = []
    record = LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(_weights(model)))
    t = _trainer(model, lr=0.5, ema_decay=0.6, callbacks=[record], metrics=["accuracy"])
    h = t.fit(DataLoader(ds, batch_size=16), epochs=1, val_loader=DataLoader(ds, batch_size=48))
    ema = dict(seen[0])
    for w in seen[1:]:
        ema = {k: 0.6 * ema[k] + 0.4 * w[k] for k in ema}
    got = {k[len("module."):]: v.numpy() for k, v in t.ema_model.state_dict().items()
           if k.startswith("module.")}
    for k in ema:
        np.testing.assert_allclose(got[k], ema[k], rtol=1e-5, atol=1e-7)
    res = t.evaluate(DataLoader(ds, batch_size=48))
    assert h.history["val_loss"][-1] == pytest.approx(res["loss"])
    raw = float(nn.functional.cross_entropy(model(ds.tensors[0]), ds.tensors[1]))
    on_ema = float(nn.functional.cross_entropy(t.ema_model(ds.tensors[0]), ds.tensors[1]))
    assert res["loss"] == pytest.approx(on_ema, rel=1e-6) and res["loss"] != pytest.approx(raw)
    np.testing.assert_allclose(t.predict(DataLoader(ds, batch_size=48)).numpy(),
                               t.ema_model(ds.tensors[0]).detach().numpy(), rtol=1e-6)


def test_scheduler_steps_per_epoch_and_plateau_gets_val_loss():
    ds = _data(n=32)
    m = _mlp()
    opt = fathom.optim.SGD(m.parameters(), lr=0.1)
    t = Trainer(m, opt, nn.CrossEntropyLoss(), progress=False,
                scheduler=fathom.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    assert t.fit(DataLoader(ds, batch_size=16), epochs=3).history["lr"] == [0.1, 0.05, 0.025]
    m = _mlp()
    opt = fathom.optim.SGD(m.parameters(), lr=0.1)
    plateau = fathom.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    t = Trainer(m, opt, nn.CrossEntropyLoss(), progress=False, scheduler=plateau)
    t.fit(DataLoader(ds, batch_size=16), epochs=2, val_loader=DataLoader(ds, batch_size=32))
    assert plateau.last_epoch == 2 and plateau.best == pytest.approx(
        min(t.history.history["val_loss"]))


# --- interruption in-process ------------------------------------------------------------------
def _kill_at(n, sig=signal.SIGINT, times=1):
    count = [0]

    def hit(batch, logs):
        count[0] += 1
        if count[0] == n:
            for _ in range(times):
                os.kill(os.getpid(), sig)
    return LambdaCallback(on_train_batch_end=hit)


def test_sigint_saves_mid_epoch_and_restores_handlers(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    path = str(tmp_path / "ck.safetensors")
    t = _trainer(callbacks=[_kill_at(3)], checkpoint=path)
    h = t.fit(DataLoader(_data(), batch_size=16, shuffle=True), epochs=2)
    assert h.interrupted and t.interrupted and (t.epoch, t.step) == (0, 3)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    ck = fathom.load(path)
    assert (ck["epoch"], ck["step"], ck["loader"]["batches"]) == (0, 3, 3)
    assert h.history == {}


def test_accumulation_group_finishes_before_stopping(tmp_path):
    t = _trainer(callbacks=[_kill_at(3, signal.SIGTERM)], accumulate_steps=2,
                 checkpoint=str(tmp_path / "ck.safetensors"))
    t.fit(DataLoader(_data(), batch_size=16), epochs=2)
    assert (t.step, t.global_step) == (4, 2)


def test_second_sigint_during_save_is_ignored(tmp_path, monkeypatch):
    real_save = fathom.io.save
    calls = []

    def save(obj, f):
        calls.append(f)
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while the file is written
        return real_save(obj, f)
    monkeypatch.setattr(fathom.io, "save", save)
    path = str(tmp_path / "ck.safetensors")
    t = _trainer(callbacks=[_kill_at(2)], checkpoint=path)
    h = t.fit(DataLoader(_data(), batch_size=16), epochs=1)
    assert h.interrupted and calls == [path]
    assert fathom.load(path)["step"] == 2


def test_second_sigint_before_the_boundary_stops_at_once(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    t = _trainer(callbacks=[_kill_at(2, times=2)], checkpoint=str(tmp_path / "c.safetensors"))
    with pytest.raises(KeyboardInterrupt):
        t.fit(DataLoader(_data(), batch_size=16), epochs=1)
    assert signal.getsignal(signal.SIGINT) == before
    assert not os.path.exists(tmp_path / "c.safetensors")


def test_interrupt_path_rule_and_resume_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader = DataLoader(_data(), batch_size=16)
    t = _trainer(callbacks=[_kill_at(1)])
    assert t.fit(loader, epochs=1).interrupted
    assert os.path.exists("interrupted.safetensors")  # no checkpoint= and no ModelCheckpoint
    mc = ModelCheckpoint(tmp_path / "mc")
    t = _trainer(callbacks=[mc, _kill_at(1, signal.SIGTERM)])
    assert t.checkpoint_path() == mc.last_path
    assert t.fit(loader, epochs=1).interrupted and os.path.exists(mc.last_path)
    t = _trainer(checkpoint=tmp_path / "none-yet.safetensors")
    assert t.fit(loader, epochs=1, resume=True).epoch == [0]  # nothing to resume: fresh
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _trainer().fit(loader, resume=tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="resume=True"):
        _trainer().fit(loader, resume=True)
    fathom.save(t.model.state_dict(), tmp_path / "weights.safetensors")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        t.load_checkpoint(tmp_path / "weights.safetensors")


def test_resume_in_process_continues_history(tmp_path):
    path = str(tmp_path / "ck.safetensors")
    loader = DataLoader(_data(), batch_size=16, shuffle=True)
    fathom.manual_seed(3)
    ref = _trainer(_mlp(dropout=0.2), metrics=["accuracy"])
    init = _weights(ref.model)
    ref.fit(loader, epochs=3)
    fathom.manual_seed(3)
    m = _mlp(dropout=0.2)
    m.load_state_dict({k: fathom.tensor(v) for k, v in init.items()})
    t = _trainer(m, metrics=["accuracy"], checkpoint=path, callbacks=[_kill_at(8)])
    assert t.fit(loader, epochs=3).interrupted
    m2 = _mlp(dropout=0.2)
    t2 = _trainer(m2, metrics=["accuracy"], checkpoint=path)
    h = t2.fit(loader, epochs=3, resume=True)
    assert h.history == ref.history.history and h.epoch == [0, 1, 2]
    for k, v in _weights(ref.model).items():
        np.testing.assert_array_equal(_weights(m2)[k], v)


# --- cross-validation -------------------------------------------------------------------------
@pytest.mark.parametrize("stratified", [True, False])
def test_cross_validate_reports_folds_mean_and_std(stratified):
    ds = _data(n=60)
    res = cross_validate(lambda: _mlp(), ds, k=3, epochs=2, batch_size=16,
                         stratified=stratified, metrics=("accuracy",),
                         optimizer_fn=lambda p: fathom.optim.SGD(p, lr=0.1))
    assert len(res.folds) == 3 and len(res.histories) == 3
    for key in ("loss", "accuracy"):
        vals = [f[key] for f in res.folds]
        assert res.mean[key] == pytest.approx(np.mean(vals))
        assert res.std[key] == pytest.approx(np.std(vals))
    text = str(res)
    assert "3-fold" in text and "accuracy" in text and "+-" in text
    again = cross_validate(lambda: _mlp(), ds, k=3, epochs=2, batch_size=16,
                           stratified=stratified,
                           optimizer_fn=lambda p: fathom.optim.SGD(p, lr=0.1))
    assert again.folds == res.folds  # seeded: repeatable
    with pytest.raises(ValueError, match="k must be"):
        cross_validate(lambda: _mlp(), ds, k=1)


def test_docstring_examples():
    import doctest

    from fathom.train import callbacks, cross_validation, plots, trainer
    for mod in (trainer, callbacks, plots, cross_validation):
        assert doctest.testmod(mod, extraglobs={"fathom": fathom}).failed == 0, mod.__name__
