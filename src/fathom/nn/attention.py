"""MultiheadAttention: PyTorch's layer, parameters and forward.

The math is `F.multi_head_attention_forward` (composed from linear, batched matmul and
softmax). PyTorch's inference fast path (`_native_multi_head_attention`) computes the
same numbers, so Fathom has one path.
"""
from __future__ import annotations

from ..creation import empty
from ..ops.elementwise import add
from ..ops.shape import expand, reshape
from . import functional as F, init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under another name: PyTorch's type for MultiheadAttention.out_proj (its
    quantization tools treat it apart); same parameters, same repr."""


class MultiheadAttention(Module):
    """Attention over num_heads subspaces of the embedding (Vaswani et al., 2017).

    Args: embed_dim, num_heads (embed_dim must divide by it), dropout (on the attention
    weights, in training), bias (in and out projections), add_bias_kv (learned key and
    value appended to the sequence), add_zero_attn (a zero key and value appended), kdim
    and vdim (key and value feature sizes; default embed_dim), batch_first, device, dtype.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None).
    Shapes: query (L, N, E) (or (N, L, E) with batch_first, or (L, E) unbatched), key
    (S, N, kdim), value (S, N, vdim) -> output like query; weights (N, L, S), or
    (N, num_heads, L, S) with average_attn_weights=False. key_padding_mask (N, S) and
    attn_mask (L, S) or (N * num_heads, L, S): bool (True = may not attend) or float
    (added to the scores).

        >>> mha = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = fathom.randn(3, 5, 8)
        >>> [t.shape for t in mha(x, x, x)]
        [fathom.Size([3, 5, 8]), fathom.Size([3, 5, 5])]
    """

    __constants__ = ["batch_first"]

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads; "
                             f"got embed_dim={embed_dim} and num_heads={num_heads}")
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **fk))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **fk))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **fk))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **fk))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **fk))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **fk))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        return F._mha(query, key, value, self.num_heads, self.in_proj_weight,
                      self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn,
                      self.dropout, self.out_proj.weight, self.out_proj.bias, self.training,
                      key_padding_mask, need_weights, attn_mask, self.q_proj_weight,
                      self.k_proj_weight, self.v_proj_weight, None, None,
                      average_attn_weights, is_causal, self.batch_first, self)

    def merge_masks(self, attn_mask, key_padding_mask, query):
        """PyTorch's helper for its fused kernels: one mask and its type (None, 1 for the
        padding mask alone, 2 for attn_mask, (N, num_heads, L, L), plus any padding mask).
        query is (N, L, E)."""
        if attn_mask is None:
            return key_padding_mask, None if key_padding_mask is None else 1
        n, L = query.shape[0], query.shape[1]
        if attn_mask.ndim == 3:
            merged = reshape(attn_mask, (n, -1, L, L))
        else:
            merged = expand(reshape(attn_mask, (1, 1, L, L)), (n, self.num_heads, L, L))
        if key_padding_mask is not None:
            kpm = expand(reshape(key_padding_mask, (n, 1, 1, L)), (n, self.num_heads, 1, L))
            merged = add(merged, kpm)
        return merged, 2

    def _describe(self) -> str:
        # PyTorch's repr shows no arguments; error messages should
        extra = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}"
                f"{extra}, batch_first={self.batch_first})")
