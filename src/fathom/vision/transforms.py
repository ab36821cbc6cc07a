"""Image transforms with torchvision's names, arguments, semantics and reprs.

Fathom has no PIL. Where torchvision takes a PIL image, these take a NumPy array:
(H, W) or (H, W, C), usually uint8 (what the datasets return). After `ToTensor` they
take a Tensor (..., C, H, W), as torchvision's tensor path does. Geometric transforms
keep the input's kind, layout and dtype; they work on the raw arrays and are not
differentiable (torchvision's tensor ops are; nobody backpropagates through augmentation).

Random transforms draw from fathom's global generator (`fathom.manual_seed`), or from
the `generator=` given, so seeding (and the DataLoader's per-worker seeding) makes
augmentation reproducible. The draws differ from torchvision's for the same seed.

    >>> import numpy as np
    >>> t = Compose([RandomCrop(28, padding=2), ToTensor(), Normalize((0.5,), (0.5,))])
    >>> t(np.zeros((28, 28), dtype=np.uint8)).shape
    fathom.Size([1, 28, 28])
"""
from __future__ import annotations

import enum
import functools
import numbers
from collections.abc import Sequence

from .. import backend, dtypes
from .. import random as _random
from ..creation import as_tensor
from ..tensor import Tensor

_np = backend.np

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Resize",
           "CenterCrop", "Lambda", "InterpolationMode"]


class InterpolationMode(enum.Enum):
    """The interpolation of `Resize` (torchvision's enum; only these two are implemented)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


# --- helpers: one image as (array, where H and W are) --------------------------------------

def _image(img, who: str):
    """The raw array of `img` and the axes of its height and width."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{who}: expected a tensor image (..., C, H, W), got shape "
                             f"{tuple(img.shape)}")
        return img.data, (img.ndim - 2, img.ndim - 1)
    if isinstance(img, _np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"{who}: expected a NumPy image (H, W) or (H, W, C), got shape "
                             f"{img.shape}")
        return img, (0, 1)
    raise TypeError(f"{who}: expected a NumPy array (H, W) / (H, W, C) or a Tensor "
                    f"(..., C, H, W), got {type(img).__name__}")


def _like(img, arr):
    """`arr` as the same kind of object as `img` (Tensor stays Tensor)."""
    return as_tensor(arr) if isinstance(img, Tensor) else arr


def _rng(generator):
    return (generator or _random.default_generator).rng


def _setup_size(size, who: str) -> tuple:
    """int -> (size, size); [s] -> (s, s); (h, w) stays (torchvision's _setup_size)."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{who}: please provide only two dimensions (h, w) for size, got {size!r}")


def _padding_ltrb(padding) -> tuple:
    """torchvision's padding forms as (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    p = [int(v) for v in padding]
    if len(p) == 1:
        return p[0], p[0], p[0], p[0]
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    return tuple(p)


def _fill_array(fill, xp, arr, axes):
    """A fill value that broadcasts against `arr` (a per-channel fill on the channel axis)."""
    if isinstance(fill, numbers.Number):
        return fill
    f = xp.asarray(fill, dtype=arr.dtype)
    if f.size == 1:
        return f.reshape(())
    if axes[0] == 0:  # NumPy (H, W, C): channels are last
        return f
    return f.reshape((-1, 1, 1))  # Tensor (..., C, H, W)


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """`img` padded on its H and W axes; `padding` as torchvision (int, (lr, tb), (l, t, r, b))."""
    arr, (ha, wa) = _image(img, "pad")
    left, top, right, bottom = _padding_ltrb(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"pad: padding must be non-negative, got {padding!r}")
    xp = backend.namespace(arr)
    shape = list(arr.shape)
    shape[ha] += top + bottom
    shape[wa] += left + right
    inner = [slice(None)] * arr.ndim
    inner[ha] = slice(top, top + arr.shape[ha])
    inner[wa] = slice(left, left + arr.shape[wa])
    if padding_mode == "constant":
        out = xp.empty(tuple(shape), dtype=arr.dtype)
        out[...] = _fill_array(fill, xp, arr, (ha, wa))
        out[tuple(inner)] = arr
        return _like(img, out)
    widths = [(0, 0)] * arr.ndim
    widths[ha] = (top, bottom)
    widths[wa] = (left, right)
    # NumPy's edge/reflect/symmetric are torchvision's (and PIL's) edge/reflect/symmetric.
    return _like(img, xp.pad(arr, widths, mode=padding_mode))


def crop(img, top: int, left: int, height: int, width: int):
    """The region [top, top + height) x [left, left + width) of `img` (a view)."""
    arr, (ha, wa) = _image(img, "crop")
    idx = [slice(None)] * arr.ndim
    idx[ha] = slice(top, top + height)
    idx[wa] = slice(left, left + width)
    return _like(img, arr[tuple(idx)])


def hflip(img):
    """`img` mirrored left to right (a copy)."""
    arr, (_, wa) = _image(img, "hflip")
    xp = backend.namespace(arr)
    return _like(img, xp.ascontiguousarray(xp.flip(arr, axis=wa)))


# --- the transforms --------------------------------------------------------------------------

class Compose:
    """Apply `transforms` one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


class ToTensor:
    """NumPy image (H, W) or (H, W, C) -> Tensor (C, H, W).

    uint8 images are scaled to float32 in [0, 1] (the default float dtype); other dtypes
    keep their values and dtype, as torchvision does for ndarrays. (torchvision also
    takes PIL images; Fathom has no PIL.)
    """

    def __call__(self, pic):
        if not isinstance(pic, _np.ndarray):
            raise TypeError(f"ToTensor: pic should be a NumPy array (H, W) or (H, W, C); got "
                            f"{type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2/3 dimensional. Got {pic.ndim} "
                             f"dimensions.")
        chw = pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1)
        if pic.dtype == _np.uint8:
            out = _np.empty(chw.shape, dtype=dtypes.get_default_dtype().np)
            _np.divide(chw, 255, out=out)  # x / 255 in float32, as torch's div(255)
        else:
            out = _np.ascontiguousarray(chw).copy()
        return as_tensor(out)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class Normalize:
    """(x - mean[c]) / std[c] for each channel c of a float Tensor (..., C, H, W)."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = mean
        self.std = std
        self.inplace = inplace
        self._cache = {}

    def _stats(self, tensor) -> tuple:
        """mean and std as (C, 1, 1) arrays of the tensor's dtype and array module, checked
        once per dtype and module."""
        xp, dt = backend.namespace(tensor.data), tensor.data.dtype
        key = (xp.__name__, dt.str)  # picklable (DataLoader workers may pickle transforms)
        stats = self._cache.get(key)
        if stats is None:
            mean = _np.asarray(self.mean, dtype=dt).reshape(-1, 1, 1)
            std = _np.asarray(self.std, dtype=dt).reshape(-1, 1, 1)
            if (std == 0).any():
                raise ValueError(f"Normalize: std evaluated to zero after conversion to "
                                 f"{tensor.dtype}, leading to division by zero.")
            stats = self._cache[key] = (xp.asarray(mean), xp.asarray(std))
        return stats

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: img should be a Tensor (..., C, H, W) (apply ToTensor "
                            f"first); got {type(tensor).__name__}")
        if not tensor.dtype.is_floating_point:
            raise TypeError(f"Normalize: input tensor should be a float tensor. Got "
                            f"{tensor.dtype}.")
        if tensor.ndim < 3:
            raise ValueError(f"Normalize: expected tensor to be a tensor image of size (..., C, "
                             f"H, W). Got tensor.size() = {tuple(tensor.shape)}")
        mean, std = self._stats(tensor)
        c = tensor.shape[-3]
        for name, v in (("mean", mean), ("std", std)):
            if v.shape[0] not in (1, c):
                raise ValueError(f"Normalize: {name} has {v.shape[0]} values but the image has "
                                 f"{c} channels; got tensor shape {tuple(tensor.shape)}")
        if self.inplace:
            return tensor.sub_(as_tensor(mean)).div_(as_tensor(std))
        if tensor.requires_grad:  # keep the graph
            return (tensor - as_tensor(mean)) / as_tensor(std)
        return as_tensor((tensor.data - mean) / std)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


class RandomCrop:
    """Crop a random (h, w) region, after optional padding.

    Args as torchvision: `padding` int, (left/right, top/bottom) or (left, top, right,
    bottom); `pad_if_needed` pads images smaller than `size`; `fill` a number or one per
    channel; `padding_mode` 'constant', 'edge', 'reflect' or 'symmetric'.
    `generator`: a fathom.Generator to draw from instead of the global one.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant", *, generator=None):
        self.size = _setup_size(size, "RandomCrop")
        if padding is not None and not isinstance(padding, numbers.Number) and \
                len(padding) not in (1, 2, 4):
            raise ValueError(f"RandomCrop: padding must be an int or a 1, 2 or 4 element "
                             f"sequence, got {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: padding_mode should be constant, edge, reflect or "
                             f"symmetric, got {padding_mode!r}")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    @staticmethod
    def get_params(img, output_size, generator=None) -> tuple:
        """(top, left, height, width) of a random crop of `output_size` from `img`."""
        arr, (ha, wa) = _image(img, "RandomCrop")
        h, w = arr.shape[ha], arr.shape[wa]
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input "
                             f"image size {(h, w)}")
        if h == th and w == tw:
            return 0, 0, h, w  # torchvision draws nothing here
        rng = _rng(generator)
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        arr, (ha, wa) = _image(img, "RandomCrop")
        th, tw = self.size
        if self.pad_if_needed and arr.shape[wa] < tw:
            img = pad(img, (tw - arr.shape[wa], 0), self.fill, self.padding_mode)
        arr, _ = _image(img, "RandomCrop")
        if self.pad_if_needed and arr.shape[ha] < th:
            img = pad(img, (0, th - arr.shape[ha]), self.fill, self.padding_mode)
        return crop(img, *self.get_params(img, self.size, self.generator))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left to right with probability `p` (one uniform draw per call)."""

    def __init__(self, p: float = 0.5, *, generator=None):
        self.p = p
        self.generator = generator

    def __call__(self, img):
        _image(img, "RandomHorizontalFlip")
        if _rng(self.generator).random() < self.p:
            return hflip(img)
        return img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class CenterCrop:
    """Crop the center (h, w); an image smaller than that is first padded with zeros."""

    def __init__(self, size):
        self.size = _setup_size(size, "CenterCrop")

    def __call__(self, img):
        arr, (ha, wa) = _image(img, "CenterCrop")
        th, tw = self.size
        h, w = arr.shape[ha], arr.shape[wa]
        if th > h or tw > w:
            pads = ((tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                    (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0)
            img = pad(img, pads, 0)
            arr, _ = _image(img, "CenterCrop")
            h, w = arr.shape[ha], arr.shape[wa]
            if h == th and w == tw:
                return img
        # Python's round (half to even), as torchvision's center_crop.
        return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size})"


def _resized_size(h: int, w: int, size, max_size):
    """The output (h, w) for `size` (torchvision's _compute_resized_output_size)."""
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    requested = int(size if isinstance(size, numbers.Number) else size[0])
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None:
        if max_size <= requested:
            raise ValueError(f"Resize: max_size = {max_size} must be strictly greater than the "
                             f"requested size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


@functools.lru_cache(maxsize=64)
def _bilinear_weights(n_in: int, n_out: int, antialias: bool) -> _np.ndarray:
    """The (n_out, n_in) matrix of 1-D bilinear resampling with half-pixel centers.

    With antialias and downscaling, the triangle filter is widened by the scale (PIL's
    and torch's antialiased kernel); otherwise this is plain bilinear interpolation
    (align_corners=False) with the source clamped at the borders.
    """
    scale = n_in / n_out
    aa = antialias and scale > 1.0
    support = scale if aa else 1.0
    invscale = 1.0 / scale if aa else 1.0
    centers = (_np.arange(n_out) + 0.5) * scale
    lo = _np.maximum((centers - support + 0.5).astype(_np.int64), 0)  # truncation, as torch
    hi = _np.minimum((centers + support + 0.5).astype(_np.int64), n_in)
    j = _np.arange(n_in)
    w = _np.clip(1.0 - _np.abs((j[None, :] - centers[:, None] + 0.5) * invscale), 0.0, None)
    w[(j[None, :] < lo[:, None]) | (j[None, :] >= hi[:, None])] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _nearest_index(n_in: int, n_out: int) -> _np.ndarray:
    # torch's 'nearest': floor(dst * scale) with the scale in float32.
    scale = _np.float32(n_in / n_out)
    idx = _np.floor(_np.arange(n_out, dtype=_np.float32) * scale).astype(_np.int64)
    return _np.minimum(idx, n_in - 1)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
           antialias: bool = True):
    """`img` resized to `size` (see `Resize`)."""
    arr, (ha, wa) = _image(img, "Resize")
    mode = InterpolationMode(interpolation.value if isinstance(interpolation, enum.Enum)
                             else interpolation)
    h, w = arr.shape[ha], arr.shape[wa]
    oh, ow = _resized_size(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return img
    xp = backend.namespace(arr)
    if mode is InterpolationMode.NEAREST:
        out = arr.take(xp.asarray(_nearest_index(h, oh)), axis=ha)
        return _like(img, out.take(xp.asarray(_nearest_index(w, ow)), axis=wa))
    work = arr.dtype if arr.dtype.kind == "f" else _np.float32
    wh = xp.asarray(_bilinear_weights(h, oh, bool(antialias)), dtype=work)
    ww = xp.asarray(_bilinear_weights(w, ow, bool(antialias)), dtype=work)
    x = arr.astype(work, copy=False)
    if ha == 0 and arr.ndim == 3:  # NumPy (H, W, C): resample as (C, H, W)
        out = (wh @ x.transpose(2, 0, 1) @ ww.T).transpose(1, 2, 0)
    else:
        out = wh @ x @ ww.T
    if arr.dtype.kind != "f":  # integer images are rounded back, as torchvision does
        info = _np.iinfo(arr.dtype)
        out = xp.clip(xp.round(out), info.min, info.max)
    return _like(img, xp.ascontiguousarray(out.astype(arr.dtype, copy=False)))


class Resize:
    """Resize to `size`: (h, w), or an int to match the smaller edge (keeping the aspect).

    `interpolation`: InterpolationMode.BILINEAR (default) or NEAREST (or their names).
    Bilinear with `antialias=True` (the default) filters when downscaling like
    torchvision's tensor path (torch's antialiased kernel, a port of PIL's); NEAREST is
    torch's 'nearest' (floor(i * in / out)). NumPy arrays and Tensors give the same
    result (torchvision's PIL path rounds PIL's way and centers 'nearest' differently).
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias: bool = True):
        if isinstance(size, numbers.Number):
            pass
        elif not isinstance(size, Sequence) or len(size) not in (1, 2):
            raise ValueError(f"Resize: size should be an int or a sequence of length 1 or 2, "
                             f"got {size!r}")
        if max_size is not None and isinstance(size, Sequence) and len(size) == 2:
            raise ValueError("Resize: max_size should only be passed if size specifies the "
                             "length of the smaller edge, i.e. size should be an int")
        if isinstance(interpolation, str):
            interpolation = InterpolationMode(interpolation)
        if not isinstance(interpolation, InterpolationMode):
            raise ValueError(f"Resize: interpolation should be 'bilinear' or 'nearest', got "
                             f"{interpolation!r}")
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img):
        return resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(size={self.size}, interpolation="
                f"{self.interpolation.value}, max_size={self.max_size}, "
                f"antialias={self.antialias})")


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got "
                            f"{type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"

