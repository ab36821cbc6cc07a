"""Normalization layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm,
RMSNorm and LocalResponseNorm.

Parameters, buffers (running_mean, running_var, num_batches_tracked), their
state-dict keys and the train/eval rules are PyTorch's: in training the batch
statistics normalize and update the running ones (momentum=None: a cumulative
average); in eval the running ones normalize, or the batch ones when
track_running_stats=False (then the buffers are None and not in the state dict).
"""
from __future__ import annotations

import numbers
import warnings

from ..autograd.grad_mode import no_grad
from ..creation import empty, ones, tensor, zeros
from ..dtypes import int64
from . import functional as F, init
from .conv import _ERRORS
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]


def _dims_error(layer, input, allowed):
    a, b = allowed
    return ValueError(f"{layer._describe()}: expected {a}D or {b}D input (got {input.ndim}D "
                      f"input), input shape {tuple(input.shape)}")


def _affine(layer, shape, affine, bias, dtype, device):
    """Register weight and bias of `shape` (bias only if `bias`), or None when not affine,
    in PyTorch's order."""
    layer.register_parameter("weight", Parameter(empty(shape, dtype=dtype, device=device))
                             if affine else None)
    layer.register_parameter("bias", Parameter(empty(shape, dtype=dtype, device=device))
                             if affine and bias else None)


def _reset_affine(layer):
    """PyTorch's default: weight 1, bias 0."""
    if layer.weight is not None:
        init.ones_(layer.weight)
    if layer.bias is not None:
        init.zeros_(layer.bias)


class _NormBase(Module):
    """Affine parameters (weight 1, bias 0) and running statistics, shared by BatchNorm and
    InstanceNorm. `_dims` is the (unbatched, batched) input ndim."""

    _version = 2
    _dims = (2, 3)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine(self, num_features, affine, bias, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input):
        if input.ndim not in self._dims:
            raise _dims_error(self, input, self._dims)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        training, momentum = self.training, self.momentum
        mean, var = self.running_mean, self.running_var
        factor = 0.0 if momentum is None else momentum
        if training and self.track_running_stats:
            nbt = self.num_batches_tracked
            if nbt is not None:
                # a buffer update outside the graph; add_ under no_grad costs ~8x more
                F._update_running(nbt, nbt.data + 1)
                if momentum is None:  # cumulative moving average
                    factor = 1.0 / float(nbt.item())
        # eval without running statistics normalizes with the batch's own
        use_batch = training or (mean is None and var is None)
        if training and not self.track_running_stats:
            mean = var = None
        try:
            return F.batch_norm(input, mean, var, self.weight, self.bias, use_batch, factor,
                                self.eps)
        except _ERRORS as e:
            raise self._renamed(e) from None


class BatchNorm1d(_BatchNorm):
    """Normalize each channel over the batch: (N, C) or (N, C, L), same shape out.

    y = (x - mean) / sqrt(var + eps) * weight + bias; running statistics updated in
    training as r <- (1 - momentum) r + momentum * stat (unbiased variance).

        >>> nn.BatchNorm1d(4)(fathom.randn(8, 4)).shape
        fathom.Size([8, 4])
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalize each channel over (N, H, W): input (N, C, H, W), same shape out.

        >>> nn.BatchNorm2d(3)(fathom.randn(2, 3, 4, 4)).shape
        fathom.Size([2, 3, 4, 4])
    """

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"{self._describe()}: expected 4D input (got {input.ndim}D "
                             f"input), input shape {tuple(input.shape)}")


class BatchNorm3d(_BatchNorm):
    """Normalize each channel over (N, D, H, W): input (N, C, D, H, W), same shape out.

        >>> nn.BatchNorm3d(3)(fathom.randn(2, 3, 2, 2, 2)).shape
        fathom.Size([2, 3, 2, 2, 2])
    """

    def _check_input_dim(self, input):
        if input.ndim != 5:
            raise ValueError(f"{self._describe()}: expected 5D input (got {input.ndim}D "
                             f"input), input shape {tuple(input.shape)}")


class _InstanceNorm(_NormBase):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.ndim == self._dims[0]
        C = input.shape[0 if unbatched else 1]
        if C != self.num_features:
            if self.affine:
                raise ValueError(f"{self._describe()}: expected input's size at "
                                 f"dim={0 if unbatched else 1} to match num_features "
                                 f"({self.num_features}), but got: {C} (input shape "
                                 f"{tuple(input.shape)})")
            warnings.warn(f"input's size at dim={0 if unbatched else 1} does not match "
                          "num_features. You can silence this warning by not passing in "
                          "num_features, which is not used because affine=False", stacklevel=2)
        x = input.unsqueeze(0) if unbatched else input
        try:
            out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                  self.training or not self.track_running_stats,
                                  self.momentum if self.momentum is not None else 0.0, self.eps)
        except _ERRORS as e:
            raise self._renamed(e) from None
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Normalize each (sample, channel) over L: (N, C, L) or (C, L), same shape out.
    Defaults differ from BatchNorm: affine=False, track_running_stats=False.

        >>> nn.InstanceNorm1d(3)(fathom.randn(2, 3, 5)).shape
        fathom.Size([2, 3, 5])
    """

    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Normalize each (sample, channel) over (H, W): (N, C, H, W) or (C, H, W).

        >>> nn.InstanceNorm2d(3)(fathom.randn(2, 3, 4, 4)).shape
        fathom.Size([2, 3, 4, 4])
    """

    _dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Normalize each (sample, channel) over (D, H, W): (N, C, D, H, W) or (C, D, H, W).

        >>> nn.InstanceNorm3d(3)(fathom.randn(2, 3, 2, 2, 2)).shape
        fathom.Size([2, 3, 2, 2, 2])
    """

    _dims = (4, 5)


def _as_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(Module):
    """Normalize over the last len(normalized_shape) dims: input (*, *normalized_shape).

    weight (ones) and bias (zeros) have shape normalized_shape (elementwise_affine).

        >>> nn.LayerNorm(8)(fathom.randn(2, 5, 8)).shape
        fathom.Size([2, 5, 8])
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine(self, self.normalized_shape, elementwise_affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        try:
            return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)
        except _ERRORS as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalize over groups of num_channels/num_groups channels (and all spatial dims):
    input (N, C, *), same shape out; per-channel weight and bias.

        >>> nn.GroupNorm(2, 4)(fathom.randn(3, 4, 5)).shape
        fathom.Size([3, 4, 5])
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine(self, num_channels, affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        try:
            return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)
        except _ERRORS as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) over the last len(normalized_shape) dims, times weight.
    eps=None uses the input dtype's machine epsilon.

        >>> nn.RMSNorm(8)(fathom.randn(2, 8)).shape
        fathom.Size([2, 8])
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        try:
            return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)
        except _ERRORS as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Normalize each value by its neighbours across channels (AlexNet):
    y = x / (k + alpha/size * sum of x^2 over `size` neighbouring channels)^beta.
    Input (N, C, *), same shape out; composed from pad and avg_pool2d as PyTorch's.

        >>> nn.LocalResponseNorm(3)(fathom.randn(2, 5, 4, 4)).shape
        fathom.Size([2, 5, 4, 4])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        if input.ndim < 3:
            raise ValueError(f"{self._describe()}: expected 3D or higher dimensionality input "
                             f"(got {input.ndim} dimensions), input shape {tuple(input.shape)}")
        if input.numel() == 0:
            return input
        shape = tuple(input.shape)
        # channels become the height of a one-channel image, everything after them its
        # width; a (size, 1) window average then sums over neighbouring channels
        sq = (input * input).reshape(shape[0], 1, shape[1], -1)
        sq = F.pad(sq, (0, 0, self.size // 2, (self.size - 1) // 2))
        div = F.avg_pool2d(sq, (self.size, 1), stride=1).reshape(shape)
        return input / (div * self.alpha + self.k).pow(self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
