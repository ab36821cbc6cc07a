"""Fast paths that replace slow NumPy idioms: erf without SciPy, the fused GELU, and the
embedding gradient without np.add.at on rows. Each is checked for accuracy (erf and gelu
against math.erf / math.erfc over dense grids with tails and tiny values) and for exact
agreement with the slow idiom it replaced."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fathom
import fathom.nn.functional as F
from fathom.ops import elementwise, nn as nn_ops

_erf_ref = np.vectorize(math.erf, otypes=[np.float64])
_erfc_ref = np.vectorize(math.erfc, otypes=[np.float64])


def _grid():
    """Dense values with both tails, the split points of the approximations, tiny values
    (down to subnormals) of both signs, and signed zeros."""
    tiny = np.geomspace(1e-310, 1.0, 4001)
    return np.concatenate([np.linspace(-8, 8, 32001), tiny, -tiny, [0.0, -0.0],
                           np.nextafter(0.46875, [-1, 2]), [0.46875, 4.0, 5.9, 6.0, 6.1, 27.0]])


def _ulps32(got, want):
    """|got - want| in units of the float32 spacing at want (want exact, in float64)."""
    spacing = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


@pytest.fixture(params=["scipy", "cody"])
def erf_path(request, monkeypatch):
    """float64 erf uses SciPy when installed (it is faster there), else Cody's rationals."""
    if request.param == "scipy":
        pytest.importorskip("scipy")
    else:
        monkeypatch.setattr(elementwise, "_SCIPY_ERF", [None])
    return request.param


def test_erf_float64_matches_math_erf(erf_path):
    xs = _grid()
    want = _erf_ref(xs)
    got = fathom.erf(fathom.tensor(xs, dtype=fathom.float64)).numpy()
    assert got.dtype == np.float64
    assert np.abs(got - want).max() <= 2.3e-16
    normal = np.abs(want) >= np.finfo(np.float64).tiny  # subnormals have fewer digits
    rel = np.abs(got - want)[normal] / np.abs(want[normal])
    assert rel.max() <= 1e-15  # relative accuracy holds for the tiny values too
    assert np.abs(got - want)[~normal].max() <= 5e-324 * 4
    np.testing.assert_array_equal(np.signbit(got[xs == 0]), np.signbit(xs[xs == 0]))


def test_erf_float64_special_values(erf_path):
    x = fathom.tensor([np.inf, -np.inf, np.nan, 1e308, -1e308], dtype=fathom.float64)
    np.testing.assert_array_equal(fathom.erf(x).numpy(), [1, -1, np.nan, 1, -1])


@pytest.mark.parametrize("scipy_installed", [True, False])
def test_erf_float32_is_rounded_once(scipy_installed, monkeypatch):
    """Within 0.6 ulp of the exact erf (0.5 is the best possible): the rational fit runs in
    float64 and is rounded once. SciPy is never used for float32 (the fit is faster)."""
    if not scipy_installed:
        monkeypatch.setattr(elementwise, "_SCIPY_ERF", [None])
    else:
        monkeypatch.setattr(elementwise, "_SCIPY_ERF", [_fail])
    x32 = np.concatenate([_grid().astype(np.float32), np.float32([1e-45, -1e-45, 3e-39])])
    got = fathom.erf(fathom.tensor(x32)).numpy()
    assert got.dtype == np.float32
    assert _ulps32(got, _erf_ref(x32.astype(np.float64))).max() <= 0.6
    np.testing.assert_array_equal(np.signbit(got[x32 == 0]), np.signbit(x32[x32 == 0]))
    special = fathom.erf(fathom.tensor([np.inf, -np.inf, np.nan, 3e38])).numpy()
    np.testing.assert_array_equal(special, [1, -1, np.nan, 1])


def _fail(x):
    raise AssertionError("SciPy's erf is not used for float32")


def test_erf_shapes_dtypes_and_layouts():
    x = np.random.default_rng(0).standard_normal((3, 4))
    for a in (x, np.asfortranarray(x), x.T, x[:, ::2], np.float64(0.3), np.zeros((0, 3))):
        want = _erf_ref(np.asarray(a, dtype=np.float64))
        got = fathom.erf(fathom.tensor(np.array(a, dtype=np.float32))).numpy()
        assert got.shape == np.shape(a) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-30)
    half = fathom.erf(fathom.tensor([0.5, -2.0], dtype=fathom.float16))
    assert half.dtype == fathom.float16
    np.testing.assert_allclose(half.numpy(), _erf_ref([0.5, -2.0]), rtol=1e-3)
    ints = fathom.erf(fathom.tensor([0, 1, -3]))
    assert ints.dtype == fathom.float32


def test_erf_backward_stays_float32():
    x = fathom.tensor(np.linspace(-4, 4, 101, dtype=np.float32), requires_grad=True)
    fathom.erf(x).sum().backward()
    assert x.grad.dtype == fathom.float32
    xd = x.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), 2 / math.sqrt(math.pi) * np.exp(-xd * xd),
                               rtol=1e-6, atol=1e-12)


# --- gelu --------------------------------------------------------------------------------

def _gelu_exact(x):
    # x Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation in the negative tail
    return x * 0.5 * _erfc_ref(-x / math.sqrt(2))


def _gelu_slope_exact(x):
    return 0.5 * _erfc_ref(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def test_gelu_float32_accuracy_including_the_negative_tail():
    """Phi is computed as exp(-x^2/2) S(|x|) for x < 0, so the negative tail keeps its
    digits; 0.5 (1 + erf(x / sqrt 2)) (PyTorch's formula) loses all of them below -5."""
    x = np.linspace(-14, 14, 280001).astype(np.float32)
    want = _gelu_exact(x.astype(np.float64))
    got = F.gelu(fathom.tensor(x)).numpy()
    assert got.dtype == np.float32
    ulps = _ulps32(got, want)
    assert ulps[np.abs(x) <= 2].max() <= 8
    assert ulps[(x >= -10) & (x < -2)].max() <= 48
    assert ulps[x > 2].max() <= 2
    normal = np.abs(want) > 1.2e-38  # below that float32 is subnormal: fewer digits
    rel = np.abs(got - want)[normal] / np.abs(want[normal])
    assert rel.max() <= 6e-6


def test_gelu_float32_gradient():
    x = fathom.tensor(np.linspace(-14, 14, 28001, dtype=np.float32), requires_grad=True)
    F.gelu(x).sum().backward()
    assert x.grad.dtype == fathom.float32
    want = _gelu_slope_exact(x.detach().numpy().astype(np.float64))
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=0, atol=2.5e-7)


def test_gelu_float64_and_double_backward_match_torch(torch):
    x = np.random.default_rng(1).standard_normal(50) * 3
    a = fathom.tensor(x, requires_grad=True)
    (g1,) = fathom.autograd.grad(F.gelu(a).sum(), a, create_graph=True)
    (g2,) = fathom.autograd.grad((g1 * g1).sum(), a)
    b = torch.tensor(x, requires_grad=True)
    (h1,) = torch.autograd.grad(torch.nn.functional.gelu(b).sum(), b, create_graph=True)
    (h2,) = torch.autograd.grad((h1 * h1).sum(), b)
    np.testing.assert_allclose(F.gelu(a).detach().numpy(),
                               torch.nn.functional.gelu(b).detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(g1.detach().numpy(), h1.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(g2.numpy(), h2.numpy(), rtol=1e-12, atol=1e-14)


def test_gelu_float32_matches_torch(torch):
    x = (np.random.default_rng(2).standard_normal((64, 1024)) * 3).astype(np.float32)
    w = np.random.default_rng(3).standard_normal((64, 1024)).astype(np.float32)
    a = fathom.tensor(x, requires_grad=True)
    (F.gelu(a) * fathom.tensor(w)).sum().backward()
    b = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.gelu(b) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(F.gelu(a).detach().numpy(),
                               torch.nn.functional.gelu(b).detach().numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=2e-6)


def test_gelu_special_values_and_inputs():
    y = F.gelu(fathom.tensor([-0.0, 0.0, np.inf, -40.0, 40.0, np.nan])).numpy()
    np.testing.assert_array_equal(y, [-0.0, 0.0, np.inf, -0.0, 40.0, np.nan])
    assert np.signbit(y[0]) and not np.signbit(y[1])
    x = fathom.tensor([-0.0, 0.0], requires_grad=True)  # slope 1/2 at both zeros
    F.gelu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5])
    assert F.gelu(fathom.tensor(0.7)).shape == ()
    assert F.gelu(fathom.tensor([1, -2])).dtype == fathom.float32
    half = F.gelu(fathom.tensor([1.0, -2.0], dtype=fathom.float16))
    assert half.dtype == fathom.float16
    np.testing.assert_allclose(half.numpy(), _gelu_exact(np.array([1.0, -2.0])), rtol=2e-3)
    for a in (np.ones((3, 4), np.float32), np.asfortranarray(np.ones((3, 4), np.float32)).T):
        t = fathom.tensor(a, requires_grad=True)
        F.gelu(t).sum().backward()
        assert t.grad.shape == a.shape


def test_gelu_tanh_approximation_is_unchanged(torch):
    x = np.random.default_rng(4).standard_normal((4, 5))
    np.testing.assert_allclose(
        F.gelu(fathom.tensor(x), approximate="tanh").numpy(),
        torch.nn.functional.gelu(torch.tensor(x), approximate="tanh").numpy(), rtol=1e-14)


# --- embedding gradient ------------------------------------------------------------------

def _add_at(shape, idx, rows, skip=None):
    out = np.zeros(shape, rows.dtype)
    np.add.at(out, idx, rows)
    if skip is not None:
        out[skip] = 0
    return out


_INDEX_CASES = {
    "benchmark size, few repeats": (10_000, 128, lambda r: r.integers(0, 10_000, (32, 64))),
    "small": (100, 16, lambda r: r.integers(0, 100, (8, 10))),
    "many repeats": (50, 64, lambda r: r.integers(0, 50, (40, 30))),
    "one index only": (20, 32, lambda r: np.full((700,), 3)),
    "int32 indices": (300, 64, lambda r: r.integers(0, 300, (500,)).astype(np.int32)),
    "scalar index": (5, 4, lambda r: np.array(2)),
    "no indices": (5, 4, lambda r: np.zeros((0, 3), np.int64)),
}


@pytest.mark.parametrize("case", list(_INDEX_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_rows_is_bitwise_add_at(case, dtype):
    V, D, make = _INDEX_CASES[case]
    rng = np.random.default_rng(0)
    idx = make(rng)
    rows = rng.standard_normal(idx.shape + (D,)).astype(dtype)
    for skip in (None, int(idx.reshape(-1)[0]) if idx.size else 0):
        got = nn_ops._add_rows(np, (V, D), idx, rows, skip)
        assert got.dtype == dtype and got.shape == (V, D)
        np.testing.assert_array_equal(got, _add_at((V, D), idx, rows, skip))


def test_add_rows_with_broadcast_gradient():
    idx = np.random.default_rng(0).integers(0, 1000, (64, 64))
    rows = np.broadcast_to(np.float32(1.0), (64, 64, 32))  # what the backward of sum hands in
    got = nn_ops._add_rows(np, (1000, 32), idx, rows)
    np.testing.assert_array_equal(got, np.bincount(idx.ravel(), minlength=1000)[:, None]
                                  * np.ones((1, 32), np.float32))


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
@pytest.mark.parametrize("V,D,shape", [(10_000, 128, (32, 64)), (100, 16, (8, 10))])
def test_embedding_gradient_matches_torch(torch, padding_idx, scale_grad_by_freq, V, D, shape):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((V, D)).astype(np.float32)
    idx = rng.integers(0, V, shape)
    idx[0, :3] = 0  # padding (row 0, or row V - 1 for -1) appears, repeatedly
    idx[1, :3] = V - 1
    g = rng.standard_normal(shape + (D,)).astype(np.float32)
    kw = dict(padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    fw = fathom.tensor(w, requires_grad=True)
    (F.embedding(fathom.tensor(idx), fw, **kw) * fathom.tensor(g)).sum().backward()
    tw = torch.tensor(w, requires_grad=True)
    (torch.nn.functional.embedding(torch.tensor(idx), tw, **kw) * torch.tensor(g)).sum().backward()
    assert fw.grad.dtype == fathom.float32
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_embedding_gradient_under_create_graph():
    """create_graph takes the differentiable scatter; it must agree with the fast one."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((30, 4))
    idx = fathom.tensor(rng.integers(0, 30, (6, 5)))
    fast = fathom.tensor(w, requires_grad=True)
    (F.embedding(idx, fast, padding_idx=2) ** 2).sum().backward()
    slow = fathom.tensor(w, requires_grad=True)
    (g,) = fathom.autograd.grad((F.embedding(idx, slow, padding_idx=2) ** 2).sum(), slow,
                                create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), fast.grad.numpy(), rtol=1e-15)
    (gg,) = fathom.autograd.grad(g.sum(), slow)  # d/dw of sum(2 * count * w), padding row 0
    counts = np.bincount(idx.numpy().ravel(), minlength=30).astype(float)
    counts[2] = 0
    np.testing.assert_allclose(gg.numpy(), 2 * counts[:, None] * np.ones((1, 4)))
