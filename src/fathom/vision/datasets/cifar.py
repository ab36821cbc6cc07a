"""CIFAR-10 from the official BINARY version (never the pickled Python version).

Each `.bin` file is a run of 3073-byte records: one label byte, then the 32x32 image's
1024 red, 1024 green and 1024 blue bytes, each plane row-major.
"""
from __future__ import annotations

import os

import numpy as np

from .utils import (DatasetFormatError, DatasetNotFoundError, default_root, download_url,
                    extract_tar)
from .vision import VisionDataset

__all__ = ["CIFAR10"]

_RECORD = 1 + 3 * 32 * 32


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 train / 10,000 test uint8 images (32, 32, 3) in 10 classes.

    Args:
        root: the folder holding `cifar-10-batches-bin/` (or the `.bin` files directly);
            None: $FATHOM_DATA, else ~/.fathom/data.
        train: `data_batch_1..5.bin` (else `test_batch.bin`).
        transform, target_transform: applied to the image (NumPy (32, 32, 3), no PIL) and
            to the int target.
        download: fetch `cifar-10-binary.tar.gz` (MD5-checked) and extract it under root.

    Attributes: `data` uint8 (N, 32, 32, 3) as torchvision's, `targets` int64 (N,),
    `classes` (from `batches.meta.txt`), `class_to_idx`.
    """

    base_folder = "cifar-10-batches-bin"
    # The dataset authors' page (https://www.cs.toronto.edu/~kriz/cifar.html) lists this
    # archive and MD5 for the binary version.
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    filename = "cifar-10-binary.tar.gz"
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        super().__init__(default_root() if root is None else root, transform, target_transform)
        self.train = train
        if download:
            self.download()
        names = (self.train_list if train else self.test_list) + [self.meta_file]
        folder = self._folder(names)
        self.classes = self._read_meta(os.path.join(folder, self.meta_file))
        batches = [self._read_batch(os.path.join(folder, n)) for n in names[:-1]]
        self.data = np.concatenate([b[0] for b in batches])
        self.targets = np.concatenate([b[1] for b in batches]).astype(np.int64)

    def _folders(self) -> list:
        return [os.path.join(self.root, self.base_folder), self.root]

    def _folder(self, names) -> str:
        for folder in self._folders():
            if all(os.path.isfile(os.path.join(folder, n)) for n in names):
                return folder
        looked = "".join(f"\n  {os.path.join(f, n)}" for f in self._folders() for n in names)
        split = "train" if self.train else "test"
        raise DatasetNotFoundError(
            f"CIFAR10 {split} split not found; looked for:{looked}\nTo get it: "
            f"CIFAR10(root={self.root!r}, download=True) fetches {self.url} (the binary "
            f"version) and extracts it there")

    def _read_meta(self, path) -> list:
        with open(path, encoding="utf-8") as f:
            classes = [line.strip() for line in f if line.strip()]
        if not classes:
            raise DatasetFormatError(f"{path}: no class names (expected one per line)")
        return classes

    def _read_batch(self, path) -> tuple:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % _RECORD:
            raise DatasetFormatError(f"{path}: {raw.size} bytes is not a whole number of "
                                     f"{_RECORD}-byte CIFAR-10 records (1 label byte + 3072 "
                                     f"pixel bytes); truncated, or not the binary version?")
        records = raw.reshape(-1, _RECORD)
        labels = records[:, 0]
        if labels.max() >= len(self.classes):
            raise DatasetFormatError(f"{path}: label {labels.max()} is out of range for "
                                     f"{len(self.classes)} classes")
        # (N, 3, 32, 32) planes -> (N, 32, 32, 3), torchvision's layout of `data`
        images = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        return images, labels

    def _complete(self) -> bool:
        names = self.train_list + self.test_list + [self.meta_file]
        return any(all(os.path.isfile(os.path.join(f, n)) for n in names)
                   for f in self._folders())

    def download(self) -> None:
        """Fetch and extract the binary archive unless the batches are already there."""
        if self._complete():
            return
        archive = download_url([self.url], os.path.join(self.root, self.filename), self.tgz_md5)
        extract_tar(archive, self.root)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"
