"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.

Same constructor signatures, parameter shapes, default initialization and repr as
PyTorch's. Forward calls the fused functional op directly (`F.conv2d` is one
im2col + GEMM); non-zero padding modes pad first with `F.pad`, as PyTorch does.
Conv3d and ConvTranspose3d are absent: fathom.nn.functional has no conv3d.
"""
from __future__ import annotations

import math

from ..creation import empty
from ..errors import DTypeError, ShapeError, fmt_shape
from . import functional as F, init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# what a layer re-raises with its own name in front (ShapeError is a ValueError)
_ERRORS = (ValueError, DTypeError)


def _ntuple(value, n):
    """PyTorch's _single/_pair: a sequence as a tuple, anything else repeated n times."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """The shared constructor, initialization and repr of the conv layers."""

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer (got groups={groups!r})")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups (got "
                             f"in_channels={in_channels}, groups={groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups (got "
                             f"out_channels={out_channels}, groups={groups})")
        kernel_size, stride, dilation = (_ntuple(v, nd) for v in (kernel_size, stride, dilation))
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: Invalid padding string {padding!r}, should be one of "
                                 f"{{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (got stride={stride})")
        else:
            padding = _ntuple(padding, nd)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {set(_PADDING_MODES)}, but "
                             f"got padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's argument for the non-zero padding modes: last dim first, (left, right)
        if padding == "same":
            pads = []
            for d, k in zip(reversed(dilation), reversed(kernel_size)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
        elif padding == "valid":
            pads = [0, 0] * nd
        else:
            pads = [p for p in reversed(padding) for _ in range(2)]
        self._reversed_padding_repeated_twice = pads
        shape = (in_channels, out_channels // groups) if transposed else \
            (out_channels, in_channels // groups)
        self.weight = Parameter(empty(shape + kernel_size, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)),
        and bias U(+-1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d and Conv2d: the public constructor and the forward (`_conv` is the op)."""

    _conv = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        try:
            padding = self.padding
            if self.padding_mode != "zeros":  # pad first, as PyTorch does
                input, padding = F.pad(input, self._reversed_padding_repeated_twice,
                                       self.padding_mode), 0
            return self._conv(input, self.weight, self.bias, self.stride, padding,
                              self.dilation, self.groups)
        except _ERRORS as e:
            raise self._renamed(e) from None


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L) -> (N, C_out, L_out).

    weight (out_channels, in_channels/groups, k), bias (out_channels,).

        >>> nn.Conv1d(4, 8, 3, padding=1)(fathom.randn(2, 4, 10)).shape
        fathom.Size([2, 8, 10])
    """

    _nd = 1
    _conv = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out).

    weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,);
    H_out = (H + 2*padding - dilation*(kh-1) - 1) // stride + 1. padding may be
    'same' or 'valid'; padding_mode 'zeros', 'reflect', 'replicate' or 'circular'.

        >>> nn.Conv2d(1, 6, 5)(fathom.randn(2, 1, 28, 28)).shape
        fathom.Size([2, 6, 24, 24])
    """

    _nd = 2
    _conv = staticmethod(F.conv2d)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         transposed, output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """output_padding, or the one that makes the output `output_size` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        batched = input.ndim == nd + 2
        lead = 2 if batched else 1
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) == lead + nd:
            output_size = output_size[lead:]
        if len(output_size) != nd:
            raise ValueError(f"{self._describe()}: for {input.ndim}D input, output_size must "
                             f"have {nd} or {lead + nd} elements (got {len(output_size)})")
        spatial = tuple(input.shape)[lead:]
        lo = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
              zip(spatial, self.stride, self.padding, self.dilation, self.kernel_size)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= o <= b for o, a, b in zip(output_size, lo, hi)):
            raise ValueError(f"{self._describe()}: requested an output size of "
                             f"{list(output_size)}, but valid sizes range from {lo} to {hi} "
                             f"(for an input of shape {fmt_shape(input.shape)})")
        return tuple(o - m for o, m in zip(output_size, lo))

    def _forward(self, fn, input, output_size):
        try:
            output_padding = self._output_padding(input, output_size)
            return fn(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                      self.groups, self.dilation)
        except (ShapeError, DTypeError) as e:
            raise self._renamed(e) from None


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution: (N, C_in, L) or (C_in, L) -> (N, C_out, L_out) with
    L_out = (L-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1.

    weight (in_channels, out_channels/groups, k). `forward(input, output_size)` picks
    the output_padding that gives `output_size`.

        >>> nn.ConvTranspose1d(4, 2, 3, stride=2)(fathom.randn(1, 4, 5)).shape
        fathom.Size([1, 2, 11])
    """

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype)

    def forward(self, input, output_size=None):
        return self._forward(F.conv_transpose1d, input, output_size)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out)
    with H_out = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.

    weight (in_channels, out_channels/groups, kh, kw). `forward(input, output_size)`
    picks the output_padding that gives `output_size`.

        >>> nn.ConvTranspose2d(4, 2, 3, stride=2)(fathom.randn(1, 4, 5, 5)).shape
        fathom.Size([1, 2, 11, 11])
    """

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype)

    def forward(self, input, output_size=None):
        return self._forward(F.conv_transpose2d, input, output_size)
