"""fathom.keras training: compile/fit/evaluate/predict, losses, metrics, optimizers and
callbacks, on small data (Keras's semantics; PyTorch as the oracle where it has the
concept)."""
import csv
import json
import math
import os

import numpy as np
import pytest

import fathom
from fathom import keras
from fathom.keras import losses as L
from fathom.keras import metrics as M
from fathom.keras import optimizers as O
from fathom.nn import functional as F


# --- helpers ------------------------------------------------------------------------------
def blobs(n=256, d=4, seed=0):
    """Two linearly separable classes: label = x0 + x1 > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def mlp(classes=2, d=4, activation="softmax"):
    return keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(d,)),
                             keras.layers.Dense(classes, activation=activation)])


def compiled(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=("accuracy",),
             **kw):
    model = mlp(**kw)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def weights(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


# --- fit, History -------------------------------------------------------------------------
def test_history_has_keras_keys_and_attributes():
    x, y = blobs()
    model = compiled()
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2]
    assert all(len(v) == 3 and all(isinstance(e, float) for e in v)
               for v in history.history.values())
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 6}  # 192 / 32
    assert history.model is model and model.history is history


def test_tiny_model_learns_a_separable_problem():
    x, y = blobs(512)
    model = compiled(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.95 and loss < 0.2


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = blobs(200)
    model = compiled()
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
    # the validation after the last epoch used the final weights on x[160:]
    loss, acc = model.evaluate(x[160:], y[160:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(acc)
    assert history.params["steps"] == 10  # 160 training samples in batches of 16


def test_validation_data_overrides_validation_split_and_accepts_weights():
    x, y = blobs(100)
    model = compiled()
    h = model.fit(x, y, epochs=1, validation_data=(x[:10], y[:10], np.ones(10)),
                  validation_split=0.5, verbose=0)
    assert h.params["steps"] == 4  # all 100 samples trained on (batch 32)
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[:10], y[:10], verbose=0)[0])


def test_fit_is_reproducible_under_manual_seed():
    x, y = blobs()
    runs = []
    for _ in range(2):
        fathom.manual_seed(3)
        model = compiled()
        runs.append((model.fit(x, y, epochs=2, verbose=0).history, weights(model)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_fit_accepts_tensors_datasets_and_loaders():
    from fathom.utils.data import DataLoader, TensorDataset
    x, y = blobs(64)
    model = compiled()
    assert len(model.fit(fathom.tensor(x), fathom.tensor(y), epochs=1, verbose=0).epoch) == 1
    data = TensorDataset(fathom.tensor(x), fathom.tensor(y))
    h = model.fit(data, epochs=1, batch_size=16, verbose=0)
    assert h.params["steps"] == 4
    h = model.fit(DataLoader(data, batch_size=8), epochs=1, validation_data=DataLoader(data),
                  verbose=0)
    assert h.params["steps"] == 8 and "val_accuracy" in h.history
    with pytest.raises(ValueError, match="`y` must not be given"):
        model.fit(data, y, verbose=0)


def test_fit_with_several_inputs_and_integer_inputs():
    rng = np.random.default_rng(0)
    a, b = keras.Input((3,)), keras.Input((2,))
    joined = keras.layers.Concatenate()([keras.layers.Dense(4, activation="relu")(a), b])
    model = keras.Model([a, b], keras.layers.Dense(1, activation="sigmoid")(joined))
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    xa, xb = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))  # float64: cast to float32
    y = (xa[:, 0] > 0).astype(np.float32)
    h = model.fit([xa, xb], y, epochs=2, validation_split=0.25, verbose=0)
    assert list(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert model.predict([xa, xb], verbose=0).shape == (40, 1)
    with pytest.raises(ValueError, match=r"fit x\[0\] has 40, fit x\[1\] has 39"):
        model.fit([xa, xb[:39]], y, verbose=0)
    emb = keras.Sequential([keras.layers.Embedding(10, 4), keras.layers.GlobalAveragePooling1D(),
                            keras.layers.Dense(2)])
    emb.compile("adam", L.SparseCategoricalCrossentropy(from_logits=True))
    h = emb.fit(rng.integers(0, 10, (32, 5)), rng.integers(0, 2, 32), epochs=1, verbose=0)
    assert list(h.history) == ["loss"]


def test_several_outputs_predict_but_do_not_train():
    a = keras.Input((3,))
    model = keras.Model(a, [keras.layers.Dense(2)(a), keras.layers.Dense(1)(a)])
    out = model.predict(np.zeros((5, 3)), batch_size=2, verbose=0)
    assert [o.shape for o in out] == [(5, 2), (5, 1)]
    model.compile("sgd", "mse")
    with pytest.raises(NotImplementedError, match="several outputs"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)


def test_steps_per_epoch_and_initial_epoch():
    x, y = blobs(64)
    model = compiled()
    h = model.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, steps_per_epoch=3, verbose=0)
    assert h.epoch == [1, 2] and h.params["steps"] == 3
    assert model.optimizer.iterations == 6


def test_fit_builds_an_unbuilt_model_and_the_optimizer_after_it():
    x, y = blobs(32)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=L.SparseCategoricalCrossentropy(from_logits=True))
    assert not model.built and not model.optimizer.built
    model.fit(x, y, epochs=1, verbose=0)
    n = sum(p.numel() for p in model.parameters())
    assert n == 4 * 8 + 8 + 8 * 2 + 2
    assert model.optimizer.fathom_optimizer.param_groups[0]["params"][0] is \
        next(model.parameters())


def test_stop_training_from_a_callback():
    class StopAt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    x, y = blobs(64)
    h = compiled().fit(x, y, epochs=10, callbacks=[StopAt()], verbose=0)
    assert h.epoch == [0, 1]


def test_callback_sees_keras_hooks_params_and_model():
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("params", dict(self.params), self.model))

        def on_batch_end(self, batch, logs=None):  # Keras's alias of on_train_batch_end
            seen.append(("batch", batch, sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", epoch, list(logs)))

    x, y = blobs(64)
    model = compiled()
    model.fit(x, y, epochs=1, batch_size=32, validation_split=0.5, callbacks=[Spy()], verbose=2)
    assert seen[0] == ("params", {"verbose": 2, "epochs": 1, "steps": 1}, model)
    assert seen[1][:2] == ("batch", 0) and "loss" in seen[1][2]
    assert seen[-1] == ("epoch", 0, ["accuracy", "loss", "val_accuracy", "val_loss"])


# --- progress output ----------------------------------------------------------------------
def test_progress_bar_lines(capsys):
    x, y = blobs(64)
    model = compiled()
    model.fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("4/4 " + "━" * 20 + " ")
    assert "/step - accuracy: " in out[1] and " - loss: " in out[1]
    model.fit(x, y, epochs=1, batch_size=16, verbose=2)
    line = capsys.readouterr().out.strip()
    assert line.startswith("4/4 - ") and "s/step - accuracy: " in line  # no Epoch line
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, batch_size=16, verbose=1)
    assert capsys.readouterr().out.startswith("4/4 " + "━" * 20)


# --- evaluate / predict -------------------------------------------------------------------
def test_evaluate_returns_scalar_list_or_dict():
    x, y = blobs(64)
    plain = compiled(metrics=())
    loss = plain.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model = compiled(metrics=("accuracy", "sparse_top_k_categorical_accuracy"))
    out = model.evaluate(x, y, verbose=0)
    assert isinstance(out, list) and len(out) == 3
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == ["loss", "accuracy", "sparse_top_k_categorical_accuracy"]
    assert d["loss"] == out[0] and d["sparse_top_k_categorical_accuracy"] == 1.0
    # the mean over batches weighs each by its size: equal to one big batch
    assert model.evaluate(x, y, batch_size=7, verbose=0)[0] == \
        pytest.approx(model.evaluate(x, y, batch_size=64, verbose=0)[0], rel=1e-5)


def test_evaluate_loss_matches_the_loss_of_the_predictions():
    x, y = blobs(50)
    model = compiled()
    probs = model.predict(x, verbose=0)
    assert isinstance(probs, np.ndarray) and probs.shape == (50, 2)
    expected = float(np.mean(-np.log(np.clip(probs[np.arange(50), y], 1e-7, 1 - 1e-7))))
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(expected, rel=1e-5)
    assert model.predict(x, batch_size=7, verbose=0) == pytest.approx(probs, abs=1e-6)


def test_predict_works_uncompiled_and_on_batch():
    x, _ = blobs(10)
    model = mlp()
    out = model.predict(x, verbose=0)
    assert out.shape == (10, 2)
    np.testing.assert_allclose(model.predict_on_batch(x), out, rtol=1e-6)


def test_train_and_test_on_batch_accumulate_until_reset():
    x, y = blobs(64)
    model = compiled(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights fixed
    first = model.train_on_batch(x[:32], y[:32])
    second = model.train_on_batch(x[32:], y[32:], return_dict=True)
    full = model.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(first, list) and len(first) == 2
    assert second["loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert second["accuracy"] == pytest.approx(full["accuracy"])
    from fathom.keras.training import reset_metrics
    reset_metrics(model)
    t = model.test_on_batch(x[:32], y[:32], return_dict=True)
    assert t["loss"] == pytest.approx(first[0], rel=1e-5)


def test_train_on_batch_steps_the_optimizer():
    x, y = blobs(32)
    model = compiled(optimizer="sgd")
    before = weights(model)
    model.train_on_batch(x, y)
    assert model.optimizer.iterations == 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights(model)))


# --- sample and class weights -------------------------------------------------------------
def test_sample_weight_reduction_is_keras_sum_over_batch_size():
    x, y = blobs(40)
    model = compiled(metrics=())
    probs = model.predict(x, verbose=0)
    per_sample = -np.log(np.clip(probs[np.arange(40), y], 1e-7, 1 - 1e-7))
    w = np.linspace(0, 2, 40).astype(np.float32)
    expected = float((per_sample * w).sum() / 40)  # Keras divides by N, not sum(w)
    assert model.evaluate(x, y, sample_weight=w, batch_size=40, verbose=0) == \
        pytest.approx(expected, rel=1e-5)


def test_class_weight_equals_the_matching_sample_weight_and_zero_weight_freezes():
    x, y = blobs(64)
    fathom.manual_seed(1)
    a = compiled(optimizer="sgd")
    fathom.manual_seed(1)
    b = compiled(optimizer="sgd")
    a.fit(x, y, epochs=1, class_weight={0: 0.5, 1: 3.0}, shuffle=False, verbose=0)
    b.fit(x, y, epochs=1, sample_weight=np.where(y == 0, 0.5, 3.0), shuffle=False, verbose=0)
    for wa, wb in zip(weights(a), weights(b)):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    c = compiled(optimizer="sgd")
    before = weights(c)
    c.fit(x, y, epochs=1, class_weight={0: 0.0, 1: 0.0}, verbose=0)
    for w0, w1 in zip(before, weights(c)):
        np.testing.assert_array_equal(w0, w1)


def test_class_weight_shifts_predictions_toward_the_heavy_class():
    x, y = blobs(256)
    y = (x[:, 0] > 1.0).astype(np.int64)  # imbalanced: about 16% positives
    plain, weighted = [], []
    for out, cw in ((plain, None), (weighted, {0: 1.0, 1: 10.0})):
        fathom.manual_seed(0)
        model = compiled(optimizer=keras.optimizers.Adam(learning_rate=0.01))
        model.fit(x, y, epochs=5, class_weight=cw, verbose=0)
        out.append(model.predict(x, verbose=0)[:, 1].mean())
    assert weighted[0] > plain[0] + 0.1


def test_class_weight_errors():
    x, y = blobs(32)
    model = compiled()
    with pytest.raises(ValueError, match=r"no entry for classes \[1\]"):
        model.fit(x, y, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, y, class_weight={0: 1, 1: 1}, sample_weight=np.ones(32), verbose=0)


# --- compile: names, objects, config ------------------------------------------------------
@pytest.mark.parametrize("name,cls", [("adam", O.Adam), ("sgd", O.SGD), ("rmsprop", O.RMSprop),
                                      ("adagrad", O.Adagrad), ("adamax", O.Adamax),
                                      ("adamw", O.AdamW), ("adadelta", O.Adadelta),
                                      ("Adam", O.Adam)])
def test_optimizer_names(name, cls):
    model = compiled(optimizer=name)
    assert type(model.optimizer) is cls


def test_keras_optimizer_defaults():
    assert O.Adam().get_config()["epsilon"] == 1e-7
    assert O.SGD().learning_rate == 0.01
    r = O.RMSprop().get_config()
    assert (r["rho"], r["epsilon"], r["learning_rate"]) == (0.9, 1e-7, 0.001)
    assert O.Adagrad().get_config()["initial_accumulator_value"] == 0.1
    assert O.AdamW().weight_decay == 0.004
    assert O.Adadelta().get_config()["rho"] == 0.95
    assert compiled(optimizer="rmsprop").optimizer.learning_rate == 0.001


@pytest.mark.parametrize("name,cls", [("mse", L.MeanSquaredError), ("mae", L.MeanAbsoluteError),
                                      ("binary_crossentropy", L.BinaryCrossentropy),
                                      ("categorical_crossentropy", L.CategoricalCrossentropy),
                                      ("sparse_categorical_crossentropy",
                                       L.SparseCategoricalCrossentropy),
                                      ("kl_divergence", L.KLDivergence), ("huber", L.Huber)])
def test_loss_names(name, cls):
    assert type(L.get(name)) is cls


def test_accuracy_resolves_by_shapes_like_keras_3():
    x, y = blobs(64)
    sparse = compiled()
    sparse.fit(x, y, epochs=1, verbose=0)
    assert sparse.compiled_metrics[0].kind is M.sparse_categorical_accuracy
    onehot = compiled(loss="categorical_crossentropy", metrics=("acc",))
    h = onehot.fit(x, np.eye(2, dtype=np.float32)[y], epochs=1, verbose=0)
    assert onehot.compiled_metrics[0].kind is M.categorical_accuracy and "acc" in h.history
    binary = compiled(loss="binary_crossentropy", classes=1, activation="sigmoid")
    binary.fit(x, y.astype(np.float32), epochs=1, verbose=0)
    assert binary.compiled_metrics[0].kind is M.binary_accuracy
    # the three agree with the direct computation
    probs = sparse.predict(x, verbose=0)
    assert sparse.evaluate(x, y, verbose=0)[1] == pytest.approx((probs.argmax(1) == y).mean())


def test_metric_objects_names_and_history_keys():
    x, y = blobs(64)
    model = compiled(loss="binary_crossentropy", classes=1, activation="sigmoid",
                     metrics=(M.Precision(), M.Recall(), M.AUC(), "mse", M.BinaryAccuracy()))
    h = model.fit(x, y.astype(np.float32), epochs=1, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "precision", "recall", "auc", "mse", "binary_accuracy",
                              "val_loss", "val_precision", "val_recall", "val_auc", "val_mse",
                              "val_binary_accuracy"}


def test_compile_errors_are_clear():
    model = mlp()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(*blobs(8), verbose=0)
    with pytest.raises(ValueError, match="Unknown loss 'msq'"):
        model.compile(loss="msq")
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'"):
        model.compile(loss="mse", metrics=["acuracy"])
    with pytest.raises(TypeError, match="metrics must be a list"):
        model.compile(loss="mse", metrics="accuracy")
    with pytest.raises(TypeError, match="not a fathom.optim.SGD"):
        model.compile(optimizer=fathom.optim.SGD([fathom.nn.Parameter(fathom.ones(1))]),
                      loss="mse")
    with pytest.raises(NotImplementedError, match="weighted_metrics"):
        model.compile(loss="mse", weighted_metrics=["mae"])


def test_data_errors_name_the_problem():
    x, y = blobs(32)
    model = compiled()
    with pytest.raises(ValueError, match="fit x has 32, fit y has 31"):
        model.fit(x, y[:31], verbose=0)
    with pytest.raises(ValueError, match="validation_split must be in"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: y_true must be"):
        model.fit(x, np.eye(2)[y], verbose=0)
    with pytest.raises(ValueError, match="verbose must be"):
        model.fit(x, y, verbose=3)
    wrong = compiled(metrics=("mae",))  # (N,) labels against (N, 2) scores
    with pytest.raises(ValueError, match=r"metric 'mae': .*\(8,\) .*\(8, 2\)"):
        wrong.evaluate(x[:8], y[:8], verbose=0)


def test_compile_config_is_json_and_replays():
    model = mlp()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005, amsgrad=True),
                  loss=L.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", M.Precision(thresholds=0.3)])
    config = json.loads(json.dumps(model.compile_config))
    other = mlp()
    other.compile(**config)
    assert type(other.optimizer) is O.Adam
    assert other.optimizer.get_config() == model.optimizer.get_config()
    assert other.compiled_loss.get_config() == model.compiled_loss.get_config()
    assert [m.name for m in other.compiled_metrics] == ["accuracy", "precision"]
    model.compile(optimizer="sgd", loss=lambda t, p: (p - t) ** 2)  # a user function
    assert model.compile_config is None


# --- losses -------------------------------------------------------------------------------
def test_sparse_crossentropy_from_logits_and_probabilities(torch):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    want = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(y)).item()
    got = L.SparseCategoricalCrossentropy(from_logits=True)(y, fathom.tensor(logits))
    assert float(got) == pytest.approx(want, rel=1e-6)
    probs = fathom.softmax(fathom.tensor(logits), -1)
    assert float(L.sparse_categorical_crossentropy(y, probs).mean()) == \
        pytest.approx(want, rel=1e-5)
    # a (N, 1) target is squeezed; probability 0 is clipped to 1e-7
    assert float(L.get("sparse_categorical_crossentropy")(np.array([[1]]),
                 fathom.tensor([[1.0, 0.0]]))) == pytest.approx(-math.log(1e-7), rel=1e-5)


def test_categorical_and_binary_crossentropy_match_torch(torch):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 3)).astype(np.float32)
    onehot = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    want = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(onehot)).item()
    assert float(L.CategoricalCrossentropy(from_logits=True)(onehot, fathom.tensor(logits))) == \
        pytest.approx(want, rel=1e-6)
    smooth = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(onehot),
                                               label_smoothing=0.1).item()
    assert float(L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        onehot, fathom.tensor(logits))) == pytest.approx(smooth, rel=1e-6)
    z = rng.normal(size=(5, 1)).astype(np.float32) * 3
    t = rng.integers(0, 2, (5, 1)).astype(np.float32)
    want = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z),
                                                               torch.tensor(t)).item()
    assert float(L.BinaryCrossentropy(from_logits=True)(t, fathom.tensor(z))) == \
        pytest.approx(want, rel=1e-6)
    p = torch.sigmoid(torch.tensor(z))
    want = torch.nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7),
                                                    torch.tensor(t)).item()
    assert float(L.BinaryCrossentropy()(t[:, 0], fathom.tensor(p.numpy()))) == \
        pytest.approx(want, rel=1e-5)


def test_loss_gradients_match_torch(torch):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    w = rng.random(8).astype(np.float32)
    a = fathom.tensor(logits, requires_grad=True)
    probs = fathom.softmax(a, -1)
    L.SparseCategoricalCrossentropy()(y, probs, sample_weight=w).backward()
    b = torch.tensor(logits, requires_grad=True)
    p = torch.softmax(b, -1).clamp(1e-7, 1 - 1e-7)
    (-(torch.log(p[torch.arange(8), torch.tensor(y)]) * torch.tensor(w)).sum() / 8).backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_from_logits_matches_fathom_functional():
    rng = np.random.default_rng(3)
    logits = fathom.tensor(rng.normal(size=(7, 4)).astype(np.float32))
    y = rng.integers(0, 4, 7)
    want = float(F.cross_entropy(logits, fathom.tensor(y)))
    assert float(L.SparseCategoricalCrossentropy(from_logits=True)(y, logits)) == \
        pytest.approx(want, rel=1e-6)
    assert float(L.CategoricalCrossentropy(from_logits=True)(np.eye(4)[y], logits)) == \
        pytest.approx(want, rel=1e-6)
    t = rng.integers(0, 2, (7, 4)).astype(np.float32)
    want = float(F.binary_cross_entropy_with_logits(logits, fathom.tensor(t)))
    assert float(L.BinaryCrossentropy(from_logits=True)(t, logits)) == pytest.approx(want,
                                                                                      rel=1e-6)
    # sequences (N, T, C) with integer targets (N, T)
    seq = fathom.tensor(rng.normal(size=(2, 3, 4)).astype(np.float32))
    ys = rng.integers(0, 4, (2, 3))
    want = float(F.cross_entropy(seq.reshape(6, 4), fathom.tensor(ys.reshape(6))))
    assert float(L.SparseCategoricalCrossentropy(from_logits=True)(ys, seq)) == \
        pytest.approx(want, rel=1e-6)


def test_regression_losses_and_rank_matching():
    t = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    p = fathom.tensor([[1.5], [2.0], [1.0]])  # (N, 1) against (N,): no (N, N) broadcast
    assert float(L.get("mse")(t, p)) == pytest.approx((0.25 + 0 + 4) / 3)
    assert float(L.get("mae")(t, p)) == pytest.approx((0.5 + 0 + 2) / 3)
    huber = float(L.Huber(delta=1.0)(t, p))
    assert huber == pytest.approx((0.5 * 0.25 + 0 + (2 - 0.5)) / 3)
    assert float(L.get("log_cosh")(t, p)) == pytest.approx(
        np.mean(np.log(np.cosh([0.5, 0.0, -2.0]))), rel=1e-6)
    kl = float(L.KLDivergence()(np.array([[0.5, 0.5]]), fathom.tensor([[0.25, 0.75]])))
    assert kl == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75), rel=1e-6)


def test_loss_reductions_and_ignore_class():
    y = np.array([0, 1, 1])
    p = fathom.tensor([[0.8, 0.2], [0.4, 0.6], [0.5, 0.5]])
    per = -np.log([0.8, 0.6, 0.5])
    none = L.SparseCategoricalCrossentropy(reduction=None)(y, p)
    np.testing.assert_allclose(none.numpy(), per, rtol=1e-6)
    assert float(L.SparseCategoricalCrossentropy(reduction="sum")(y, p)) == \
        pytest.approx(per.sum(), rel=1e-6)
    w = np.array([1.0, 0.0, 3.0])
    assert float(L.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")(
        y, p, sample_weight=w)) == pytest.approx((per * w).sum() / 4, rel=1e-6)
    ignored = L.SparseCategoricalCrossentropy(ignore_class=1)(y, p)
    assert float(ignored) == pytest.approx(per[0], rel=1e-6)  # mean over the kept target
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.MeanSquaredError(reduction="avg")


def test_losses_serialize_only_known_classes():
    loss = L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2)
    again = L.deserialize(json.loads(json.dumps(L.serialize(loss))))
    assert again.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="unknown loss class 'os.system'"):
        L.deserialize({"class_name": "os.system", "config": {}})


# --- metrics ------------------------------------------------------------------------------
def test_precision_recall_auc_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    p, r, a = M.Precision(), M.Recall(), M.AUC(num_thresholds=1000)
    for m in (p, r, a):
        m.update_state(y[:150], s[:150])
        m.update_state(y[150:], s[150:])
    assert p.result() == pytest.approx(sk.precision_score(y, s > 0.5))
    assert r.result() == pytest.approx(sk.recall_score(y, s > 0.5))
    assert a.result() == pytest.approx(sk.roc_auc_score(y, s), abs=2e-3)
    pr = M.AUC(curve="PR", num_thresholds=1000)
    pr.update_state(y, s)
    assert pr.result() == pytest.approx(sk.average_precision_score(y, s), abs=0.02)


def test_f1_score_and_top_k():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 60)
    scores = rng.random((60, 3))
    f1 = M.F1Score(average="macro")
    f1.update_state(np.eye(3)[labels], scores)
    assert f1.result() == pytest.approx(sk.f1_score(labels, scores.argmax(1), average="macro"))
    per_class = M.F1Score()
    per_class.update_state(np.eye(3)[labels], scores)
    np.testing.assert_allclose(per_class.result(), sk.f1_score(labels, scores.argmax(1),
                                                               average=None))
    top2 = M.SparseTopKCategoricalAccuracy(k=2)
    top2.update_state(labels, scores)
    want = np.mean([lab in np.argsort(-row)[:2] for lab, row in zip(labels, scores)])
    assert top2.result() == pytest.approx(want)


def test_loss_names_work_as_metrics():
    x, y = blobs(48)
    model = compiled(metrics=("sparse_categorical_crossentropy", "accuracy"))
    d = model.evaluate(x, y, batch_size=48, verbose=0, return_dict=True)
    assert d["sparse_categorical_crossentropy"] == pytest.approx(d["loss"], rel=1e-5)


def test_metric_sample_weight_and_reset():
    m = M.SparseCategoricalAccuracy()
    m.update_state([0, 1], [[0.9, 0.1], [0.9, 0.1]], sample_weight=[3.0, 1.0])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    assert m.result() == 0.0
    rmse = M.RootMeanSquaredError()
    rmse.update_state([1.0, 2.0], [2.0, 4.0])
    assert rmse.result() == pytest.approx(math.sqrt(2.5))


# --- optimizers ---------------------------------------------------------------------------
def _run(opt, grads, p0):
    p = fathom.nn.Parameter(fathom.tensor(p0.copy()))
    opt.build([p])
    for g in grads:
        p.grad = fathom.tensor(g)
        opt.fathom_optimizer.step()
    return p.detach().numpy()


def _keras_reference(name, grads, p, lr, **h):
    """Keras 3's update rules, written out in NumPy (float64)."""
    p = p.astype(np.float64).copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        if name == "adam":
            m += (g - m) * 0.1
            v += (g * g - v) * 0.001
            alpha = lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            p -= alpha * m / (np.sqrt(v) + 1e-7)
        elif name == "rmsprop":
            v = 0.9 * v + 0.1 * g * g
            inc = lr * g / np.sqrt(v + 1e-7)
            if h.get("momentum"):
                m = h["momentum"] * m + inc
                inc = m
            p -= inc
        elif name == "adagrad":
            if t == 1:
                v += 0.1
            v += g * g
            p -= lr * g / np.sqrt(v + 1e-7)
        elif name == "adamax":
            m += (g - m) * 0.1
            v = np.maximum(0.999 * v, np.abs(g))
            p -= lr * m / ((1 - 0.9 ** t) * (v + 1e-7))
        elif name == "sgd":
            m = h["momentum"] * m - lr * g
            p += h["momentum"] * m - lr * g if h.get("nesterov") else m
        elif name == "adamw":
            p -= p * h["weight_decay"] * lr
            m += (g - m) * 0.1
            v += (g * g - v) * 0.001
            alpha = lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            p -= alpha * m / (np.sqrt(v) + 1e-7)
    return p


@pytest.mark.parametrize("name,opt,h", [
    ("adam", lambda: O.Adam(learning_rate=0.01), {}),
    ("rmsprop", lambda: O.RMSprop(learning_rate=0.01), {}),
    ("rmsprop", lambda: O.RMSprop(learning_rate=0.01, momentum=0.9), {"momentum": 0.9}),
    ("adagrad", lambda: O.Adagrad(learning_rate=0.1), {}),
    ("adamax", lambda: O.Adamax(learning_rate=0.01), {}),
    ("sgd", lambda: O.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
     {"momentum": 0.9, "nesterov": True}),
    ("adamw", lambda: O.AdamW(learning_rate=0.01, weight_decay=0.1), {"weight_decay": 0.1}),
])
def test_optimizer_rules_match_keras(name, opt, h):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(5,)).astype(np.float32)
    # tiny gradients too: where epsilon sits matters most there
    grads = [rng.normal(size=5).astype(np.float32) * s for s in (1.0, 1e-4, 0.3, 1e-3, 2.0)]
    o = opt()
    got = _run(o, grads, p0)
    want = _keras_reference(name, grads, p0, o.learning_rate, **h)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_schedule_clipping_and_learning_rate_setter():
    sched = O.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    opt = O.SGD(learning_rate=sched, clipvalue=0.5)
    p = fathom.nn.Parameter(fathom.zeros(2))
    opt.build([p])
    rates = []
    for _ in range(3):
        rates.append(opt.learning_rate)
        p.grad = fathom.tensor([10.0, -0.1])
        opt.fathom_optimizer.step()
    assert rates == pytest.approx([0.1, 0.1 * 0.5 ** 0.5, 0.05])
    np.testing.assert_allclose(p.detach().numpy(), [-0.5 * sum(rates), 0.1 * sum(rates)],
                               rtol=1e-6)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3
    plain = O.Adam()
    plain.build([p])
    plain.learning_rate = 0.02
    assert plain.fathom_optimizer.param_groups[0]["lr"] == 0.02
    g = O.SGD(global_clipnorm=1.0)
    g.build([p])
    p.grad = fathom.tensor([3.0, 4.0])
    before = p.detach().numpy().copy()
    g.fathom_optimizer.step()
    np.testing.assert_allclose(before - p.detach().numpy(), [0.006, 0.008], rtol=1e-5)


def test_optimizer_config_round_trip_and_errors():
    opt = O.RMSprop(learning_rate=O.schedules.CosineDecay(0.1, 100), momentum=0.5)
    again = O.deserialize(json.loads(json.dumps(O.serialize(opt))))
    assert again.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="unknown optimizer class"):
        O.deserialize({"class_name": "Lambda", "config": {}})
    with pytest.raises(NotImplementedError, match="use_ema"):
        O.Adam(use_ema=True)
    with pytest.raises(TypeError, match="unexpected arguments"):
        O.Adam(lr_decay=0.1)


# --- callbacks ----------------------------------------------------------------------------
def test_early_stopping_stops_and_restores():
    x, y = blobs(64)
    model = compiled(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # loss never improves
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=1)
    h = model.fit(x, y, epochs=10, callbacks=[stop], verbose=0)
    assert h.epoch == [0, 1] and stop.stopped_epoch == 1


def test_model_checkpoint_writes_best_and_templates(tmp_path):
    x, y = blobs(64)
    model = compiled()
    best = tmp_path / "best.weights.safetensors"
    every = str(tmp_path / "e{epoch:02d}-{loss:.2f}.weights.safetensors")
    cbs = [keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True,
                                           save_weights_only=True),
           keras.callbacks.ModelCheckpoint(every, save_weights_only=True)]
    h = model.fit(x, y, epochs=3, validation_split=0.25, callbacks=cbs, verbose=0)
    assert best.exists()
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("e"))
    assert [n[:3] for n in names] == ["e01", "e02", "e03"]
    assert f"-{h.history['loss'][0]:.2f}." in names[0]
    other = compiled()
    other.load_weights(str(best))
    assert cbs[0].best == pytest.approx(min(h.history["val_loss"]))


def test_model_checkpoint_saves_the_whole_model(tmp_path):
    x, y = blobs(64)
    model = compiled()
    path = tmp_path / "model.fathom.keras"
    model.fit(x, y, epochs=1, callbacks=[keras.callbacks.ModelCheckpoint(str(path),
                                                                           monitor="loss")],
              verbose=0)
    loaded = keras.models.load_model(str(path))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_backup_and_restore_resumes_where_it_stopped(tmp_path):
    x, y = blobs(96)

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated crash")

    fathom.manual_seed(5)
    straight = compiled()
    straight_h = straight.fit(x, y, epochs=4, verbose=0)

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    fathom.manual_seed(5)
    model = compiled()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=4, callbacks=[backup, Crash()], verbose=0)
    assert os.path.exists(backup.checkpoint_path)  # epoch 0 was backed up
    fathom.manual_seed(99)  # the checkpoint restores the RNG, so this does not matter
    h = model.fit(x, y, epochs=4, callbacks=[backup], verbose=0)
    assert h.epoch == [0, 1, 2, 3]
    assert h.history["loss"] == pytest.approx(straight_h.history["loss"], rel=1e-6)
    for a, b in zip(weights(model), weights(straight)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert model.optimizer.iterations == straight.optimizer.iterations
    assert not os.path.exists(backup.checkpoint_path)  # a finished run deletes it


def test_backup_every_few_batches_resumes_mid_epoch_exactly(tmp_path):
    x, y = blobs(96)

    class Crash(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.trainer.epoch == 1 and batch == 3:
                raise KeyboardInterrupt("simulated crash")

    fathom.manual_seed(1)
    straight = compiled()
    want = straight.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
    backup = keras.callbacks.BackupAndRestore(str(tmp_path), save_freq=2)
    fathom.manual_seed(1)
    model = compiled()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, batch_size=16, callbacks=[backup, Crash()], verbose=0)
    got = model.fit(x, y, epochs=3, batch_size=16, callbacks=[backup], verbose=0)
    assert got.history["loss"] == pytest.approx(want, rel=1e-6)
    for a, b in zip(weights(model), weights(straight)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_ctrl_c_raises_without_backup_and_stops_gracefully_with_it(tmp_path, monkeypatch):
    import signal
    monkeypatch.chdir(tmp_path)
    # Python's own handler, whatever an earlier import (gevent, a server) installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_checks(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_checks(tmp_path):
    import signal
    x, y = blobs(96)

    class CtrlC(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.trainer.epoch == 1 and batch == 2:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        compiled().fit(x, y, epochs=3, batch_size=16, callbacks=[CtrlC()], verbose=0)
    assert list(tmp_path.iterdir()) == []  # nothing written, as Keras
    fathom.manual_seed(2)
    straight = compiled()
    want = straight.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    fathom.manual_seed(2)
    model = compiled()
    h = model.fit(x, y, epochs=3, batch_size=16, callbacks=[backup, CtrlC()], verbose=0)
    assert h.interrupted and h.epoch == [0] and os.path.exists(backup.checkpoint_path)
    h = model.fit(x, y, epochs=3, batch_size=16, callbacks=[backup], verbose=0)
    assert h.history["loss"] == pytest.approx(want, rel=1e-6)


def test_reduce_lr_on_plateau_and_scheduler_log_learning_rate():
    x, y = blobs(64)
    model = compiled(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                               min_delta=1.0)
    model.optimizer.learning_rate = 0.4  # loss barely moves: a plateau every epoch
    h = model.fit(x, y, epochs=3, callbacks=[reduce], verbose=0)
    # Keras logs the rate each epoch ran with; the first epoch always improves
    assert h.history["learning_rate"] == pytest.approx([0.4, 0.4, 0.2])
    assert model.optimizer.learning_rate == pytest.approx(0.1)
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    h = compiled(optimizer="sgd").fit(x, y, epochs=3, callbacks=[sched], verbose=0)
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_csv_logger_and_tensorboard(tmp_path):
    x, y = blobs(64)
    log = tmp_path / "log.csv"
    cbs = [keras.callbacks.CSVLogger(str(log))]
    try:
        cbs.append(keras.callbacks.TensorBoard(str(tmp_path / "tb"), histogram_freq=1))
    except ImportError:
        pass
    compiled().fit(x, y, epochs=2, validation_split=0.25, callbacks=cbs, verbose=0)
    rows = list(csv.reader(open(log)))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    if len(cbs) == 2:
        assert any((tmp_path / "tb" / "train").iterdir())
        assert any((tmp_path / "tb" / "validation").iterdir())


def test_terminate_on_nan_stops_instead_of_raising():
    x, y = blobs(32)
    x[5] = np.nan
    model = compiled()
    with pytest.raises(FloatingPointError):
        model.fit(x, y, epochs=1, verbose=0)
    model = compiled()
    h = model.fit(x, y, epochs=2, callbacks=[keras.callbacks.TerminateOnNaN()], verbose=0)
    assert h.epoch == []


def test_callbacks_must_be_callbacks():
    with pytest.raises(TypeError, match="not a keras.callbacks.Callback"):
        compiled().fit(*blobs(8), callbacks=[object()], verbose=0)


# --- the bridge to the PyTorch dialect -----------------------------------------------------
def test_a_pytorch_dialect_module_trains_inside_a_subclassed_keras_model():
    class Wrap(keras.Model):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def call(self, inputs, training=None):
            return self.net(inputs)

    x, y = blobs(128)
    net = fathom.nn.Sequential(fathom.nn.Linear(4, 16), fathom.nn.ReLU(),
                               fathom.nn.Linear(16, 2))
    model = Wrap(net)
    model.compile(keras.optimizers.Adam(learning_rate=0.02),
                  L.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    h = model.fit(x, y, epochs=10, verbose=0)
    assert h.history["accuracy"][-1] > 0.9
    assert list(model.state_dict()) == ["net." + k for k in net.state_dict()]


def test_a_keras_model_takes_pytorch_dialect_weights_and_trains_with_the_trainer():
    from fathom.train import Trainer
    torch_like = fathom.nn.Sequential(fathom.nn.Linear(4, 16), fathom.nn.ReLU(),
                                      fathom.nn.Linear(16, 2))
    model = mlp()
    model.load_state_dict(dict(zip(model.state_dict(), torch_like.state_dict().values())))
    x, y = blobs(16)
    want = fathom.softmax(torch_like(fathom.tensor(x)), -1).detach().numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6)
    trainer = Trainer(model, fathom.optim.SGD(model.parameters(), lr=0.1),
                      lambda out, t: F.nll_loss(fathom.log(out), t), progress=False)
    trainer.fit([(fathom.tensor(x), fathom.tensor(y))], epochs=2)
    assert len(trainer.history.history["loss"]) == 2


def test_a_given_progbar_logger_is_the_only_one(capsys):
    x, y = blobs(32)
    compiled().fit(x, y, epochs=1, verbose=1, callbacks=[keras.callbacks.ProgbarLogger()])
    assert capsys.readouterr().out.count("1/1 ") == 1
