"""Behaviour of fathom.nn.functional beyond the op table: stability at extreme logits,
dropout statistics and seeding, batch-norm running statistics, embedding options,
error messages, dtypes and double backward through the fused ops."""
import numpy as np
import pytest

import fathom
import fathom.nn.functional as F


def t64(a, grad=False):
    return fathom.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 0.0]])


# --- stability -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_stable_at_1000(dtype, torch):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for fn, tfn in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
            x = fathom.tensor(EXTREME.astype(dtype), requires_grad=True)
            out = fn(x, 1)
            w = np.arange(9, dtype=dtype).reshape(3, 3)
            (out * fathom.tensor(w)).sum().backward()
            tx = torch.tensor(EXTREME.astype(dtype), requires_grad=True)
            tout = tfn(tx, 1)
            (tout * torch.tensor(w)).sum().backward()
            assert out.dtype == x.dtype
            assert np.isfinite(out.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
            np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-6)
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_stable_at_1000(smoothing, torch):
    target = np.array([1, 0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = fathom.tensor(EXTREME.astype(np.float32), requires_grad=True)
        loss = F.cross_entropy(x, fathom.tensor(target), label_smoothing=smoothing)
        loss.backward()
    tx = torch.tensor(EXTREME.astype(np.float32), requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(target), label_smoothing=smoothing)
    tl.backward()
    assert loss.dtype == fathom.float32
    assert np.isfinite(loss.item()) and loss.item() > 600  # -log p of a logit 2000 below
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-6)


def test_bce_with_logits_logsigmoid_softplus_sigmoid_at_1000(torch):
    x_np = np.array([-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0])
    t_np = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0])
    cases = [
        (lambda x: F.binary_cross_entropy_with_logits(x, fathom.tensor(t_np), reduction="none"),
         lambda x: torch.nn.functional.binary_cross_entropy_with_logits(
             x, torch.tensor(t_np), reduction="none")),
        (lambda x: F.binary_cross_entropy_with_logits(
            x, fathom.tensor(t_np), pos_weight=fathom.tensor([3.0]), reduction="none"),
         lambda x: torch.nn.functional.binary_cross_entropy_with_logits(
             x, torch.tensor(t_np), pos_weight=torch.tensor([3.0]), reduction="none")),
        (F.logsigmoid, torch.nn.functional.logsigmoid),
        (F.softplus, torch.nn.functional.softplus),
        (lambda x: F.softplus(x, beta=2.0, threshold=5.0),
         lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=5.0)),
        (fathom.sigmoid, torch.sigmoid),
        (F.silu, torch.nn.functional.silu),
        (F.mish, torch.nn.functional.mish),
        (F.elu, torch.nn.functional.elu),
        (F.gelu, torch.nn.functional.gelu),
    ]
    for fn, tfn in cases:
        x = t64(x_np, grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = fn(x)
            out.sum().backward()
        tx = torch.tensor(x_np, requires_grad=True)
        tout = tfn(tx)
        tout.sum().backward()
        assert np.isfinite(out.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_bce_with_logits_exact_at_1000():
    loss = F.binary_cross_entropy_with_logits(t64([1000.0, -1000.0, 1000.0]),
                                              t64([1.0, 0.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [0.0, 0.0, 1000.0])


def test_binary_cross_entropy_clamps_log_at_minus_100(torch):
    x = np.array([0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 1.0])
    with np.errstate(divide="raise", invalid="raise"):
        loss = F.binary_cross_entropy(t64(x), t64(t), reduction="none")
    want = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(t),
                                                    reduction="none")
    np.testing.assert_allclose(loss.numpy(), want.numpy())


# --- dtypes, options -------------------------------------------------------------------

def test_float32_stays_float32():
    x = fathom.randn(4, 6, requires_grad=True)
    t = fathom.tensor([0, 1, 2, 3])
    outs = [F.softmax(x, 1), F.log_softmax(x, -1), F.cross_entropy(x, t), F.gelu(x),
            F.softplus(x), F.logsigmoid(x), F.layer_norm(x, (6,)), F.silu(x),
            F.batch_norm(x, None, None, training=True), F.normalize(x),
            F.linear(x, fathom.randn(3, 6), fathom.randn(3)), F.elu(x), F.selu(x),
            F.mse_loss(x, x.detach() * 2), F.binary_cross_entropy_with_logits(x, x.detach()),
            F.group_norm(x.reshape(4, 6, 1), 3), F.dropout(x, 0.3)]
    for out in outs:
        assert out.dtype == fathom.float32
        out.sum().backward()
    assert x.grad.dtype == fathom.float32


def test_softmax_dtype_argument_and_method():
    x = fathom.randn(2, 3)
    out = F.softmax(x, dim=1, dtype=fathom.float64)
    assert out.dtype == fathom.float64
    np.testing.assert_allclose(x.softmax(1).numpy(), out.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.log_softmax(-1).numpy(), np.log(out.numpy()), atol=1e-6)
    assert fathom.softmax(x, 1, fathom.float64).dtype == fathom.float64  # torch.softmax's order


def test_legacy_size_average_reduce():
    a, b = fathom.randn(3, 4), fathom.randn(3, 4)
    with pytest.warns(UserWarning):
        s = F.mse_loss(a, b, size_average=False)
    np.testing.assert_allclose(s.item(), F.mse_loss(a, b, reduction="sum").item(), rtol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(a, b, reduction="avg")


def test_inplace_activations():
    x = fathom.tensor([-1.0, 2.0, -3.0])
    y = F.relu(x, inplace=True)
    assert y is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0, 0.0])
    x = fathom.tensor([-1.0, 2.0])
    F.leaky_relu(x, 0.5, inplace=True)
    np.testing.assert_array_equal(x.numpy(), [-0.5, 2.0])


def test_step_and_heaviside():
    x = t64([-2.0, 0.0, 3.0], grad=True)
    y = F.step(x)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 0.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    h = fathom.heaviside(t64([-2.0, 0.0, 3.0]), t64([0.5]))
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.5, 1.0])


def test_one_hot():
    out = F.one_hot(fathom.tensor([0, 2, 1]))
    assert out.dtype == fathom.int64 and tuple(out.shape) == (3, 3)
    assert tuple(F.one_hot(fathom.tensor([[1], [0]]), 4).shape) == (2, 1, 4)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(fathom.tensor([3]), 3)
    with pytest.raises(TypeError):
        F.one_hot(fathom.tensor([1.0]))


# --- errors ------------------------------------------------------------------------------

def test_cross_entropy_errors_name_shapes_and_values():
    x = fathom.randn(64, 10)
    with pytest.raises(ValueError) as e:
        F.cross_entropy(x, fathom.zeros(64, 1, dtype=fathom.int64))
    assert "cross_entropy: expected target shape (64,) for input (64, 10), got (64, 1)" \
        in str(e.value)
    with pytest.raises(IndexError, match=r"target 10 is out of bounds for 10 classes"):
        F.cross_entropy(x, fathom.full((64,), 10, dtype=fathom.int64))
    with pytest.raises(IndexError, match=r"target -3 is out of bounds"):
        F.nll_loss(x, fathom.full((64,), -3, dtype=fathom.int64))
    with pytest.raises(TypeError, match="int64"):
        F.cross_entropy(x, fathom.zeros(64))
    with pytest.raises(ValueError, match=r"weight .*\(10,\).*\(3,\)"):
        F.cross_entropy(x, fathom.zeros(64, dtype=fathom.int64), weight=fathom.ones(3))
    # ignored targets may hold any value
    F.cross_entropy(x, fathom.full((64,), -100, dtype=fathom.int64), reduction="sum")


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"linear.*\(2, 3\).*\(4, 5\)"):
        F.linear(fathom.randn(2, 3), fathom.randn(4, 5))
    with pytest.raises(ValueError, match=r"layer_norm.*\(5,\).*\(2, 4\)"):
        F.layer_norm(fathom.randn(2, 4), (5,))
    with pytest.raises(ValueError, match=r"group_norm.*\(2, 5, 3\)"):
        F.group_norm(fathom.randn(2, 5, 3), 2)
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*\(3, 1\).*\(3,\)"):
        F.binary_cross_entropy(fathom.rand(3), fathom.rand(3, 1))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(fathom.tensor([1.5]), fathom.tensor([1.0]))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(2, 3, 4\)"):
        F.scaled_dot_product_attention(fathom.randn(2, 3, 4), fathom.randn(2, 5, 3),
                                       fathom.randn(2, 5, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(fathom.randn(1, 3), fathom.zeros(3), fathom.ones(3), training=True)
    with pytest.raises(IndexError, match=r"index 7 is out of range for a weight with 5 rows"):
        F.embedding(fathom.tensor([1, 7]), fathom.randn(5, 2))


# --- dropout -------------------------------------------------------------------------------

def test_dropout_statistics_and_scale():
    x = fathom.ones(200, 500)
    for p in (0.1, 0.5, 0.8):
        y = F.dropout(x, p).numpy()
        kept = y != 0
        assert abs(1 - kept.mean() - p) < 0.01
        np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
        assert abs(y.mean() - 1) < 0.03  # the expectation is preserved


def test_dropout_reproducible_with_manual_seed():
    x = fathom.randn(50, 40)
    fathom.manual_seed(123)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    fathom.manual_seed(123)
    c = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_dropout_edges_and_gradient():
    x = fathom.randn(10, 10, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).detach().numpy(), 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    y = F.dropout(x, 0.25)
    y.sum().backward()
    mask = y.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), mask / 0.75, rtol=1e-6)
    z = fathom.ones(4, 4)
    F.dropout(z, 0.5, inplace=True)
    assert set(np.unique(z.numpy())) <= {0.0, 2.0}


def test_channel_dropout_drops_whole_channels():
    x = fathom.ones(8, 16, 5, 5)
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    y1 = F.dropout1d(fathom.ones(16, 7), 0.5).numpy()  # unbatched (C, L)
    assert ((y1 == 0).all(-1) | (y1 == 2).all(-1)).all()
    y3 = F.dropout3d(fathom.ones(2, 8, 2, 2, 2), 0.5).numpy().reshape(2, 8, -1)
    assert ((y3 == 0).all(-1) | (y3 == 2).all(-1)).all()


def test_alpha_dropout_keeps_mean_and_variance():
    fathom.manual_seed(0)
    x = fathom.randn(400, 500)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02


# --- batch norm ------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_running_stats_match_torch(shape, torch):
    rng = np.random.default_rng(0)
    rm, rv = fathom.zeros(3), fathom.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    for _ in range(3):
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        out = F.batch_norm(fathom.tensor(x), rm, rv, fathom.tensor(w), fathom.tensor(b),
                           training=True, momentum=0.3)
        tout = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, torch.tensor(w),
                                              torch.tensor(b), training=True, momentum=0.3)
        np.testing.assert_allclose(out.numpy(), tout.numpy(), atol=1e-5)
        np.testing.assert_allclose(rm.numpy(), trm.numpy(), atol=1e-6)
        np.testing.assert_allclose(rv.numpy(), trv.numpy(), atol=1e-6)  # unbiased variance
    x = rng.standard_normal(shape).astype(np.float32)
    out = F.batch_norm(fathom.tensor(x), rm, rv, fathom.tensor(w), fathom.tensor(b))
    tout = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, torch.tensor(w),
                                          torch.tensor(b))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), atol=1e-5)  # eval: running stats


def test_instance_norm_running_stats_match_torch(torch):
    x = np.random.default_rng(1).standard_normal((2, 3, 6))
    rm, rv = fathom.zeros(3, dtype=fathom.float64), fathom.ones(3, dtype=fathom.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    F.instance_norm(t64(x), rm, rv)
    torch.nn.functional.instance_norm(torch.tensor(x), trm, trv)
    np.testing.assert_allclose(rm.numpy(), trm.numpy())
    np.testing.assert_allclose(rv.numpy(), trv.numpy())


def test_double_backward_through_fused_ops_matches_torch(torch):
    """create_graph through cross_entropy and training batch/layer norm (gradient penalty)."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((4, 3))
    cases = [
        (lambda x: F.cross_entropy(x, fathom.tensor([0, 2, 1, 2]), label_smoothing=0.1),
         lambda x: torch.nn.functional.cross_entropy(x, torch.tensor([0, 2, 1, 2]),
                                                     label_smoothing=0.1)),
        (lambda x: (F.batch_norm(x, None, None, training=True) ** 3).sum(),
         lambda x: (torch.nn.functional.batch_norm(x, None, None, training=True) ** 3).sum()),
        (lambda x: (F.layer_norm(x, (3,)) ** 3).sum(),
         lambda x: (torch.nn.functional.layer_norm(x, (3,)) ** 3).sum()),
        (lambda x: (F.linear(x, fathom.tensor(np.eye(3)) * 2) ** 3).sum(),
         lambda x: (torch.nn.functional.linear(x, torch.tensor(np.eye(3)) * 2) ** 3).sum()),
    ]
    for fn, tfn in cases:
        x = t64(x_np, grad=True)
        (g,) = fathom.autograd.grad(fn(x), [x], create_graph=True)
        (g * g).sum().backward()
        tx = torch.tensor(x_np, requires_grad=True)
        (tg,) = torch.autograd.grad(tfn(tx), [tx], create_graph=True)
        (tg * tg).sum().backward()
        np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-9)


# --- embedding ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(padding_idx=1), dict(padding_idx=-1),
                                    dict(scale_grad_by_freq=True),
                                    dict(padding_idx=0, scale_grad_by_freq=True)])
def test_embedding_gradients_match_torch(kwargs, torch):
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal((6, 3))
    idx = np.array([[0, 1, 1], [5, 1, 0]])
    g_np = rng.standard_normal((2, 3, 3))
    w = t64(w_np, grad=True)
    (F.embedding(fathom.tensor(idx), w, **kwargs) * t64(g_np)).sum().backward()
    tw = torch.tensor(w_np, requires_grad=True)
    (torch.nn.functional.embedding(torch.tensor(idx), tw, **kwargs) *
     torch.tensor(g_np)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), atol=1e-12)


def test_embedding_max_norm_renormalizes_in_place(torch):
    w_np = np.random.default_rng(0).standard_normal((5, 4)) * 3
    idx = np.array([0, 2, 2])
    w = t64(w_np)
    out = F.embedding(fathom.tensor(idx), w, max_norm=1.0)
    tw = torch.tensor(w_np)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.0)
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-6)


# --- attention -----------------------------------------------------------------------------

def test_sdpa_dropout_is_seeded_and_mask_rules():
    q = fathom.randn(2, 4, 8)
    fathom.manual_seed(5)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    fathom.manual_seed(5)
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=fathom.ones(4, 4, dtype=fathom.bool),
                                       is_causal=True)
    # causal: the first query sees only the first key
    out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    np.testing.assert_allclose(out.numpy()[:, 0], q.numpy()[:, 0], rtol=1e-6)


def test_cross_entropy_all_targets_ignored_gives_zero_gradient():
    """Regression: an all-padding batch has a nan loss but must not put nan in the grads
    (PyTorch's behaviour)."""
    x = fathom.randn(3, 4, requires_grad=True)
    loss = fathom.nn.functional.cross_entropy(x, fathom.tensor([-100] * 3))
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4), np.float32))


def test_binary_cross_entropy_names_bad_weights_and_targets():
    x = fathom.rand(4, 3)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight \(2,\) must broadcast"):
        F.binary_cross_entropy(x, fathom.rand(4, 3), weight=fathom.ones(2))
    with pytest.raises(ValueError, match=r"with_logits: pos_weight \(5,\) must broadcast"):
        F.binary_cross_entropy_with_logits(x, fathom.rand(4, 3), pos_weight=fathom.ones(5))
    with pytest.raises(TypeError, match="target must be a float tensor"):
        F.binary_cross_entropy(x, fathom.ones(4, 3, dtype=fathom.int64))
