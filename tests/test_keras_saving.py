"""keras save/load_model and save_weights/load_weights: round trips, and files that are
refused (unknown or importable names, Lambda, malformed fields) with clear errors."""
import json

import numpy as np
import pytest

import fathom
from fathom import keras
from fathom.io import FileFormatError, read_metadata, save_file
from fathom.keras import layers as L


def _np(t):
    return t.detach().numpy()


def _x(*shape):
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def _same_outputs(a, b, x):
    a.eval()
    b.eval()
    ya, yb = a(x), b(x)
    for p, q in zip(ya if isinstance(ya, list) else [ya], yb if isinstance(yb, list) else [yb]):
        np.testing.assert_array_equal(_np(p), _np(q))


def test_sequential_cnn_round_trip(tmp_path):
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)), L.Conv2D(4, 3, padding="same", activation="relu"),
        L.BatchNormalization(), L.MaxPooling2D(), L.Conv2DTranspose(2, 3, strides=2),
        L.GlobalAveragePooling2D(), L.Dropout(0.3), L.Dense(3, activation="softmax")],
        name="cnn")
    model(_x(4, 8, 8, 1))  # training-mode call: moving statistics change
    path = tmp_path / "cnn.fathom.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras.Sequential) and loaded.name == "cnn"
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    _same_outputs(model, loaded, _x(2, 8, 8, 1))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert keras.saving.load_model is keras.load_model


def test_sequential_built_by_first_call_round_trip(tmp_path):
    model = keras.Sequential([L.Embedding(30, 4), L.LSTM(5, return_sequences=True),
                              L.GRU(3), L.Dense(2)])
    model(np.array([[1, 2, 3], [4, 5, 6]]))
    model.save(tmp_path / "rnn.fathom.keras")
    loaded = keras.load_model(tmp_path / "rnn.fathom.keras")
    assert loaded.built
    _same_outputs(model, loaded, np.array([[7, 8, 9, 10]]))


def test_functional_round_trip_with_shared_layer_and_merges(tmp_path):
    a, b = keras.Input((4,), name="left"), keras.Input((4,), name="right")
    shared = L.Dense(3)
    h = L.Concatenate()([shared(a), shared(b)])
    seq = L.Bidirectional(L.LSTM(2, return_sequences=True))(L.Reshape((2, 3))(h))
    att = L.MultiHeadAttention(2, 2)(seq, seq)
    out = [L.Flatten()(L.LayerNormalization()(att)), L.Add()([shared(a), shared(b)])]
    model = keras.Model([a, b], out, name="two_heads")
    path = tmp_path / "f.fathom.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.name == "two_heads" and len(loaded.inputs) == 2 and len(loaded.outputs) == 2
    assert loaded.count_params() == model.count_params()
    xs = [_x(2, 4), _x(2, 4) * 2]
    _same_outputs(model, loaded, xs)
    config = json.loads(read_metadata(path)["model_config"])
    assert config["class_name"] == "Functional"
    assert {layer["class_name"] for layer in config["config"]["layers"]} >= {
        "InputLayer", "Dense", "Concatenate", "Bidirectional", "MultiHeadAttention"}


def test_nested_sequential_in_functional(tmp_path):
    inner = keras.Sequential([L.Dense(3, activation="relu"), L.Dense(2)], name="inner")
    x = keras.Input((5,))
    model = keras.Model(x, inner(x))
    model.save(tmp_path / "n.fathom.keras")
    _same_outputs(model, keras.load_model(tmp_path / "n.fathom.keras"), _x(3, 5))


def test_compile_config_is_saved_and_replayed(tmp_path, monkeypatch):
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile_config = {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]}
    model.save(tmp_path / "c.fathom.keras")
    calls = []
    monkeypatch.setattr(keras.Model, "compile", lambda self, **kw: calls.append(kw))
    keras.load_model(tmp_path / "c.fathom.keras")
    assert calls == [{"optimizer": "adam", "loss": "mse", "metrics": ["mae"]}]
    keras.load_model(tmp_path / "c.fathom.keras", compile=False)
    assert len(calls) == 1


def test_subclassed_models_save_weights_only(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = L.Dense(4, activation="relu")
            self.b = L.Dense(1)

        def call(self, inputs, training=None):
            return self.b(self.a(inputs))

    net = Net()
    net.build((None, 3))
    with pytest.raises(ValueError, match="architecture is Python code.*save_weights"):
        net.save(tmp_path / "net.fathom.keras")
    net.save_weights(tmp_path / "net.weights.safetensors")
    other = Net()
    with pytest.raises(ValueError, match="not built"):
        other.load_weights(tmp_path / "net.weights.safetensors")
    other.build((None, 3))
    other.load_weights(tmp_path / "net.weights.safetensors")
    _same_outputs(net, other, _x(2, 3))
    with pytest.raises(FileFormatError, match="model_config.*load_weights"):
        keras.load_model(tmp_path / "net.weights.safetensors")
    with pytest.raises(FileExistsError):
        net.save_weights(tmp_path / "net.weights.safetensors", overwrite=False)


def test_load_weights_by_position_when_names_differ(tmp_path):
    def make():
        return keras.Sequential([L.Dense(3, input_shape=(2,)), L.Dense(1)])

    a, b = make(), make()  # same architecture, other auto-generated layer names
    assert a.layers[0].name != b.layers[0].name
    a.save_weights(tmp_path / "w.safetensors")
    b.load_weights(tmp_path / "w.safetensors")
    _same_outputs(a, b, _x(2, 2))
    wrong = keras.Sequential([L.Dense(4, input_shape=(2,))])
    with pytest.raises(FileFormatError, match="do not fit"):
        wrong.load_weights(tmp_path / "w.safetensors")
    wrong.load_weights(tmp_path / "w.safetensors", skip_mismatch=True)  # nothing fits: no-op


# --- refusals -------------------------------------------------------------------------------

def _write(tmp_path, config, *, weights=None, **meta):
    path = tmp_path / "bad.fathom.keras"
    metadata = {"format": "fathom.keras", "format_version": "1",
                "model_config": config if isinstance(config, str) else json.dumps(config),
                **meta}
    save_file(weights or {}, path, metadata)
    return path


def _dense(**config):
    return {"class_name": "Dense", "config": {"name": "d", "units": 2,
                                              "batch_input_shape": [None, 3], **config}}


def _sequential(*layers):
    return {"class_name": "Sequential", "config": {"name": "s", "layers": list(layers)}}


@pytest.mark.parametrize("layer,match", [
    ({"class_name": "Lambda", "config": {"function": "lambda x: x"}},
     "unknown layer class 'Lambda'"),
    ({"class_name": "os.system", "config": {}}, "unknown layer class 'os.system'"),
    ({"class_name": "builtins.eval", "config": {}}, "unknown layer class 'builtins.eval'"),
    ({"class_name": "keras.layers.Dense", "config": {}}, "unknown layer class"),
    (_dense(activation="os.system"), "activation"),
    (_dense(activation={"class_name": "builtins.eval"}), "activation"),
    (_dense(kernel_initializer={"class_name": "os.system", "config": {}}), "initializer"),
    (_dense(kernel_initializer="subprocess.call"), "initializer"),
    (_dense(function="print"), "unrecognized keyword"),
    ({"class_name": "Dense", "config": "units=2"}, r"expected \{'class_name'"),
    ({"class_name": "Dense", "config": {"units": "two"}}, "units"),
])
def test_refuses_unknown_or_importable_names(tmp_path, layer, match):
    path = _write(tmp_path, _sequential(layer))
    with pytest.raises(FileFormatError, match=match) as err:
        keras.load_model(path)
    assert str(path) in str(err.value) and "layers[0]" in str(err.value)


@pytest.mark.parametrize("config,meta,match", [
    ("{not json", {}, "field 'model_config' is not valid JSON"),
    ({"class_name": "os.system", "config": {}}, {}, "unknown layer class 'os.system'"),
    ({"class_name": "Dense", "config": {"units": 2}}, {}, "must be Sequential or Functional"),
    ({"class_name": "Sequential", "config": {"layers": "dense"}}, {}, r"layers: expected list"),
    ({"class_name": "Functional", "config": {"layers": [], "nodes": [{"layer": "x"}]}}, {},
     r"nodes\[0\]: missing field 'args'|nodes\[0\].layer"),
    ({"class_name": "Functional", "config": {
        "layers": [{"class_name": "InputLayer", "config": {"name": "i", "batch_shape": [None, 2]}},
                   _dense(name="d")],
        "nodes": [{"layer": "i", "args": [], "kwargs": {}},
                  {"layer": "d", "args": [{"__tensor__": [5, 0]}], "kwargs": {}}],
        "inputs": [{"__tensor__": [0, 0]}], "outputs": [{"__tensor__": [1, 0]}]}}, {},
     "bad tensor reference"),
    (_sequential(_dense()), {"format": "keras"}, "field 'format' is 'keras'"),
    (_sequential(_dense()), {"format_version": "9"}, "format_version"),
    (_sequential(_dense()), {"compile_config": "[1, 2]"}, "compile_config"),
])
def test_refuses_malformed_files(tmp_path, config, meta, match):
    weights = {"d.weight": fathom.zeros(2, 3), "d.bias": fathom.zeros(2)}
    path = _write(tmp_path, config, weights=weights, **meta)
    with pytest.raises(FileFormatError, match=match) as err:
        keras.load_model(path)
    assert str(path) in str(err.value)


def test_refuses_wrong_weights_and_non_safetensors(tmp_path):
    path = _write(tmp_path, _sequential(_dense()), weights={"d.weight": fathom.zeros(5, 5)})
    with pytest.raises(FileFormatError, match=r"bad.fathom.keras.*weights do not fit"):
        keras.load_model(path)
    junk = tmp_path / "junk.fathom.keras"
    junk.write_bytes(b"\x80\x04\x95import os; os.system('x')")  # e.g. a pickle
    with pytest.raises(FileFormatError, match="junk.fathom.keras"):
        keras.load_model(junk)


def test_custom_objects_add_layer_classes_in_code(tmp_path):
    class Scale(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        _dense(), {"class_name": "Scale", "config": {"name": "sc", "factor": 3.0}}]}}
    path = _write(tmp_path, config, weights={"d.weight": fathom.ones(2, 3),
                                             "d.bias": fathom.zeros(2)})
    with pytest.raises(FileFormatError, match="unknown layer class 'Scale'"):
        keras.load_model(path)
    with pytest.raises(ValueError, match="cannot serialize layer"):
        keras.Sequential([Scale(input_shape=(2,))]).save(tmp_path / "x.fathom.keras")
    loaded = keras.load_model(path, custom_objects={"Scale": Scale})
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 3.0
    np.testing.assert_array_equal(_np(loaded(np.ones((1, 3), np.float32))), [[9.0, 9.0]])


def test_json_and_config_round_trips():
    model = keras.Sequential([L.Dense(3, activation="relu", input_shape=(4,)), L.Dense(1)])
    clone = keras.models.model_from_json(model.to_json())
    assert isinstance(clone, keras.Sequential) and clone.count_params() == model.count_params()
    again = keras.Sequential.from_config(model.get_config())
    assert [type(layer) for layer in again.layers] == [L.Dense, L.Dense]
    x = keras.Input((4,))
    func = keras.Model(x, L.Dense(2)(x))
    rebuilt = keras.Model.from_config(func.get_config())
    assert rebuilt.count_params() == 10 and rebuilt.layers[1].name == func.layers[1].name
    with pytest.raises(ValueError, match="unknown layer class 'Lambda'"):
        keras.models.model_from_json(json.dumps(
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda",
                                                                "config": {}}]}}))
