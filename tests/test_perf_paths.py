"""Speed paths from the benchmark issue: the tiling max pool (contiguous offset planes and
first-hit masks), conv2d's weight-gradient GEMM orientation and bias gradient, and the
glibc allocator setting made at import. Each fast path must give the numbers of the
general path it bypasses (bitwise where the arithmetic is the same) and of PyTorch."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import fathom
import fathom.nn.functional as F
from fathom import backend
from fathom.autograd import gradcheck, gradgradcheck
from fathom.ops import conv, pool


def _tied(rng, shape, levels=3):
    """Values from a few levels: most pooling windows hold ties (as after a ReLU)."""
    return rng.integers(0, levels, shape).astype(np.float32)


def _pool_grads(x, weights, general, monkeypatch, **kw):
    """max_pool2d output and input gradient of sum(out * weights), on either path."""
    with monkeypatch.context() as m:
        if general:
            m.setattr(pool, "_tiling", lambda geo: False)
        t = fathom.tensor(x, requires_grad=True)
        out = F.max_pool2d(t, **kw)
        assert (out._node.hits is None) == general  # the path under test did run
        (out * fathom.tensor(weights)).sum().backward()
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("shape,kernel", [((2, 3, 8, 8), 2), ((2, 3, 7, 9), 2),
                                          ((1, 2, 9, 9), 3), ((3, 1, 6, 4), (2, 1))])
def test_tiling_max_pool_equals_the_general_path(shape, kernel, monkeypatch):
    rng = np.random.default_rng(0)
    x = _tied(rng, shape)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    out_shape = shape[:2] + (shape[2] // kh, shape[3] // kw)
    w = rng.standard_normal(out_shape).astype(np.float32)
    fast = _pool_grads(x, w, False, monkeypatch, kernel_size=kernel)
    slow = _pool_grads(x, w, True, monkeypatch, kernel_size=kernel)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


@pytest.mark.parametrize("shape", [(2, 4, 8, 8), (2, 2, 11, 11)])
def test_tiling_max_pool_ties_and_nans_match_torch(torch, shape):
    rng = np.random.default_rng(1)
    x = _tied(rng, shape)
    x[0, 0, 0, 1] = x[1, 1, 3, 2] = x[1, 1, 2, 3] = np.nan  # one window with two NaNs
    w = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2))
    w = w.astype(np.float32)
    fx, tx = fathom.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = F.max_pool2d(fx, 2), torch.nn.functional.max_pool2d(tx, 2)
    (out * fathom.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())


def test_tiling_max_pool_without_grad_and_in_modules(torch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    with fathom.no_grad():
        out = fathom.nn.MaxPool2d(2)(fathom.tensor(x))
    want = torch.nn.MaxPool2d(2)(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    assert not out.requires_grad
    y = F.max_pool1d(fathom.tensor(x[0], requires_grad=True), 3)  # (C, L) unbatched, 1-D
    np.testing.assert_array_equal(y.detach().numpy(), torch.nn.functional.max_pool1d(
        torch.tensor(x[0]), 3).numpy())


def test_tiling_max_pool_differentiates_twice():
    rng = np.random.default_rng(3)
    x = fathom.tensor(rng.standard_normal((1, 2, 4, 4)), dtype=fathom.float64,
                      requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, 2) ** 2, (x,))
    assert gradgradcheck(lambda t: F.max_pool2d(t, 2) ** 2, (x,))


@pytest.fixture(params=["per-sample", "batch-folded"])
def conv_path(request, monkeypatch):
    """Conv2d's two layouts: per-sample GEMMs (small convs) and one batch-folded GEMM."""
    if request.param == "per-sample":
        monkeypatch.setattr(conv, "_PER_SAMPLE_K", 1 << 30)
        monkeypatch.setattr(conv, "_PER_SAMPLE_MAX", 1 << 60)
    else:
        monkeypatch.setattr(conv, "_PER_SAMPLE_K", 0)
    return request.param


@pytest.mark.parametrize("C,O,k,groups,stride,dilation", [
    (1, 8, 1, 1, 1, 1), (3, 2, 3, 1, 1, 1), (4, 6, 3, 2, 2, 1), (2, 16, 2, 2, 1, 2),
    (6, 4, 3, 1, (2, 1), (1, 2))])
def test_conv2d_paths_and_gemm_orientations_match_torch(torch, conv_path, C, O, k, groups,
                                                         stride, dilation):
    # the weight gradient is (cols @ g^T)^T when O/groups <= C/groups*k*k, else g @ cols^T
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, C, 7, 6)).astype(np.float32)
    w = rng.standard_normal((O, C // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    kw = dict(padding=1, groups=groups, stride=stride, dilation=dilation)
    fx, fw, fb = (fathom.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(fx, fw, fb, **kw)
    assert out._node.per_sample == (conv_path == "per-sample")
    tout = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    (out * fathom.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    for f, t in ((fx, tx), (fw, tw), (fb, tb)):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)
    with fathom.no_grad():
        np.testing.assert_allclose(F.conv2d(fathom.tensor(x), fathom.tensor(w), None,
                                            **kw).numpy(),
                                   torch.nn.functional.conv2d(torch.tensor(x), tw.detach(),
                                                              None, **kw).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_conv2d_gradcheck_on_both_paths(conv_path):
    rng = np.random.default_rng(5)
    for C, O in ((1, 5), (5, 1)):
        x = fathom.tensor(rng.standard_normal((2, C, 5, 5)), dtype=fathom.float64,
                          requires_grad=True)
        w = fathom.tensor(rng.standard_normal((O, C, 2, 2)), dtype=fathom.float64,
                          requires_grad=True)
        b = fathom.tensor(rng.standard_normal(O), dtype=fathom.float64, requires_grad=True)
        assert gradcheck(lambda *a: F.conv2d(*a, padding=1), (x, w, b))
        assert gradgradcheck(lambda *a: F.conv2d(*a, padding=1) ** 2, (x, w, b))


def test_conv_geometry_is_remembered_per_call_signature():
    x, w = fathom.zeros(1, 2, 5, 5), fathom.zeros(3, 2, 3, 3)
    conv._GEOMETRY.clear()
    first = conv._conv_geometry("conv2d", 2, x, w, None, 1, 1, 1, 1)
    assert conv._conv_geometry("conv2d", 2, x, w, None, 1, 1, 1, 1) is first
    assert len(conv._GEOMETRY) == 1
    assert tuple(F.conv2d(x, w, padding=2).shape) == (1, 3, 7, 7)  # another key, not a hit
    with pytest.raises(Exception, match="expected input with 2 channels"):
        F.conv2d(fathom.zeros(1, 4, 5, 5), w)  # errors are raised every time, never cached
    with pytest.raises(Exception, match="expected input with 2 channels"):
        F.conv2d(fathom.zeros(1, 4, 5, 5), w)


def test_malloc_tuning_is_skipped_when_asked_or_configured():
    assert isinstance(backend.MALLOC_TUNED, bool)
    assert backend.tune_malloc({"FATHOM_MALLOC_TUNE": "0"}) is False
    assert backend.tune_malloc({"MALLOC_MMAP_THRESHOLD_": "1048576"}) is False
    assert backend.tune_malloc({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_malloc_tuning_applies_on_glibc():
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert backend.tune_malloc({}) is True  # the same values again: idempotent


def test_conv2d_and_max_pool_on_an_empty_batch_and_strided_input(torch, conv_path):
    x = fathom.zeros(0, 2, 5, 5, requires_grad=True)
    w = fathom.ones(3, 2, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    assert tuple(y.shape) == (0, 3, 3, 3)
    (y.sum() + F.max_pool2d(x, 2).sum()).backward()
    assert tuple(x.grad.shape) == (0, 2, 5, 5) and float(w.grad.abs().sum()) == 0
    a = np.random.default_rng(6).random((2, 3, 8, 8)).astype(np.float32)
    view = a[:, :, ::2, :].transpose(0, 1, 3, 2)  # not C-contiguous
    wa = np.ones((4, 3, 3, 3), np.float32)
    np.testing.assert_allclose(F.conv2d(fathom.tensor(view), fathom.tensor(wa)).numpy(),
                               torch.nn.functional.conv2d(torch.tensor(view),
                                                          torch.tensor(wa)).numpy(),
                               rtol=1e-5)
    np.testing.assert_array_equal(F.max_pool2d(fathom.tensor(view), 2).numpy(),
                                  torch.nn.functional.max_pool2d(torch.tensor(view), 2).numpy())
