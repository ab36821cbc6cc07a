"""Transformer layers: PyTorch's TransformerEncoderLayer, TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder and Transformer.

Same submodules (self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2,
...), so state dicts move between the two. PyTorch's inference fast paths give the same
numbers as its general path, with one visible difference that Fathom reproduces: in eval
mode without gradients, TransformerEncoder with a src_key_padding_mask (padding at the
end of each sequence) runs on nested tensors and returns zeros (before the final norm) at
the padded positions.
"""
from __future__ import annotations

import copy
import math
import warnings

from .. import backend
from ..autograd.grad_mode import is_grad_enabled
from ..creation import full
from ..errors import ShapeError, fmt_shape
from ..ops.elementwise import add, mul
from ..ops.shape import triu
from . import functional as F, init
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder",
           "TransformerEncoderLayer", "TransformerDecoderLayer"]


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    return triu(full((sz, sz), -math.inf, dtype=dtype, device=device), 1)


def _canonical(mask, name, other, other_name, dtype):
    """PyTorch's _canonical_mask: bool masks become 0 / -inf floats of `dtype`; a mask whose
    dtype differs from the other mask's draws PyTorch's deprecation warning."""
    if mask is None:
        return None
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use "
                      "same type for both instead.", stacklevel=4)
    return F._additive_mask(mask, name, dtype, name)


def _get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_seq_len(src, batch_first):
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """is_causal as given; when None, whether `mask` is exactly the causal float mask."""
    if is_causal is not None or mask is None:
        return is_causal is True
    sz = size if size is not None else mask.shape[-2]
    if tuple(mask.shape) != (sz, sz):
        return False
    xp = backend.namespace(mask.data)
    causal = xp.triu(xp.full((sz, sz), -math.inf), 1)
    return bool((mask.data == causal).all())


def _check_input(layer, x, name):
    E = layer.self_attn.embed_dim
    if x.ndim not in (2, 3) or x.shape[-1] != E:
        bf = layer.self_attn.batch_first
        raise ShapeError(f"{layer._describe()}: expected {name} of shape "
                         f"({'N, S' if bf else 'S, N'}, {E}) or (S, {E}), got shape "
                         f"{fmt_shape(x.shape)}")


def _layer_describe(layer):
    a = layer.self_attn
    return (f"{layer._get_name()}(d_model={a.embed_dim}, nhead={a.num_heads}, "
            f"batch_first={a.batch_first}, norm_first={layer.norm_first})")


class TransformerEncoderLayer(Module):
    """Self-attention and a feedforward network, each with a residual and a LayerNorm
    (Vaswani et al., 2017); norm_first=True normalizes before each block instead.

    Args: d_model, nhead, dim_feedforward=2048, dropout=0.1, activation ('relu', 'gelu'
    or a callable), layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
    device, dtype. Shapes: src (S, N, E), or (N, S, E) with batch_first, or (S, E) ->
    the same; src_mask (S, S) or (N * nhead, S, S), src_key_padding_mask (N, S): bool
    (True = may not attend) or float (added to the scores).

        >>> layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
        >>> layer(fathom.randn(2, 5, 16)).shape
        fathom.Size([2, 5, 16])
    """

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None) -> None:
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **fk)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        # PyTorch's flag for its fused kernel; kept for code that reads it
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_input(self, src, "src")
        dt = src.data.dtype
        src_key_padding_mask = _canonical(src_key_padding_mask, "src_key_padding_mask",
                                          src_mask, "src_mask", dt)
        src_mask = _canonical(src_mask, "src_mask", None, "", dt)
        x = src
        if self.norm_first:
            x = add(x, self._sa_block(self.norm1(x), src_mask, src_key_padding_mask,
                                      is_causal))
            return add(x, self._ff_block(self.norm2(x)))
        x = self.norm1(add(x, self._sa_block(x, src_mask, src_key_padding_mask, is_causal)))
        return self.norm2(add(x, self._ff_block(x)))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def _describe(self) -> str:
        return _layer_describe(self)


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (as `layers.0`, `layers.1`, ...), applied
    in turn, then the optional `norm`.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None): shapes as
    TransformerEncoderLayer. is_causal=None checks whether `mask` is the causal mask.
    enable_nested_tensor and mask_check: PyTorch's switches for its padded inference path,
    whose output (zeros at padded positions) Fathom reproduces.

        >>> layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
        >>> enc = nn.TransformerEncoder(layer, num_layers=2)
        >>> enc(fathom.randn(2, 5, 16)).shape
        fathom.Size([2, 5, 16])
    """

    __constants__ = ["norm"]

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_no_nested(encoder_layer)
        if enable_nested_tensor and why_not:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False "
                          f"because {why_not}", stacklevel=2)
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        dt = src.data.dtype
        src_key_padding_mask = _canonical(src_key_padding_mask, "src_key_padding_mask", mask,
                                          "mask", dt)
        mask = _canonical(mask, "mask", None, "", dt)
        first = self.layers[0]
        padded = None
        if self._nested_path(src, mask, src_key_padding_mask):
            # PyTorch drops the padded positions (nested tensors) and fills them with zeros
            # after the last layer; masking them as keys gives the other positions' values
            padded = src_key_padding_mask.data != 0
        batch_first = first.self_attn.batch_first
        is_causal = _detect_is_causal_mask(mask, is_causal, _get_seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal,
                         src_key_padding_mask=src_key_padding_mask)
        if padded is not None:
            output = mul(output, (~padded)[..., None].astype(dt))
        if self.norm is not None:
            output = self.norm(output)
        return output

    def _nested_path(self, src, mask, kpm):
        """Whether PyTorch would take its nested-tensor path here (eval, no gradients,
        batched, a padding mask with padding only at the end of each row, no attn mask)."""
        first = self.layers[0]
        if not getattr(self, "use_nested_tensor", False) or first.training or src.ndim != 3 \
                or kpm is None or mask is not None:
            return False
        if is_grad_enabled() and (src.requires_grad or any(
                p.requires_grad for p in first.parameters())):
            return False
        keep = kpm.data == 0
        # left-aligned: once a row is padded it stays padded
        return bool((keep[:, 1:] <= keep[:, :-1]).all())


def _why_no_nested(layer):
    """PyTorch's reasons (in its words) for not using nested tensors with this layer."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    if layer.norm_first:
        return f"{name}.norm_first was True"
    if not layer.self_attn.batch_first:
        return (f"{name}.self_attn.batch_first was not True(use batch_first for better "
                "inference performance)")
    if not layer.self_attn._qkv_same_embed_dim:
        return f"{name}.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return f"{name}.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return f"{name}.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return f"{name}.norm1.eps was not equal to {name}.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return f"{name}.self_attn.num_heads is odd"
    return ""


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's output (memory) and a feedforward
    network, each with a residual and a LayerNorm (norm_first: normalize before).

    Args as TransformerEncoderLayer. forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
    memory_is_causal=False). Shapes: tgt (T, N, E), memory (S, N, E) (batch first with
    batch_first=True); tgt_mask (T, T), memory_mask (T, S).

        >>> layer = nn.TransformerDecoderLayer(16, 4, 32, batch_first=True)
        >>> layer(fathom.randn(2, 5, 16), fathom.randn(2, 7, 16)).shape
        fathom.Size([2, 5, 16])
    """

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None) -> None:
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, **fk)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias, **fk)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation) if isinstance(activation, str) \
            else activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        _check_input(self, tgt, "tgt")
        x = tgt
        if self.norm_first:
            x = add(x, self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                      tgt_is_causal))
            x = add(x, self._mha_block(self.norm2(x), memory, memory_mask,
                                       memory_key_padding_mask, memory_is_causal))
            return add(x, self._ff_block(self.norm3(x)))
        x = self.norm1(add(x, self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                             tgt_is_causal)))
        x = self.norm2(add(x, self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                              memory_is_causal)))
        return self.norm3(add(x, self._ff_block(x)))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)

    def _describe(self) -> str:
        return _layer_describe(self)


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer (`layers.0`, ...), then the optional norm.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False).

        >>> layer = nn.TransformerDecoderLayer(16, 4, 32)
        >>> nn.TransformerDecoder(layer, 2)(fathom.randn(5, 2, 16), fathom.randn(7, 2, 16)).shape
        fathom.Size([5, 2, 16])
    """

    __constants__ = ["norm"]

    def __init__(self, decoder_layer, num_layers, norm=None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        output = tgt
        seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer of Vaswani et al. (2017): `encoder`
    (TransformerEncoder with a final LayerNorm) and `decoder` (TransformerDecoder, same).

    Args: d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation=relu, custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
    bias=True, device, dtype. Every weight matrix starts xavier-uniform, as PyTorch.
    forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    tgt_key_padding_mask, memory_key_padding_mask, src_is_causal, tgt_is_causal,
    memory_is_causal): src (S, N, E), tgt (T, N, E) -> (T, N, E).

        >>> model = nn.Transformer(16, 4, 1, 1, 32)
        >>> model(fathom.randn(7, 2, 16), fathom.randn(5, 2, 16)).shape
        fathom.Size([5, 2, 16])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None) -> None:
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                            activation, layer_norm_eps, batch_first,
                                            norm_first, bias, **fk)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout,
                                            activation, layer_norm_eps, batch_first,
                                            norm_first, bias, **fk)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        b = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[b] != tgt.shape[b]):
            raise ShapeError(f"{self._describe()}: the batch number of src and tgt must be "
                             f"equal; got src {fmt_shape(src.shape)} and tgt "
                             f"{fmt_shape(tgt.shape)} (batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(f"{self._describe()}: the feature number of src and tgt must be "
                             f"equal to d_model={self.d_model}; got src {fmt_shape(src.shape)} "
                             f"and tgt {fmt_shape(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: -inf above the diagonal (the future), 0 elsewhere."""
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def _describe(self) -> str:
        return f"Transformer(d_model={self.d_model}, nhead={self.nhead})"
