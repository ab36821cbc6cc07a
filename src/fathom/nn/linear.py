"""Linear maps, reshapes and lookups: Identity, Linear, Bilinear, Flatten, Unflatten,
Embedding, EmbeddingBag.

Each layer holds PyTorch's parameters (same names, shapes, initialization) and calls
nn.functional; errors name the layer, what it expected and what it got.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd.grad_mode import no_grad
from ..creation import empty, tensor
from ..errors import DTypeError, ShapeError, fmt_shape
from ..tensor import Tensor
from . import functional as F, init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten", "Embedding",
           "EmbeddingBag"]


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored (as PyTorch).

        >>> nn.Identity(54, unused="x")(fathom.ones(2)).shape
        fathom.Size([2])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b.

    Args: in_features, out_features, bias (learn b; default True), device, dtype.
    Shapes: input (*, in_features) -> (*, out_features); weight (out_features,
    in_features) and bias (out_features,), both U(-1/sqrt(in_features), 1/sqrt(in_features))
    at init, as PyTorch.

        >>> nn.Linear(4, 2)(fathom.ones(3, 4)).shape
        fathom.Size([3, 2])
    """

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a=sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's choice)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        try:
            return F.linear(input, self.weight, self.bias)
        except ShapeError:
            if input.ndim == 0 or input.shape[-1] != self.in_features:
                raise ShapeError(f"{self._describe()}: expected input with last dimension "
                                 f"{self.in_features}, got shape {fmt_shape(input.shape)}") \
                    from None
            raise
        except DTypeError as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y = x1^T A x2 + b.

    Args: in1_features, in2_features, out_features, bias, device, dtype.
    Shapes: input1 (*, in1_features), input2 (*, in2_features) with the same leading dims
    -> (*, out_features); weight (out_features, in1_features, in2_features), bias
    (out_features,), both U(-1/sqrt(in1_features), 1/sqrt(in1_features)) at init.

        >>> nn.Bilinear(3, 4, 2)(fathom.ones(5, 3), fathom.ones(5, 4)).shape
        fathom.Size([5, 2])
    """

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features), device=device,
                                      dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features="
                             f"{self.in1_features})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        try:
            return F.bilinear(input1, input2, self.weight, self.bias)
        except ShapeError:
            raise ShapeError(f"{self._describe()}: expected input1 (*, {self.in1_features}) and "
                             f"input2 (*, {self.in2_features}) with the same leading dims, got "
                             f"input1 {fmt_shape(input1.shape)} and input2 "
                             f"{fmt_shape(input2.shape)}") from None

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.

        >>> nn.Flatten()(fathom.ones(2, 3, 4)).shape
        fathom.Size([2, 12])
    """

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim `dim` into `unflattened_size`: (N, 12) -> (N, 3, 4) for Unflatten(1, (3, 4)).

        >>> nn.Unflatten(1, (3, 4))(fathom.ones(2, 12)).shape
        fathom.Size([2, 3, 4])
    """

    __constants__ = ["dim", "unflattened_size"]

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, size in enumerate(unflattened_size):
            if not isinstance(size, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of "
                                f"type {type(size).__name__} at pos {i}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def _check_padding_idx(padding_idx, num_embeddings):
    """padding_idx in [-num_embeddings, num_embeddings), made non-negative (or None)."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Padding_idx must be within num_embeddings: got padding_idx="
                         f"{padding_idx} for num_embeddings={num_embeddings}")
    return padding_idx % num_embeddings


def _no_sparse(name, sparse):
    if sparse:
        raise NotImplementedError(f"{name}: sparse=True (sparse gradients) is not supported: "
                                  "Fathom has no sparse tensors. Use sparse=False; the weight "
                                  "gets a dense gradient.")


def _bad_index_error(module, input):
    """The IndexError for indices outside [0, num_embeddings), naming the first bad one."""
    idx = input.data
    V = module.num_embeddings
    bad = int(idx[(idx < 0) | (idx >= V)].reshape(-1)[0])
    return IndexError(f"{module._describe()}: index {bad} is out of range for num_embeddings="
                      f"{V} (expected 0 <= index < {V}); got input of shape "
                      f"{fmt_shape(input.shape)}")


class Embedding(Module):
    """A lookup table: integer indices (*) -> rows of weight, (*, embedding_dim).

    Args: num_embeddings, embedding_dim; padding_idx (that row starts at zero and gets
    no gradient); max_norm (rows looked up are renormalized in place to p-norm
    <= max_norm, p = norm_type); scale_grad_by_freq (divide each row's gradient by its
    count in the batch); sparse (only False: Fathom has no sparse tensors); _weight (use
    this tensor as the weight); _freeze (weight does not require grad).
    weight (num_embeddings, embedding_dim) ~ N(0, 1) at init, as PyTorch.

        >>> nn.Embedding(10, 3)(fathom.tensor([[1, 2], [4, 9]])).shape
        fathom.Size([2, 2, 3])
    """

    __constants__ = ["num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                     "scale_grad_by_freq", "sparse"]

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        _no_sparse("Embedding", sparse)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _check_padding_idx(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), device=device,
                                          dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"Embedding: shape of weight does not match num_embeddings and "
                                 f"embedding_dim: expected ({num_embeddings}, {embedding_dim}), "
                                 f"got {fmt_shape(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        self.sparse = sparse

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        try:
            return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                               self.norm_type, self.scale_grad_by_freq)
        except IndexError:
            raise _bad_index_error(self, input) from None
        except DTypeError as e:
            raise self._renamed(e) from None

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is `embeddings` (num_embeddings, embedding_dim), sharing
        its memory; freeze=True keeps it out of training (requires_grad=False)."""
        if embeddings.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape "
                             f"{fmt_shape(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)


_BAG_MODES = ("sum", "mean", "max")


class EmbeddingBag(Module):
    """Sums, averages or maxes the embeddings of each bag of indices.

    Composed from F.embedding (one row per index) and a per-bag sum (index_add), mean
    or max (amax over the bag, padded with -inf); nn.functional has no embedding_bag.

    input (B, L) with offsets=None: B bags of L indices each. input (n,) with offsets
    (B,): bag b is input[offsets[b]:offsets[b + 1]] (include_last_offset: offsets has
    B + 1 entries, the last one the end). per_sample_weights (input's shape) scales each
    embedding, mode='sum' only. Indices equal to padding_idx are left out of their bag
    (and of the mean's count); an empty bag gives zeros. -> (B, embedding_dim).

        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(fathom.tensor([1, 2, 4, 5, 4]), fathom.tensor([0, 2])).shape
        fathom.Size([2, 3])
    """

    __constants__ = ["num_embeddings", "embedding_dim", "max_norm", "norm_type",
                     "scale_grad_by_freq", "mode", "sparse", "include_last_offset",
                     "padding_idx"]

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Tensor | None = None,
                 include_last_offset: bool = False, padding_idx: int | None = None,
                 device=None, dtype=None) -> None:
        super().__init__()
        _no_sparse("EmbeddingBag", sparse)
        if mode not in _BAG_MODES:
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _check_padding_idx(padding_idx, num_embeddings)
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), device=device,
                                          dtype=dtype))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"EmbeddingBag: shape of weight does not match num_embeddings "
                                 f"and embedding_dim: expected ({num_embeddings}, "
                                 f"{embedding_dim}), got {fmt_shape(_weight.shape)}")
            self.weight = Parameter(_weight)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def _bags(self, input, offsets):
        """(flat indices (n,), bag of each index (n,), number of bags B) as raw arrays."""
        xp = backend.namespace(input.data)
        if input.ndim == 2:
            if offsets is not None:
                raise ValueError(f"{self._describe()}: offsets must be None when input is 2-D "
                                 f"(B, L), got input {fmt_shape(input.shape)} and offsets "
                                 f"{fmt_shape(offsets.shape)}")
            B, L = input.shape
            return input.data.reshape(-1), xp.repeat(xp.arange(B), L), B
        if input.ndim != 1 or offsets is None or offsets.ndim != 1:
            raise ShapeError(f"{self._describe()}: expected input (B, L), or input (n,) with "
                             f"offsets (B,); got input {fmt_shape(input.shape)} and offsets "
                             f"{None if offsets is None else fmt_shape(offsets.shape)}")
        off = offsets.data.astype(xp.int64)
        n = input.shape[0]
        if off.size and (int(off[0]) != 0 or bool((xp.diff(off) < 0).any()) or
                         int(off[-1]) > n):
            raise ValueError(f"{self._describe()}: offsets must start at 0, be non-decreasing "
                             f"and not exceed the input's length {n}; got offsets "
                             f"{off.tolist()}")
        if self.include_last_offset and off.size == 0:
            raise ValueError(f"{self._describe()}: with include_last_offset=True, offsets must "
                             "hold at least one entry")
        B = off.size - 1 if self.include_last_offset else off.size
        # bag of position i: the number of offsets at or before i, minus one (bag B, past the
        # last offset with include_last_offset, is in no bag)
        bag = xp.searchsorted(off, xp.arange(n), side="right") - 1
        return input.data, bag, B

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        idx, bag, B = self._bags(input, offsets)
        xp = backend.namespace(idx)
        if per_sample_weights is not None:
            if self.mode != "sum":
                raise NotImplementedError(f"{self._describe()}: per_sample_weights is only "
                                          f"supported for mode='sum', got mode={self.mode!r}")
            if tuple(per_sample_weights.shape) != tuple(input.shape):
                raise ShapeError(f"{self._describe()}: per_sample_weights must have the input's "
                                 f"shape {fmt_shape(input.shape)}, got "
                                 f"{fmt_shape(per_sample_weights.shape)}")
        keep = (bag >= 0) & (bag < B)
        if self.padding_idx is not None:
            keep &= idx != self.padding_idx
        dev = backend.device_of(idx)
        try:
            emb = F.embedding(tensor(idx[keep], device=dev), self.weight, None, self.max_norm,
                              self.norm_type, self.scale_grad_by_freq)
        except IndexError:
            raise _bad_index_error(self, input) from None
        bag = bag[keep]
        if per_sample_weights is not None:
            picked = tensor(xp.nonzero(keep)[0], device=dev)
            emb = emb * per_sample_weights.reshape(-1)[picked].unsqueeze(-1)
        counts = xp.bincount(bag, minlength=B)
        if self.mode == "max":
            return self._bag_max(emb, bag, counts, B, dev)
        out = emb.new_zeros((B, self.embedding_dim)).index_add(0, tensor(bag, device=dev), emb)
        if self.mode == "mean":
            out = out / tensor(xp.maximum(counts, 1)[:, None].astype(out.data.dtype), device=dev)
        return out

    @staticmethod
    def _bag_max(emb, bag, counts, B, dev):
        """Max over each bag: gather into (B, longest bag, D), padding with -inf, then amax."""
        xp = backend.namespace(bag)
        n = bag.shape[0]
        starts = xp.cumsum(counts) - counts
        pos = xp.arange(n) - starts[bag]  # position of each entry inside its bag
        slot = xp.full((B, max(int(counts.max()) if B else 0, 1)), n)  # n: the -inf row
        slot[bag, pos] = xp.arange(n)
        padded = F.pad(emb, (0, 0, 0, 1), value=-math.inf)
        out = padded[tensor(slot, device=dev)].amax(1)
        return out.masked_fill(tensor((counts == 0)[:, None], device=dev), 0.0)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is `embeddings`; freeze=True: requires_grad=False."""
        if embeddings.ndim != 2:
            raise ShapeError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                             f"{fmt_shape(embeddings.shape)}")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
