"""keras.datasets: mnist / fashion_mnist load_data() over fathom.vision's files (Keras's
shapes and dtypes, the same search, clear errors offline)."""
import gzip
import os

import numpy as np
import pytest

from fathom import keras
from fathom.vision import datasets
from fathom.vision.datasets import mnist as mnist_mod


def write_idx(path, array):
    dims = array.shape
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_split(folder, split, n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), images)
    write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), labels)
    return images, labels


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    """No dpkg database and no dpkg-query: the Debian package is not found."""
    monkeypatch.setattr(mnist_mod, "_DPKG_INFO", str(tmp_path / "no-dpkg"))
    monkeypatch.setattr(mnist_mod.shutil, "which", lambda name: None)


@pytest.mark.parametrize("module,name", [(keras.datasets.mnist, "MNIST"),
                                         (keras.datasets.fashion_mnist, "FashionMNIST")])
def test_load_data_reads_the_idx_files_as_keras_arrays(tmp_path, monkeypatch, module, name):
    folder = tmp_path / name / "raw"
    folder.mkdir(parents=True)
    train = make_split(str(folder), "train", 12, 0)
    test = make_split(str(folder), "t10k", 5, 1)
    monkeypatch.setenv("FATHOM_DATA", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = module.load_data()
    for got, want in zip((x_train, y_train, x_test, y_test), train + test):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)
    assert x_train.shape == (12, 28, 28) and y_train.shape == (12,)
    # root= names the folder directly, as fathom.vision's root
    (x2, _), _ = module.load_data(root=str(tmp_path))
    np.testing.assert_array_equal(x2, x_train)


def test_missing_files_name_every_place_and_the_remedy(tmp_path, monkeypatch, no_debian):
    monkeypatch.setenv("FATHOM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        keras.datasets.fashion_mnist.load_data()
    msg = str(e.value)
    assert msg.startswith("fashion_mnist.load_data: FashionMNIST train split not found")
    assert str(tmp_path / "data" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte") in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError) as e:  # DatasetNotFoundError is one
        keras.datasets.mnist.load_data()
    msg = str(e.value)
    assert str(tmp_path / "data" / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz") in msg
    assert str(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz") in msg
    assert "load_data(download=True)" in msg


def test_mnist_falls_back_to_a_keras_npz(tmp_path, monkeypatch):
    monkeypatch.setenv("FATHOM_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = tmp_path / ".keras" / "datasets"
    cache.mkdir(parents=True)
    arrays = {"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.arange(3, dtype=np.uint8),
              "x_test": np.ones((2, 28, 28), np.uint8), "y_test": np.arange(2, dtype=np.uint8)}
    np.savez(cache / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    np.testing.assert_array_equal(y_train, [0, 1, 2])
    assert x_test.shape == (2, 28, 28)
    np.savez(cache / "bad.npz", x_train=arrays["x_train"])
    with pytest.raises(ValueError, match=r"lacks the arrays \['y_train', 'x_test', 'y_test'\]"):
        keras.datasets.mnist.load_data(path="bad.npz")


def _fashion_installed():
    try:
        datasets.FashionMNIST(train=False)
        return True
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _fashion_installed(), reason="Fashion-MNIST is not installed")
def test_real_fashion_mnist_has_keras_shapes_and_equals_fathom_vision():
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == \
        ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    test = datasets.FashionMNIST(train=False)
    np.testing.assert_array_equal(x_test, test.data)
    np.testing.assert_array_equal(y_test, test.targets)
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the first is an ankle boot
