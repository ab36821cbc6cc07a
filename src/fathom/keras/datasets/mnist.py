"""`keras.datasets.mnist.load_data()`: the MNIST digits as uint8 NumPy arrays.

    >>> from fathom.keras.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
"""
from __future__ import annotations

import os

import numpy as np

from ...vision.datasets import MNIST
from ._idx import DatasetNotFoundError, load_pair

__all__ = ["load_data"]

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz", *, root=None, download=False):
    """((x_train, y_train), (x_test, y_test)): uint8 (60000, 28, 28), (60000,),
    (10000, 28, 28), (10000,).

    The IDX files are read as `fathom.vision.datasets.MNIST` finds them. Only when they
    are missing, a Keras `mnist.npz` is read if there is one (NumPy, no pickle).

    Args:
        path: Keras's argument: that `mnist.npz`, as given or under ~/.keras/datasets/
            (where Keras caches it).
        root: the IDX files' folder (None: $FATHOM_DATA, else ~/.fathom/data).
        download: fetch missing IDX files into `<root>/MNIST/raw/` (Keras always
            downloads; Fathom never does unless asked).
    Raises DatasetNotFoundError naming every place looked and how to get the files.
    """
    try:
        return load_pair(MNIST, root, download)
    except DatasetNotFoundError as e:
        candidates = _npz_candidates(path)
        npz = next((c for c in candidates if os.path.isfile(c)), None)
        if npz is None:
            looked = "".join(f"\n  {c}" for c in candidates)
            raise DatasetNotFoundError(
                f"mnist.load_data: {e}\n(or keras.datasets.mnist.load_data(download=True)); "
                f"and for a Keras mnist.npz:{looked}") from None
    with np.load(npz, allow_pickle=False) as f:
        missing = [k for k in _NPZ_KEYS if k not in f.files]
        if missing:
            raise ValueError(f"mnist.load_data: {npz} lacks the arrays {missing} "
                             f"(a Keras mnist.npz holds {list(_NPZ_KEYS)})")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _npz_candidates(path) -> list:
    if path is None:
        return []
    path = os.fspath(path)
    return [path, os.path.join(os.path.expanduser("~"), ".keras", "datasets", path)]
