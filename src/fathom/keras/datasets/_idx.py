"""The shared reader behind `mnist.load_data` and `fashion_mnist.load_data`."""
from __future__ import annotations

import numpy as np

from ...vision.datasets import DatasetNotFoundError, FashionMNIST, MNIST

__all__ = ["load_pair", "DatasetNotFoundError"]


def load_pair(cls, root=None, download: bool = False) -> tuple:
    """((x_train, y_train), (x_test, y_test)) as Keras gives them: uint8 images (N, 28, 28)
    and uint8 labels (N,), read by the fathom.vision dataset class `cls` (MNIST or
    FashionMNIST) from the same files, with the same search and errors."""
    if cls not in (MNIST, FashionMNIST):
        raise TypeError(f"load_pair: expected MNIST or FashionMNIST, got {cls!r}")
    train = cls(root=root, train=True, download=download)
    test = cls(root=root, train=False, download=download)
    # fathom.vision widens labels to int64 (torchvision's); Keras keeps the files' uint8.
    return ((train.data, train.targets.astype(np.uint8)),
            (test.data, test.targets.astype(np.uint8)))
