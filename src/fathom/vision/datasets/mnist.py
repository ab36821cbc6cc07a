"""MNIST and Fashion-MNIST from their IDX files (gzipped or not), as torchvision's.

Files are looked for in `root/<Name>/raw/` (torchvision's layout) and in `root/`.
Fashion-MNIST with no files under `root` falls back to the folder of the Debian
package `dataset-fashion-mnist`, found through dpkg's list of the package's files.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess

import numpy as np

from .utils import (DatasetFormatError, DatasetNotFoundError, check_md5, default_root,
                    download_url, read_idx)
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST"]

_DPKG_INFO = "/var/lib/dpkg/info"  # dpkg's database: <package>.list names every file


def package_files(package: str) -> list:
    """The files an installed Debian package owns ([] when it is not installed)."""
    lists = glob.glob(os.path.join(_DPKG_INFO, f"{package}.list")) + \
        glob.glob(os.path.join(_DPKG_INFO, f"{package}:*.list"))
    for name in lists:
        with open(name, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    if shutil.which("dpkg-query"):  # a dpkg with another admin dir
        try:
            out = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True,
                                 timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return []
        if out.returncode == 0:
            return [line for line in out.stdout.splitlines() if line.strip()]
    return []


class MNIST(VisionDataset):
    """MNIST handwritten digits: 60,000 train / 10,000 test uint8 images (28, 28).

    Args:
        root: folder holding the IDX files (`train-images-idx3-ubyte[.gz]`, ...) directly
            or in `<root>/MNIST/raw/`; None: $FATHOM_DATA, else ~/.fathom/data.
        train: the training split (else the test split).
        transform, target_transform: applied to the image (a NumPy array, no PIL) and
            to the int target.
        download: fetch missing files into `<root>/MNIST/raw/` from `mirrors`, checking
            each file's MD5 (`resources`); files already there are kept.

    Attributes: `data` uint8 (N, 28, 28), `targets` int64 (N,), `classes`, `class_to_idx`.
    """

    # torchvision's mirror list and MD5s (torchvision/datasets/mnist.py); the S3 mirror
    # first, as newer torchvision has it (yann.lecun.com often refuses downloads).
    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    debian_package = None  # a Debian package that ships the files, if any

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        super().__init__(default_root() if root is None else root, transform, target_transform)
        self.train = train
        if download:
            self.download()
        images, labels = self._locate()
        self.data, self.targets = self._load(images, labels)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    def _stems(self) -> tuple:
        split = "train" if self.train else "t10k"
        return f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"

    def _candidates(self, stem: str) -> list:
        return [os.path.join(folder, stem + ext) for folder in (self.raw_folder, self.root)
                for ext in ("", ".gz")]

    def _package_candidates(self, stem: str) -> list:
        if not self.debian_package:
            return []
        return [f for f in package_files(self.debian_package)
                if os.path.basename(f) in (stem, stem + ".gz")]

    def _locate(self) -> tuple:
        """The (images, labels) files: under root, else in the Debian package's folder."""
        stems = self._stems()
        found = [next((p for p in self._candidates(s) if os.path.isfile(p)), None)
                 for s in stems]
        if all(found):
            return tuple(found)
        looked = [p for s in stems for p in self._candidates(s)]
        if self.debian_package and not self._any_under_root():
            packaged = [next((p for p in self._package_candidates(s) if os.path.isfile(p)), None)
                        for s in stems]
            if all(packaged):
                return tuple(packaged)
            looked += [p for s in stems for p in self._package_candidates(s)] or \
                [f"(the Debian package {self.debian_package}: not installed)"]
        raise DatasetNotFoundError(self._not_found(stems, looked))

    def _any_under_root(self) -> bool:
        """Whether any file of either split is under root (then no package fallback, so
        the splits never come from two different places)."""
        return any(os.path.isfile(p) for f, _ in self.resources
                   for p in self._candidates(f.removesuffix(".gz")))

    def _not_found(self, stems, looked) -> str:
        name = self.__class__.__name__
        split = "train" if self.train else "test"
        paths = "".join(f"\n  {p}" for p in looked)
        how = (f"\nTo get it: {name}(root={self.root!r}, download=True) fetches "
               f"{', '.join(s + '.gz' for s in stems)} from {self.mirrors[0]}")
        if self.debian_package:
            how += f", or install the Debian package: sudo apt-get install {self.debian_package}"
        return f"{name} {split} split not found; looked for:{paths}{how}"

    def _load(self, images_path: str, labels_path: str) -> tuple:
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DatasetFormatError(f"{images_path}: expected uint8 images with 3 dims (N, H, "
                                     f"W), got {images.dtype} with shape {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DatasetFormatError(f"{labels_path}: expected uint8 labels with 1 dim (N,), "
                                     f"got {labels.dtype} with shape {labels.shape}")
        if len(images) != len(labels):
            raise DatasetFormatError(f"{images_path} has {len(images)} images but "
                                     f"{labels_path} has {len(labels)} labels")
        if len(labels) and labels.max() >= len(self.classes):
            raise DatasetFormatError(f"{labels_path}: label {labels.max()} is out of range for "
                                     f"{len(self.classes)} classes")
        return images, labels.astype(np.int64)

    def _present(self, filename: str, md5: str) -> bool:
        """A resource is present: its IDX file uncompressed, or its .gz with a good MD5."""
        for path in self._candidates(filename.removesuffix(".gz")):
            if os.path.isfile(path) and (not path.endswith(".gz") or check_md5(path, md5)):
                return True
        return False

    def download(self) -> None:
        """Fetch every missing file (both splits) into `raw_folder`, MD5-checked."""
        for filename, md5 in self.resources:
            if not self._present(filename, md5):
                download_url([m + filename for m in self.mirrors],
                             os.path.join(self.raw_folder, filename), md5)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 60,000 train / 10,000 test uint8 images (28, 28) of
    clothes in 10 classes. Arguments as `MNIST`; with no files under `root` (and no
    `download`), the files of the Debian package `dataset-fashion-mnist` are used."""

    # The canonical URL (zalandoresearch/fashion-mnist README) and torchvision's MD5s.
    # Debian's package recompresses the files (new gzip headers), so the MD5s of its .gz
    # files differ from these; its files are read, never checked against these MD5s.
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    debian_package = "dataset-fashion-mnist"
