"""Conv, pooling, padding and normalization layers beyond the layer table: a LeNet-5
against PyTorch in float32 (outputs, gradients, SGD steps), BatchNorm's running
statistics over several steps and their use in eval, constructor validation,
signatures, default initialization and dtypes."""
from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

import fathom
from fathom import nn
from fathom.nn import conv, normalization, padding, pooling

MODULES = (conv, pooling, padding, normalization)


def lenet5(nn):
    """LeNet-5 for 1x32x32 images, the same line for both frameworks."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def lenet5_bn(nn, momentum=0.1):
    """LeNet-5 with batch norm after each conv and the first linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, bias=False), nn.BatchNorm2d(6, momentum=momentum), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2, padding_mode="reflect"),   # 14x14
        nn.BatchNorm2d(16, momentum=momentum), nn.ReLU(),
        nn.AvgPool2d(3, stride=3, ceil_mode=True),                   # 5x5: the last window
                                                                     # hangs over the edge
        nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120, momentum=momentum), nn.ReLU(),
        nn.Linear(120, 10))


def _pair(torch, make, *args):
    torch.manual_seed(0)
    tm = make(torch.nn, *args)
    fm = make(nn, *args)
    fm.load_state_dict(tm.state_dict())
    return tm, fm


def _np(t):
    return t.detach().numpy() if hasattr(t, "numpy") and not isinstance(t, fathom.Tensor) \
        else np.asarray(t.detach().data)


def _assert_params_close(tm, fm, atol, grads=True):
    f_params = dict(fm.named_parameters())
    for name, tp in tm.named_parameters():
        fp = f_params[name]
        np.testing.assert_allclose(_np(fp), _np(tp), rtol=1e-4, atol=atol, err_msg=name)
        if grads:
            np.testing.assert_allclose(_np(fp.grad), _np(tp.grad), rtol=1e-4, atol=atol,
                                       err_msg=f"grad of {name}")


def _assert_buffers_equal(tm, fm, atol):
    f_buf = dict(fm.named_buffers())
    t_buf = dict(tm.named_buffers())
    assert list(f_buf) == list(t_buf)
    for name, tb in t_buf.items():
        fb = f_buf[name]
        assert fb.dtype.name == str(tb.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(_np(fb), _np(tb), rtol=1e-5, atol=atol, err_msg=name)


def _sgd_step(tm, fm, torch, lr):
    with torch.no_grad():
        for p in tm.parameters():
            p -= lr * p.grad
            p.grad = None
    with fathom.no_grad():
        for p in fm.parameters():
            p.data -= lr * p.grad.data
            p.grad = None


# --- LeNet-5 against PyTorch ---------------------------------------------------------------

def test_lenet5_forward_and_gradients_float32(torch, rng):
    tm, fm = _pair(torch, lenet5)
    assert list(fm.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((8, 1, 32, 32)).astype(np.float32)
    w = rng.standard_normal((8, 10)).astype(np.float32)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    fx = fathom.from_numpy(x.copy()).requires_grad_(True)
    t_out, f_out = tm(tx), fm(fx)
    assert f_out.dtype == fathom.float32 and tuple(f_out.shape) == (8, 10)
    np.testing.assert_allclose(_np(f_out), _np(t_out), rtol=1e-5, atol=1e-5)
    (t_out * torch.from_numpy(w)).sum().backward()
    (f_out * fathom.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(_np(fx.grad), _np(tx.grad), rtol=1e-4, atol=1e-5)
    _assert_params_close(tm, fm, atol=1e-5)


def test_lenet5_sgd_steps_stay_with_torch(torch, rng):
    tm, fm = _pair(torch, lenet5)
    labels = rng.integers(0, 10, 16)
    for _ in range(5):
        x = rng.standard_normal((16, 1, 32, 32)).astype(np.float32)
        t_loss = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)),
                                                   torch.from_numpy(labels))
        f_loss = nn.functional.cross_entropy(fm(fathom.from_numpy(x)),
                                             fathom.from_numpy(labels))
        assert abs(f_loss.item() - t_loss.item()) < 1e-5
        t_loss.backward()
        f_loss.backward()
        _assert_params_close(tm, fm, atol=2e-5)
        _sgd_step(tm, fm, torch, lr=0.05)
    _assert_params_close(tm, fm, atol=2e-5, grads=False)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_running_stats_follow_torch_then_eval_uses_them(torch, rng, momentum):
    tm, fm = _pair(torch, lenet5_bn, momentum)
    _assert_buffers_equal(tm, fm, atol=0)
    for step in range(4):
        x = (rng.standard_normal((6, 1, 32, 32)) * (1 + step) + step).astype(np.float32)
        t_out = tm(torch.from_numpy(x))
        f_out = fm(fathom.from_numpy(x))
        np.testing.assert_allclose(_np(f_out), _np(t_out), rtol=1e-4, atol=1e-4)
        _assert_buffers_equal(tm, fm, atol=1e-5)
        assert fm[1].num_batches_tracked.item() == step + 1
        w = rng.standard_normal((6, 10)).astype(np.float32)
        (t_out * torch.from_numpy(w)).sum().backward()
        (f_out * fathom.from_numpy(w)).sum().backward()
        _assert_params_close(tm, fm, atol=1e-4)
        _sgd_step(tm, fm, torch, lr=0.01)
    # the running statistics moved away from their (0, 1) start
    assert abs(_np(fm[1].running_mean)).max() > 0.05
    tm.eval()
    fm.eval()
    x = rng.standard_normal((3, 1, 32, 32)).astype(np.float32)
    before = {k: _np(v).copy() for k, v in fm.named_buffers()}
    np.testing.assert_allclose(_np(fm(fathom.from_numpy(x))), _np(tm(torch.from_numpy(x))),
                               rtol=1e-4, atol=1e-4)
    for k, v in fm.named_buffers():  # eval reads the statistics, never updates them
        np.testing.assert_array_equal(_np(v), before[k])


def test_batchnorm_state_dict_round_trip_into_torch(torch, rng):
    fm = lenet5_bn(nn)
    x = fathom.from_numpy(rng.standard_normal((4, 1, 32, 32)).astype(np.float32))
    fm(x)
    fm(x)
    tm = lenet5_bn(torch.nn)
    tm.load_state_dict({k: torch.from_numpy(np.array(_np(v))) for k, v in
                        fm.state_dict().items()})
    assert tm[1].num_batches_tracked.item() == 2
    tm.eval()
    fm.eval()
    np.testing.assert_allclose(_np(fm(x)), _np(tm(torch.from_numpy(_np(x)))), rtol=1e-4,
                               atol=1e-4)


# --- BatchNorm and InstanceNorm rules --------------------------------------------------------

def test_batchnorm_buffers():
    bn = nn.BatchNorm2d(3)
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                  "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == fathom.int64 and bn.num_batches_tracked.ndim == 0
    bn.double()
    assert bn.running_mean.dtype == fathom.float64
    assert bn.num_batches_tracked.dtype == fathom.int64  # .double() leaves integers alone
    off = nn.BatchNorm1d(3, track_running_stats=False)
    assert off.running_mean is None and off.running_var is None
    assert off.num_batches_tracked is None
    assert list(off.state_dict()) == ["weight", "bias"]


def test_batchnorm_counts_only_training_batches(rng):
    bn = nn.BatchNorm1d(4)
    x = fathom.from_numpy(rng.standard_normal((5, 4)).astype(np.float32))
    bn(x)
    bn(x)
    bn.eval()
    bn(x)
    assert bn.num_batches_tracked.item() == 2
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(_np(bn.running_var), np.ones(4, np.float32))


def test_batchnorm_momentum_none_is_the_cumulative_average(rng):
    bn = nn.BatchNorm1d(3, momentum=None, affine=False)
    batches = [rng.standard_normal((10, 3)) + i for i in range(4)]
    for b in batches:
        bn(fathom.from_numpy(b.astype(np.float32)))
    np.testing.assert_allclose(_np(bn.running_mean), np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(bn.running_var),
                               np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-5)


def test_batchnorm_training_needs_more_than_one_value():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*more than 1 value per channel"):
        nn.BatchNorm1d(3)(fathom.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(fathom.zeros(1, 3))  # eval uses running statistics: fine


def test_instance_norm_unmatched_channels_warn_without_affine():
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(fathom.randn(2, 4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.InstanceNorm1d(4)(fathom.randn(2, 4, 5))


# --- constructors: validation, signatures, initialization, dtypes ----------------------------

@pytest.mark.parametrize("build, match", [
    (lambda nn: nn.Conv2d(4, 4, 3, groups=0), "groups must be a positive integer"),
    (lambda nn: nn.Conv2d(3, 4, 3, groups=2), "in_channels must be divisible by groups"),
    (lambda nn: nn.Conv1d(4, 3, 3, groups=2), "out_channels must be divisible by groups"),
    (lambda nn: nn.Conv2d(3, 4, 3, padding="full"), "Invalid padding string 'full'"),
    (lambda nn: nn.Conv2d(3, 4, 3, stride=2, padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda nn: nn.Conv2d(3, 4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda nn: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"),
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
    (lambda nn: nn.GroupNorm(3, 4), r"num_channels \(4\) must be divisible by num_groups \(3\)"),
])
def test_constructor_validation_like_torch(build, match, torch):
    with pytest.raises(ValueError):
        build(torch.nn)
    with pytest.raises(ValueError, match=match):
        build(nn)


def _layer_classes():
    return [(m, name) for m in MODULES for name in m.__all__]


@pytest.mark.parametrize("module, name", _layer_classes(),
                         ids=[n for _, n in _layer_classes()])
def test_signature_matches_torch(module, name, torch):
    ours = inspect.signature(getattr(module, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
    assert list(ours) == list(theirs)
    for key, p in theirs.items():
        assert ours[key].kind == p.kind, key
        assert ours[key].default == p.default, key


@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv2d(3, 8, (3, 5)), 45),
    (lambda: nn.Conv2d(6, 9, 3, groups=3), 18),
    (lambda: nn.Conv1d(4, 8, 7), 28),
    (lambda: nn.ConvTranspose2d(8, 6, 3, groups=2), 27),  # weight (8, 3, 3, 3)
    (lambda: nn.ConvTranspose1d(2, 5, 4), 20),
])
def test_conv_default_init_bounds(make, fan_in):
    m = make()
    bound = 1 / math.sqrt(fan_in)
    w, b = _np(m.weight), _np(m.bias)
    assert abs(w).max() <= bound and abs(b).max() <= bound
    # U(-bound, bound) has std bound / sqrt(3)
    assert 0.8 < w.std() / (bound / math.sqrt(3)) < 1.2
    fathom.manual_seed(7)
    first = _np(make().weight).copy()
    fathom.manual_seed(7)
    np.testing.assert_array_equal(_np(make().weight), first)


def test_dtype_argument_reaches_parameters_and_buffers():
    f64 = fathom.float64
    assert nn.Conv2d(1, 2, 3, dtype=f64).weight.dtype == f64
    assert nn.ConvTranspose1d(1, 2, 3, dtype=f64).bias.dtype == f64
    assert nn.LayerNorm(4, dtype=f64).bias.dtype == f64
    assert nn.GroupNorm(2, 4, dtype=f64).weight.dtype == f64
    bn = nn.BatchNorm1d(3, dtype=f64)
    assert bn.weight.dtype == bn.running_var.dtype == f64
    assert bn.num_batches_tracked.dtype == fathom.int64
    assert nn.Conv2d(1, 2, 3).weight.dtype == fathom.float32


# --- forward details ---------------------------------------------------------------------------

def test_conv_transpose_output_size_errors():
    m = nn.ConvTranspose2d(2, 3, 3, stride=2)
    x = fathom.randn(1, 2, 4, 4)
    assert tuple(m(x, output_size=(10, 9)).shape) == (1, 3, 10, 9)
    with pytest.raises(ValueError, match=r"output_size must have 2 or 4 elements \(got 3\)"):
        m(x, output_size=(1, 10, 9))
    with pytest.raises(ValueError, match=r"valid sizes range from \[9, 9\] to \[10, 10\]"):
        m(x, output_size=(11, 9))


def test_conv2d_channel_error_names_layer_expected_and_got():
    m = nn.Conv2d(1, 6, 5)
    with pytest.raises(fathom.errors.ShapeError) as e:
        m(fathom.zeros(2, 3, 32, 32))
    msg = str(e.value)
    assert msg.startswith("Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1)): ")
    assert "expected input with 1 channels" in msg and "(2, 3, 32, 32)" in msg


def test_conv_dtype_error_names_layer():
    with pytest.raises(TypeError, match=r"^Conv2d\(1, 2, kernel_size=\(3, 3\).*float64"):
        nn.Conv2d(1, 2, 3)(fathom.zeros(1, 1, 5, 5, dtype=fathom.float64))


def test_conv_padding_mode_matches_explicit_pad(rng):
    x = fathom.from_numpy(rng.standard_normal((2, 3, 6, 5)).astype(np.float32))
    m = nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="circular")
    ref = nn.functional.conv2d(nn.functional.pad(x, (2, 2, 1, 1), mode="circular"), m.weight,
                               m.bias)
    np.testing.assert_allclose(_np(m(x)), _np(ref), rtol=1e-6)


def test_max_pool_indices_are_int64_and_point_at_maxima(rng):
    x = fathom.from_numpy(rng.standard_normal((2, 3, 6, 6)))
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert idx.dtype == fathom.int64
    flat = _np(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, _np(idx).reshape(2, 3, -1), -1),
                                  _np(out).reshape(2, 3, -1))


def test_layers_differentiate_twice(torch, rng):
    """Gradients of gradients through conv + group norm + pooling equal PyTorch's."""
    def make(nn):
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.Tanh(),
                             nn.AvgPool2d(2))
    tm, fm = _pair(torch, make)
    tm.double()
    fm.double()
    x = rng.standard_normal((2, 2, 4, 4))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    fx = fathom.from_numpy(x.copy()).requires_grad_(True)
    (tg,) = torch.autograd.grad((tm(tx) ** 2).sum(), tx, create_graph=True)
    (fg,) = fathom.autograd.grad((fm(fx) ** 2).sum(), fx, create_graph=True)
    np.testing.assert_allclose(_np(fg), _np(tg), rtol=1e-6, atol=1e-9)
    (tg * tg).sum().backward()
    (fg * fg).sum().backward()
    np.testing.assert_allclose(_np(fx.grad), _np(tx.grad), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(_np(fm[0].weight.grad), _np(tm[0].weight.grad), rtol=1e-6,
                               atol=1e-9)


def test_every_layer_is_exported_and_in_torch(torch):
    for m in MODULES:
        for name in m.__all__:
            assert getattr(nn, name) is getattr(m, name)
            assert hasattr(torch.nn, name), name
