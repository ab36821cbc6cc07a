"""The Keras-dialect examples (examples/keras_*.py) run end to end, briefly.

Each trains one epoch on a couple of hundred Fashion-MNIST images (`--limit`), in this
process through its `main(argv)`; one runs as a script. They skip when Fashion-MNIST is
not installed, except the MLP on a synthetic dataset in the same file layout.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli import write_fake_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fashion_mnist():
    from fathom.vision import datasets
    try:
        datasets.FashionMNIST(train=False)
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")


@pytest.mark.parametrize("name,limit", [("keras_mlp", 300), ("keras_cnn", 128),
                                        ("keras_lstm", 256), ("keras_subclass", 300)])
def test_example_trains_one_epoch(name, limit, fashion_mnist, capsys, tmp_path):
    args = ["--epochs", "1", "--limit", str(limit)]
    if name == "keras_subclass":
        args += ["--out", str(tmp_path)]
    accuracy = load(name).main(args)
    out = capsys.readouterr().out
    assert 0.0 <= accuracy <= 1.0
    assert f"test accuracy: {accuracy:.4f}" in out
    assert " - accuracy: " in out and " - val_accuracy: " in out  # Keras's progress line
    if name == "keras_subclass":
        assert "history keys: ['accuracy', 'loss', 'val_accuracy', 'val_loss']" in out
        assert (tmp_path / "best.weights.safetensors").exists()
        assert "logits shape (4, 10)" in out
    else:
        assert "Total params:" in out  # model.summary()


def test_mlp_example_learns_synthetic_data(tmp_path, capsys):
    """No Fashion-MNIST needed: synthetic bars in its file layout are learned quickly."""
    root = write_fake_fashion_mnist(tmp_path)
    accuracy = load("keras_mlp").main(["--epochs", "3", "--data-root", str(root)])
    assert accuracy > 0.8


def test_example_runs_as_a_script(tmp_path):
    root = write_fake_fashion_mnist(tmp_path, n_train=96, n_test=32)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, str(EXAMPLES / "keras_subclass.py"), "--epochs", "1",
                        "--data-root", str(root), "--out", str(tmp_path / "out")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "test accuracy:" in r.stdout
