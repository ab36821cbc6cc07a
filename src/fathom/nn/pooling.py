"""Pooling layers: max, average, power-average (LP) and adaptive, in 1-D and 2-D.

Arguments, defaults and repr as PyTorch's. Each forward calls one functional op;
AdaptiveMaxPool1d runs adaptive_max_pool2d over a height of 1 and LPPool is composed
as PyTorch composes it (fathom.nn.functional has neither). Absent: the 3-D pools,
MaxUnpool, FractionalMaxPool, Upsample and PixelShuffle (no functional op yet).
"""
from __future__ import annotations

from . import functional as F
from .conv import _ERRORS, _ntuple
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "LPPool1d", "LPPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows: (N, C, L) or (C, L) -> (N, C, L_out); with return_indices
    also each maximum's position in L (int64). Padding is -inf; stride defaults to
    kernel_size.

        >>> nn.MaxPool1d(2)(fathom.randn(1, 3, 8)).shape
        fathom.Size([1, 3, 4])
    """

    def forward(self, input):
        try:
            return F.max_pool1d(input, self.kernel_size, self.stride, self.padding,
                                self.dilation, ceil_mode=self.ceil_mode,
                                return_indices=self.return_indices)
        except _ERRORS as e:
            raise self._renamed(e) from None


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out) with
    H_out = floor((H + 2*padding - dilation*(k-1) - 1) / stride) + 1 (ceil with
    ceil_mode); with return_indices also the flat index h*W + w of each maximum (int64).

        >>> nn.MaxPool2d(2)(fathom.randn(1, 3, 8, 8)).shape
        fathom.Size([1, 3, 4, 4])
    """

    def forward(self, input):
        try:
            return F.max_pool2d(input, self.kernel_size, self.stride, self.padding,
                                self.dilation, ceil_mode=self.ceil_mode,
                                return_indices=self.return_indices)
        except _ERRORS as e:
            raise self._renamed(e) from None


class _AvgPoolNd(Module):
    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows: (N, C, L) or (C, L) -> (N, C, L_out). count_include_pad
    counts the zero padding in each window's divisor.

        >>> nn.AvgPool1d(2)(fathom.randn(1, 3, 8)).shape
        fathom.Size([1, 3, 4])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        try:
            return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                                self.ceil_mode, self.count_include_pad)
        except _ERRORS as e:
            raise self._renamed(e) from None


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding windows: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out).
    count_include_pad counts the zero padding in the divisor; divisor_override replaces it.

        >>> nn.AvgPool2d(2)(fathom.randn(1, 3, 8, 8)).shape
        fathom.Size([1, 3, 4, 4])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        try:
            return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                                self.ceil_mode, self.count_include_pad, self.divisor_override)
        except _ERRORS as e:
            raise self._renamed(e) from None


class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")

    def _lp_pool(self, input, nd):
        p = float(self.norm_type)
        try:
            if p in (float("inf"), -float("inf")):
                pool = F.max_pool1d if nd == 1 else F.max_pool2d
                x = input.abs()
                if p > 0:
                    return pool(x, self.kernel_size, self.stride, 0, 1, self.ceil_mode)
                return -pool(-x, self.kernel_size, self.stride, 0, 1, self.ceil_mode)
            # (sum of x^p over the window)^(1/p), as PyTorch: the window mean times the
            # kernel size; sign * relu(abs) zeroes the gradient where the sum is 0
            avg = F.avg_pool1d if nd == 1 else F.avg_pool2d
            out = avg(input.pow(p), self.kernel_size, self.stride, 0, self.ceil_mode)
            size = 1
            for k in _ntuple(self.kernel_size, nd):
                size *= k
            return (out.sign() * F.relu(out.abs()) * size).pow(1.0 / p)
        except _ERRORS as e:
            raise self._renamed(e) from None


class LPPool1d(_LPPoolNd):
    """Power-average pooling: (sum over the window of x^p)^(1/p). (N, C, L) or (C, L).

        >>> nn.LPPool1d(2, 3)(fathom.randn(1, 3, 9)).shape
        fathom.Size([1, 3, 3])
    """

    def forward(self, input):
        return self._lp_pool(input, 1)


class LPPool2d(_LPPoolNd):
    """Power-average pooling: (sum over the window of x^p)^(1/p). (N, C, H, W) or (C, H, W).

        >>> nn.LPPool2d(2, 2)(fathom.randn(1, 3, 8, 8)).shape
        fathom.Size([1, 3, 4, 4])
    """

    def forward(self, input):
        return self._lp_pool(input, 2)


class _AdaptivePoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max over L_out adaptive windows: (N, C, L) or (C, L) -> (N, C, L_out); with
    return_indices also each maximum's position (int64).

        >>> nn.AdaptiveMaxPool1d(3)(fathom.randn(1, 2, 10)).shape
        fathom.Size([1, 2, 3])
    """

    def forward(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"{self._describe()}: expected 2D or 3D input (got {input.ndim}D "
                             f"input), input shape {tuple(input.shape)}")
        size = self.output_size
        size = size[0] if isinstance(size, (list, tuple)) else size
        # a 1-D pool is a 2-D pool over a height of 1; the flat indices h*L + l are then l
        shape = tuple(input.shape)
        try:
            res = F.adaptive_max_pool2d(input.reshape(shape[:-1] + (1, shape[-1])), (1, size),
                                        self.return_indices)
        except _ERRORS as e:
            raise self._renamed(e) from None
        if self.return_indices:
            out, idx = res
            return out.reshape(shape[:-1] + (-1,)), idx.reshape(shape[:-1] + (-1,))
        return res.reshape(shape[:-1] + (-1,))


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max over adaptive windows: (N, C, H, W) or (C, H, W) -> (N, C, *output_size)
    (None in output_size keeps that input size); with return_indices also the flat
    index h*W + w of each maximum (int64).

        >>> nn.AdaptiveMaxPool2d((2, None))(fathom.randn(1, 2, 5, 7)).shape
        fathom.Size([1, 2, 2, 7])
    """

    def forward(self, input):
        try:
            return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)
        except _ERRORS as e:
            raise self._renamed(e) from None


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Mean over L_out adaptive windows: (N, C, L) or (C, L) -> (N, C, L_out).

        >>> nn.AdaptiveAvgPool1d(3)(fathom.randn(1, 2, 10)).shape
        fathom.Size([1, 2, 3])
    """

    def forward(self, input):
        try:
            return F.adaptive_avg_pool1d(input, self.output_size)
        except _ERRORS as e:
            raise self._renamed(e) from None


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Mean over adaptive windows: (N, C, H, W) or (C, H, W) -> (N, C, *output_size)
    (None in output_size keeps that input size).

        >>> nn.AdaptiveAvgPool2d(1)(fathom.randn(2, 8, 5, 5)).shape
        fathom.Size([2, 8, 1, 1])
    """

    def forward(self, input):
        try:
            return F.adaptive_avg_pool2d(input, self.output_size)
        except _ERRORS as e:
            raise self._renamed(e) from None
