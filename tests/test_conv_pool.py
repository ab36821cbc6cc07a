"""Convolution, padding, unfold/fold and pooling beyond the op table: errors that teach,
ties in max pooling, float32, double backward against torch, and edge cases."""
import numpy as np
import pytest

import fathom
import fathom.nn.functional as F
from fathom.errors import DTypeError, ShapeError


def _t(a, grad=False):
    return fathom.from_numpy(np.array(a)).requires_grad_(grad)


def _z(*shape):
    return fathom.zeros(*shape)


# --- errors ------------------------------------------------------------------------------

def test_conv2d_channel_mismatch_message():
    with pytest.raises(ShapeError) as e:
        F.conv2d(_z(8, 1, 28, 28), _z(16, 3, 5, 5))
    assert str(e.value) == ("conv2d: expected input with 3 channels (weight shape "
                            "(16, 3, 5, 5), groups=1), got input shape (8, 1, 28, 28)")


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv2d(_z(1, 2, 3, 4, 5), _z(1, 2, 1, 1)), r"4-D \(batched\).*\(1, 2, 3, 4, 5\)"),
    (lambda: F.conv2d(_z(1, 2, 5, 5), _z(1, 2, 1)), r"4-D weight.*\(1, 2, 1\)"),
    (lambda: F.conv2d(_z(1, 4, 5, 5), _z(3, 2, 1, 1), groups=2), r"not divisible by groups=2"),
    (lambda: F.conv2d(_z(1, 2, 5, 5), _z(3, 2, 1, 1), _z(4)), r"bias of shape \(3,\).*\(4,\)"),
    (lambda: F.conv2d(_z(1, 2, 3, 3), _z(1, 2, 5, 5), padding=0),
     r"kernel size \(after dilation\) \(5, 5\) is larger than the padded input size \(3, 3\)"),
    (lambda: F.conv2d(_z(1, 2, 4, 4), _z(1, 2, 3, 3), dilation=2),
     r"\(5, 5\) is larger than the padded input size \(4, 4\)"),
    (lambda: F.conv1d(_z(3, 5), _z(1, 2, 1)), r"conv1d: expected input with 2 channels"),
    (lambda: F.conv_transpose2d(_z(1, 3, 4, 4), _z(2, 3, 3, 3)),
     r"conv_transpose2d: expected input with 2 channels"),
    (lambda: F.unfold(_z(1, 1, 2, 2), 3), r"unfold: the \(3, 3\) kernel"),
    (lambda: F.fold(_z(1, 4, 5), (3, 3), 2), r"fold: expected input's dim -1 .* 2\*2=4"),
    (lambda: F.fold(_z(1, 5, 4), (3, 3), 2), r"divisible by the product of kernel_size"),
    (lambda: F.pad(_z(1, 3, 3), (3, 3), mode="reflect"), r"reflect padding .* size 3"),
    (lambda: F.pad(_z(1, 3, 3), (4, 0), mode="circular"), r"circular padding"),
    (lambda: F.pad(_z(1, 3, 3), (1, 1, 1, 1, 1, 1), mode="replicate"), r"pads the last 1-3 dims"),
    (lambda: F.pad(_z(2, 3), (-2, -2)), r"crops more than the size 3"),
    (lambda: F.max_pool2d(_z(1, 1, 2, 2), 3), r"max_pool2d: output size \(0, 0\) is too small"),
    (lambda: F.max_pool1d(_z(4), 2), r"max_pool1d: expected 2-D \(unbatched\) .* \(4,\)"),
    (lambda: F.avg_pool2d(_z(1, 5), 2), r"avg_pool2d: expected 3-D .* \(1, 5\)"),
    (lambda: F.adaptive_avg_pool2d(_z(1, 5), 2), r"adaptive_avg_pool2d: expected 3-D"),
])
def test_shape_errors_name_op_and_shapes(call, match):
    with pytest.raises(ShapeError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv2d(_z(1, 1, 3, 3), _z(1, 1, 1, 1), padding="full"),
     r"invalid padding string 'full'"),
    (lambda: F.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3), stride=2, padding="same"),
     r"padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3), padding=-1), r"non-negative"),
    (lambda: F.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3), stride=(1, 2, 3)), r"tuple of 2 ints"),
    (lambda: F.conv_transpose2d(_z(1, 1, 3, 3), _z(1, 1, 3, 3), stride=2, output_padding=2),
     r"output padding must be smaller than either stride or dilation"),
    (lambda: F.pad(_z(1, 3), (1,)), r"pad must be a tuple of \(left, right\) pairs"),
    (lambda: F.pad(_z(1, 3), (1, 1), mode="wrap"), r"mode must be one of"),
    (lambda: F.max_pool2d(_z(1, 1, 6, 6), 2, padding=2), r"pad should be at most half"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_conv_dtype_mismatch():
    x = fathom.zeros(1, 1, 3, 3, dtype=fathom.float64)
    with pytest.raises(DTypeError, match=r"conv2d: .*input fathom.float64 .*weight fathom.float32"):
        F.conv2d(x, _z(1, 1, 1, 1))


# --- max pooling ties: the gradient goes to the first max of each window, as torch -----

@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=3, stride=2),
    dict(kernel_size=(2, 3), stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2),
])
def test_max_pool2d_ties_match_torch(torch, kwargs):
    x = np.random.default_rng(0).integers(0, 3, (2, 3, 7, 6)).astype(np.float64)
    w = np.random.default_rng(1).standard_normal
    fx, tx = _t(x, True), torch.from_numpy(x.copy()).requires_grad_(True)
    out, idx = F.max_pool2d(fx, return_indices=True, **kwargs)
    tout, tidx = torch.nn.functional.max_pool2d(tx, return_indices=True, **kwargs)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    wt = w(tuple(out.shape))
    (out * _t(wt)).sum().backward()
    (tout * torch.from_numpy(wt)).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-12)


def test_max_pool1d_and_adaptive_max_ties_match_torch(torch):
    x = np.random.default_rng(0).integers(0, 2, (2, 3, 9)).astype(np.float64)
    for f, tf, args in [(F.max_pool1d, torch.nn.functional.max_pool1d, (3, 2, 1)),
                        (F.adaptive_max_pool2d, torch.nn.functional.adaptive_max_pool2d,
                         ((2, 4),))]:
        xx = x if f is F.max_pool1d else x.reshape(2, 3, 3, 3)
        fx, tx = _t(xx, True), torch.from_numpy(xx.copy()).requires_grad_(True)
        f(fx, *args).sum().backward()
        tf(tx, *args).sum().backward()
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-12)


def test_max_pool_indices_are_int64_and_not_differentiable():
    x = _t(np.random.default_rng(0).standard_normal((1, 1, 4, 4)), True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == fathom.int64 and not idx.requires_grad and out.requires_grad


# --- float32, layouts, aliasing ----------------------------------------------------------------

def test_float32_stays_float32_and_matches_torch(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 9, 9)).astype(np.float32)
    w = rng.standard_normal((6, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    fx, fw, fb = (_t(a, True) for a in (x, w, b))
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, b))
    for kw in (dict(padding=1), dict(stride=2, padding=(0, 1), dilation=(2, 1))):
        out = F.conv2d(fx, fw, fb, **kw)
        tout = torch.nn.functional.conv2d(tx, tw, tb, **kw)
        assert out.dtype == fathom.float32
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-4,
                                   atol=1e-4)
        gs = fathom.autograd.grad(out.sum(), [fx, fw, fb])
        tgs = torch.autograd.grad(tout.sum(), [tx, tw, tb])
        for g, tg in zip(gs, tgs):
            assert g.dtype == fathom.float32
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-4, atol=1e-3)
    for f in (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: F.avg_pool2d(t, 2),
              lambda t: F.pad(t, (1, 1, 1, 1), mode="reflect"),
              lambda t: F.adaptive_avg_pool2d(t, (2, 3))):
        y = f(fx)
        assert y.dtype == fathom.float32
        assert fathom.autograd.grad(y.sum(), [fx])[0].dtype == fathom.float32


@pytest.mark.parametrize("x_shape, w_shape, kw, by_conv", [
    ((2, 4, 7, 6), (4, 4, 3, 3), dict(padding=1), True),
    ((2, 3, 7, 6), (3, 3, 4, 2), dict(padding="same", dilation=(1, 3)), True),  # uneven pads
    ((2, 6, 9, 8), (3, 6, 3, 3), dict(padding=(0, 2), dilation=(2, 1)), True),
    ((2, 3, 7, 6), (3, 3, 3, 3), dict(padding=3), False),    # padding beyond the kernel
    ((2, 4, 7, 6), (5, 4, 3, 3), dict(padding=1), False),    # O > C: g's columns are bigger
    ((2, 4, 9, 9), (4, 4, 3, 3), dict(), False),             # valid: Ho*Wo < H*W
    ((2, 4, 7, 6), (4, 4, 3, 3), dict(stride=2, padding=1), False),
    ((2, 4, 7, 6), (4, 2, 3, 3), dict(padding=1, groups=2), False),
])
def test_conv_input_gradient_both_ways_match_torch(torch, x_shape, w_shape, kw, by_conv):
    """Stride-1 convolutions take dL/dx as a convolution of the output gradient with the
    flipped kernel; the rest take col2im. Both, against torch and finite differences."""
    from fathom.ops import conv as C
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    fx, fw = _t(x, True), _t(w, True)
    y = F.conv2d(fx, fw, **kw)
    gy = rng.standard_normal(tuple(y.shape))
    _, stride, dilation, pads, out, _ = C._conv_geometry(
        "conv2d", 2, fx, fw, None, kw.get("stride", 1), kw.get("padding", 0),
        kw.get("dilation", 1), kw.get("groups", 1))
    geo = (tuple(w_shape[2:]), stride, pads[0] + pads[1], dilation, out)
    assert C._grad_by_conv(gy, w, geo, kw.get("groups", 1)) is by_conv
    gx, gw = fathom.autograd.grad(y, [fx, fw], _t(gy))
    tx, tw = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w))
    tgx, tgw = torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, **kw), [tx, tw],
                                   torch.from_numpy(gy))
    np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw.numpy(), tgw.numpy(), rtol=1e-10, atol=1e-10)
    assert fathom.autograd.gradcheck(lambda a: F.conv2d(a, _t(w), **kw), (_t(x[:1], True),))


def test_unfold_output_does_not_alias_input():
    x = _t(np.arange(12.0).reshape(1, 3, 2, 2))
    cols = F.unfold(x, 1)
    x.data[...] = 0
    assert cols.numpy().sum() == 66.0


def test_conv_double_backward_matches_torch(torch):
    """Hessian-vector style: d/dw of |d out/d x|^2, through the fused op's create_graph path."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2))
    fx, fw = _t(x, True), _t(w, True)
    tx, tw = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w))
    kw = dict(stride=(2, 1), padding="valid", dilation=(1, 2), groups=2)
    (gx,) = fathom.autograd.grad((F.conv2d(fx, fw, **kw) ** 2).sum(), [fx], create_graph=True)
    (tgx,) = torch.autograd.grad((torch.nn.functional.conv2d(tx, tw, **kw) ** 2).sum(), [tx],
                                 create_graph=True)
    gw = fathom.autograd.grad((gx * gx).sum(), [fw])[0]
    tgw = torch.autograd.grad((tgx * tgx).sum(), [tw])[0]
    np.testing.assert_allclose(gw.numpy(), tgw.numpy(), rtol=1e-9, atol=1e-9)


def test_conv_same_padding_keeps_size_for_even_kernels():
    y = F.conv2d(_z(1, 2, 7, 6), _z(3, 2, 4, 2), padding="same", dilation=(1, 3))
    assert tuple(y.shape) == (1, 3, 7, 6)


def test_pooling_unbatched_and_global():
    x = _t(np.arange(32.0).reshape(2, 4, 4))
    assert tuple(F.max_pool2d(x, 2).shape) == (2, 2, 2)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).numpy().ravel(), [7.5, 23.5])
    np.testing.assert_allclose(F.max_pool2d(x, 2).numpy()[0], [[5, 7], [13, 15]])


def test_max_pool_odd_sizes_fast_path_drops_the_remainder(torch):
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 7))
    fx, tx = _t(x, True), torch.from_numpy(x.copy()).requires_grad_(True)
    F.max_pool2d(fx, 2).sum().backward()
    torch.nn.functional.max_pool2d(tx, 2).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy())
