"""Basic layers, activations and dropout: what the layer table (tests/layerinfo) can't say.

Dropout statistics and seeding, RReLU's random slopes, Step, Embedding's options,
in-place forms, and Module behaviour through these layers (state dicts shared with
PyTorch, freezing, hooks, dtype moves that keep optimizers working).
"""
import copy
import pickle
import warnings

import numpy as np
import pytest

import fathom
import fathom.nn as nn
import fathom.nn.functional as F

N_BIG = 200_000


def _np(t):
    return np.asarray(t.detach().data) if isinstance(t, fathom.Tensor) else t.detach().numpy()


# --- Linear, Bilinear, Flatten, Unflatten, Identity --------------------------------------

def test_linear_error_message_exact():
    with pytest.raises(fathom.errors.ShapeError) as info:
        nn.Linear(400, 120)(fathom.randn(64, 2304))
    assert str(info.value) == ("Linear(in_features=400, out_features=120, bias=True): expected "
                               "input with last dimension 400, got shape (64, 2304)")
    assert isinstance(info.value, ValueError)


def test_linear_dtype_mismatch_names_layer():
    with pytest.raises(TypeError, match=r"Linear\(in_features=3.*float64"):
        nn.Linear(3, 2)(fathom.randn(4, 3, dtype=fathom.float64))


def test_factory_kwargs_dtype_and_device():
    for layer in (nn.Linear(3, 4, dtype=fathom.float64, device="cpu"),
                  nn.Bilinear(2, 3, 4, dtype=fathom.float64),
                  nn.Embedding(5, 2, dtype=fathom.float64),
                  nn.EmbeddingBag(5, 2, dtype=fathom.float64),
                  nn.PReLU(3, dtype=fathom.float64, device="cpu")):
        assert all(p.dtype == fathom.float64 for p in layer.parameters()), layer
    assert nn.Linear(3, 4).weight.dtype == fathom.float32


def test_linear_init_bounds():
    lin = nn.Linear(50, 40)
    bound = 1 / np.sqrt(50)
    assert np.abs(_np(lin.weight)).max() <= bound
    assert np.abs(_np(lin.bias)).max() <= bound
    assert _np(lin.weight).std() > 0.8 * bound / np.sqrt(3)
    lin.reset_parameters()  # public, as PyTorch's
    with pytest.warns(UserWarning, match="zero-element"):  # as PyTorch
        assert nn.Linear(0, 3).weight.shape == (3, 0)


def test_identity_ignores_arguments():
    x = fathom.randn(2, 3)
    assert nn.Identity(54, unused=1)(x) is x
    assert repr(nn.Identity()) == "Identity()"


def test_unflatten_argument_checks():
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 12)
    with pytest.raises(TypeError, match="pos 1"):
        nn.Unflatten(1, (3, 4.0))


def test_bilinear_rejects_in1_features_zero():
    with pytest.raises(ValueError, match="in1_features"):
        nn.Bilinear(0, 3, 2)


# --- Embedding --------------------------------------------------------------------------

def test_embedding_sparse_is_not_implemented():
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding(10, 3, sparse=True)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.EmbeddingBag(10, 3, sparse=True)
    assert nn.Embedding(10, 3, sparse=False).sparse is False


def test_embedding_padding_row_zero_and_no_gradient():
    emb = nn.Embedding(6, 4, padding_idx=-2)
    assert emb.padding_idx == 4
    assert not np.any(_np(emb.weight)[4]) and np.all(_np(emb.weight)[[0, 1, 2, 3, 5]] != 0)
    idx = fathom.tensor([[4, 1, 4], [2, 4, 1]])
    emb(idx).sum().backward()
    g = _np(emb.weight.grad)
    assert not np.any(g[4])
    np.testing.assert_allclose(g[1], 2.0)
    np.testing.assert_allclose(g[2], 1.0)
    with pytest.raises(ValueError, match="num_embeddings"):
        nn.Embedding(6, 4, padding_idx=6)


def test_embedding_from_pretrained():
    w = fathom.randn(5, 3)
    emb = nn.Embedding.from_pretrained(w)
    assert emb.weight.requires_grad is False
    assert (emb.num_embeddings, emb.embedding_dim) == (5, 3)
    np.testing.assert_array_equal(_np(emb(fathom.tensor([4, 0]))), _np(w)[[4, 0]])
    w.data[0, 0] = 123.0  # shares memory, as PyTorch's
    assert float(emb.weight.data[0, 0]) == 123.0
    trainable = nn.Embedding.from_pretrained(fathom.randn(5, 3), freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    assert repr(trainable) == "Embedding(5, 3, padding_idx=1)"
    with pytest.raises(ValueError, match="2-D"):
        nn.Embedding.from_pretrained(fathom.randn(5))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        nn.Embedding(5, 3, _weight=fathom.randn(4, 3))
    frozen = nn.Embedding(5, 3, _freeze=True)
    assert frozen.weight.requires_grad is False


def test_embedding_max_norm_renormalizes_weight_like_torch(torch):
    torch.manual_seed(0)
    for norm_type in (2.0, 1.0):
        t = torch.nn.Embedding(10, 4, max_norm=1.0, norm_type=norm_type).double()
        f = nn.Embedding(10, 4, max_norm=1.0, norm_type=norm_type).double()
        f.load_state_dict(t.state_dict())
        idx = np.array([[1, 2, 2, 5], [7, 1, 0, 3]])
        out_t = t(torch.from_numpy(idx))
        out_f = f(fathom.from_numpy(idx))
        np.testing.assert_allclose(_np(out_f), _np(out_t), rtol=1e-12)
        # PyTorch renormalizes the looked-up rows of the weight in place
        np.testing.assert_allclose(_np(f.weight), _np(t.weight), rtol=1e-12)
        norms = np.linalg.norm(_np(f.weight)[[0, 1, 2, 3, 5, 7]], ord=norm_type, axis=1)
        assert np.all(norms <= 1.0 + 1e-6)
    t = torch.nn.EmbeddingBag(10, 4, max_norm=1.0, mode="sum").double()
    f = nn.EmbeddingBag(10, 4, max_norm=1.0, mode="sum").double()
    f.load_state_dict(t.state_dict())
    idx, off = np.array([1, 2, 2, 5, 7]), np.array([0, 3])
    out_t = t(torch.from_numpy(idx), torch.from_numpy(off))
    out_f = f(fathom.from_numpy(idx), fathom.from_numpy(off))
    np.testing.assert_allclose(_np(out_f), _np(out_t), rtol=1e-12)
    np.testing.assert_allclose(_np(f.weight), _np(t.weight), rtol=1e-12)


def test_embedding_bag_checks():
    bag = nn.EmbeddingBag(10, 3)
    with pytest.raises(NotImplementedError, match="mode='sum'"):
        bag(fathom.tensor([1, 2]), fathom.tensor([0]), per_sample_weights=fathom.ones(2))
    with pytest.raises(ValueError, match="offsets"):
        bag(fathom.tensor([[1, 2]]), fathom.tensor([0]))
    with pytest.raises(ValueError, match="offsets"):
        bag(fathom.tensor([1, 2, 3]), fathom.tensor([1, 2]))
    with pytest.raises(IndexError, match="num_embeddings=10"):
        bag(fathom.tensor([[1, 12]]))
    with pytest.raises(ValueError, match="mode"):
        nn.EmbeddingBag(10, 3, mode="min")
    pre = nn.EmbeddingBag.from_pretrained(fathom.randn(4, 2), mode="sum")
    assert not pre.weight.requires_grad and repr(pre) == "EmbeddingBag(4, 2, mode='sum')"


def test_embedding_bag_empty_bag_is_zero():
    bag = nn.EmbeddingBag(10, 3, mode="max")
    out = bag(fathom.tensor([1, 2, 3]), fathom.tensor([0, 0, 3]))
    assert out.shape == (3, 3)
    assert not np.any(_np(out)[[0, 2]]) and np.any(_np(out)[1])


# --- Dropout ----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_statistics(p):
    x = fathom.ones(N_BIG)
    out = _np(nn.Dropout(p)(x))
    zero = out == 0
    assert abs(zero.mean() - p) < 0.01
    np.testing.assert_allclose(out[~zero], 1 / (1 - p), rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.02  # the expectation is preserved


@pytest.mark.parametrize("cls,shape,lead", [
    (nn.Dropout1d, (200, 50, 7), 2), (nn.Dropout1d, (2000, 7), 1),
    (nn.Dropout2d, (100, 100, 2, 3), 2), (nn.Dropout3d, (100, 100, 2, 1, 3), 2),
    (nn.Dropout3d, (4000, 2, 2, 2), 1)])
def test_dropout_nd_zeros_whole_channels(cls, shape, lead):
    """Each channel, (n, c) or (c,) when unbatched, is all dropped or all kept."""
    p = 0.4
    out = _np(cls(p)(fathom.ones(*shape)))
    per_channel = out.reshape(int(np.prod(shape[:lead])), -1)
    dropped = (per_channel == 0).all(axis=1)
    kept = np.isclose(per_channel, 1 / (1 - p), rtol=1e-6).all(axis=1)
    assert np.all(dropped | kept), "a channel was partly dropped"
    assert abs(dropped.mean() - p) < 0.03
    assert abs(out.mean() - 1.0) < 0.05


def test_dropout2d_on_3d_input_takes_n_c_l():
    # as PyTorch (which also warns that this will change; Fathom's dropout2d does not warn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _np(nn.Dropout2d(0.5)(fathom.ones(100, 50, 4)))
    rows = out.reshape(5000, 4)
    assert np.all((rows == 0).all(1) | (rows == 2).all(1))


@pytest.mark.parametrize("layer", [nn.Dropout(0.3), nn.Dropout2d(0.3), nn.AlphaDropout(0.3),
                                   nn.FeatureAlphaDropout(0.3), nn.RReLU()])
def test_random_layers_repeat_under_manual_seed(layer):
    x = fathom.randn(8, 6, 5, 5)
    fathom.manual_seed(123)
    a = _np(layer(x))
    fathom.manual_seed(123)
    b = _np(layer(x))
    c = _np(layer(x))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


@pytest.mark.parametrize("layer,shape", [
    (nn.Dropout(0.3), (4, 5)), (nn.Dropout1d(0.3), (2, 3, 4)), (nn.Dropout2d(0.3), (2, 3, 4, 5)),
    (nn.Dropout3d(0.3), (2, 3, 4, 5, 2)), (nn.AlphaDropout(0.3), (4, 5)),
    (nn.FeatureAlphaDropout(0.3), (2, 3, 4))])
def test_dropout_eval_is_identity(layer, shape):
    x = fathom.randn(*shape)
    layer.eval()
    np.testing.assert_array_equal(_np(layer(x)), _np(x))


def test_dropout_p_edges_and_validation():
    x = fathom.randn(50, 40)
    np.testing.assert_array_equal(_np(nn.Dropout(0.0)(x)), _np(x))
    assert not np.any(_np(nn.Dropout(1.0)(x)))
    assert not np.any(_np(nn.Dropout2d(1.0)(x.reshape(5, 10, 2, 20))))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.AlphaDropout(bad)


def test_dropout_gradient_is_the_mask():
    x = fathom.randn(1000, requires_grad=True)
    out = nn.Dropout(0.25)(x)
    out.sum().backward()
    mask = _np(out) / _np(x)
    np.testing.assert_allclose(_np(x.grad), mask, rtol=1e-6)
    np.testing.assert_allclose(np.unique(_np(x.grad)), [0.0, 1 / 0.75], rtol=1e-6)


def test_dropout_inplace_writes_input():
    x = fathom.ones(1000)
    out = nn.Dropout(0.5, inplace=True)(x)
    assert out is x and np.any(_np(x) == 0) and np.any(_np(x) == 2)
    assert repr(nn.Dropout(0.5, inplace=True)) == "Dropout(p=0.5, inplace=True)"


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(p):
    x = fathom.randn(N_BIG)
    out = _np(nn.AlphaDropout(p)(x))
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1.0) < 0.02
    # dropped units all take one value: SELU's saturation, affinely corrected
    values, counts = np.unique(np.round(out, 5), return_counts=True)
    assert abs(counts.max() / N_BIG - p) < 0.01


def test_feature_alpha_dropout_drops_whole_channels():
    x = fathom.zeros(200, 100, 3)
    out = _np(nn.FeatureAlphaDropout(0.3)(x))
    per_channel = out.reshape(20000, 3)
    assert np.all(per_channel == per_channel[:, :1])  # one value per channel
    values, counts = np.unique(np.round(per_channel[:, 0], 6), return_counts=True)
    assert len(values) == 2 and abs(counts[np.argmax(np.abs(values))] / 20000 - 0.3) < 0.02


# --- activations ------------------------------------------------------------------------

def test_rrelu_training_slopes():
    lower, upper = 0.1, 0.3
    x = fathom.tensor(np.r_[-np.linspace(0.5, 2.0, 5000), np.linspace(0.5, 2.0, 5000)],
                      requires_grad=True)
    out = nn.RReLU(lower, upper)(x)
    out.sum().backward()
    slope = _np(out) / _np(x)
    neg = _np(x) < 0
    assert np.all((slope[neg] >= lower) & (slope[neg] <= upper))
    assert slope[neg].std() > 0.04  # random, one draw per element
    np.testing.assert_array_equal(slope[~neg], 1.0)
    np.testing.assert_allclose(_np(x.grad), slope, rtol=1e-6)  # gradient = the slope used


def test_rrelu_eval_uses_mean_slope(torch):
    x = np.linspace(-3, 3, 31) + 0.05
    f = nn.RReLU(0.1, 0.3).eval()(fathom.tensor(x))
    t = torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor(x))
    np.testing.assert_allclose(_np(f), _np(t), rtol=1e-12)
    np.testing.assert_allclose(_np(f)[x < 0], 0.2 * x[x < 0])


def test_step_is_fathom_only():
    assert "Fathom-only" in nn.Step.__doc__
    x = fathom.tensor([-2.0, -0.1, 0.0, 0.3, 4.0], requires_grad=True)
    out = nn.Step()(x)
    np.testing.assert_array_equal(_np(out), [0, 0, 0, 1, 1])
    out.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), np.zeros(5))
    assert repr(nn.Step()) == "Step()"


def test_inplace_activations_write_input():
    for layer in (nn.ReLU(True), nn.LeakyReLU(0.1, True), nn.ELU(inplace=True),
                  nn.CELU(inplace=True), nn.SELU(True), nn.Mish(True), nn.RReLU(inplace=True),
                  nn.Hardtanh(inplace=True), nn.ReLU6(True), nn.SiLU(True),
                  nn.Hardsigmoid(True), nn.Hardswish(True), nn.Threshold(0.0, -7.0, True)):
        layer.eval()  # RReLU: the fixed slope
        x = fathom.tensor([-3.0, 2.0])
        layer.inplace = False
        expected = _np(layer(x))
        layer.inplace = True
        out = layer(x)
        assert out is x, layer
        np.testing.assert_allclose(_np(x), expected, rtol=1e-6, err_msg=repr(layer))


def test_inplace_activation_on_leaf_requiring_grad_is_an_error():
    x = fathom.randn(3, requires_grad=True)
    for layer in (nn.ReLU(inplace=True), nn.ELU(inplace=True)):
        with pytest.raises(RuntimeError, match="leaf"):
            layer(x)


def test_inplace_reprs_match_torch(torch):
    for name, args in [("ReLU", (True,)), ("ReLU6", (True,)), ("Hardsigmoid", (True,)),
                       ("Hardswish", (True,)), ("SiLU", (True,)), ("Mish", (True,)),
                       ("SELU", (True,)), ("ELU", (0.5, True)), ("CELU", (2.0, True)),
                       ("LeakyReLU", (0.2, True)), ("Threshold", (0.1, 20, True)),
                       ("RReLU", (0.1, 0.2, True)), ("Hardtanh", (-2.0, 2.0, True)),
                       ("Softplus", (2, 10)), ("Hardshrink", (0.3,)), ("Softshrink", (1,)),
                       ("GELU", ("tanh",)), ("PReLU", (3, 0.1)), ("Softmax", ()),
                       ("LogSoftmax", (2,)), ("Softmin", (-1,)), ("GLU", (0,))]:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args)), name


def test_hardtanh_arguments():
    with pytest.raises(ValueError, match="greater than min_val"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.warns(FutureWarning, match="min_value"):
        h = nn.Hardtanh(min_value=-2.0)
    assert h.min_val == -2.0
    assert isinstance(nn.ReLU6(), nn.Hardtanh)


def test_softmax_implicit_dim_warns_like_torch(torch):
    x = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        f = nn.Softmax()(fathom.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.Softmax()(torch.tensor(x))
    np.testing.assert_allclose(_np(f), _np(t), rtol=1e-12)


def test_softmax_survives_pickle_and_deepcopy():
    for layer in (nn.Softmax(dim=1), nn.LogSoftmax(0), nn.Softmin(-1)):
        for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
            assert clone.dim == layer.dim and repr(clone) == repr(layer)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")(fathom.randn(3))


def test_prelu_weight_learns_per_channel():
    m = nn.PReLU(3)
    assert m.weight.shape == (3,) and np.all(_np(m.weight) == 0.25)
    x = fathom.tensor(-np.ones((2, 3, 4)))
    x.data[:, 1] = 1.0
    m(x).sum().backward()
    np.testing.assert_allclose(_np(m.weight.grad), [-8.0, 0.0, -8.0])


def test_new_functional_composites_match_torch(torch):
    tF = torch.nn.functional
    x = np.random.default_rng(1).standard_normal((2, 3, 4)) + 0.07
    w = np.array([0.1, -0.2, 0.3])
    for f_out, t_out in [
            (F.hardshrink(fathom.tensor(x), 0.4), tF.hardshrink(torch.tensor(x), 0.4)),
            (F.prelu(fathom.tensor(x), fathom.tensor(w)), tF.prelu(torch.tensor(x),
                                                                   torch.tensor(w))),
            (F.rrelu(fathom.tensor(x)), tF.rrelu(torch.tensor(x)))]:
        np.testing.assert_allclose(_np(f_out), _np(t_out), rtol=1e-12)
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(fathom.randn(2, 4), fathom.ones(3))


def test_every_layer_of_this_family_exists_in_torch_and_fathom(torch):
    names = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten", "Embedding",
             "EmbeddingBag", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
             "FeatureAlphaDropout", "Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6",
             "Sigmoid", "Hardsigmoid", "Tanh", "SiLU", "Mish", "Hardswish", "ELU", "CELU",
             "SELU", "GLU", "GELU", "Hardshrink", "LeakyReLU", "LogSigmoid", "Softplus",
             "Softshrink", "PReLU", "Softsign", "Tanhshrink", "Softmin", "Softmax",
             "Softmax2d", "LogSoftmax"]
    for name in names:
        assert hasattr(torch.nn, name) and issubclass(getattr(nn, name), nn.Module), name


# --- Module behaviour through these layers -----------------------------------------------

def _mlp(lib):
    n = lib.nn
    return n.Sequential(n.Flatten(), n.Linear(12, 16), n.ReLU(), n.Dropout(0.2),
                        n.Linear(16, 8), n.PReLU(8), n.Linear(8, 3), n.LogSoftmax(dim=1))


def test_sequential_state_dict_and_torch_weights(torch):
    torch.manual_seed(0)
    t = _mlp(torch).eval()
    f = _mlp(fathom).eval()
    assert list(f.state_dict()) == list(t.state_dict())
    assert [tuple(v.shape) for v in f.state_dict().values()] == \
        [tuple(v.shape) for v in t.state_dict().values()]
    f.load_state_dict(t.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(_np(f(fathom.from_numpy(x))), _np(t(torch.from_numpy(x))),
                               rtol=1e-5, atol=1e-6)
    # and back: Fathom's state dict loads into PyTorch
    f2 = _mlp(fathom).eval()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v.data)) for k, v in
                       f2.state_dict().items()})
    np.testing.assert_allclose(_np(f2(fathom.from_numpy(x))), _np(t(torch.from_numpy(x))),
                               rtol=1e-5, atol=1e-6)


def test_requires_grad_false_freezes_layers():
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    model[0].requires_grad_(False)
    model(fathom.randn(3, 4)).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None and model[2].bias.grad is not None
    model.requires_grad_(False)
    out = model(fathom.randn(3, 4))
    assert not out.requires_grad


def test_forward_hooks_on_layers():
    lin = nn.Linear(3, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape) or out + 1)
    out = lin(fathom.randn(4, 3))
    np.testing.assert_allclose(_np(out), np.broadcast_to(_np(lin.bias) + 1, (4, 2)), rtol=1e-6)
    assert seen == [(4, 2)]
    h1.remove()
    h2.remove()
    x = fathom.randn(4, 3)
    np.testing.assert_allclose(_np(lin(x)), _np(x) @ _np(lin.weight).T + _np(lin.bias),
                               rtol=1e-5)
    assert seen == [(4, 2)]


def test_to_float64_in_place_keeps_optimizer_working():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.PReLU())
    params = list(model.parameters())
    opt = fathom.optim.SGD(model.parameters(), lr=0.1)
    assert model.to(fathom.float64) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.dtype == fathom.float64 for p in params)
    assert opt.param_groups[0]["params"][0] is params[0]
    before = [_np(p).copy() for p in params]
    model(fathom.randn(5, 3, dtype=fathom.float64)).sum().backward()
    opt.step()
    assert all(p.dtype == fathom.float64 for p in params)
    assert all(not np.array_equal(b, _np(p)) for b, p in zip(before, params))
    model.float()
    assert all(p.dtype == fathom.float32 for p in params)


def test_embedding_freeze_in_a_model():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 2))
    model[0].weight.requires_grad_(False)
    model(fathom.tensor([[1, 2], [3, 4]])).sum().backward()
    assert model[0].weight.grad is None and model[2].weight.grad is not None


@pytest.mark.parametrize("module", ["linear", "activation", "dropout"])
def test_docstring_examples(module):
    import doctest
    import importlib
    mod = importlib.import_module(f"fathom.nn.{module}")
    result = doctest.testmod(mod, extraglobs={"fathom": fathom, "nn": nn, "F": F})
    assert result.attempted > 0 and result.failed == 0
