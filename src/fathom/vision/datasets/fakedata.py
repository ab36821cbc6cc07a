"""FakeData: random images for tests and benchmarks, as torchvision's."""
from __future__ import annotations

import numpy as np

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """`size` random uint8 images and random int targets, the same for an index every time.

    `image_size` is (C, H, W) as torchvision's; items are NumPy images (H, W, C), or
    (H, W) when C == 1 (what a PIL image gives torchvision's transforms). Each item is
    drawn from its own generator seeded with `index + random_offset`, so the global RNG
    is untouched. The pixel values differ from torchvision's (which casts Gaussian
    noise to bytes).
    """

    def __init__(self, size: int = 1000, image_size=(3, 224, 224), num_classes: int = 10,
                 transform=None, target_transform=None, random_offset: int = 0):
        super().__init__(None, transform, target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):
        index = int(index)
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        img = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        if c == 1:
            img = img[:, :, 0]
        target = int(rng.integers(0, self.num_classes))
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    def __getitems__(self, indices) -> list:
        return [self[i] for i in indices]
