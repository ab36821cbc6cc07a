"""fathom.bench.tf_twins: the TensorFlow/Keras twins start from the Fathom model's weights,
compute its forward (eval; ResNet-18 also in training mode), train the way Fathom does
(the same losses step by step where there is no dropout), and `fathom bench --against tf`
fills TensorFlow's columns.

TensorFlow runs in child processes only: importing it imports Keras, and Keras picks its
backend once per process, so TensorFlow in the pytest process would switch off
test_keras_oracle.py (Keras on its PyTorch backend). Hence no pytest.importorskip here.
One child computes everything Keras-side (about 25 s, most of it TensorFlow's import and
tracing); the bench command is another (about 20 s).
"""
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import fathom
from fathom.bench import workloads
from fathom.vision import models

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

NAMES = ("mlp", "cnn", "lenet5", "lstm", "transformer", "resnet18")
STEPS = 4  # Adam steps on one batch


def fathom_model(name):
    """The Fathom model both sides build, from the same seed (so the same weights)."""
    fathom.manual_seed(0)
    return workloads.transformer_model(fathom) if name == "transformer" else models.get(name)


def batch(name):
    """A fixed batch (x in Fathom's layout, y) for `name`."""
    rng = np.random.default_rng(1)
    shape = {"transformer": (8, 64, 128), "resnet18": (4, 3, 32, 32),
             "cnn": (64, 1, 28, 28)}.get(name, (16, 1, 28, 28))
    x = rng.standard_normal(shape).astype(np.float32)
    return x, rng.integers(0, 10, shape[0]).astype(np.int64)


def child_main(path):
    """Run in the child: the Keras twins' outputs and per-step losses, saved to `path`."""
    from fathom.bench import tf_twins as tw
    tw.keras.utils.set_random_seed(0)  # the CNN's dropout masks
    out = {}
    for name in NAMES:
        x, y = batch(name)
        net = tw.keras_model(name, fathom_model(name))
        out[name + ".eval"] = net(tw.inputs(name, x), training=False).numpy()
        if name == "resnet18":
            out[name + ".train"] = net(tw.inputs(name, x), training=True).numpy()
        if name in ("transformer", "resnet18"):
            run = tw.steps_fn(name, fathom_model(name), x, y, 1)
        else:  # one batch per run(), one step; the CNN: 4 steps of 16, dropout's noise
            size = 16 if name == "cnn" else len(x)
            run = tw.epoch_fn(name, fathom_model(name), x, y, size, np.arange(len(x)))
        out[name + ".losses"] = np.array([run() for _ in range(STEPS)])
        if name in ("mlp", "cnn"):
            out[name + ".inference"] = tw.inference_fn(name, fathom_model(name), x)()
    out["add"] = tw.add_fn(*batch("mlp")[0][:2])()
    try:
        tw.keras_model("vgg", None)
    except ValueError as e:
        out["unknown"] = np.array(str(e))
    np.savez(path, **out)


@pytest.fixture(scope="module")
def keras_side(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tf") / "out.npz")
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('t', {__file__!r})\n"
            "t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)\n"
            "t.child_main(sys.argv[1])\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(np.load(path))


def fathom_forward(name, train=False):
    model = fathom_model(name).train(train)
    with fathom.no_grad():
        return model(fathom.from_numpy(batch(name)[0])).numpy()


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_fathom(keras_side, name):
    np.testing.assert_allclose(keras_side[name + ".eval"], fathom_forward(name),
                               rtol=1e-4, atol=1e-5)


def test_resnet18_train_mode_forward_matches_fathom(keras_side):
    # batch statistics in both; differs from eval mode, so the check is not vacuous
    want = fathom_forward("resnet18", train=True)
    assert not np.allclose(want, fathom_forward("resnet18"), atol=1e-3)
    np.testing.assert_allclose(keras_side["resnet18.train"], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_inference_matches_fathom(keras_side, name):
    np.testing.assert_allclose(keras_side[name + ".inference"], fathom_forward(name),
                               rtol=1e-4, atol=1e-5)


def fathom_losses(name):
    """Fathom's losses over STEPS Adam steps (lr 1e-3) on the one batch."""
    model = fathom_model(name).train()
    x, y = (fathom.from_numpy(a) for a in batch(name))
    opt = fathom.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(STEPS):
        loss = fathom.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return np.array(losses)


@pytest.mark.parametrize("name", ["mlp", "lenet5", "lstm", "transformer", "resnet18"])
def test_training_steps_follow_fathom(keras_side, name):
    # no dropout in these: the same loss at every step, and it falls
    got = keras_side[name + ".losses"]
    assert np.all(np.diff(got) < 0), got
    np.testing.assert_allclose(got, fathom_losses(name), rtol=2e-3, atol=1e-4)


def test_cnn_training_lowers_the_loss(keras_side):
    # Dropout(0.5) draws Keras's own masks, so only the trend is comparable: the last
    # batch's loss after 4 and after 16 Adam steps (it falls by ~0.2, noise ~0.05)
    got = keras_side["cnn.losses"]
    assert got[-1] < got[0] - 0.05, got


def test_add_and_unknown_model(keras_side):
    x = batch("mlp")[0]
    np.testing.assert_array_equal(keras_side["add"], x[0] + x[1])
    assert "no Keras version of 'vgg'" in str(keras_side["unknown"])


def test_refuses_keras_loaded_with_another_backend(monkeypatch):
    fake = types.ModuleType("keras")
    fake.config = types.SimpleNamespace(backend=lambda: "jax")
    monkeypatch.setitem(sys.modules, "keras", fake)
    monkeypatch.delitem(sys.modules, "fathom.bench.tf_twins", raising=False)
    with pytest.raises(ImportError, match="already imported with the 'jax' backend"):
        importlib.import_module("fathom.bench.tf_twins")


def test_bench_command_fills_tensorflow_columns(tmp_path):
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["FATHOM_BENCH_SETTLE"] = "0"
    r = subprocess.run([sys.executable, "-m", "fathom", "bench", "--workloads",
                        "overhead,lenet5", "--repeat", "1", "--limit", "512", "--against",
                        "torch,tf", "--json", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "tf: MLP, CNN, LeNet-5 and LSTM epochs" in r.stdout
    assert "Fathom/TensorFlow" in r.stdout
    rows = {row["name"]: row for row in json.loads(out.read_text())["rows"]}
    for name in ("x + y, 64x128", "LeNet-5, batch 64: one epoch (512 images)"):
        row = rows[name]
        assert row["values"]["tf"] > 0
        assert row["ratios"]["tf"] == pytest.approx(row["values"]["fathom"] / row["values"]["tf"])
