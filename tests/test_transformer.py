"""MultiheadAttention and the Transformer layers beyond the layer table: PyTorch weights
loaded into Fathom in float32, padding masks on the inference path, the functional form,
construction errors, deep copies, initialization scale and the docstring examples."""
from __future__ import annotations

import copy
import doctest
import warnings

import numpy as np
import pytest

import fathom
import fathom.nn.functional as F
from fathom import nn

D, HEADS, FF, N, S = 32, 4, 64, 3, 10


def _encoders(torch, **layer_kw):
    """A 2-layer batch-first encoder with a final LayerNorm, in torch and in Fathom with
    torch's weights."""
    torch.manual_seed(0)
    kw = dict(dim_feedforward=FF, batch_first=True, **layer_kw)
    tm = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, HEADS, **kw), 2,
                                     torch.nn.LayerNorm(D))
    fm = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, HEADS, **kw), 2, nn.LayerNorm(D))
    fm.load_state_dict(tm.state_dict())
    return tm.eval(), fm.eval()


def _x(shape=(N, S, D)):
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def test_encoder_float32_eval_matches_torch(torch):
    tm, fm = _encoders(torch)
    x = _x()
    with torch.no_grad():
        t_out = tm(torch.from_numpy(x)).numpy()
    f_out = fm(fathom.from_numpy(x)).detach().numpy()
    assert f_out.dtype == np.float32
    np.testing.assert_allclose(f_out, t_out, rtol=1e-5, atol=1e-5)


def test_encoder_float32_train_gradients_match_torch(torch):
    tm, fm = _encoders(torch, dropout=0.0)
    tm.train()
    fm.train()
    x = _x()
    tx = torch.from_numpy(x).requires_grad_(True)
    fx = fathom.from_numpy(x.copy()).requires_grad_(True)
    (tm(tx) ** 2).sum().backward()
    (fm(fx) ** 2).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    f_params = dict(fm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(f_params[name].grad.numpy(), p.grad.numpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=name)


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_encoder_padding_mask_matches_torch(torch, grad):
    """Without gradients PyTorch runs the padded batch as nested tensors: the padded
    positions come out as zeros before the final norm (so the norm's bias after it).
    With gradients it takes the general path. Fathom matches both, at every position."""
    tm, fm = _encoders(torch)
    x = _x()
    pad = np.arange(S)[None, :] >= np.array([10, 6, 3])[:, None]
    with torch.set_grad_enabled(grad):
        t_out = tm(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(pad))
    with fathom.set_grad_enabled(grad):
        f_out = fm(fathom.from_numpy(x), src_key_padding_mask=fathom.from_numpy(pad))
    t_out = t_out.detach().numpy()
    np.testing.assert_allclose(f_out.detach().numpy(), t_out, rtol=1e-5, atol=1e-5)
    if not grad:  # the nested path: every padded position is the norm of zeros
        bias = fm.norm.bias.detach().numpy()
        np.testing.assert_allclose(t_out[pad], np.broadcast_to(bias, t_out[pad].shape),
                                   atol=1e-6)


def test_encoder_padding_not_at_the_end_matches_torch(torch):
    """A padding mask that is not left-aligned keeps PyTorch on its general path."""
    tm, fm = _encoders(torch)
    x = _x()
    pad = np.zeros((N, S), dtype=bool)
    pad[0, 2] = pad[1, 0] = True
    with torch.no_grad():
        t_out = tm(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(pad)).numpy()
    with fathom.no_grad():
        f_out = fm(fathom.from_numpy(x), src_key_padding_mask=fathom.from_numpy(pad)).numpy()
    np.testing.assert_allclose(f_out, t_out, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_mha_fully_masked_row_as_torch(torch):
    """A query that may attend to nothing: nan with the weights, zeros without (PyTorch's
    softmax path and its scaled_dot_product_attention path)."""
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2).double()
    fm = nn.MultiheadAttention(8, 2).double()
    fm.load_state_dict(tm.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 2, 8))
    mask = np.zeros((4, 4), dtype=bool)
    mask[1] = True
    for need_weights in (True, False):
        t_out = tm(*[torch.from_numpy(x)] * 3, attn_mask=torch.from_numpy(mask),
                   need_weights=need_weights)[0].detach().numpy()
        f_out = fm(*[fathom.from_numpy(x)] * 3, attn_mask=fathom.from_numpy(mask),
                   need_weights=need_weights)[0].detach().numpy()
        np.testing.assert_allclose(f_out, t_out, rtol=1e-10, atol=1e-12)
        assert np.isnan(f_out[1]).all() == need_weights


def test_functional_mha_matches_torch(torch):
    """F.multi_head_attention_forward with separate projection weights, bias_k/bias_v
    and static keys and values."""
    rng = np.random.default_rng(0)
    E, H, L, Sk = 8, 2, 4, 6

    def arr(*shape):
        return rng.standard_normal(shape)
    q, k, v = arr(L, N, E), arr(Sk, N, 5), arr(Sk, N, 3)
    wq, wk, wv, b, wo, bo = arr(E, E), arr(E, 5), arr(E, 3), arr(3 * E), arr(E, E), arr(E)
    bk, bv = arr(1, 1, E), arr(1, 1, E)
    sk, sv = arr(N * H, 7, E // H), arr(N * H, 7, E // H)
    for extra in ({"bias_k": bk, "bias_v": bv}, {"static_k": sk, "static_v": sv}):
        def call(lib, conv):
            kw = {name: conv(a) for name, a in extra.items()}
            return lib.multi_head_attention_forward(
                conv(q), conv(k), conv(v), E, H, None, conv(b), kw.pop("bias_k", None),
                kw.pop("bias_v", None), False, 0.0, conv(wo), conv(bo), training=False,
                use_separate_proj_weight=True, q_proj_weight=conv(wq), k_proj_weight=conv(wk),
                v_proj_weight=conv(wv), **kw)
        t_out, t_w = call(torch.nn.functional, torch.from_numpy)
        f_out, f_w = call(F, fathom.from_numpy)
        np.testing.assert_allclose(f_out.numpy(), t_out.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(f_w.numpy(), t_w.numpy(), rtol=1e-10, atol=1e-12)


def test_functional_mha_checks_embed_dim():
    x = fathom.randn(4, 2, 6)
    w = fathom.randn(24, 8)
    with pytest.raises(ValueError, match=r"multi_head_attention_forward.*embed_dim_to_check=8"):
        F.multi_head_attention_forward(x, x, x, 8, 2, w, None, None, None, False, 0.0,
                                       fathom.randn(8, 8), None)


def test_construction_errors():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads; got "
                                         "embed_dim=10 and num_heads=3"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 2)
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(10, 4)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_encoder_layers_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    enc = nn.TransformerEncoder(layer, 3)
    assert [name for name, _ in enc.named_children()] == ["layers"]
    assert [name for name, _ in enc.layers.named_children()] == ["0", "1", "2"]
    ids = {id(p) for p in enc.parameters()}
    assert len(ids) == 3 * len(list(layer.parameters()))
    assert not ids & {id(p) for p in layer.parameters()}
    w0 = enc.layers[0].linear1.weight
    np.testing.assert_array_equal(w0.detach().numpy(), layer.linear1.weight.detach().numpy())
    with fathom.no_grad():
        w0.mul_(0)
    assert np.abs(enc.layers[1].linear1.weight.detach().numpy()).sum() > 0
    assert copy.deepcopy(enc).layers[2].self_attn.in_proj_weight is not \
        enc.layers[2].self_attn.in_proj_weight


def test_nested_tensor_warning_as_torch(torch):
    with warnings.catch_warnings(record=True) as t_w:
        warnings.simplefilter("always")
        torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2), 2)
    with warnings.catch_warnings(record=True) as f_w:
        warnings.simplefilter("always")
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 2)
    assert [str(w.message) for w in f_w] == [str(w.message) for w in t_w]
    assert enc.use_nested_tensor is False and enc.enable_nested_tensor is True


def test_square_subsequent_mask_matches_torch(torch):
    f = nn.Transformer.generate_square_subsequent_mask(4)
    t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert f.dtype == fathom.float32
    np.testing.assert_array_equal(f.numpy(), t.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=fathom.float64).dtype == \
        fathom.float64


def test_bias_kv_and_in_proj_init_scale():
    """xavier_normal_ on (1, 1, E) has std 1/sqrt(E); xavier_uniform_ on (3E, E) is
    U(-a, a) with a = sqrt(6 / 4E)."""
    E = 1024
    mha = nn.MultiheadAttention(E, 8, add_bias_kv=True)
    for p in (mha.bias_k, mha.bias_v):
        assert abs(p.detach().numpy().std() * np.sqrt(E) - 1) < 0.1
    w = mha.in_proj_weight.detach().numpy()
    bound = np.sqrt(6 / (4 * E))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert not mha.in_proj_bias.detach().numpy().any()
    assert not mha.out_proj.bias.detach().numpy().any()


def test_attention_weights_shapes():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q, kv = fathom.randn(3, 5, 8), fathom.randn(3, 7, 8)
    out, w = mha(q, kv, kv)
    assert out.shape == (3, 5, 8) and w.shape == (3, 5, 7)
    _, w = mha(q, kv, kv, average_attn_weights=False)
    assert w.shape == (3, 2, 5, 7)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1, rtol=1e-5)
    assert mha(q, kv, kv, need_weights=False)[1] is None
    out, w = mha(fathom.randn(5, 8), fathom.randn(7, 8), fathom.randn(7, 8))
    assert out.shape == (5, 8) and w.shape == (5, 7)


@pytest.mark.parametrize("obj", [nn.MultiheadAttention, nn.TransformerEncoderLayer,
                                 nn.TransformerEncoder, nn.TransformerDecoderLayer,
                                 nn.TransformerDecoder, nn.Transformer],
                         ids=lambda o: o.__name__)
def test_docstring_examples(obj):
    globs = {"fathom": fathom, "nn": nn}
    for test in doctest.DocTestFinder(recurse=False).find(obj, globs=globs):
        assert test.examples, f"{obj.__name__} has no example"
        result = doctest.DocTestRunner().run(test)
        assert result.failed == 0


def test_merge_masks_matches_torch(torch):
    torch.manual_seed(0)
    tm, fm = torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2)
    rng = np.random.default_rng(0)
    q = rng.standard_normal((3, 5, 8)).astype(np.float32)
    attn2, attn3 = rng.standard_normal((5, 5)), rng.standard_normal((6, 5, 5))
    kpm = rng.standard_normal((3, 5))
    for a, k in ((None, None), (None, kpm), (attn2, None), (attn2, kpm), (attn3, kpm)):
        def conv(lib, x):
            return None if x is None else lib.from_numpy(x)
        t_mask, t_type = tm.merge_masks(conv(torch, a), conv(torch, k), torch.from_numpy(q))
        f_mask, f_type = fm.merge_masks(conv(fathom, a), conv(fathom, k), fathom.from_numpy(q))
        assert f_type == t_type
        if t_mask is None:
            assert f_mask is None
        else:
            np.testing.assert_allclose(f_mask.numpy(), t_mask.numpy())
