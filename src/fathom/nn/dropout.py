"""Dropout modules: random zeroing in training mode, the identity in eval mode.

The masks come from fathom's default generator, so `fathom.manual_seed` makes a run
repeatable (the numbers differ from PyTorch's for the same seed).
"""
from __future__ import annotations

from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    __constants__ = ["p", "inplace"]

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Training: zero each element with probability p, scale the rest by 1 / (1 - p), so
    the expected value is unchanged. Eval: the identity. Input (*) -> (*).

        >>> nn.Dropout(0.5).eval()(fathom.ones(3))
        tensor([1., 1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class _FeatureDropout(_DropoutNd):
    _fn = None

    def forward(self, input: Tensor) -> Tensor:
        try:
            return type(self)._fn(input, self.p, self.training, self.inplace)
        except ShapeError as e:
            raise self._renamed(e) from None


class Dropout1d(_FeatureDropout):
    """Zero whole channels (each (n, c) slice) with probability p; scale the rest by
    1 / (1 - p). Input (N, C, L) or (C, L)."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_FeatureDropout):
    """Zero whole channels with probability p; scale the rest by 1 / (1 - p).
    Input (N, C, H, W) (a 3-D input is taken as (N, C, L), with PyTorch's warning)."""

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_FeatureDropout):
    """Zero whole channels with probability p; scale the rest by 1 / (1 - p).
    Input (N, C, D, H, W) or (C, D, H, W)."""

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: dropped units take SELU's negative saturation value and
    an affine correction keeps zero mean and unit variance (Klambauer et al., 2017).

    As in PyTorch, `inplace` is stored (and shown) but the forward is out of place.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout on whole channels: input (N, C, *).

    As in PyTorch, `inplace` is stored (and shown) but the forward is out of place.
    """

    def forward(self, input: Tensor) -> Tensor:
        try:
            return F.feature_alpha_dropout(input, self.p, self.training)
        except ShapeError as e:
            raise self._renamed(e) from None
