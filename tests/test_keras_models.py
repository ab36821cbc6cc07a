"""keras.Sequential, functional and subclassed Models: building, calling, summary counts,
weights, and the nn.Module they are."""
import numpy as np
import pytest

import fathom
from fathom import keras, nn
from fathom.keras import layers as L


def _np(t):
    return t.detach().numpy()


def _x(*shape):
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def _summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines[0]


def _params(text):
    """{'Total': n, 'Trainable': n, 'Non-trainable': n} from a summary."""
    out = {}
    for line in text.splitlines():
        if "params:" in line:
            key, rest = line.strip().split(" params: ")
            out[key] = int(rest.split(" ")[0].replace(",", ""))
    return out


# --- known Keras parameter counts ---------------------------------------------------------

def test_mlp_summary_counts_match_keras():
    model = keras.Sequential([L.Dense(256, activation="relu", input_shape=(784,)),
                              L.Dropout(0.2), L.Dense(10, activation="softmax")])
    assert model.built
    text = _summary(model)
    assert 'Model: "sequential' in text
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "(None, 256)" in text and "200,960" in text and "2,570" in text
    assert _params(text) == {"Total": 203530, "Trainable": 203530, "Non-trainable": 0}
    assert "795.04 KB" in text
    assert model.count_params() == 203530


def test_cnn_summary_counts_match_keras():
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.BatchNormalization(), L.Flatten(), L.Dense(10)])
    text = _summary(model)
    assert "(None, 26, 26, 32)" in text and "(None, 5, 5, 64)" in text
    assert "(None, 1600)" in text
    counts = [layer.count_params() for layer in model.layers]
    assert counts == [320, 0, 18496, 0, 256, 0, 16010]
    assert _params(text) == {"Total": 35082, "Trainable": 34954, "Non-trainable": 128}
    assert len(model.layers) == 7  # Sequential.layers excludes the InputLayer, as Keras 3


def test_lstm_summary_counts_match_keras():
    model = keras.Sequential([L.LSTM(128, input_shape=(28, 28)), L.Dense(10)])
    assert [layer.count_params() for layer in model.layers] == [80384, 1290]
    stacked = keras.Sequential([L.Embedding(10000, 64), L.LSTM(64, return_sequences=True),
                                L.LSTM(32), L.Dense(1, activation="sigmoid")])
    assert not stacked.built
    stacked.build((None, 100))
    assert [layer.count_params() for layer in stacked.layers] == [640000, 33024, 12416, 33]
    assert "(None, 100, 64)" in _summary(stacked)
    gru = keras.Sequential([L.GRU(64, input_shape=(10, 8))])
    assert gru.count_params() == 14208  # Keras 3 GRU, reset_after=True
    bi = keras.Sequential([L.Bidirectional(L.LSTM(64), input_shape=(10, 8))])
    assert bi.count_params() == 2 * 18688


# --- Sequential ---------------------------------------------------------------------------

def test_sequential_add_lazy_build_and_call():
    model = keras.Sequential()
    model.add(L.Dense(4, activation="relu"))
    model.add(L.Dense(2))
    assert not model.built
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    y = model(_x(3, 5))  # NumPy in, float32 tensor out
    assert model.built and tuple(y.shape) == (3, 2) and y.dtype == fathom.float32
    assert model.count_params() == 5 * 4 + 4 + 4 * 2 + 2
    assert [layer.name for layer in model.layers] == [model.layers[0].name,
                                                      model.layers[1].name]
    assert model.get_layer(model.layers[1].name) is model.layers[1]
    assert model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    popped = model.pop()
    assert isinstance(popped, L.Dense) and len(model.layers) == 1


def test_sequential_equals_the_nn_modules_it_holds():
    model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3)])
    seq = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    sd = model.state_dict()
    assert list(sd) == [f"{n}.{p}" for n in (model.layers[0].name, model.layers[1].name)
                        for p in ("weight", "bias")]
    seq.load_state_dict(dict(zip(seq.state_dict(), sd.values())))
    x = fathom.tensor(_x(4, 6))
    np.testing.assert_allclose(_np(model(x)), _np(seq(x)), rtol=1e-6, atol=1e-6)
    assert model.module is model and isinstance(model, nn.Module)


def test_sequential_errors():
    model = keras.Sequential([L.Dense(2, name="same")])
    with pytest.raises(ValueError, match="unique names.*'same'"):
        model.add(L.Dense(2, name="same"))
    with pytest.raises(TypeError, match="Linear"):
        model.add(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="InputLayer can only be the first"):
        model.add(keras.Input((3,)))
    with pytest.raises(ValueError, match=r"build\(\) needs an input_shape"):
        keras.Sequential([L.Dense(2)]).build()


def test_build_changes_no_state():
    model = keras.Sequential([L.Dense(4), L.BatchNormalization(), L.Dropout(0.5)])
    model.train()
    model.build((None, 3))
    gamma, beta, mean, var = model.layers[1].get_weights()
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)
    assert model.training and all(m.training for m in model.modules())
    assert model.layers[1].output_shape == (None, 4)


# --- functional ---------------------------------------------------------------------------

def test_functional_multi_input_output_and_shared_layer():
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(4,), name="b")
    shared = L.Dense(3, name="shared")
    ya, yb = shared(a), shared(b)
    cat = L.Concatenate()([ya, yb])
    total = L.Add()([ya, yb])
    head = L.Dense(1, name="head")(cat)
    model = keras.Model(inputs=[a, b], outputs=[head, total])
    names = [layer.name for layer in model.layers]  # graph order, InputLayers included
    assert sorted(names) == sorted(["a", "b", "shared", "head", cat.node.layer.name,
                                    total.node.layer.name])
    assert names.index("a") < names.index("shared") < names.index("head")
    assert model.count_params() == 4 * 3 + 3 + 6 + 1  # the shared layer counted once
    xa, xb = _x(2, 4), _x(2, 4) * 3
    out, s = model([xa, xb])
    k, bias = shared.get_weights()
    np.testing.assert_allclose(_np(s), xa @ k + bias + xb @ k + bias, rtol=1e-5, atol=1e-5)
    hk, hb = model.get_layer("head").get_weights()
    cat_ref = np.concatenate([xa @ k + bias, xb @ k + bias], 1)
    np.testing.assert_allclose(_np(out), cat_ref @ hk + hb, rtol=1e-5, atol=1e-5)
    # a backward pass reaches every parameter, the shared one from both branches
    (out.sum() + s.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert len(list(model.parameters())) == 4


def test_functional_training_flag_and_modes():
    x = keras.Input((100,))
    model = keras.Model(x, L.Dropout(0.5)(L.Dense(100, kernel_initializer="identity",
                                                   use_bias=False)(x)))
    ones = np.ones((1, 100), np.float32)
    model.eval()
    np.testing.assert_array_equal(_np(model(ones)), ones)
    assert (_np(model(ones, training=True)) == 0).any()
    model.train()
    assert (_np(model(ones)) == 0).any()
    np.testing.assert_array_equal(_np(model(ones, training=False)), ones)


def test_functional_symbolic_shapes_and_nesting():
    inp = keras.Input(shape=(None, 8))
    h = L.LSTM(6, return_sequences=True)(inp)
    out, state_h, state_c = L.LSTM(4, return_state=True)(h)
    assert h.shape == (None, None, 6) and out.shape == (None, 4) and state_c.shape == (None, 4)
    model = keras.Model(inp, [out, state_h])
    y, s = model(_x(2, 7, 8))
    np.testing.assert_allclose(_np(y), _np(s))
    outer_in = keras.Input(shape=(5, 8))
    nested = keras.Model(outer_in, L.Dense(2)(model(outer_in)[0]))
    assert tuple(nested(_x(3, 5, 8)).shape) == (3, 2)


def test_functional_errors():
    a, b = keras.Input((3,)), keras.Input((3,))
    y = L.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, y)
    with pytest.raises(TypeError, match="KerasTensors"):
        keras.Model(a, fathom.ones(1))
    model = keras.Model([a, b], y)
    with pytest.raises(ValueError, match=r"expects 2 input"):
        model(_x(2, 3))
    with pytest.raises(ValueError, match=r"expected shape \(None, 3\), got \(2, 4\)"):
        model([_x(2, 4), _x(2, 4)])
    d = L.Dense(2, name="dup")
    c = keras.Input((2,))
    with pytest.raises(ValueError, match="'dup' is used 2 times"):
        keras.Model(c, L.Dense(2, name="dup")(d(c)))


def test_integer_input_and_embedding_graph():
    tokens = keras.Input(shape=(6,), dtype="int32")
    emb = L.Embedding(20, 4)(tokens)
    model = keras.Model(tokens, L.GlobalAveragePooling1D()(emb))
    y = model(np.array([[1, 2, 3, 4, 5, 6]], dtype=np.int32))
    assert tuple(y.shape) == (1, 4)


# --- subclassing --------------------------------------------------------------------------

class MLP(keras.Model):
    def __init__(self, hidden=16, classes=3):
        super().__init__()
        self.hidden = L.Dense(hidden, activation="relu")
        self.drop = L.Dropout(0.5)
        self.out = L.Dense(classes)

    def call(self, inputs, training=None):
        return self.out(self.drop(self.hidden(inputs), training=training))


def test_subclassed_model():
    model = MLP()
    assert model.name.startswith("mlp") and not model.built
    model.build((None, 5))
    assert model.built and model.count_params() == 5 * 16 + 16 + 16 * 3 + 3
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]
    assert list(model.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    x = _x(4, 5)
    model.eval()
    a, b = model(x), model(x)
    np.testing.assert_array_equal(_np(a), _np(b))
    assert not np.array_equal(_np(model(x, training=True)), _np(a))
    loss = model(x, training=True).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert "hidden" in _summary(model) or "dense" in _summary(model)
    with pytest.raises(NotImplementedError, match="subclassed model"):
        model.get_config()


def test_subclassed_model_without_call():
    with pytest.raises(NotImplementedError, match=r"define call"):
        keras.Model()(np.ones((1, 2), np.float32))


# --- weights ------------------------------------------------------------------------------

def test_model_weights_keras_layouts_and_round_trip():
    model = keras.Sequential([L.Conv2D(4, 3, input_shape=(6, 6, 2)), L.BatchNormalization(),
                              L.Flatten(), L.Dense(3)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 3, 2, 4), (4,), (4,), (4,), (4,), (4,), (64, 3), (3,)]
    assert [w.name for w in model.trainable_weights] == ["kernel", "bias", "gamma", "beta",
                                                         "kernel", "bias"]
    assert [w.name for w in model.non_trainable_weights] == ["moving_mean", "moving_variance"]
    new = [np.random.default_rng(0).random(s).astype(np.float32) + 0.5 for s in shapes]
    model.set_weights(new)
    for a, b in zip(new, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the state_dict holds the same numbers in PyTorch's layout
    np.testing.assert_array_equal(model.state_dict()[f"{model.layers[0].name}.weight"].numpy(),
                                  new[0].transpose(3, 2, 0, 1))
    with pytest.raises(ValueError, match="expects 8 weights"):
        model.set_weights(new[:3])


def test_model_trains_with_fathom_optimizer():
    model = keras.Sequential([L.Dense(8, activation="tanh", input_shape=(2,)), L.Dense(1)])
    opt = fathom.optim.Adam(model.parameters(), lr=0.05)
    x = fathom.tensor(_x(64, 2))
    y = (x[:, :1] * x[:, 1:]).detach()
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first / 2


def test_docstring_examples():
    import doctest

    import fathom.keras.activations
    import fathom.keras.initializers
    import fathom.keras.layers
    for mod in (fathom.keras, fathom.keras.activations, fathom.keras.initializers,
                fathom.keras.layers):
        result = doctest.testmod(mod, extraglobs={"fathom": fathom, "keras": keras})
        assert result.failed == 0 and result.attempted > 0, mod.__name__


def test_unknown_sizes_in_graphs():
    inp = keras.Input(shape=(None, None, 3))
    h = L.MaxPooling2D()(L.Conv2D(4, 3, strides=2, padding="same")(inp))
    out = L.Dense(2)(L.GlobalAveragePooling2D()(h))
    assert h.shape == (None, None, None, 4) and out.shape == (None, 2)
    model = keras.Model(inp, out)
    assert tuple(model(_x(1, 12, 20, 3)).shape) == (1, 2)
    seq = keras.Sequential([L.LSTM(3, return_sequences=True), L.Dense(1)])
    seq.build((None, None, 2))
    assert seq._build_input_shape == [None, None, 2]
    assert seq.layers[0].output_shape == (None, 16, 3)  # the probe's length (first call)


def test_recurrent_dropout_on_inputs():
    layer = L.LSTM(4, dropout=0.5)
    x = fathom.tensor(_x(3, 5, 2))
    layer.eval()
    a = layer(x)
    np.testing.assert_array_equal(_np(layer(x)), _np(a))
    assert not np.allclose(_np(layer(x, training=True)), _np(a))


def test_keras_model_trains_through_fathom_trainer():
    from fathom.train import Trainer
    from fathom.utils.data import DataLoader, TensorDataset

    model = keras.Sequential([L.Dense(16, activation="relu", input_shape=(4,)), L.Dense(3)])
    x = fathom.tensor(_x(96, 4))
    y = fathom.tensor(np.argmax(_np(x)[:, :3], 1))
    opt = fathom.optim.Adam(model.parameters(), lr=0.02)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"], progress=False)
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16), epochs=15)
    assert history.history["accuracy"][-1] > 0.8


def test_keras_models_export_to_onnx():
    ort = pytest.importorskip("onnxruntime")
    x = keras.Input((6, 6, 2))
    h = L.Conv2DTranspose(3, 3, strides=2, padding="same")(L.Conv2D(4, 3, padding="same")(x))
    img = keras.Model(x, L.Dense(2)(L.GlobalAveragePooling2D()(L.BatchNormalization()(h))))
    seq = keras.Sequential([L.Bidirectional(L.LSTM(4, return_sequences=True),
                                            input_shape=(5, 3)), L.GRU(3), L.Dense(2)])
    for model, data in ((img, _x(2, 6, 6, 2)), (seq, _x(2, 5, 3))):
        model.eval()
        proto = fathom.onnx.export(model, fathom.tensor(data))
        session = ort.InferenceSession(proto.SerializeToString())
        (got,) = session.run(None, {session.get_inputs()[0].name: data})
        np.testing.assert_allclose(got, _np(model(data)), rtol=1e-4, atol=1e-5)


def test_modules_built_later_follow_the_model_mode():
    # Keras runs inference unless training: layers and models start in eval mode, and the
    # modules a layer builds at its first call follow the layer's mode
    model = keras.Sequential([L.LSTM(3), L.Dropout(0.5), L.Dense(2)])
    model(_x(2, 4, 2))
    assert not any(m.training for m in model.modules())
    x = keras.Input((4, 2))
    graph = keras.Model(x, L.Conv1D(2, 2)(L.GRU(3, return_sequences=True)(x)))
    assert not any(m.training for m in graph.modules())
    fresh = keras.Sequential([L.LSTM(3), L.Dense(2)])
    fresh.train()
    fresh.build((None, 4, 2))
    assert all(m.training for m in fresh.modules())


def test_fit_and_train_on_batch_leave_the_model_in_inference_mode():
    model = keras.Sequential([L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = _x(16, 4), np.arange(16) % 2
    model.fit(x, y, epochs=1, verbose=0)
    assert not model.training
    model.train_on_batch(x, y)
    assert not model.training
    out = model(fathom.tensor(x)).detach().numpy()
    np.testing.assert_array_equal(out, model(fathom.tensor(x)).detach().numpy())  # no dropout


def test_subclassed_model_tracks_lists_and_dicts_of_layers():
    class Tower(keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [L.Dense(4, activation="relu") for _ in range(3)]
            self.heads = {"a": L.Dense(1), "b": L.Dense(2)}

        def call(self, inputs):
            for block in self.blocks:
                inputs = block(inputs)
            return [self.heads["a"](inputs), self.heads["b"](inputs)]

    model = Tower()
    model.build((None, 4))
    assert len(model.layers) == 5 and len(model.get_weights()) == 10
    assert model.count_params() == 3 * 20 + 5 + 10
    assert "blocks.2.weight" in model.state_dict() and "heads.b.bias" in model.state_dict()
    assert len(list(model.parameters())) == 10
