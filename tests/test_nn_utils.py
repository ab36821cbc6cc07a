"""fathom.nn.utils against torch.nn.utils: gradient clipping (by norm, by value, the two
halves get_total_norm / clip_grads_with_norm_), parameters <-> vector, and l1_penalty."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fathom
from fathom.nn import Parameter
from fathom.nn import utils as U

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
NORMS = [1, 2, 2.0, math.inf, 3, 0.5, -math.inf, 0]


def _make_pairs(torch, dtype=np.float64, none_at=(), scale=1.0, seed=0):
    """Matching fathom and torch parameters with the same gradients; those at `none_at`
    get no gradient."""
    rng = np.random.default_rng(seed)
    fs, ts = [], []
    for i, shape in enumerate(SHAPES):
        w = np.asarray(rng.standard_normal(shape), dtype=dtype)
        g = np.asarray(rng.standard_normal(shape) * scale, dtype=dtype)
        f, t = Parameter(fathom.from_numpy(w.copy())), torch.nn.Parameter(torch.from_numpy(w))
        if i not in none_at:
            f.grad = fathom.from_numpy(g.copy())
            t.grad = torch.from_numpy(g.copy())
        fs.append(f)
        ts.append(t)
    return fs, ts


def _same_grads(fs, ts, rtol=1e-12):
    for f, t in zip(fs, ts):
        if t.grad is None:
            assert f.grad is None
        else:
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-300)


# --- clip_grad_norm_ --------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", NORMS)
@pytest.mark.parametrize("max_norm", [0.3, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, torch):
    fs, ts = _make_pairs(torch)
    f_total = U.clip_grad_norm_(fs, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
    assert isinstance(f_total, fathom.Tensor) and f_total.shape == ()
    assert not f_total.requires_grad
    np.testing.assert_allclose(f_total.numpy(), t_total.numpy(), rtol=1e-12)
    _same_grads(fs, ts)


@pytest.mark.parametrize("norm_type", [1, 2, math.inf, 3])
def test_clip_grad_norm_float32(norm_type, torch):
    fs, ts = _make_pairs(torch, dtype=np.float32)
    f_total = U.clip_grad_norm_(fs, 0.5, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(ts, 0.5, norm_type)
    assert f_total.dtype == fathom.float32
    np.testing.assert_allclose(f_total.numpy(), t_total.numpy(), rtol=1e-6)
    for f, t in zip(fs, ts):
        assert f.grad.dtype == fathom.float32
    _same_grads(fs, ts, rtol=1e-6)


def test_clip_grad_norm_result_has_norm_max_norm():
    rng = np.random.default_rng(0)
    ps = [Parameter(fathom.zeros(*shape)) for shape in SHAPES]
    for p in ps:
        p.grad = fathom.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32))
    U.clip_grad_norm_(ps, 0.5)
    total = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in ps))
    assert abs(total - 0.5) < 1e-5


@pytest.mark.parametrize("kind", ["generator", "single", "some_none", "tuple"])
def test_clip_grad_norm_parameter_forms(kind, torch):
    none_at = (1, 2) if kind == "some_none" else ()
    fs, ts = _make_pairs(torch, none_at=none_at)
    if kind == "single":
        f_args, t_args = fs[0], ts[0]
    elif kind == "generator":
        f_args, t_args = (p for p in fs), (p for p in ts)
    elif kind == "tuple":
        f_args, t_args = tuple(fs), tuple(ts)
    else:
        f_args, t_args = fs, ts
    f_total = U.clip_grad_norm_(f_args, 0.7)
    t_total = torch.nn.utils.clip_grad_norm_(t_args, 0.7)
    np.testing.assert_allclose(f_total.numpy(), t_total.numpy(), rtol=1e-12)
    _same_grads(fs, ts)


def test_clip_grad_norm_no_grads_and_empty(torch):
    fs, ts = _make_pairs(torch, none_at=range(len(SHAPES)))
    f_total = U.clip_grad_norm_(fs, 1.0)
    t_total = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert float(f_total) == float(t_total) == 0.0
    assert f_total.dtype == fathom.float32
    with pytest.warns(UserWarning, match="empty generator"):
        U.clip_grad_norm_((p for p in []), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(U.clip_grad_norm_([], 1.0)) == 0.0  # a list: no warning, as PyTorch


@pytest.mark.parametrize("bad", [math.inf, math.nan])
@pytest.mark.parametrize("norm_type", [2, math.inf, 1])
def test_clip_grad_norm_non_finite(bad, norm_type, torch):
    fs, ts = _make_pairs(torch)
    fs[0].grad.data[0, 0] = bad
    ts[0].grad[0, 0] = bad
    with pytest.raises(RuntimeError) as f_err:
        U.clip_grad_norm_(fs, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.utils.clip_grad_norm_(ts, 1.0, norm_type, error_if_nonfinite=True)
    assert str(f_err.value) == str(t_err.value)
    _same_grads(fs, ts)  # nothing was scaled
    f_total = U.clip_grad_norm_(fs, 1.0, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(ts, 1.0, norm_type)
    np.testing.assert_equal(f_total.numpy(), t_total.numpy())
    for f, t in zip(fs, ts):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_clip_grad_norm_deprecated_alias(torch):
    fs, ts = _make_pairs(torch)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        f_total = U.clip_grad_norm(fs, 0.4)
    with pytest.warns(FutureWarning):
        t_total = torch.nn.utils.clip_grad_norm(ts, 0.4)
    np.testing.assert_allclose(f_total.numpy(), t_total.numpy(), rtol=1e-12)
    _same_grads(fs, ts)


def test_clip_grad_norm_foreach_accepted_and_version_bumped(torch):
    fs, ts = _make_pairs(torch)
    before = fs[0].grad._version
    U.clip_grad_norm_(fs, 0.1, foreach=True)
    torch.nn.utils.clip_grad_norm_(ts, 0.1, foreach=True)
    _same_grads(fs, ts)
    assert fs[0].grad._version > before


def test_clip_grad_norm_after_backward_then_step(torch):
    """The usual loop: backward, clip, step; the same as PyTorch's."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3))
    x = rng.standard_normal((8, 3))
    fw, tw = Parameter(fathom.from_numpy(w.copy())), torch.nn.Parameter(torch.from_numpy(w))
    ((fathom.from_numpy(x) @ fw.T) ** 2).sum().backward()
    ((torch.from_numpy(x) @ tw.T) ** 2).sum().backward()
    np.testing.assert_allclose(U.clip_grad_norm_([fw], 1.0).numpy(),
                               torch.nn.utils.clip_grad_norm_([tw], 1.0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


# --- get_total_norm, clip_grads_with_norm_ ---------------------------------------------

@pytest.mark.parametrize("norm_type", [1, 2, math.inf, 3])
def test_two_halves_match_torch(norm_type, torch):
    fs, ts = _make_pairs(torch, none_at=(2,))
    f_total = U.get_total_norm([p.grad for p in fs if p.grad is not None], norm_type)
    t_total = torch.nn.utils.get_total_norm([p.grad for p in ts if p.grad is not None],
                                            norm_type)
    np.testing.assert_allclose(f_total.numpy(), t_total.numpy(), rtol=1e-12)
    U.clip_grads_with_norm_(fs, 0.25, f_total)
    torch.nn.utils.clip_grads_with_norm_(ts, 0.25, t_total)
    _same_grads(fs, ts)
    # a single tensor, and a total norm chosen by hand (say, all-reduced across workers)
    U.clip_grads_with_norm_(fs[0], 0.1, fathom.tensor(3.0, dtype=fathom.float64))
    torch.nn.utils.clip_grads_with_norm_(ts[0], 0.1, torch.tensor(3.0, dtype=torch.float64))
    _same_grads(fs, ts)


def test_get_total_norm_of_one_tensor_and_empty(torch):
    g = np.arange(6.0).reshape(2, 3)
    assert float(U.get_total_norm(fathom.from_numpy(g))) == pytest.approx(
        float(torch.nn.utils.get_total_norm(torch.from_numpy(g))))
    assert float(U.get_total_norm([])) == 0.0
    with pytest.raises(RuntimeError, match="non-finite"):
        U.get_total_norm([fathom.tensor([1.0, math.nan])], error_if_nonfinite=True)


# --- clip_grad_value_ -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["list", "generator", "single", "some_none"])
@pytest.mark.parametrize("clip", [0.5, 2, -0.3])
def test_clip_grad_value_matches_torch(kind, clip, torch):
    fs, ts = _make_pairs(torch, none_at=(0, 3) if kind == "some_none" else ())
    if kind == "generator":
        f_args, t_args = (p for p in fs), (p for p in ts)
    elif kind == "single":
        f_args, t_args = fs[1], ts[1]
    else:
        f_args, t_args = fs, ts
    assert U.clip_grad_value_(f_args, clip) is None
    torch.nn.utils.clip_grad_value_(t_args, clip)
    _same_grads(fs, ts)


def test_clip_grad_value_keeps_nan_and_dtype(torch):
    g = np.array([-3.0, math.nan, 0.2, math.inf], dtype=np.float32)
    f = Parameter(fathom.zeros(4))
    f.grad = fathom.from_numpy(g.copy())
    t = torch.nn.Parameter(torch.zeros(4))
    t.grad = torch.from_numpy(g.copy())
    U.clip_grad_value_(f, 1.0)
    torch.nn.utils.clip_grad_value_(t, 1.0)
    assert f.grad.dtype == fathom.float32
    np.testing.assert_equal(f.grad.numpy(), t.grad.numpy())


# --- parameters_to_vector, vector_to_parameters ----------------------------------------

def test_parameters_to_vector_matches_torch_and_is_differentiable(torch):
    fs, ts = _make_pairs(torch)
    fv = U.parameters_to_vector(p for p in fs)
    tv = torch.nn.utils.parameters_to_vector(p for p in ts)
    np.testing.assert_array_equal(fv.detach().numpy(), tv.detach().numpy())
    w = np.random.default_rng(1).standard_normal(fv.shape[0])
    for p in fs:
        p.grad = None
    for p in ts:
        p.grad = None
    (fv * fathom.from_numpy(w)).sum().backward()
    (tv * torch.from_numpy(w)).sum().backward()
    _same_grads(fs, ts)


def test_vector_to_parameters_matches_torch(torch):
    fs, ts = _make_pairs(torch)
    n = sum(p.numel() for p in fs)
    v = np.random.default_rng(2).standard_normal(n)
    fvec = fathom.from_numpy(v.copy())
    U.vector_to_parameters(fvec, iter(fs))
    torch.nn.utils.vector_to_parameters(torch.from_numpy(v.copy()), iter(ts))
    for f, t in zip(fs, ts):
        assert f.shape == t.shape
        np.testing.assert_array_equal(f.detach().numpy(), t.detach().numpy())
    # round trip, and the parameters are views of the vector, as PyTorch's
    np.testing.assert_array_equal(U.parameters_to_vector(fs).detach().numpy(), v)
    fvec.data[0] = 123.0
    assert float(fs[0].data.reshape(-1)[0]) == 123.0


def test_vector_to_parameters_takes_vec_dtype(torch):
    f = Parameter(fathom.zeros(3))
    t = torch.nn.Parameter(torch.zeros(3))
    U.vector_to_parameters(fathom.arange(3, dtype=fathom.float64), [f])
    torch.nn.utils.vector_to_parameters(torch.arange(3, dtype=torch.float64), [t])
    assert f.dtype.name == str(t.dtype).replace("torch.", "") == "float64"


def test_vector_to_parameters_errors():
    ps = [Parameter(fathom.zeros(2, 3)), Parameter(fathom.zeros(4))]
    with pytest.raises(TypeError, match="expected fathom.Tensor, but got: ndarray"):
        U.vector_to_parameters(np.zeros(10), ps)
    for n in (9, 11):  # too short, and too long (PyTorch ignores the tail; Fathom refuses)
        with pytest.raises(ValueError) as err:
            U.vector_to_parameters(fathom.zeros(n), ps)
        msg = str(err.value)
        assert f"{n} elements" in msg and "10" in msg and "(2, 3)" in msg and "(4,)" in msg
    with pytest.raises(ValueError, match="1-D"):
        U.vector_to_parameters(fathom.zeros(2, 5), ps)
    assert ps[0].shape == (2, 3) and not ps[0].detach().numpy().any()  # nothing was changed
    with pytest.raises(ValueError, match="no parameters"):
        U.parameters_to_vector([])


# --- l1_penalty -------------------------------------------------------------------------

def test_l1_penalty_value_and_gradient(torch):
    fs, ts = _make_pairs(torch)
    for p in fs:
        p.grad = None
    pen = U.l1_penalty(fs, weight=0.01)
    expected = 0.01 * sum(float(np.abs(p.detach().numpy()).sum()) for p in fs)
    assert pen.shape == () and pen.requires_grad
    assert float(pen) == pytest.approx(expected, rel=1e-12)
    pen.backward()
    for p in fs:
        np.testing.assert_allclose(p.grad.numpy(), 0.01 * np.sign(p.detach().numpy()))
    # against the same penalty written in torch
    t_pen = 0.01 * sum(p.abs().sum() for p in ts)
    np.testing.assert_allclose(float(pen), float(t_pen.detach()), rtol=1e-12)


def test_l1_penalty_forms():
    p = Parameter(fathom.tensor([1.0, -2.0]))
    assert float(U.l1_penalty(p)) == 3.0
    assert float(U.l1_penalty(q for q in [p, p])) == 6.0
    assert float(U.l1_penalty([])) == 0.0
    assert float(U.l1_penalty([p], weight=0.5)) == 1.5
    assert "weight_decay" in U.l1_penalty.__module__ or "weight_decay" in \
        __import__("fathom.nn.utils.penalty", fromlist=["x"]).__doc__


def test_exports():
    for name in ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
                 "clip_grads_with_norm_", "parameters_to_vector", "vector_to_parameters",
                 "l1_penalty"]:
        assert callable(getattr(fathom.nn.utils, name))


def test_docstring_examples():
    import doctest

    from fathom.nn.utils import clip_grad, convert_parameters, penalty
    names = {k: getattr(U, k) for k in dir(U) if not k.startswith("_")}
    for mod in (clip_grad, convert_parameters, penalty):
        result = doctest.testmod(mod, extraglobs={"fathom": fathom, "nn": fathom.nn, **names})
        assert result.failed == 0 and result.attempted > 0, mod.__name__
