"""Padding layers over `F.pad`: zero, constant, reflection, replication and circular.

`padding` is an int (the same on every side) or a tuple listing (left, right) of the
LAST dim first, then (top, bottom), as PyTorch's. Reprs are PyTorch's.
"""
from __future__ import annotations

from . import functional as F
from .conv import _ERRORS, _ntuple
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """F.pad(input, padding, mode); `_nd` padded dims, so 2*_nd numbers in `padding`."""

    _nd = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._nd)

    def _check_input_dim(self, input):
        """PyTorch's reflection/replication/circular pads take (N, C, *) or (C, *) only."""
        lo, hi = self._nd + 1, self._nd + 2
        if input.ndim not in (lo, hi):
            raise ValueError(f"{self._describe()}: expected {lo}D or {hi}D input (got "
                             f"{input.ndim}D input), input shape {tuple(input.shape)}")

    def forward(self, input):
        self._check_input_dim(input)
        try:
            return F.pad(input, self.padding, self._mode)
        except _ERRORS as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def _check_input_dim(self, input):
        pass  # constant padding works on any input with enough dims (F.pad checks)

    def forward(self, input):
        try:
            return F.pad(input, self.padding, "constant", self.value)
        except _ERRORS as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with `value`: (*, W) -> (*, W + left + right).

        >>> nn.ConstantPad1d(2, 3.5)(fathom.ones(1, 2, 3)).shape
        fathom.Size([1, 2, 7])
    """

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with `value`; padding (left, right, top, bottom).

        >>> nn.ConstantPad2d((1, 1, 2, 0), 3.5)(fathom.ones(1, 2, 3)).shape
        fathom.Size([1, 4, 5])
    """

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with `value`; padding (left, right, top, bottom, front, back).

        >>> nn.ConstantPad3d(1, 0.0)(fathom.ones(1, 2, 2, 2)).shape
        fathom.Size([1, 4, 4, 4])
    """

    _nd = 3


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros: (*, W) -> (*, W + left + right).

        >>> nn.ZeroPad1d((1, 2))(fathom.ones(1, 2, 3)).shape
        fathom.Size([1, 2, 6])
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros; padding (left, right, top, bottom).

        >>> nn.ZeroPad2d(1)(fathom.ones(1, 1, 3, 3)).shape
        fathom.Size([1, 1, 5, 5])
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dims with zeros; padding (left, right, top, bottom, front, back).

        >>> nn.ZeroPad3d(1)(fathom.ones(1, 1, 2, 2, 2)).shape
        fathom.Size([1, 1, 4, 4, 4])
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirror the last dim without repeating the edge: (N, C, W) or (C, W); pads < W.

        >>> nn.ReflectionPad1d(2)(fathom.ones(1, 2, 4)).shape
        fathom.Size([1, 2, 8])
    """

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims: (N, C, H, W) or (C, H, W); padding (left, right, top, bottom).

        >>> nn.ReflectionPad2d(1)(fathom.ones(1, 1, 3, 3)).shape
        fathom.Size([1, 1, 5, 5])
    """

    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirror the last three dims: (N, C, D, H, W) or (C, D, H, W).

        >>> nn.ReflectionPad3d(1)(fathom.ones(1, 1, 2, 2, 2)).shape
        fathom.Size([1, 1, 4, 4, 4])
    """

    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge of the last dim: (N, C, W) or (C, W).

        >>> nn.ReplicationPad1d((0, 3))(fathom.ones(1, 2, 4)).shape
        fathom.Size([1, 2, 7])
    """

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the edges of the last two dims: (N, C, H, W) or (C, H, W).

        >>> nn.ReplicationPad2d(1)(fathom.ones(1, 1, 3, 3)).shape
        fathom.Size([1, 1, 5, 5])
    """

    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeat the edges of the last three dims: (N, C, D, H, W) or (C, D, H, W).

        >>> nn.ReplicationPad3d(1)(fathom.ones(1, 1, 2, 2, 2)).shape
        fathom.Size([1, 1, 4, 4, 4])
    """

    _nd, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dim around: (N, C, W) or (C, W).

        >>> nn.CircularPad1d(1)(fathom.ones(1, 2, 4)).shape
        fathom.Size([1, 2, 6])
    """

    _nd, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wrap the last two dims around: (N, C, H, W) or (C, H, W).

        >>> nn.CircularPad2d(1)(fathom.ones(1, 1, 3, 3)).shape
        fathom.Size([1, 1, 5, 5])
    """

    _nd, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Wrap the last three dims around: (N, C, D, H, W) or (C, D, H, W).

        >>> nn.CircularPad3d(1)(fathom.ones(1, 1, 2, 2, 2)).shape
        fathom.Size([1, 1, 4, 4, 4])
    """

    _nd, _mode = 3, "circular"
