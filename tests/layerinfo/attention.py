"""Layer cases: MultiheadAttention and the Transformer layers.

Dropout is 0 wherever train mode must match PyTorch number for number; the cases with
dropout > 0 are `stochastic_train` (shapes in train mode, exact in eval mode). Masks are
bool (True = may not attend) or float (added to the scores), 2-D (L, S) or 3-D
(N * num_heads, L, S), with key_padding_mask (N, S). No row is fully masked (PyTorch
gives nan there with need_weights=True).
"""
import numpy as np

from . import LayerCase, normal

L, S, N, E, H = 5, 7, 3, 8, 2   # target length, source length, batch, embed dim, heads


def qkv(q, k, v=None):
    """Random query, key and value of the given shapes (value defaults to key's)."""
    v = k if v is None else v
    return lambda rng: (rng.standard_normal(q), rng.standard_normal(k), rng.standard_normal(v))


def kw(**values):
    """Forward keyword arguments; a callable value is drawn from the rng."""
    return lambda rng: {k: v(rng) if callable(v) else v for k, v in values.items()}


def causal_bool(n, m=None):
    return np.triu(np.ones((n, n if m is None else m), dtype=bool), 1)


def causal_float(n):
    return np.triu(np.full((n, n), -np.inf), 1)


def padding(lengths, total):
    """(len(lengths), total) bool: True past each sequence's length."""
    return np.arange(total)[None, :] >= np.asarray(lengths)[:, None]


def float_mask(*shape):
    return lambda rng: rng.standard_normal(shape)


SEQ_FIRST = qkv((L, N, E), (S, N, E))
BATCH_FIRST = qkv((N, L, E), (N, S, E))
MHA = "MultiheadAttention(embed_dim=8, num_heads=2"


def mha(nn, **k):
    return nn.MultiheadAttention(E, H, **k)


def enc(nn, **k):
    k.setdefault("dropout", 0.0)
    return nn.TransformerEncoderLayer(E, H, 16, **k)


def dec(nn, **k):
    k.setdefault("dropout", 0.0)
    return nn.TransformerDecoderLayer(E, H, 16, **k)


CASES = [
    # --- MultiheadAttention -----------------------------------------------------------
    LayerCase("mha", mha, SEQ_FIRST, errors=[
        (qkv((L, N, 6), (S, N, E)), None, [MHA, "(..., 8)", "query (5, 3, 6)"]),
        (SEQ_FIRST, {"attn_mask": causal_bool(4)}, [MHA, "attn_mask", "(5, 7)", "(4, 4)"]),
        (SEQ_FIRST, {"key_padding_mask": padding([7, 7], S)},
         [MHA, "key_padding_mask", "(3, 7)", "(2, 7)"]),
        (SEQ_FIRST, {"attn_mask": np.zeros((L, S), dtype=np.int64)},
         [MHA, "bool and floating", "attn_mask"]),
        (qkv((L, N, E), (S, 2, E)), None, [MHA, "same batch size", "(7, 2, 8)"]),
        (qkv((N, L, E, 1), (S, N, E)), None, [MHA, "3-D", "(3, 5, 8, 1)"]),
        (SEQ_FIRST, {"is_causal": True}, ["Need attn_mask", "is_causal"])]),
    LayerCase("mha_self", mha, qkv((L, N, E), (L, N, E))),
    LayerCase("mha_batch_first", lambda nn: mha(nn, batch_first=True), BATCH_FIRST,
              errors=[(qkv((L, N, E), (N, S, E)), None, ["batch_first=True", "batch size"])]),
    LayerCase("mha_kdim_vdim", lambda nn: mha(nn, kdim=4, vdim=6),
              qkv((L, N, E), (S, N, 4), (S, N, 6)),
              errors=[(qkv((L, N, E), (S, N, 6), (S, N, 6)), None,
                       ["kdim=4, vdim=6", "key (..., 4)", "(7, 3, 6)"])]),
    LayerCase("mha_no_bias", lambda nn: mha(nn, bias=False), SEQ_FIRST),
    LayerCase("mha_bool_masks", mha, SEQ_FIRST,
              kw(attn_mask=causal_bool(L, S), key_padding_mask=padding([7, 5, 6], S))),
    LayerCase("mha_float_masks", lambda nn: mha(nn, batch_first=True), BATCH_FIRST,
              kw(attn_mask=float_mask(N * H, L, S),
                 key_padding_mask=lambda rng: np.where(padding([6, 7, 4], S), -np.inf, 0.0))),
    LayerCase("mha_key_padding_only", mha, SEQ_FIRST,
              kw(key_padding_mask=padding([7, 3, 5], S))),
    LayerCase("mha_per_head_weights", mha, SEQ_FIRST,
              kw(attn_mask=float_mask(L, S), average_attn_weights=False)),
    LayerCase("mha_no_weights", mha, SEQ_FIRST,
              kw(need_weights=False, key_padding_mask=padding([2, 7, 5], S),
                 attn_mask=causal_bool(L, S))),
    LayerCase("mha_causal", lambda nn: mha(nn, batch_first=True), qkv((N, L, E), (N, L, E)),
              kw(attn_mask=causal_float(L), is_causal=True, need_weights=False)),
    LayerCase("mha_causal_with_weights", mha, qkv((L, N, E), (L, N, E)),
              kw(attn_mask=causal_bool(L), is_causal=True)),
    LayerCase("mha_bias_kv", lambda nn: mha(nn, add_bias_kv=True), SEQ_FIRST,
              kw(key_padding_mask=padding([7, 4, 6], S), attn_mask=causal_bool(L, S)),
              check_init=False),  # bias_k/bias_v: 8 normal draws, too few to compare scale
    LayerCase("mha_zero_attn", lambda nn: mha(nn, add_zero_attn=True, batch_first=True),
              BATCH_FIRST, kw(attn_mask=float_mask(L, S), average_attn_weights=False)),
    LayerCase("mha_bias_kv_zero_attn_no_weights",
              lambda nn: mha(nn, add_bias_kv=True, add_zero_attn=True), SEQ_FIRST,
              kw(need_weights=False, key_padding_mask=padding([5, 7, 6], S)), check_init=False),
    LayerCase("mha_unbatched", mha, qkv((L, E), (S, E)),
              kw(key_padding_mask=padding([6], S)[0]),
              errors=[(qkv((L, E), (S, E)), {"attn_mask": causal_bool(L, S)[None]},
                       ["attn_mask", "(2, 5, 7)", "(1, 5, 7)"])]),
    LayerCase("mha_unbatched_3d_mask", lambda nn: mha(nn, batch_first=True),
              qkv((L, E), (S, E)), kw(attn_mask=float_mask(H, L, S))),
    LayerCase("mha_unbatched_kdim", lambda nn: mha(nn, kdim=3, vdim=5),
              qkv((L, E), (S, 3), (S, 5)), kw(need_weights=False)),
    LayerCase("mha_dropout", lambda nn: mha(nn, dropout=0.5), SEQ_FIRST,
              kw(key_padding_mask=padding([7, 4, 6], S)), stochastic_train=True),
    LayerCase("mha_dropout_no_weights", lambda nn: mha(nn, dropout=0.3, batch_first=True),
              BATCH_FIRST, kw(need_weights=False), stochastic_train=True),

    # --- TransformerEncoderLayer --------------------------------------------------------
    LayerCase("encoder_layer", enc, normal(L, N, E), errors=[
        (normal(L, N, 6), None, ["TransformerEncoderLayer(d_model=8, nhead=2", "(5, 3, 6)"]),
        (normal(N, L, E), {"src_mask": causal_bool(L)}, ["attn_mask", "(3, 3)", "(5, 5)"])]),
    LayerCase("encoder_layer_gelu", lambda nn: enc(nn, activation="gelu"), normal(L, N, E)),
    LayerCase("encoder_layer_norm_first", lambda nn: enc(nn, norm_first=True, batch_first=True),
              normal(N, L, E)),
    LayerCase("encoder_layer_bool_masks", lambda nn: enc(nn, batch_first=True), normal(N, L, E),
              kw(src_mask=causal_bool(L), src_key_padding_mask=padding([5, 3, 4], L))),
    LayerCase("encoder_layer_float_masks", lambda nn: enc(nn, activation="gelu"),
              normal(L, N, E),
              kw(src_mask=float_mask(N * H, L, L),
                 src_key_padding_mask=lambda rng: np.where(padding([4, 5, 2], L), -1e9, 0.0))),
    LayerCase("encoder_layer_causal", lambda nn: enc(nn, norm_first=True), normal(L, N, E),
              kw(src_mask=causal_float(L), is_causal=True)),
    LayerCase("encoder_layer_callable_activation",
              lambda nn: enc(nn, activation=nn.functional.silu, layer_norm_eps=1e-3),
              normal(L, N, E)),
    LayerCase("encoder_layer_module_activation",
              lambda nn: enc(nn, activation=nn.GELU(approximate="tanh"), batch_first=True),
              normal(N, L, E)),
    LayerCase("encoder_layer_no_bias", lambda nn: enc(nn, bias=False), normal(L, N, E)),
    LayerCase("encoder_layer_unbatched", lambda nn: enc(nn, batch_first=True), normal(L, E),
              kw(src_key_padding_mask=padding([4], L)[0])),
    LayerCase("encoder_layer_dropout", lambda nn: enc(nn, dropout=0.2, batch_first=True),
              normal(N, L, E), stochastic_train=True),

    # --- TransformerEncoder -------------------------------------------------------------
    LayerCase("encoder_2_layers_norm",
              lambda nn: nn.TransformerEncoder(enc(nn, batch_first=True), 2, nn.LayerNorm(E)),
              normal(N, L, E), kw(mask=causal_float(L))),
    LayerCase("encoder_padding",
              lambda nn: nn.TransformerEncoder(enc(nn, batch_first=True), 2, nn.LayerNorm(E)),
              normal(N, L, E), kw(src_key_padding_mask=padding([5, 2, 4], L))),
    LayerCase("encoder_norm_first_bool_mask",
              lambda nn: nn.TransformerEncoder(enc(nn, norm_first=True), 2,
                                               enable_nested_tensor=False),
              normal(L, N, E), kw(mask=causal_bool(L), src_key_padding_mask=padding([5, 2, 4], L))),
    LayerCase("encoder_dropout",
              lambda nn: nn.TransformerEncoder(enc(nn, dropout=0.1, batch_first=True), 2),
              normal(N, L, E), stochastic_train=True),

    # --- decoder and the full model ----------------------------------------------------
    LayerCase("decoder_layer", dec, lambda rng: (rng.standard_normal((L, N, E)),
                                                 rng.standard_normal((S, N, E))),
              kw(tgt_mask=causal_float(L), memory_key_padding_mask=padding([7, 5, 6], S)),
              errors=[(lambda rng: (rng.standard_normal((L, N, 4)),
                                    rng.standard_normal((S, N, E))), None,
                       ["TransformerDecoderLayer(d_model=8", "tgt", "(5, 3, 4)"])]),
    LayerCase("decoder_layer_norm_first",
              lambda nn: dec(nn, norm_first=True, batch_first=True, activation="gelu"),
              lambda rng: (rng.standard_normal((N, L, E)), rng.standard_normal((N, S, E))),
              kw(tgt_mask=causal_bool(L), tgt_is_causal=True, memory_mask=float_mask(L, S))),
    LayerCase("decoder_2_layers_norm",
              lambda nn: nn.TransformerDecoder(dec(nn), 2, nn.LayerNorm(E)),
              lambda rng: (rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E))),
              kw(tgt_mask=causal_float(L), tgt_key_padding_mask=padding([5, 3, 4], L))),
    LayerCase("transformer",
              lambda nn: nn.Transformer(E, H, 1, 2, 16, dropout=0.0, batch_first=True),
              lambda rng: (rng.standard_normal((N, S, E)), rng.standard_normal((N, L, E))),
              kw(tgt_mask=causal_float(L), src_key_padding_mask=padding([7, 6, 5], S),
                 memory_key_padding_mask=padding([7, 6, 5], S)),
              errors=[(lambda rng: (rng.standard_normal((N, S, E)),
                                    rng.standard_normal((2, L, E))), None,
                       ["Transformer(d_model=8", "batch number", "(3, 7, 8)", "(2, 5, 8)"]),
                      (lambda rng: (rng.standard_normal((N, S, E)),
                                    rng.standard_normal((N, L, 6))), None,
                       ["feature number", "d_model=8", "(3, 5, 6)"])]),
    LayerCase("transformer_dropout", lambda nn: nn.Transformer(E, H, 1, 1, 16),
              lambda rng: (rng.standard_normal((S, N, E)), rng.standard_normal((L, N, E))),
              stochastic_train=True),
]
