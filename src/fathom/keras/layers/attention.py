"""Keras's MultiHeadAttention, composed from fathom.nn.functional (linear, softmax,
dropout) and matmul: no attention math of its own."""
from __future__ import annotations

import math

from ...nn import functional as F
from .. import initializers
from .base import Layer, batch_shape
from .core import known_dim

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(Layer):
    """Attention with `num_heads` heads: query (N, Tq, dq), value (N, Tv, dv), key (N, Tv,
    dk; default value) -> (N, Tq, output_shape or dq); with return_attention_scores also
    the scores (N, heads, Tq, Tv).

    Keras weights, in order: query kernel (dq, heads, key_dim) and bias (heads, key_dim),
    key kernel (dk, heads, key_dim) and bias, value kernel (dv, heads, value_dim) and bias,
    output kernel (heads, value_dim, out) and bias (out,); stored as Linear weights
    (`query_weight` (heads * key_dim, dq), ...). attention_mask (N, Tq, Tv) is True where
    a query may attend; use_causal_mask adds the causal mask. query_mask, value_mask and
    key_mask (Keras's implicit masks) are not supported; attention_axes must be None.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, **kwargs):
        super().__init__(**kwargs)
        if attention_axes is not None:
            raise NotImplementedError("MultiHeadAttention: attention_axes is not supported")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), use_bias, seed
        self.output_shape_arg = output_shape
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _build_for(self, args, kwargs):
        query = args[0] if args else kwargs["query"]
        value = args[1] if len(args) > 1 else kwargs["value"]
        key = args[2] if len(args) > 2 else kwargs.get("key")
        self.build(batch_shape(query), batch_shape(value),
                   None if key is None else batch_shape(key))

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        h = self.num_heads
        out = self.output_shape_arg or known_dim(self, query_shape)
        out = out if isinstance(out, int) else int(out[-1])
        for name, shape, dim in (("query", query_shape, self.key_dim),
                                 ("key", key_shape, self.key_dim),
                                 ("value", value_shape, self.value_dim)):
            d = known_dim(self, shape)
            self._add_weight(f"{name}_kernel", (d, h, dim), _fans_of(self.kernel_initializer,
                                                                     (d, h * dim)),
                            attr=f"{name}_weight", layout=_proj(d, h, dim))
            if self.use_bias:
                self._add_weight(f"{name}_bias", (h, dim), self.bias_initializer,
                                attr=f"{name}_bias", layout=_flat_bias(h, dim))
        self._add_weight("output_kernel", (h, self.value_dim, out),
                        _fans_of(self.kernel_initializer, (h * self.value_dim, out)),
                        attr="output_weight", layout=_out_proj(h, self.value_dim, out))
        if self.use_bias:
            self._add_weight("output_bias", (out,), self.bias_initializer)

    def _heads(self, x, name, dim):
        """(N, T, d) -> (N, heads, T, dim) through the `name` projection."""
        y = F.linear(x, getattr(self, f"{name}_weight"),
                     getattr(self, f"{name}_bias") if self.use_bias else None)
        return y.reshape(x.shape[0], x.shape[1], self.num_heads, dim).transpose(1, 2)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if query_mask is not None or value_mask is not None or key_mask is not None:
            raise NotImplementedError("MultiHeadAttention: query_mask/value_mask/key_mask are "
                                      "not supported; pass attention_mask")
        key = value if key is None else key
        q = self._heads(query, "query", self.key_dim)
        k = self._heads(key, "key", self.key_dim)
        v = self._heads(value, "value", self.value_dim)
        scores = (q * (1.0 / math.sqrt(self.key_dim))) @ k.transpose(-1, -2)
        mask = None if attention_mask is None else attention_mask.bool().unsqueeze(1)
        if use_causal_mask:
            causal = scores.new_ones(scores.shape[-2:]).tril().bool()
            mask = causal if mask is None else mask & causal
        if mask is not None:
            # Keras adds a large negative number: a fully masked row attends uniformly
            scores = scores.masked_fill(~mask, -1e9)
        probs = F.softmax(scores, -1)
        attended = F.dropout(probs, self.dropout, self._mode(training)) @ v
        merged = attended.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)
        out = F.linear(merged, self.output_weight, self.output_bias if self.use_bias else None)
        return (out, probs) if return_attention_scores else out

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout,
                "use_bias": self.use_bias, "output_shape": self.output_shape_arg,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "seed": self.seed}


class _Matrix(initializers.Initializer):
    """Draw a variance-scaling kernel as the (inputs, outputs) matrix it acts as, then
    reshape: Keras's EinsumDense takes the fans from the input and output axes, so a
    (d, heads, dim) query kernel has fan_in d and fan_out heads * dim."""

    def __init__(self, inner, matrix_shape):
        super().__init__()
        self.inner, self.matrix_shape = inner, tuple(matrix_shape)

    def __call__(self, shape, dtype=None):
        return self.inner(self.matrix_shape).reshape(tuple(shape))


def _fans_of(init, matrix_shape):
    """`init`, drawn as `matrix_shape` when its scale depends on the fans."""
    init = initializers.get(init)
    return _Matrix(init, matrix_shape) if isinstance(init, initializers.VarianceScaling) \
        else init


def _proj(d, h, dim):
    """Keras kernel (d, h, dim) <-> stored Linear weight (h * dim, d)."""
    return [lambda w: w.T.reshape(d, h, dim), lambda k: (k.reshape(d, h * dim).T,)]


def _flat_bias(h, dim):
    """Keras bias (h, dim) <-> stored (h * dim,)."""
    return [lambda b: b.reshape(h, dim), lambda k: (k.reshape(h * dim),)]


def _out_proj(h, dim, out):
    """Keras kernel (h, dim, out) <-> stored Linear weight (out, h * dim)."""
    return [lambda w: w.T.reshape(h, dim, out), lambda k: (k.reshape(h * dim, out).T,)]
