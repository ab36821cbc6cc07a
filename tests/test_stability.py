"""Extreme inputs: the math functions and the engine stay finite where the answer is finite,
with no hidden overflow, invalid operation or division by zero along the way
(NumPy is told to raise on each, so a silent inf/nan intermediate fails the test)."""
import math

import numpy as np
import pytest

import fathom

EXTREME = [-1000.0, -100.0, -30.0, -1e-30, 0.0, 1e-30, 30.0, 100.0, 1000.0]
FLOATS = [fathom.float32, fathom.float64]


@pytest.fixture(autouse=True)
def _raise_on_float_errors():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield


def _grad(fn, values, dtype):
    x = fathom.tensor(values, dtype=dtype, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.detach().numpy(), x.grad.numpy()


def _stable_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_and_tanh_saturate_cleanly(dtype):
    y, g = _grad(fathom.sigmoid, EXTREME, dtype)
    s = _stable_sigmoid(EXTREME)
    np.testing.assert_allclose(y, s, rtol=1e-6, atol=1e-40)
    np.testing.assert_allclose(g, s * (1 - s), rtol=1e-5, atol=1e-12)  # float32: 1 - y = 0
    assert y[0] == 0.0 and y[-1] == 1.0
    y, g = _grad(fathom.tanh, EXTREME, dtype)
    np.testing.assert_allclose(y, np.tanh(EXTREME), rtol=1e-6)
    assert np.isfinite(g).all() and g[0] == 0.0 and g[-1] == 0.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_exp_of_very_negative_values_underflows_to_zero(dtype):
    y, g = _grad(lambda x: fathom.exp(-fathom.abs(x)), [v for v in EXTREME if v], dtype)
    assert y[0] == 0.0 and y[-1] == 0.0 and np.isfinite(g).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_log1p_expm1_keep_precision_at_the_edges(dtype):
    tiny = 1e-30
    y, g = _grad(fathom.log1p, [tiny, -0.5, 1e30], dtype)
    np.testing.assert_allclose(y, [tiny, math.log(0.5), math.log(1e30)], rtol=1e-6)
    np.testing.assert_allclose(g, [1.0, 2.0, 1e-30], rtol=1e-6)
    y, g = _grad(fathom.expm1, [tiny, -1000.0, 50.0], dtype)
    np.testing.assert_allclose(y, [tiny, -1.0, math.expm1(50.0)], rtol=1e-6)
    np.testing.assert_allclose(g, [1.0, 0.0, math.exp(50.0)], rtol=1e-6)
    y, g = _grad(fathom.log, [tiny, 1e30], dtype)
    np.testing.assert_allclose(y, [math.log(tiny), math.log(1e30)], rtol=1e-6)
    np.testing.assert_allclose(g, [1e30, 1e-30], rtol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softplus_composite_is_stable(dtype):
    def softplus(x):  # log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
        return fathom.relu(x) + fathom.log1p(fathom.exp(-fathom.abs(x)))

    y, g = _grad(softplus, [v for v in EXTREME if v], dtype)
    xs = np.array([v for v in EXTREME if v])
    np.testing.assert_allclose(y, np.logaddexp(0, xs), rtol=1e-6, atol=1e-40)
    np.testing.assert_allclose(g, _stable_sigmoid(xs), rtol=1e-5, atol=1e-40)


@pytest.mark.parametrize("dtype", FLOATS)
def test_erf_at_huge_arguments(dtype):
    y = fathom.erf(fathom.tensor([-1e30, -30.0, -7.0, 7.0, 30.0, 1e30], dtype=dtype)).numpy()
    np.testing.assert_array_equal(y, [-1, -1, -1, 1, 1, 1])
    _, g = _grad(fathom.erf, EXTREME, dtype)
    assert np.isfinite(g).all() and g[0] == 0.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_piecewise_ops_at_extremes(dtype):
    for fn in (fathom.abs, fathom.relu, lambda x: fathom.clamp(x, -1, 1),
               lambda x: fathom.maximum(x, fathom.zeros(len(EXTREME), dtype=dtype)),
               lambda x: fathom.where(x > 0, x, x * 0.01),
               lambda x: fathom.sqrt(x * x + 1), lambda x: fathom.rsqrt(x * x + 1),
               lambda x: x / (x * x + 1), lambda x: fathom.pow(fathom.abs(x) + 1, 0.5)):
        y, g = _grad(fn, EXTREME, dtype)
        assert np.isfinite(y).all() and np.isfinite(g).all()


def test_engine_accumulates_many_paths_and_deep_chains_without_overflow():
    x = fathom.tensor([1e-3, -1e-3], requires_grad=True)
    total = sum((x * float(k)).sum() for k in range(200))  # 200 paths into one leaf
    total.backward()
    np.testing.assert_allclose(x.grad.numpy(), [sum(range(200))] * 2, rtol=1e-6)
    y = x
    for _ in range(3000):
        y = fathom.tanh(y) * 1.5  # saturating chain
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_repr_of_extreme_values():
    t = fathom.tensor([3e38, -1e-45, float("inf"), float("-inf"), float("nan"), 0.0])
    text = repr(t)
    assert "inf" in text and "nan" in text and "e+38" in text
    assert repr(fathom.tensor([1e308, 5e-324], dtype=fathom.float64)).startswith("tensor([")


@pytest.mark.parametrize("path", ["default", "pure_numpy"])
def test_erf_matches_math_erf_to_double_precision(path, monkeypatch):
    """Both erf paths: SciPy's (when installed) and the pure-NumPy fallback."""
    from fathom.ops import elementwise
    if path == "pure_numpy":
        monkeypatch.setattr(elementwise, "_SCIPY_ERF", [None])
    xs = np.concatenate([np.linspace(-8, 8, 16001), [2.4999999, 2.5, 2.5000001, 1.9999999,
                                                     2.0000001, 1e-300, -1e-8, 5.9, 6.1]])
    want = np.array([math.erf(v) for v in xs])
    got = fathom.erf(fathom.tensor(xs, dtype=fathom.float64)).numpy()
    assert np.abs(got - want).max() < 2e-15
    small = np.abs(xs) < 1
    np.testing.assert_allclose(got[small], want[small], rtol=2e-15, atol=0)  # relative near 0
    got32 = fathom.erf(fathom.tensor(xs, dtype=fathom.float32)).numpy()
    assert got32.dtype == np.float32
    assert np.abs(got32 - want.astype(np.float32)).max() <= 6e-8
