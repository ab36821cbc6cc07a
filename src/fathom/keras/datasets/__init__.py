"""fathom.keras.datasets: Keras's `load_data()` over the files fathom.vision reads.

    from fathom import keras
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()

Unlike Keras, nothing is downloaded unless asked (`download=True`): the files are those
`fathom.vision.datasets.MNIST/FashionMNIST` find ($FATHOM_DATA, ~/.fathom/data, and for
Fashion-MNIST the Debian package `dataset-fashion-mnist`), and a missing file raises
`DatasetNotFoundError` naming every place looked and how to get the files.
"""
from . import fashion_mnist, mnist
from ._idx import DatasetNotFoundError

__all__ = ["mnist", "fashion_mnist", "DatasetNotFoundError"]
