"""Image datasets with torchvision's names and arguments: MNIST, FashionMNIST, CIFAR10,
FakeData. Items are `(image, target)` with the image a uint8 NumPy array (no PIL).

    from fathom.vision import datasets, transforms
    train = datasets.FashionMNIST(root=None, train=True, transform=transforms.ToTensor())
"""
from .cifar import CIFAR10
from .fakedata import FakeData
from .mnist import MNIST, FashionMNIST
from .utils import (ChecksumError, DatasetFormatError, DatasetNotFoundError, DownloadError,
                    IDXFormatError, UnsafeArchiveError)
from .vision import StandardTransform, VisionDataset

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "FakeData", "VisionDataset", "StandardTransform",
           "DatasetNotFoundError", "DatasetFormatError", "IDXFormatError", "DownloadError",
           "ChecksumError", "UnsafeArchiveError"]
