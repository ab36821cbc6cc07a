"""`keras.datasets.fashion_mnist.load_data()`: Fashion-MNIST as uint8 NumPy arrays.

Read from the files `fathom.vision.datasets.FashionMNIST` finds: under $FATHOM_DATA (or
~/.fathom/data), else the Debian package `dataset-fashion-mnist`.

    >>> from fathom.keras.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
"""
from __future__ import annotations

from ...vision.datasets import FashionMNIST
from ._idx import DatasetNotFoundError, load_pair

__all__ = ["load_data"]


def load_data(*, root=None, download=False):
    """((x_train, y_train), (x_test, y_test)): uint8 (60000, 28, 28), (60000,),
    (10000, 28, 28), (10000,); labels 0-9 as Keras's (T-shirt/top ... Ankle boot).

    Args:
        root: the IDX files' folder (None: $FATHOM_DATA, else ~/.fathom/data; with no
            files there, the Debian package's folder).
        download: fetch missing files into `<root>/FashionMNIST/raw/` (Keras always
            downloads; Fathom never does unless asked).
    Raises DatasetNotFoundError naming every place looked and how to get the files.
    """
    try:
        return load_pair(FashionMNIST, root, download)
    except DatasetNotFoundError as e:
        raise DatasetNotFoundError(f"fashion_mnist.load_data: {e} (or keras.datasets."
                                   "fashion_mnist.load_data(download=True))") from None
