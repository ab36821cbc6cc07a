"""fathom.keras against Keras itself (Keras 3 on the PyTorch backend) as the oracle: each
layer given Keras's weights (`set_weights(keras_layer.get_weights())`) gives Keras's
outputs and input gradients; default initializers, parameter counts and output shapes,
losses, metrics, optimizer steps and keras.utils match. Skips without Keras."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on its PyTorch backend (KERAS_BACKEND=torch)",
                allow_module_level=True)

import fathom  # noqa: E402
from fathom import keras as fk  # noqa: E402
from fathom.keras import utils as fk_utils  # noqa: E402

RTOL, ATOL = 1e-5, 1e-5
pytestmark = [
    # Keras's own warnings: its torch backend converting tensors, and input_shape= on a layer
    # (the seeds' style, which Keras 3 still accepts)
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
]


@pytest.fixture(autouse=True)
def _torch_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    keras.utils.set_random_seed(0)  # Keras's initial weights repeat from run to run
    yield
    torch.set_num_threads(n)


def _rand(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _nest(fn, x):
    if isinstance(x, (list, tuple)):
        return [_nest(fn, v) for v in x]
    return fn(x)


def _flat(x):
    return [v for item in x for v in _flat(item)] if isinstance(x, (list, tuple)) else [x]


def _pair(name, kwargs, *inputs, call=None, grad=True, rtol=RTOL, atol=ATOL, fkwargs=None):
    """Build Keras's `name` layer and Fathom's on `inputs` (NumPy arrays), copy Keras's
    weights into Fathom's, and compare outputs (and input gradients of a random weighted
    sum of the outputs). Returns (keras layer, fathom layer)."""
    call = call or {}
    kl = getattr(keras.layers, name)(**kwargs)
    fl = getattr(fk.layers, name)(**(fkwargs or kwargs))
    fl.eval()  # Keras runs a layer called without training= in inference mode
    kin = [torch.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in inputs]
    fin = [fathom.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in inputs]
    ky = kl(*kin, **call)
    fl(*[fathom.tensor(x) for x in inputs], **call)  # build
    kw = kl.get_weights()
    assert [w.shape for w in fl.get_weights()] == [w.shape for w in kw], name
    fl.set_weights(kw)
    fy = fl(*fin, **call)
    kys, fys = _flat(ky), _flat(fy)
    assert len(kys) == len(fys), name
    for k, f in zip(kys, fys):
        assert tuple(f.shape) == tuple(k.shape), name
        np.testing.assert_allclose(f.detach().numpy(), k.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
    if grad and any(x.dtype.kind == "f" for x in inputs):
        seeds = [_rand(*k.shape, seed=7 + i) for i, k in enumerate(kys)]
        sum(((k * torch.tensor(s)).sum() for k, s in zip(kys, seeds))).backward()
        sum(((f * fathom.tensor(s)).sum() for f, s in zip(fys, seeds))).backward()
        for k, f in zip(kin, fin):
            if k.requires_grad:
                np.testing.assert_allclose(f.grad.numpy(), k.grad.numpy(), rtol=rtol * 10,
                                           atol=atol * 10, err_msg=f"{name} input grad")
    return kl, fl


# --- layers: outputs and input gradients ----------------------------------------------------

@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "softmax", "elu",
                                        "selu", "softplus", "softsign", "gelu", "silu",
                                        "relu6", "exponential", "hard_sigmoid", "leaky_relu",
                                        "mish", "log_softmax"])
def test_dense_activations(activation):
    _pair("Dense", dict(units=5, activation=activation), _rand(3, 4))


def test_dense_3d_no_bias():
    _pair("Dense", dict(units=3, use_bias=False), _rand(2, 3, 4))


@pytest.mark.parametrize("activation", ["relu", "tanh", "softmax", "gelu", "hard_silu"])
def test_activation_layer(activation):
    _pair("Activation", dict(activation=activation), _rand(3, 6))


@pytest.mark.parametrize("name,kwargs", [
    ("ReLU", dict(max_value=1.0, negative_slope=0.1, threshold=0.2)),
    ("LeakyReLU", dict()), ("LeakyReLU", dict(negative_slope=0.05)),
    ("Softmax", dict(axis=1)),
])
def test_activation_layers(name, kwargs):
    _pair(name, kwargs, _rand(2, 3, 4))


@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=3, padding="same"),
    dict(filters=3, kernel_size=4, strides=2, padding="same"),
    dict(filters=3, kernel_size=3, strides=2, padding="valid"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", activation="relu"),
    dict(filters=4, kernel_size=3, padding="causal"),
    dict(filters=4, kernel_size=3, groups=2, use_bias=False),
])
def test_conv1d(kwargs):
    _pair("Conv1D", kwargs, _rand(2, 9, 4))


@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=3, padding="same"),
    dict(filters=3, kernel_size=(3, 2), strides=2, padding="same"),
    dict(filters=3, kernel_size=4, strides=(2, 3), padding="same"),
    dict(filters=3, kernel_size=3, strides=2, padding="valid", activation="relu"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=2, dilation_rate=(1, 2), padding="valid"),
    dict(filters=4, kernel_size=3, groups=2),
    dict(filters=4, kernel_size=1, data_format="channels_first"),
])
def test_conv2d(kwargs):
    _pair("Conv2D", kwargs, _rand(2, 7, 8, 4))


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3),
    dict(filters=3, kernel_size=3, strides=2),
    dict(filters=3, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=4, strides=2, padding="same"),
    dict(filters=2, kernel_size=2, strides=3, padding="valid"),
    dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1),
    dict(filters=2, kernel_size=3, strides=2, padding="valid", output_padding=1),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=3, strides=2, activation="relu", use_bias=False),
])
def test_conv2d_transpose(kwargs):
    _pair("Conv2DTranspose", kwargs, _rand(2, 5, 6, 4))


def _same_pads(size, k, s):
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _tf_average_pool_same(x, pool, strides):
    """TensorFlow's (and Keras-on-JAX's) 'same' average pooling of (N, H, W, C): the extra
    padding row/column goes after, and padded positions are left out of each mean."""
    pads = [_same_pads(n, k, s) for n, k, s in zip(x.shape[1:3], pool, strides)]
    padded = np.pad(x.astype(np.float64), [(0, 0), *pads, (0, 0)], constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, pool, axis=(1, 2))
    windows = windows[:, ::strides[0], ::strides[1]]
    return np.nanmean(windows, axis=(-2, -1))


@pytest.mark.parametrize("name", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("kwargs", [
    dict(pool_size=2), dict(pool_size=3, strides=2), dict(pool_size=2, padding="same"),
    dict(pool_size=3, strides=2, padding="same"), dict(pool_size=(2, 3), strides=1,
                                                       padding="same"),
])
def test_pooling2d(name, kwargs):
    x = _rand(2, 7, 6, 3)
    pool = (kwargs["pool_size"],) * 2 if isinstance(kwargs["pool_size"], int) \
        else kwargs["pool_size"]
    strides = kwargs.get("strides", pool)
    strides = (strides,) * 2 if isinstance(strides, int) else strides
    uneven = kwargs.get("padding") == "same" and any(
        a != b for a, b in (_same_pads(n, k, s) for n, k, s in zip((7, 6), pool, strides)))
    if name == "AveragePooling2D" and uneven:
        # Keras's torch backend pads an uneven 'same' average pool by replicating the edge
        # (and then averages the copies); TensorFlow and JAX leave the padding out of the
        # mean, as fathom does, so the reference here is TensorFlow's rule.
        y = fk.layers.AveragePooling2D(**kwargs)(fathom.tensor(x))
        np.testing.assert_allclose(y.numpy(), _tf_average_pool_same(x, pool, strides),
                                   rtol=RTOL, atol=ATOL)
        return
    _pair(name, kwargs, x)


@pytest.mark.parametrize("name", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("kwargs", [dict(pool_size=2),
                                    dict(pool_size=3, strides=2, padding="same")])
def test_pooling1d(name, kwargs):
    _pair(name, kwargs, _rand(2, 7, 3))


@pytest.mark.parametrize("name", ["GlobalAveragePooling2D", "GlobalMaxPooling2D",
                                  "GlobalAveragePooling1D", "GlobalMaxPooling1D"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(name, keepdims):
    shape = (2, 5, 4, 3) if name.endswith("2D") else (2, 5, 3)
    _pair(name, dict(keepdims=keepdims), _rand(*shape))


@pytest.mark.parametrize("name,kwargs", [
    ("Flatten", dict()), ("Reshape", dict(target_shape=(12, 5))),
    ("Reshape", dict(target_shape=(-1, 3))), ("Permute", dict(dims=(3, 1, 2))),
    ("ZeroPadding2D", dict()), ("ZeroPadding2D", dict(padding=((1, 2), (0, 3)))),
    ("ZeroPadding2D", dict(padding=(2, 1))), ("Dropout", dict(rate=0.5)),
])
def test_shape_layers(name, kwargs):
    _pair(name, kwargs, _rand(2, 4, 3, 5))


def test_dropout_training_scales_kept_values():
    x = np.ones((64, 32), np.float32)
    y = fk.layers.Dropout(0.25)(fathom.tensor(x), training=True).numpy()
    ky = keras.layers.Dropout(0.25)(torch.tensor(x), training=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert set(np.unique(ky)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.15 < (y == 0).mean() < 0.35


def test_embedding():
    ids = np.random.default_rng(0).integers(0, 10, (3, 5))
    _pair("Embedding", dict(input_dim=10, output_dim=4), ids)


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                  "Minimum", "Concatenate"])
def test_merge_layers(name):
    a, b = _rand(2, 3, 4), _rand(2, 3, 4, seed=2)
    kl, fl = getattr(keras.layers, name)(), getattr(fk.layers, name)()
    ka, kb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    fa, fb = fathom.tensor(a, requires_grad=True), fathom.tensor(b, requires_grad=True)
    ky, fy = kl([ka, kb]), fl([fa, fb])
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=ATOL)
    s = _rand(*ky.shape, seed=3)
    (ky * torch.tensor(s)).sum().backward()
    (fy * fathom.tensor(s)).sum().backward()
    np.testing.assert_allclose(fa.grad.numpy(), ka.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(fb.grad.numpy(), kb.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_concatenate_axis_and_three_inputs():
    xs = [_rand(2, 3, 4), _rand(2, 5, 4, seed=2), _rand(2, 1, 4, seed=3)]
    ky = keras.layers.Concatenate(axis=1)([torch.tensor(x) for x in xs])
    fy = fk.layers.Concatenate(axis=1)([fathom.tensor(x) for x in xs])
    np.testing.assert_array_equal(fy.numpy(), ky.numpy())


# --- normalization ------------------------------------------------------------------------

def _randomize_bn(kl):
    rng = np.random.default_rng(5)
    kl.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if i in (0, 3) else
                    rng.standard_normal(w.shape).astype(np.float32)
                    for i, w in enumerate(kl.get_weights())])


@pytest.mark.parametrize("shape,axis", [((6, 4), -1), ((3, 4, 5, 2), -1), ((3, 4, 5, 2), 1),
                                        ((4, 3, 5), 1)])
def test_batch_normalization_inference(shape, axis):
    x = _rand(*shape)
    kl = keras.layers.BatchNormalization(axis=axis)
    kl(torch.tensor(x))
    _randomize_bn(kl)
    fl = fk.layers.BatchNormalization(axis=axis)
    fl(fathom.tensor(x))
    fl.set_weights(kl.get_weights())
    ky, fy = kl(torch.tensor(x), training=False), fl(fathom.tensor(x), training=False)
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape,axis,kwargs", [
    ((6, 4), -1, {}), ((3, 4, 5, 2), -1, dict(momentum=0.9)), ((4, 3, 5), 1, {}),
    ((8, 3), -1, dict(center=False, scale=False, epsilon=1e-5)),
])
def test_batch_normalization_training_outputs_and_moving_statistics(shape, axis, kwargs):
    kl = keras.layers.BatchNormalization(axis=axis, **kwargs)
    fl = fk.layers.BatchNormalization(axis=axis, **kwargs)
    x0 = _rand(*shape)
    kl(torch.tensor(x0))
    _randomize_bn(kl)
    fl(fathom.tensor(x0))
    fl.set_weights(kl.get_weights())
    for step in range(3):
        x = _rand(*shape, seed=10 + step) * 2 + 1
        kx, fx = torch.tensor(x, requires_grad=True), fathom.tensor(x, requires_grad=True)
        ky, fy = kl(kx, training=True), fl(fx, training=True)
        np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=1e-5,
                                   atol=2e-5)
        s = _rand(*shape, seed=3)
        (ky * torch.tensor(s)).sum().backward()
        (fy * fathom.tensor(s)).sum().backward()
        np.testing.assert_allclose(fx.grad.numpy(), kx.grad.numpy(), rtol=1e-4, atol=1e-4)
    for f, k in zip(fl.get_weights(), kl.get_weights()):  # moving mean and variance too
        np.testing.assert_allclose(f, k, rtol=1e-5, atol=1e-5)


def test_batch_normalization_frozen_runs_in_inference_mode():
    x = _rand(6, 4) * 3 + 2
    kl, fl = keras.layers.BatchNormalization(), fk.layers.BatchNormalization()
    fl.eval()  # a first call without training= is inference in Keras
    kl(torch.tensor(x))
    fl(fathom.tensor(x))
    kl.trainable = fl.trainable = False
    ky, fy = kl(torch.tensor(x), training=True), fl(fathom.tensor(x), training=True)
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=ATOL)
    for f, k in zip(fl.get_weights(), kl.get_weights()):
        np.testing.assert_array_equal(f, k)


@pytest.mark.parametrize("shape,kwargs", [
    ((3, 6), {}), ((2, 3, 6), dict(epsilon=1e-5)), ((2, 3, 4), dict(axis=(1, 2))),
    ((2, 5), dict(center=False)), ((2, 5), dict(scale=False)),
])
def test_layer_normalization(shape, kwargs):
    x = _rand(*shape)
    kl = keras.layers.LayerNormalization(**kwargs)
    kl(torch.tensor(x))
    rng = np.random.default_rng(2)
    kl.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in kl.get_weights()])
    fl = fk.layers.LayerNormalization(**kwargs)
    fl(fathom.tensor(x))
    fl.set_weights(kl.get_weights())
    kx, fx = torch.tensor(x, requires_grad=True), fathom.tensor(x, requires_grad=True)
    ky, fy = kl(kx), fl(fx)
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=ATOL)
    s = _rand(*shape, seed=3)
    (ky * torch.tensor(s)).sum().backward()
    (fy * fathom.tensor(s)).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), kx.grad.numpy(), rtol=1e-4, atol=1e-5)


# --- recurrent ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kwargs", [
    dict(), dict(return_sequences=True), dict(return_state=True),
    dict(return_sequences=True, return_state=True), dict(go_backwards=True),
    dict(use_bias=False, return_sequences=True),
])
def test_recurrent(name, kwargs):
    _pair(name, dict(units=4, **kwargs), _rand(2, 5, 3), rtol=1e-5, atol=2e-5)


def test_simple_rnn_relu():
    _pair("SimpleRNN", dict(units=3, activation="relu", return_sequences=True),
          _rand(2, 4, 3))


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_recurrent_initial_state(name):
    x = _rand(2, 5, 3)
    n = 2 if name == "LSTM" else 1
    states = [_rand(2, 4, seed=20 + i) for i in range(n)]
    kl = getattr(keras.layers, name)(4, return_sequences=True)
    fl = getattr(fk.layers, name)(4, return_sequences=True)
    ky = kl(torch.tensor(x), initial_state=[torch.tensor(s) for s in states])
    fl(fathom.tensor(x))
    fl.set_weights(kl.get_weights())
    fy = fl(fathom.tensor(x), initial_state=[fathom.tensor(s) for s in states])
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=2e-5)


@pytest.mark.parametrize("inner", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional(inner, merge_mode):
    x = _rand(2, 5, 3)
    for seq in (False, True):
        kl = keras.layers.Bidirectional(getattr(keras.layers, inner)(4, return_sequences=seq),
                                        merge_mode=merge_mode)
        fl = fk.layers.Bidirectional(getattr(fk.layers, inner)(4, return_sequences=seq),
                                     merge_mode=merge_mode)
        kx, fx = torch.tensor(x, requires_grad=True), fathom.tensor(x, requires_grad=True)
        ky = kl(kx)
        fl(fathom.tensor(x))
        fl.set_weights(kl.get_weights())
        fy = fl(fx)
        kys, fys = _flat(ky), _flat(fy)
        assert len(kys) == len(fys)
        for k, f in zip(kys, fys):
            np.testing.assert_allclose(f.detach().numpy(), k.detach().numpy(), rtol=RTOL,
                                       atol=2e-5)
        sum(k.sum() for k in kys).backward()
        sum(f.sum() for f in fys).backward()
        np.testing.assert_allclose(fx.grad.numpy(), kx.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_bidirectional_return_state():
    x = _rand(2, 5, 3)
    kl = keras.layers.Bidirectional(keras.layers.LSTM(4, return_state=True))
    fl = fk.layers.Bidirectional(fk.layers.LSTM(4, return_state=True))
    ky = kl(torch.tensor(x))
    fl(fathom.tensor(x))
    fl.set_weights(kl.get_weights())
    fy = fl(fathom.tensor(x))
    assert len(ky) == len(fy) == 5
    for k, f in zip(ky, fy):
        np.testing.assert_allclose(f.detach().numpy(), k.detach().numpy(), rtol=RTOL, atol=2e-5)


# --- attention ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,call", [
    (dict(num_heads=2, key_dim=3), {}),
    (dict(num_heads=3, key_dim=2, value_dim=4, output_shape=5), {}),
    (dict(num_heads=2, key_dim=3, use_bias=False), {}),
    (dict(num_heads=2, key_dim=3), dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=3), dict(mask=True)),
    (dict(num_heads=2, key_dim=3), dict(mask=True, use_causal_mask=True)),
    (dict(num_heads=2, key_dim=3), dict(return_attention_scores=True)),
])
def test_multi_head_attention(kwargs, call):
    q, v = _rand(2, 4, 6), _rand(2, 4, 5, seed=2)
    call = dict(call)
    if call.pop("mask", False):
        mask = np.random.default_rng(3).random((2, 4, 4)) > 0.3
        mask[:, :, 0] = True
        call["attention_mask"] = mask
    kl, fl = keras.layers.MultiHeadAttention(**kwargs), fk.layers.MultiHeadAttention(**kwargs)
    kq, kv = torch.tensor(q, requires_grad=True), torch.tensor(v, requires_grad=True)
    fq, fv = fathom.tensor(q, requires_grad=True), fathom.tensor(v, requires_grad=True)
    kcall = {k: torch.tensor(m) if isinstance(m, np.ndarray) else m for k, m in call.items()}
    fcall = {k: fathom.tensor(m) if isinstance(m, np.ndarray) else m for k, m in call.items()}
    ky = kl(kq, kv, **kcall)
    fl(fathom.tensor(q), fathom.tensor(v), **fcall)
    assert [w.shape for w in fl.get_weights()] == [w.shape for w in kl.get_weights()]
    fl.set_weights(kl.get_weights())
    fy = fl(fq, fv, **fcall)
    kys, fys = _flat(ky), _flat(fy)
    for k, f in zip(kys, fys):
        np.testing.assert_allclose(f.detach().numpy(), k.detach().numpy(), rtol=RTOL,
                                   atol=ATOL)
    kys[0].sum().backward()
    fys[0].sum().backward()
    np.testing.assert_allclose(fq.grad.numpy(), kq.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fv.grad.numpy(), kv.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_multi_head_attention_self_attention_with_key():
    x, k = _rand(2, 3, 4), _rand(2, 5, 6, seed=4)
    v = _rand(2, 5, 2, seed=5)
    kl = keras.layers.MultiHeadAttention(2, 3)
    fl = fk.layers.MultiHeadAttention(2, 3)
    ky = kl(torch.tensor(x), torch.tensor(v), torch.tensor(k))
    fl(fathom.tensor(x), fathom.tensor(v), fathom.tensor(k))
    fl.set_weights(kl.get_weights())
    fy = fl(fathom.tensor(x), fathom.tensor(v), fathom.tensor(k))
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_direct_call_defaults_to_inference_like_keras():
    x = np.ones((4, 64), np.float32)
    y = fk.layers.Dropout(0.5)(fathom.tensor(x))
    np.testing.assert_array_equal(y.numpy(), keras.layers.Dropout(0.5)(torch.tensor(x)).numpy())


# --- default initializers -----------------------------------------------------------------

def _built_pair(factory, shape):
    x = _rand(*shape)
    kl, fl = factory(keras.layers), factory(fk.layers)
    kl(torch.tensor(x))
    fl.eval()
    fl(fathom.tensor(x))
    return kl, fl


@pytest.mark.parametrize("factory,shape", [
    (lambda L: L.Dense(300), (2, 500)),
    (lambda L: L.Conv2D(64, 5), (1, 8, 8, 40)),
    (lambda L: L.Conv1D(32, 7), (1, 9, 50)),
    (lambda L: L.Conv2DTranspose(48, 3), (1, 4, 4, 64)),
    (lambda L: L.LSTM(64), (1, 2, 100)),
    (lambda L: L.GRU(48), (1, 2, 80)),
    (lambda L: L.SimpleRNN(80), (1, 2, 60)),
    (lambda L: L.Embedding(1000, 64), (2, 3)),
    (lambda L: L.MultiHeadAttention(4, 32), (1, 2, 96)),
    (lambda L: L.BatchNormalization(), (4, 30)),
    (lambda L: L.LayerNormalization(), (4, 30)),
])
def test_default_initializer_distributions(factory, shape):
    if "Embedding" in repr(factory(fk.layers)):
        kl, fl = factory(keras.layers), factory(fk.layers)
        ids = np.arange(6).reshape(shape)
        kl(torch.tensor(ids))
        fl(fathom.tensor(ids))
    elif "MultiHead" in repr(factory(fk.layers)):
        x = _rand(*shape)
        kl, fl = factory(keras.layers), factory(fk.layers)
        kl(torch.tensor(x), torch.tensor(x))
        fl(fathom.tensor(x), fathom.tensor(x))
    else:
        kl, fl = _built_pair(factory, shape)
    kws, fws = kl.get_weights(), fl.get_weights()
    assert [w.shape for w in fws] == [w.shape for w in kws]
    for k, f in zip(kws, fws):
        if np.all(k == k.flat[0]) or k.std() < 1e-6:  # constant: zeros, ones
            np.testing.assert_array_equal(f, k)
            continue
        if k.ndim == 1:  # LSTM bias: zeros with the forget gate at 1 (unit_forget_bias)
            np.testing.assert_array_equal(f, k)
            continue
        assert abs(f.std() / k.std() - 1) < 0.1, (f.std(), k.std())
        assert abs(f.mean()) < 4 * k.std() / np.sqrt(k.size)
        if k.ndim == 2 and k.shape[0] <= k.shape[1] and \
                np.allclose(k @ k.T, np.eye(k.shape[0]), atol=1e-5):
            # a recurrent kernel: orthogonal rows, as Keras's
            np.testing.assert_allclose(f @ f.T, np.eye(k.shape[0]), atol=1e-5)
        else:  # glorot_uniform or uniform: the same bounds
            assert np.abs(f).max() <= np.abs(k).max() * 1.05


def test_lstm_unit_forget_bias():
    kl, fl = _built_pair(lambda L: L.LSTM(5), (1, 2, 3))
    np.testing.assert_array_equal(fl.get_weights()[2], kl.get_weights()[2])
    np.testing.assert_array_equal(fl.get_weights()[2][5:10], 1)


@pytest.mark.parametrize("name,kwargs", [
    ("GlorotUniform", {}), ("GlorotNormal", {}), ("HeNormal", {}), ("HeUniform", {}),
    ("LecunNormal", {}), ("LecunUniform", {}), ("RandomNormal", dict(stddev=0.3)),
    ("RandomUniform", dict(minval=-0.2, maxval=0.7)), ("TruncatedNormal", dict(stddev=0.4)),
    ("VarianceScaling", dict(scale=3.0, mode="fan_out", distribution="untruncated_normal")),
    ("Orthogonal", dict(gain=2.0)),
])
def test_initializer_statistics(name, kwargs):
    shape = (3, 3, 40, 50)
    k = keras.ops.convert_to_numpy(getattr(keras.initializers, name)(seed=3, **kwargs)(shape))
    f = getattr(fk.initializers, name)(**kwargs)(shape)
    assert f.shape == k.shape and f.dtype == np.float32
    assert abs(f.std() / k.std() - 1) < 0.05
    assert abs(f.mean() - k.mean()) < 5 * k.std() / np.sqrt(k.size)
    if "Uniform" in name or "Truncated" in name or name in ("GlorotNormal", "HeNormal",
                                                             "LecunNormal"):
        limit = np.abs(k).max() * 1.02  # bounded: the same bounds
        assert np.abs(f).max() <= limit


# --- parameter counts and output shapes of the seed-style models --------------------------

def _seed_models(L, S):
    return {
        "mlp": S([L.Dense(256, activation="relu", input_shape=(784,)), L.Dropout(0.2),
                  L.Dense(10, activation="softmax")]),
        "cnn": S([L.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
                  L.MaxPooling2D(), L.Conv2D(64, 3, activation="relu", padding="same"),
                  L.MaxPooling2D(), L.Flatten(), L.Dense(128, activation="relu"),
                  L.Dense(10, activation="softmax")]),
        "lstm": S([L.LSTM(64, return_sequences=True, input_shape=(28, 28)), L.LSTM(64),
                   L.Dense(10, activation="softmax")]),
        "bn": S([L.Dense(64, input_shape=(20,)), L.BatchNormalization(), L.Activation("relu"),
                 L.Conv1D(4, 3) if False else L.Dense(32), L.BatchNormalization(),
                 L.Dense(1)]),
        "rnn_mix": S([L.Embedding(1000, 32, input_shape=(12,)),
                      L.Bidirectional(L.GRU(16, return_sequences=True)),
                      L.Conv1D(8, 3, padding="same"), L.GlobalAveragePooling1D(),
                      L.Dense(3)]),
        "deconv": S([L.Conv2DTranspose(8, 3, strides=2, padding="same",
                                       input_shape=(7, 7, 4)),
                     L.ZeroPadding2D(1), L.AveragePooling2D(2), L.Reshape((-1, 8)),
                     L.LayerNormalization(), L.SimpleRNN(5)]),
    }


@pytest.mark.parametrize("which", ["mlp", "cnn", "lstm", "bn", "rnn_mix", "deconv"])
def test_seed_models_params_and_shapes(which, capsys):
    km = _seed_models(keras.layers, keras.Sequential)[which]
    fm = _seed_models(fk.layers, fk.Sequential)[which]
    assert fm.count_params() == km.count_params()
    n_frozen = sum(int(np.prod(w.shape)) for w in km.non_trainable_weights)
    assert sum(int(np.prod(w.shape)) for w in fm.non_trainable_weights) == n_frozen
    assert len(fm.layers) == len(km.layers)
    for f, k in zip(fm.layers, km.layers):
        assert type(f).__name__ == type(k).__name__
        assert tuple(f.output_shape) == tuple(k.output.shape), f.name
        assert f.count_params() == k.count_params(), f.name
        assert [w.shape for w in f.get_weights()] == [w.shape for w in k.get_weights()]
    fm.summary()
    out = capsys.readouterr().out
    assert f"Total params: {km.count_params():,}" in out
    assert f"Non-trainable params: {n_frozen:,}" in out


def test_functional_model_params_shapes_and_outputs():
    def build(k):
        a, b = k.Input((6, 5)), k.Input((4,))
        h = k.layers.LSTM(8, return_sequences=True)(a)
        h = k.layers.MultiHeadAttention(2, 4)(h, h)
        h = k.layers.GlobalAveragePooling1D()(h)
        m = k.layers.Concatenate()([h, k.layers.Dense(3, activation="tanh")(b)])
        out = k.layers.Add()([k.layers.Dense(2)(m), k.layers.Dense(2)(m)])
        return k.Model([a, b], out)

    km, fm = build(keras), build(fk)
    assert fm.count_params() == km.count_params()
    fm.set_weights(km.get_weights())
    fm.eval()
    xa, xb = _rand(3, 6, 5), _rand(3, 4, seed=2)
    ky = km([torch.tensor(xa), torch.tensor(xb)])
    fy = fm([fathom.tensor(xa), fathom.tensor(xb)])
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=RTOL, atol=2e-5)


def test_sequential_model_outputs_equal_keras():
    km = _seed_models(keras.layers, keras.Sequential)["cnn"]
    fm = _seed_models(fk.layers, fk.Sequential)["cnn"]
    fm.set_weights(km.get_weights())
    fm.eval()
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# --- losses -------------------------------------------------------------------------------

def _loss_data(name, shape=(6, 5), seed=0):
    """(y_true, y_pred) NumPy arrays fit for the loss `name`."""
    rng = np.random.default_rng(seed)
    c = shape[-1]
    probs = rng.dirichlet(np.ones(c), size=shape[:-1]).astype(np.float32)
    labels = rng.integers(0, c, shape[:-1])
    onehot = np.eye(c, dtype=np.float32)[labels]
    real = rng.standard_normal(shape).astype(np.float32)
    real2 = rng.standard_normal(shape).astype(np.float32)
    if name in ("binary_crossentropy",):
        return (rng.random(shape) > 0.5).astype(np.float32), \
            rng.uniform(0.02, 0.98, shape).astype(np.float32)
    if name in ("categorical_crossentropy", "categorical_hinge"):
        return onehot, probs
    if name == "sparse_categorical_crossentropy":
        return labels, probs
    if name in ("kl_divergence", "kld", "KLD", "kullback_leibler_divergence"):
        return rng.dirichlet(np.ones(c), size=shape[:-1]).astype(np.float32), probs
    if name in ("hinge", "squared_hinge"):
        return np.where(rng.random(shape) > 0.5, 1.0, -1.0).astype(np.float32), real
    if name == "poisson":
        return rng.poisson(2.0, shape).astype(np.float32), np.abs(real) + 0.1
    if name in ("mean_absolute_percentage_error", "mape", "MAPE"):
        return real + np.sign(real) * 0.5, real2
    if name in ("mean_squared_logarithmic_error", "msle", "MSLE"):
        return np.abs(real), np.abs(real2)
    return real, real2


from keras.src.losses.losses import LossFunctionWrapper as _KerasWrapper  # noqa: E402

LOSS_NAMES = sorted(fk.losses._NAMES)
# Keras 2 names fathom also accepts, and Keras 3's own name for them
_KERAS_ALIAS = {"huber_loss": "huber", "kullback_leibler_divergence": "kl_divergence",
                "logcosh": "log_cosh"}


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_losses_by_name(name, shape, weighted):
    y_true, y_pred = _loss_data(name, shape)
    # per-sample weights, or per-step ones for sequences (Keras broadcasts neither way)
    w = np.random.default_rng(3).uniform(0, 2, shape[:-1]).astype(np.float32) if weighted \
        else None
    k = keras.losses.get(_KERAS_ALIAS.get(name, name))
    if not isinstance(k, keras.losses.Loss):  # a function, wrapped as compile does
        k = _KerasWrapper(k)
    f = fk.losses.get(name)
    kv = k(torch.tensor(y_true), torch.tensor(y_pred),
           sample_weight=None if w is None else torch.tensor(w))
    fv = f(fathom.tensor(y_true), fathom.tensor(y_pred),
           sample_weight=None if w is None else fathom.tensor(w))
    np.testing.assert_allclose(float(fv), float(kv), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("cls,kwargs,data", [
    ("BinaryCrossentropy", dict(from_logits=True), "binary_crossentropy"),
    ("BinaryCrossentropy", dict(label_smoothing=0.1), "binary_crossentropy"),
    ("BinaryCrossentropy", dict(from_logits=True, label_smoothing=0.2), "binary_crossentropy"),
    ("CategoricalCrossentropy", dict(from_logits=True), "categorical_crossentropy"),
    ("CategoricalCrossentropy", dict(label_smoothing=0.1), "categorical_crossentropy"),
    ("CategoricalCrossentropy", dict(from_logits=True, label_smoothing=0.1),
     "categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", dict(from_logits=True),
     "sparse_categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", dict(from_logits=True, ignore_class=1),
     "sparse_categorical_crossentropy"),
    ("Huber", dict(delta=0.5), "huber"),
    ("MeanSquaredError", dict(reduction="sum"), "mse"),
    ("MeanAbsoluteError", dict(reduction="none"), "mae"),
    ("CategoricalCrossentropy", dict(reduction="mean_with_sample_weight"),
     "categorical_crossentropy"),
    ("CosineSimilarity", dict(axis=0), "cosine_similarity"),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_objects(cls, kwargs, data, weighted):
    if weighted and kwargs.get("axis") == 0:
        weighted = False  # the values are per feature: Keras takes no per-sample weights
    y_true, y_pred = _loss_data(data, (6, 5))
    if kwargs.get("from_logits"):
        y_pred = np.log(y_pred) * 1.5 if data != "binary_crossentropy" else \
            np.log(y_pred / (1 - y_pred)) * 2
    w = np.random.default_rng(3).uniform(0, 2, 6).astype(np.float32) if weighted else None
    kv = getattr(keras.losses, cls)(**kwargs)(
        torch.tensor(y_true), torch.tensor(y_pred),
        sample_weight=None if w is None else torch.tensor(w))
    fv = getattr(fk.losses, cls)(**kwargs)(
        fathom.tensor(y_true), fathom.tensor(y_pred),
        sample_weight=None if w is None else fathom.tensor(w))
    np.testing.assert_allclose(fv.detach().numpy(), kv.detach().numpy(), rtol=2e-5, atol=1e-6)


def test_loss_gradients_equal_keras():
    y_true, y_pred = _loss_data("sparse_categorical_crossentropy", (6, 5))
    logits = np.log(y_pred)
    kp, fp = torch.tensor(logits, requires_grad=True), fathom.tensor(logits, requires_grad=True)
    keras.losses.SparseCategoricalCrossentropy(from_logits=True)(torch.tensor(y_true),
                                                                  kp).backward()
    fk.losses.SparseCategoricalCrossentropy(from_logits=True)(fathom.tensor(y_true),
                                                               fp).backward()
    np.testing.assert_allclose(fp.grad.numpy(), kp.grad.numpy(), rtol=1e-5, atol=1e-7)
    y_true, y_pred = _loss_data("binary_crossentropy", (6, 5))
    kp, fp = torch.tensor(y_pred, requires_grad=True), fathom.tensor(y_pred, requires_grad=True)
    keras.losses.BinaryCrossentropy()(torch.tensor(y_true), kp).backward()
    fk.losses.BinaryCrossentropy()(fathom.tensor(y_true), fp).backward()
    np.testing.assert_allclose(fp.grad.numpy(), kp.grad.numpy(), rtol=1e-5, atol=1e-7)


# --- metrics ------------------------------------------------------------------------------

def _metric_batches(kind, n_batches=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        if kind == "binary":
            t = (rng.random((8, 1)) > 0.5).astype(np.float32)
            p = rng.random((8, 1)).astype(np.float32)
        elif kind == "categorical":
            t = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
            p = rng.dirichlet(np.ones(5), 8).astype(np.float32)
        elif kind == "sparse":
            t = rng.integers(0, 5, (8,))
            p = rng.dirichlet(np.ones(5), 8).astype(np.float32)
        elif kind == "multilabel":
            t = (rng.random((8, 3)) > 0.5).astype(np.float32)
            p = rng.random((8, 3)).astype(np.float32)
        elif kind == "exact":
            t = rng.integers(0, 3, (8, 1)).astype(np.float32)
            p = rng.integers(0, 3, (8, 1)).astype(np.float32)
        else:
            t = rng.standard_normal((8, 2)).astype(np.float32)
            p = rng.standard_normal((8, 2)).astype(np.float32)
        out.append((t, p, rng.uniform(0, 2, 8).astype(np.float32)))
    return out


@pytest.mark.parametrize("cls,kwargs,kind", [
    ("Accuracy", {}, "exact"), ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", dict(threshold=0.3), "binary"),
    ("CategoricalAccuracy", {}, "categorical"), ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", dict(k=2), "categorical"),
    ("SparseTopKCategoricalAccuracy", dict(k=3), "sparse"),
    ("MeanSquaredError", {}, "regression"), ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("Precision", {}, "binary"), ("Recall", {}, "binary"),
    ("Precision", dict(thresholds=[0.3, 0.7]), "binary"),
    ("Recall", dict(top_k=2), "multilabel"), ("Precision", dict(top_k=2), "multilabel"),
    ("Precision", dict(top_k=2, thresholds=0.5), "multilabel"),
    ("Precision", dict(class_id=1), "multilabel"),
    ("AUC", {}, "binary"), ("AUC", dict(curve="PR"), "binary"),
    ("AUC", dict(num_thresholds=50, summation_method="minoring"), "binary"),
    ("F1Score", dict(threshold=0.5), "multilabel"),
    ("F1Score", dict(average="macro", threshold=0.5), "multilabel"),
    ("F1Score", dict(average="micro"), "categorical"),
    ("FBetaScore", dict(beta=2.0, average="weighted", threshold=0.4), "multilabel"),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_after_several_updates(cls, kwargs, kind, weighted):
    km, fm = getattr(keras.metrics, cls)(**kwargs), getattr(fk.metrics, cls)(**kwargs)
    for t, p, w in _metric_batches(kind):
        km.update_state(torch.tensor(t), torch.tensor(p),
                        sample_weight=torch.tensor(w) if weighted else None)
        fm.update_state(fathom.tensor(t), fathom.tensor(p),
                        sample_weight=fathom.tensor(w) if weighted else None)
    np.testing.assert_allclose(np.asarray(fm.result(), np.float64),
                               keras.ops.convert_to_numpy(km.result()).astype(np.float64),
                               rtol=1e-5, atol=1e-6)
    km.reset_state()
    fm.reset_state()
    t, p, _ = _metric_batches(kind, 1, seed=9)[0]
    km.update_state(torch.tensor(t), torch.tensor(p))
    fm.update_state(fathom.tensor(t), fathom.tensor(p))
    np.testing.assert_allclose(np.asarray(fm.result(), np.float64),
                               keras.ops.convert_to_numpy(km.result()).astype(np.float64),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kind", [("mse", "regression"), ("mae", "regression"),
                                       ("binary_crossentropy", "binary"),
                                       ("categorical_crossentropy", "categorical"),
                                       ("sparse_categorical_crossentropy", "sparse"),
                                       ("kl_divergence", "categorical"),
                                       ("top_k_categorical_accuracy", "categorical")])
def test_metrics_by_name(name, kind):
    km, fm = keras.metrics.get(name), fk.metrics.get(name)
    for t, p, _ in _metric_batches(kind):
        km.update_state(torch.tensor(t), torch.tensor(p))
        fm.update_state(fathom.tensor(t), fathom.tensor(p))
    np.testing.assert_allclose(float(fm.result()), float(km.result()), rtol=1e-5, atol=1e-6)


# --- optimizers ---------------------------------------------------------------------------

def _two_dense(k):
    return k.Sequential([k.layers.Dense(6, activation="tanh", input_shape=(5,)),
                         k.layers.Dense(3)])


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(learning_rate=0.1)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(learning_rate=0.01)),
    ("Adam", dict(learning_rate=0.01, amsgrad=True)),
    ("Adam", dict(learning_rate=0.01, weight_decay=0.1)),
    ("AdamW", dict(learning_rate=0.01)),
    ("RMSprop", dict(learning_rate=0.01)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(learning_rate=0.1)),
    ("Adamax", dict(learning_rate=0.02)),
    ("Adadelta", dict(learning_rate=1.0)),
    ("SGD", dict(learning_rate=0.1, clipnorm=0.05)),
    ("SGD", dict(learning_rate=0.1, global_clipnorm=0.05)),
    ("Adam", dict(learning_rate=0.01, clipvalue=0.01)),
])
def test_optimizer_steps_equal_keras(name, kwargs):
    km, fm = _two_dense(keras), _two_dense(fk)
    fm.set_weights(km.get_weights())
    kopt, fopt = getattr(keras.optimizers, name)(**kwargs), \
        getattr(fk.optimizers, name)(**kwargs)
    fopt.build(list(fm.parameters()))
    rng = np.random.default_rng(0)
    for step in range(5):
        x = rng.standard_normal((8, 5)).astype(np.float32)
        t = rng.standard_normal((8, 3)).astype(np.float32)
        km.zero_grad()
        kloss = ((km(torch.tensor(x)) - torch.tensor(t)) ** 2).mean()
        kloss.backward()
        variables = km.trainable_variables
        kopt.apply_gradients(zip([v.value.grad.clone() for v in variables], variables))
        fopt.fathom_optimizer.zero_grad()
        floss = ((fm(fathom.tensor(x)) - fathom.tensor(t)) ** 2).mean()
        floss.backward()
        fopt.fathom_optimizer.step()
        np.testing.assert_allclose(float(floss), kloss.item(), rtol=1e-5)
    # centered RMSprop divides by sqrt(v - a^2 + eps): float32 rounding of the difference
    # is amplified, so it gets a looser bound
    rtol = 1e-4 if kwargs.get("centered") else 1e-5
    for f, k in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(f, k, rtol=rtol, atol=1e-6)
    assert fopt.iterations == int(kopt.iterations) == 5


def test_fit_one_epoch_equals_keras():
    """compile + fit (no shuffle) end to end: the same weights after one epoch."""
    km, fm = _two_dense(keras), _two_dense(fk)
    fm.set_weights(km.get_weights())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    for m in (km, fm):
        m.compile(optimizer=m is km and keras.optimizers.Adam(0.01) or fk.optimizers.Adam(0.01),
                  loss=m is km and keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                  or fk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    kh = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    fh = fm.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for f, k in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(f, k, rtol=1e-4, atol=1e-5)
    assert set(fh.history) == set(kh.history)
    np.testing.assert_allclose(fh.history["loss"], kh.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(fh.history["accuracy"], kh.history["accuracy"], rtol=1e-6)
    kev = km.evaluate(x, y, verbose=0)
    fev = fm.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(fev, kev, rtol=1e-4)


# --- keras.utils --------------------------------------------------------------------------

@pytest.mark.parametrize("labels,num_classes", [
    ([0, 1, 2, 3], None), ([1, 0, 3], 5), ([[0], [2], [1]], None), ([[0, 1], [2, 2]], 4),
    (np.array([3, 1], np.uint8), None), (np.array([2.0, 0.0]), 3), ([], 3),
])
def test_to_categorical_equals_keras(labels, num_classes):
    k = keras.utils.to_categorical(labels, num_classes)
    f = fk_utils.to_categorical(labels, num_classes)
    assert f.dtype == k.dtype and f.shape == k.shape
    np.testing.assert_array_equal(f, k)


def test_to_categorical_of_a_tensor():
    f = fk_utils.to_categorical(fathom.tensor([[1], [0], [2]]), 4)
    k = keras.utils.to_categorical(torch.tensor([[1], [0], [2]]), 4)
    assert f.dtype == fathom.float32 and tuple(f.shape) == tuple(k.shape) == (3, 4)
    np.testing.assert_array_equal(f.numpy(), keras.ops.convert_to_numpy(k))


@pytest.mark.parametrize("labels,num_classes,match", [
    ([0, 3], 3, r"in \[0, 3\)"), ([-1, 0], None, r"in \[0, 1\)"),
    ([0.5, 1.0], None, "integer"), (["a"], None, "integer"), ([], None, "empty"),
    ([0, 1], 2.5, "num_classes"),
])
def test_to_categorical_errors(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        fk_utils.to_categorical(labels, num_classes)


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_normalize_equals_keras(axis, order):
    x = _rand(4, 5)
    x[1] = 0  # a zero row stays zero
    np.testing.assert_allclose(fk_utils.normalize(x, axis, order),
                               keras.utils.normalize(x, axis, order), rtol=1e-6)
    kt, ft = torch.tensor(x, requires_grad=True), fathom.tensor(x, requires_grad=True)
    ky, fy = keras.utils.normalize(kt, axis, order), fk_utils.normalize(ft, axis, order)
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=1e-5, atol=1e-7)
    x = _rand(4, 5, seed=2)  # gradients away from a zero norm (where the norm has none)
    kt, ft = torch.tensor(x, requires_grad=True), fathom.tensor(x, requires_grad=True)
    ky, fy = keras.utils.normalize(kt, axis, order), fk_utils.normalize(ft, axis, order)
    np.testing.assert_allclose(fy.detach().numpy(), ky.detach().numpy(), rtol=1e-5, atol=1e-7)
    s = _rand(4, 5, seed=4)
    (ky * torch.tensor(s)).sum().backward()
    (fy * fathom.tensor(s)).sum().backward()
    np.testing.assert_allclose(ft.grad.numpy(), kt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_normalize_axis_0_and_errors():
    x = _rand(3, 4)
    np.testing.assert_allclose(fk_utils.normalize(x, axis=0),
                               x / np.linalg.norm(x, axis=0, keepdims=True), rtol=1e-6)
    with pytest.raises(ValueError, match="order"):
        fk_utils.normalize(x, order=0)


def test_set_random_seed_repeats_initializers_and_dropout():
    def draw():
        fk_utils.set_random_seed(123)
        layer = fk.layers.Dense(4)
        layer(fathom.ones(1, 3))
        drop = fk.layers.Dropout(0.5)(fathom.ones(2, 8), training=True)
        return layer.get_weights()[0], drop.numpy(), np.random.random(), __import__(
            "random").random()

    a, b = draw(), draw()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="integer"):
        fk_utils.set_random_seed(1.5)
