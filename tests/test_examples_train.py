"""The Fashion-MNIST examples run as scripts (`python examples/<name>.py`), briefly.

Each runs one epoch on a few hundred images (`--limit`); they skip when Fashion-MNIST is
not installed, except one that trains on a synthetic dataset in the same file layout.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli import write_fake_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(script, *args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], env=env,
                       cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.fixture(scope="module")
def fashion_mnist():
    from fathom.vision import datasets
    try:
        datasets.FashionMNIST(train=False)
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")


def _accuracy(out: str) -> float:
    return float(re.search(r"test accuracy:? ([0-9.]+)", out).group(1))


@pytest.mark.parametrize("script", ["fashion_mlp.py", "fashion_lenet5.py", "fashion_lstm.py"])
def test_example_runs(script, fashion_mnist):
    out = _run(script, "--epochs", "1", "--limit", "200")
    assert 0.0 <= _accuracy(out) <= 1.0


def test_cnn_example(fashion_mnist, tmp_path):
    out = _run("fashion_cnn.py", "--epochs", "1", "--limit", "200", "--out", tmp_path)
    assert "Ankle boot" in out and "macro avg" in out
    assert (tmp_path / "best.safetensors").exists()


def test_cross_validation_example(fashion_mnist):
    out = _run("cross_validation.py", "--folds", "3", "--epochs", "1", "--limit", "300")
    assert out.count("fold ") == 3
    assert re.search(r"accuracy over 3 folds: [0-9.]+ \+- [0-9.]+", out)


def test_mlp_example_learns_synthetic_data(tmp_path):
    """No Fashion-MNIST needed: the synthetic bars are learned in a few epochs."""
    root = write_fake_fashion_mnist(tmp_path)
    out = _run("fashion_mlp.py", "--epochs", "3", "--data-root", root)
    assert _accuracy(out) > 0.8
