"""fathom.nn.init: PyTorch's distributions, gains and fans; generators make draws repeatable."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fathom
from fathom.nn import init

SHAPE = (256, 128, 3, 3)  # fan_in = 1152, fan_out = 2304


@pytest.mark.parametrize("name,args", [
    ("calculate_gain", ("linear",)), ("calculate_gain", ("conv2d",)),
    ("calculate_gain", ("sigmoid",)), ("calculate_gain", ("tanh",)),
    ("calculate_gain", ("relu",)), ("calculate_gain", ("leaky_relu",)),
    ("calculate_gain", ("leaky_relu", 0.2)), ("calculate_gain", ("selu",))])
def test_gain_matches_torch(name, args, torch):
    assert getattr(init, name)(*args) == pytest.approx(getattr(torch.nn.init, name)(*args))


def _stats(fill, torch, *args, **kwargs):
    """(min, max, std) of a fathom fill next to torch's on the same shape."""
    f = fathom.empty(*SHAPE)
    t = torch.empty(*SHAPE)
    getattr(init, fill)(f, *args, **kwargs)
    getattr(torch.nn.init, fill)(t, *args, **kwargs)
    return f.detach().numpy(), t.numpy()


@pytest.mark.parametrize("fill,args,kwargs", [
    ("uniform_", (-0.5, 2.0), {}), ("normal_", (1.0, 0.3), {}),
    ("xavier_uniform_", (), {}), ("xavier_uniform_", (2.0,), {}),
    ("xavier_normal_", (), {"gain": 0.5}),
    ("kaiming_uniform_", (), {}), ("kaiming_uniform_", (), {"a": math.sqrt(5)}),
    ("kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (), {}), ("kaiming_normal_", (), {"mode": "fan_out", "a": 0.1}),
    ("trunc_normal_", (0.0, 1.0, -1.0, 0.5), {}),
])
def test_distribution_matches_torch(fill, args, kwargs, torch):
    f, t = _stats(fill, torch, *args, **kwargs)
    assert f.dtype == np.float32
    if "normal" not in fill or fill == "trunc_normal_":  # bounded: the same bounds
        assert f.min() >= t.min() - 0.01 * abs(t.min()) - 1e-3
        assert f.max() <= t.max() + 0.01 * abs(t.max()) + 1e-3
    assert f.std() == pytest.approx(t.std(), rel=0.02)
    assert f.mean() == pytest.approx(t.mean(), abs=float(0.01 * t.std() + 0.01 * abs(t.mean())))


def test_constant_fills():
    t = fathom.empty(2, 3)
    assert np.all(init.constant_(t, 2.5).numpy() == 2.5)
    assert np.all(init.ones_(t).numpy() == 1) and np.all(init.zeros_(t).numpy() == 0)
    np.testing.assert_array_equal(init.eye_(t).numpy(), np.eye(2, 3))


def test_dirac_matches_torch(torch):
    f, t = fathom.empty(6, 3, 3, 3), torch.empty(6, 3, 3, 3)
    init.dirac_(f, groups=2)
    torch.nn.init.dirac_(t, groups=2)
    np.testing.assert_array_equal(f.numpy(), t.numpy())


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (6, 2, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(fathom.empty(*shape, dtype=fathom.float64), gain=2.0).numpy()
    flat = w.reshape(shape[0], -1)
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-12)


def test_sparse_zeroes_a_fraction_of_each_column():
    w = init.sparse_(fathom.empty(10, 6), sparsity=0.3).numpy()
    assert np.all((w == 0).sum(axis=0) == 3)


def test_generator_makes_draws_repeatable():
    g = fathom.Generator().manual_seed(7)
    a = init.kaiming_normal_(fathom.empty(5, 4), generator=g).numpy().copy()
    g.manual_seed(7)
    b = init.kaiming_normal_(fathom.empty(5, 4), generator=g).numpy()
    np.testing.assert_array_equal(a, b)
    fathom.manual_seed(3)
    c = init.xavier_uniform_(fathom.empty(5, 4)).numpy().copy()
    fathom.manual_seed(3)
    np.testing.assert_array_equal(c, init.xavier_uniform_(fathom.empty(5, 4)).numpy())


def test_fills_leaf_parameters_without_recording():
    p = fathom.nn.Parameter(fathom.zeros(3, 4))
    version = p._version if hasattr(p, "_version") else p.version
    init.normal_(p)
    assert p.grad_fn is None and p.requires_grad
    assert (p._version if hasattr(p, "_version") else p.version) != version


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(fathom.empty(5))
    with pytest.raises(ValueError, match="Mode fan_mid not supported"):
        init.kaiming_uniform_(fathom.empty(2, 2), mode="fan_mid")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(fathom.empty(2, 2, 2))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(fathom.empty(0, 3))
