"""Image utilities as torchvision's: `make_grid` tiles a batch, `save_image` writes a PNG."""
from __future__ import annotations

import math

import numpy as np

from ..creation import as_tensor
from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _host(x) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.data
    return x.get() if hasattr(x, "get") else np.asarray(x)  # CuPy arrays come to the host


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range=None, scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Tile images (B, C, H, W), a list of (C, H, W), or one (C, H, W) / (H, W) into one
    image (C', H', W') with `nrow` images per row and `padding` pixels of `pad_value`
    between them. One-channel images become three-channel, as in torchvision.

    `normalize` shifts and scales to [0, 1] using `value_range` (min, max), by default
    the min and max of the batch (of each image with `scale_each`).

        >>> make_grid(fathom.rand(10, 3, 8, 8), nrow=5).shape
        fathom.Size([3, 22, 52])
    """
    if isinstance(tensor, (list, tuple)):
        x = np.stack([_host(t) for t in tensor])
    elif isinstance(tensor, (Tensor, np.ndarray)):
        x = _host(tensor)
    else:
        raise TypeError(f"make_grid: tensor should be a Tensor, an array or a list of them, "
                        f"got {type(tensor).__name__}")
    if x.ndim == 2:  # a single image H x W
        x = x[None]
    if x.ndim == 3:  # a single image C x H x W
        if x.shape[0] == 1:
            x = np.concatenate([x, x, x], 0)
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), (C, H, W) or (H, W), got "
                         f"shape {x.shape}")
    if x.shape[1] == 1:
        x = np.concatenate([x, x, x], 1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("make_grid: value_range has to be a tuple (min, max) if specified. "
                            "min and max are numbers")
        x = x.astype(np.float32) if x.dtype.kind != "f" else x.copy()
        for img in (x if scale_each else [x]):  # each a view: normalized in place
            low, high = value_range if value_range is not None else (img.min(), img.max())
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)
    if x.shape[0] == 1:
        return as_tensor(np.ascontiguousarray(x[0]))
    nmaps = x.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(nmaps / xmaps))
    height, width = x.shape[2] + padding, x.shape[3] + padding
    grid = np.full((x.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value,
                   dtype=x.dtype)
    for k in range(nmaps):
        top, left = (k // xmaps) * height + padding, (k % xmaps) * width + padding
        grid[:, top:top + height - padding, left:left + width - padding] = x[k]
    return as_tensor(grid)


def save_image(tensor, fp, format: str | None = None, **grid_kwargs) -> None:  # noqa: A002
    """Write `tensor` (values in [0, 1]) as an image file (PNG by default, or from `fp`'s
    extension): `make_grid(tensor, **grid_kwargs)`, scaled to bytes as torchvision does.

    Needs Pillow or matplotlib; raises ImportError naming them when neither is installed.
    """
    grid = _host(make_grid(tensor, **grid_kwargs))
    # torchvision: mul(255), add 0.5, clamp to [0, 255], truncate to uint8
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    try:
        from PIL import Image  # noqa: PLC0415 - optional
    except ImportError:
        Image = None
    if Image is not None:
        Image.fromarray(ndarr).save(fp, format=format)
        return
    try:
        import matplotlib.image  # noqa: PLC0415 - optional
        matplotlib.image.imsave(fp, ndarr, format=format or "png")
    except ImportError:  # no matplotlib, or one whose image writer is missing
        raise ImportError("save_image needs Pillow or matplotlib to write image files; "
                          "install one (pip install pillow)") from None
