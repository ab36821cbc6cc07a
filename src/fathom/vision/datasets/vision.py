"""VisionDataset: the base of the image datasets (root, transforms, repr as torchvision)."""
from __future__ import annotations

import os

import numpy as np

from ...utils.data import Dataset


def _format_transform(transform, head: str) -> list:
    lines = repr(transform).splitlines()
    return [f"{head}{lines[0]}"] + [" " * len(head) + line for line in lines[1:]]


class StandardTransform:
    """`transform` on the image and `target_transform` on the target (torchvision's)."""

    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input, target):
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target

    def __repr__(self) -> str:
        body = [self.__class__.__name__]
        if self.transform is not None:
            body += _format_transform(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += _format_transform(self.target_transform, "Target transform: ")
        return "\n".join(body)


class VisionDataset(Dataset):
    """An image dataset under `root` (None: $FATHOM_DATA, else ~/.fathom/data).

    In-memory subclasses set `data` (uint8 images, N first) and `targets` (int64, (N,));
    items are `(image, target)` with the image a NumPy array and the target an int,
    after `transform` and `target_transform`. `__getitems__` gathers a batch of
    indices with one fancy index.
    """

    _repr_indent = 4

    def __init__(self, root=None, transform=None, target_transform=None):
        if root is not None:
            root = os.path.expanduser(os.fspath(root))
        self.root = root
        self.transform = transform
        self.target_transform = target_transform
        has = transform is not None or target_transform is not None
        self.transforms = StandardTransform(transform, target_transform) if has else None

    # --- in-memory samples -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index].copy(), int(self.targets[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    def __getitems__(self, indices) -> list:
        idx = np.asarray(indices, dtype=np.int64)
        samples = zip(self.data[idx], self.targets[idx].tolist())
        if self.transforms is None:
            return list(samples)
        t = self.transforms
        return [t(img, target) for img, target in samples]

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    # --- repr ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transforms is not None:
            body += [repr(self.transforms)]
        lines = [f"Dataset {self.__class__.__name__}"]
        lines += [" " * self._repr_indent + line for line in body]
        return "\n".join(lines)
