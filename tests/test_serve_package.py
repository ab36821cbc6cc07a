"""Model packages (fathom.serve.package): save/load round trips, preprocessing, the closed
architecture registry, and one clear error per broken field or file."""
import json

import numpy as np
import pytest
from serve_fixtures import ARCH, INPUTS, OUTPUTS, eager, save_tiny, tiny_model

import fathom
from fathom.serve import package as P
from fathom.serve.package import PackageError, load_package, save_package


def test_round_trip_outputs_equal_the_model(tmp_path):
    model = save_tiny(tmp_path / "p", name="tiny", version=3, labels=["a", "b", "c"])
    pkg = load_package(tmp_path / "p")
    assert (pkg.name, pkg.version, pkg.platform) == ("tiny", 3, "fathom")
    assert pkg.inputs == [P.TensorSpec("input", "FP32", (-1, 4))]
    assert pkg.outputs[0].dtype == np.float32 and pkg.labels == ["a", "b", "c"]
    assert set(pkg.training_stats) == {"input"}
    assert not pkg.model.training
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    (out,) = pkg.predict([x])
    np.testing.assert_array_equal(out, eager(model, x))
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())
    assert cfg["format"] == "fathom-package" and cfg["format_version"] == 1
    assert cfg["architecture"] == ARCH


def test_preprocessing_is_applied_per_channel(tmp_path):
    fathom.manual_seed(0)
    model = fathom.vision.models.get("mlp", num_classes=3, in_features=2 * 2 * 2, hidden=[4])
    mean, std = [0.5, -1.0], [2.0, 0.25]
    save_package(model, tmp_path, name="img",
                 architecture={"registry": "fathom.vision.models", "name": "mlp",
                               "kwargs": {"num_classes": 3, "in_features": 8, "hidden": [4]}},
                 inputs=[{"name": "image", "datatype": "FP32", "shape": [-1, 2, 2, 2]}],
                 outputs=OUTPUTS, preprocessing={"mean": mean, "std": std})
    pkg = load_package(tmp_path)
    x = np.random.default_rng(1).random((3, 2, 2, 2), dtype=np.float32)
    m = np.array(mean, np.float32).reshape(1, 2, 1, 1)
    s = np.array(std, np.float32).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(pkg.predict([x])[0], eager(model.eval(), (x - m) / s),
                               rtol=1e-6, atol=1e-6)


def _write(tmp_path, **changes):
    """A valid tiny package with config fields replaced (None deletes the field)."""
    save_tiny(tmp_path, stats=False)
    path = tmp_path / "config.json"
    cfg = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    path.write_text(json.dumps(cfg))
    return tmp_path


BAD_FIELDS = [
    ({"format": "onnx"}, "'format'"),
    ({"format_version": 2}, "newer than this Fathom reads"),
    ({"name": "../etc"}, "'name'"),
    ({"version": 0}, "'version'"),
    ({"version": "1"}, "'version'"),
    ({"architecture": {"registry": "os", "name": "system"}}, "'architecture.registry'"),
    ({"architecture": {"registry": "fathom.vision.models", "name": "nope"}},
     "'architecture.name'"),
    ({"architecture": {**ARCH, "kwargs": {"bogus": 1}}}, "'architecture.kwargs'"),
    ({"inputs": []}, "'inputs'"),
    ({"inputs": [{"name": "input", "datatype": "FLOAT", "shape": [-1, 4]}]},
     "'inputs[0].datatype'"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [4]}]}, "'inputs[0].shape'"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 0]}]},
     "'inputs[0].shape'"),
    ({"outputs": [OUTPUTS[0], OUTPUTS[0]]}, "duplicate name"),
    ({"labels": ["a", "b"]}, "'labels'"),
    ({"preprocessing": {"mean": [0, 0], "std": [1, 1]}}, "'preprocessing.mean'"),
    ({"preprocessing": {"mean": [0], "std": [0]}}, "'preprocessing.std'"),
    ({"training_stats": {"other": {}}}, "'training_stats'"),
    # the declared signature is checked by one dry run of the model
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 5]}]},
     "cannot take its declared inputs"),
    ({"outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 7]}]},
     "'outputs[0].shape'"),
]


@pytest.mark.parametrize("changes, expected", BAD_FIELDS)
def test_config_errors_name_the_file_and_field(tmp_path, changes, expected):
    path = _write(tmp_path, **changes)
    with pytest.raises(PackageError) as e:
        load_package(path)
    assert expected in str(e.value)
    assert str(path / "config.json") in str(e.value)


def test_file_errors_name_the_file(tmp_path):
    save_tiny(tmp_path / "a")
    (tmp_path / "a" / "model.safetensors").unlink()
    with pytest.raises(PackageError, match="model.safetensors: missing"):
        load_package(tmp_path / "a")

    save_tiny(tmp_path / "b")
    w = tmp_path / "b" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-10])  # truncated: the header promises more bytes
    with pytest.raises(PackageError, match="model.safetensors"):
        load_package(tmp_path / "b")

    save_tiny(tmp_path / "c")
    (tmp_path / "c" / "config.json").write_text('{"format": NaN}')
    with pytest.raises(PackageError, match="config.json: not valid JSON"):
        load_package(tmp_path / "c")

    with pytest.raises(PackageError, match="config.json: missing"):
        load_package(tmp_path / "nothing")


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    save_tiny(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["architecture"]["kwargs"]["hidden"] = [16]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PackageError, match="weights do not fit architecture 'mlp'"):
        load_package(tmp_path)


class Doubler(fathom.nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.scale = fathom.nn.Parameter(fathom.full((width,), 2.0))

    def forward(self, x):
        return x * self.scale


def _save_doubler(path, registry):
    save_package(Doubler(), path, name="doubler", registry=registry,
                 architecture={"registry": "registered", "name": "Doubler",
                               "kwargs": {"width": 4}},
                 inputs=INPUTS, outputs=[{"name": "y", "datatype": "FP32", "shape": [-1, 4]}])


def test_registered_architectures_come_only_from_code(tmp_path, monkeypatch):
    _save_doubler(tmp_path, {"Doubler": Doubler})
    monkeypatch.setattr(P, "_REGISTERED", {})
    with pytest.raises(PackageError, match="'Doubler' is not registered.*--register"):
        load_package(tmp_path)
    pkg = load_package(tmp_path, registry={"Doubler": Doubler})
    np.testing.assert_array_equal(pkg.predict([np.ones((2, 4), np.float32)])[0], 2.0)
    P.register("Doubler", Doubler)
    assert load_package(tmp_path).name == "doubler"
    # a config naming importable code finds nothing: names are looked up, never imported
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["architecture"]["name"] = "os.system"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PackageError, match="'os.system' is not registered"):
        load_package(tmp_path)
    with pytest.raises(ValueError, match="bad architecture name"):
        P.register("a b", Doubler)


def test_save_checks_before_writing(tmp_path):
    model = tiny_model()
    wrong = {**ARCH, "kwargs": {**ARCH["kwargs"], "hidden": [5]}}
    with pytest.raises(PackageError, match="do not fit architecture"):
        save_package(model, tmp_path / "p", name="t", architecture=wrong, inputs=INPUTS,
                     outputs=OUTPUTS)
    with pytest.raises(PackageError, match="'inputs\\[0\\].datatype'"):
        save_package(model, tmp_path / "p", name="t", architecture=ARCH,
                     inputs=[{"name": "input", "datatype": "float32", "shape": [-1, 4]}],
                     outputs=OUTPUTS)
    with pytest.raises(PackageError, match="cannot be written as JSON"):
        save_package(model, tmp_path / "p", name="t", architecture=ARCH, inputs=INPUTS,
                     outputs=OUTPUTS, training_stats={"input": {"mean": float("nan")}})
    assert not (tmp_path / "p").exists()  # nothing written by a failed save
    save_package(model, tmp_path / "p", name="t", architecture=ARCH, inputs=INPUTS,
                 outputs=OUTPUTS)
    with pytest.raises(PackageError, match="already holds a package"):
        save_package(model, tmp_path / "p", name="t", architecture=ARCH, inputs=INPUTS,
                     outputs=OUTPUTS)
    save_package(model, tmp_path / "p", name="t", version=2, architecture=ARCH,
                 inputs=INPUTS, outputs=OUTPUTS, overwrite=True)
    assert load_package(tmp_path / "p").version == 2


def test_integer_inputs_keep_their_dtype(tmp_path):
    fathom.manual_seed(0)
    emb = fathom.nn.Sequential(fathom.nn.Embedding(10, 3), fathom.nn.Flatten())
    registry = {"Emb": lambda: fathom.nn.Sequential(fathom.nn.Embedding(10, 3),
                                                    fathom.nn.Flatten())}
    save_package(emb, tmp_path, name="emb", registry=registry,
                 architecture={"registry": "registered", "name": "Emb", "kwargs": {}},
                 inputs=[{"name": "ids", "datatype": "INT64", "shape": [-1, 2]}],
                 outputs=[{"name": "vec", "datatype": "FP32", "shape": [-1, 6]}])
    pkg = load_package(tmp_path, registry=registry)
    ids = np.array([[1, 2], [3, 9]], np.int64)
    with fathom.no_grad():
        want = emb.eval()(fathom.tensor(ids)).numpy()
    np.testing.assert_array_equal(pkg.predict([ids])[0], want)
