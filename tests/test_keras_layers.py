"""fathom.keras.layers: outputs equal fathom.nn (and PyTorch) given the same weights,
Keras weight layouts, initializers, gradients and errors."""
import numpy as np
import pytest

import fathom
from fathom import keras, nn
from fathom.keras import layers as L
from fathom.keras.layers.base import snake_case

RTOL, ATOL = 1e-5, 1e-5


def _np(t):
    return t.detach().numpy()


def _x(*shape):
    return fathom.tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32))


def _close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(_np(a) if hasattr(a, "detach") else a,
                               _np(b) if hasattr(b, "detach") else b, rtol=rtol, atol=atol)


def _tt(torch, t):
    return torch.tensor(_np(t))


# --- Dense, core ----------------------------------------------------------------------------

def test_dense_equals_nn_linear_and_keras_layout():
    layer = L.Dense(5, activation="relu")
    x = _x(3, 4)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 5) and bias.shape == (5,)
    lin = nn.Linear(4, 5)
    lin.load_state_dict(layer.state_dict())  # the state_dict is a torch Linear's
    _close(y, fathom.relu(lin(x)))
    _close(y, np.maximum(_np(x) @ kernel + bias, 0))
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_dense_on_3d_input_and_no_bias():
    layer = L.Dense(2, use_bias=False)
    x = _x(2, 3, 4)
    y = layer(x)
    (kernel,) = layer.get_weights()
    assert y.shape == (2, 3, 2)
    _close(y, _np(x) @ kernel)


def test_activation_layers():
    x = _x(2, 6)
    _close(L.Activation("tanh")(x), np.tanh(_np(x)))
    _close(L.ReLU(max_value=0.5)(x), np.clip(_np(x), 0, 0.5))
    _close(L.LeakyReLU()(x), np.where(_np(x) > 0, _np(x), 0.3 * _np(x)))
    e = np.exp(_np(x) - _np(x).max(-1, keepdims=True))
    _close(L.Softmax()(x), e / e.sum(-1, keepdims=True))
    with pytest.raises(ValueError, match="activation"):
        L.Dense(3, activation="os.system")


def test_flatten_reshape_permute_channels_last_order():
    x = _x(2, 3, 4, 5)
    _close(L.Flatten()(x), _np(x).reshape(2, -1))
    _close(L.Reshape((12, 5))(x), _np(x).reshape(2, 12, 5))
    _close(L.Permute((3, 1, 2))(x), _np(x).transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match=r"Reshape .*\(2, 3, 4, 5\)"):
        L.Reshape((7,))(x)


def test_dropout_modes():
    layer = L.Dropout(0.5)
    x = fathom.ones(1000)
    layer.eval()
    _close(layer(x), x)
    y = _np(layer(x, training=True))
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
    layer.train()
    assert (_np(layer(x)) == 0).any()
    _close(layer(x, training=False), x)


def test_embedding_equals_nn_embedding():
    layer = L.Embedding(10, 4)
    idx = fathom.tensor([[1, 2, 9], [0, 0, 3]])
    y = layer(idx)
    (table,) = layer.get_weights()
    assert table.shape == (10, 4) and np.abs(table).max() <= 0.05
    emb = nn.Embedding(10, 4)
    emb.load_state_dict(layer.state_dict())
    _close(y, emb(idx))
    _close(layer(idx.float()), y)  # Keras casts float indices


def test_merge_layers():
    a, b = _x(2, 3), _x(2, 3) * 2
    _close(L.Add()([a, b]), _np(a) + _np(b))
    _close(L.Subtract()([a, b]), _np(a) - _np(b))
    _close(L.Multiply()([a, b]), _np(a) * _np(b))
    _close(L.Average()([a, b]), (_np(a) + _np(b)) / 2)
    _close(L.Maximum()([a, b]), np.maximum(_np(a), _np(b)))
    _close(L.Concatenate()([a, _x(2, 5)]).shape, (2, 8))
    with pytest.raises(ValueError, match=r"Add 'add_\w*'.*\(2, 3\), \(2, 4\)"):
        L.Add(name="add_bad")([a, _x(2, 4)])
    with pytest.raises(ValueError, match="list of at least 2 inputs"):
        L.Add()(a)
    with pytest.raises(ValueError, match=r"Concatenate.*\(2, 3\), \(4, 3\)"):
        L.Concatenate()([a, _x(4, 3)])


# --- convolution and pooling ------------------------------------------------------------------

@pytest.mark.parametrize("padding,strides,dilation", [
    ("valid", 1, 1), ("same", 1, 1), ("same", 2, 1), ("valid", 2, 1), ("same", 1, 2)])
def test_conv2d_equals_nn_conv2d(padding, strides, dilation):
    layer = L.Conv2D(6, 3, strides=strides, padding=padding, dilation_rate=dilation)
    x = _x(2, 9, 8, 3)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 3, 6)
    conv = nn.Conv2d(3, 6, 3, stride=strides, dilation=dilation)
    conv.load_state_dict(layer.state_dict())
    xf = x.permute(0, 3, 1, 2)
    if padding == "same":  # TensorFlow: out = ceil(in / s), the extra pad at the bottom/right
        pads = []
        for n in (9, 8):
            total = max((-(-n // strides) - 1) * strides + 2 * dilation + 1 - n, 0)
            pads = [total // 2, total - total // 2] + pads
        xf = nn.functional.pad(xf, pads)
    ref = conv(xf).permute(0, 2, 3, 1)
    _close(y, ref, 1e-4, 1e-4)
    if padding == "same":
        assert y.shape[1:3] == (-(-9 // strides), -(-8 // strides))


def test_conv2d_same_stride2_against_torch(torch):
    layer = L.Conv2D(4, 3, strides=2, padding="same")
    x = _x(2, 8, 8, 3)
    y = layer(x)
    kernel, bias = layer.get_weights()
    xt = torch.nn.functional.pad(_tt(torch, x).permute(0, 3, 1, 2), (0, 1, 0, 1))
    ref = torch.nn.functional.conv2d(xt, torch.tensor(kernel).permute(3, 2, 0, 1),
                                     torch.tensor(bias), stride=2)
    _close(y, ref.permute(0, 2, 3, 1).numpy(), 1e-4, 1e-4)
    assert tuple(y.shape) == (2, 4, 4, 4)


def test_conv2d_channels_first_equals_nn():
    layer = L.Conv2D(5, (3, 2), data_format="channels_first", use_bias=False)
    x = _x(2, 3, 7, 6)
    conv = nn.Conv2d(3, 5, (3, 2), bias=False)
    y = layer(x)
    conv.load_state_dict(layer.state_dict())
    _close(y, conv(x), 1e-4, 1e-4)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_against_torch(torch, padding):
    layer = L.Conv1D(4, 3, padding=padding, activation="relu")
    x = _x(2, 10, 3)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 4)
    pad = {"valid": (0, 0), "same": (1, 1), "causal": (2, 0)}[padding]
    xt = torch.nn.functional.pad(_tt(torch, x).permute(0, 2, 1), pad)
    ref = torch.relu(torch.nn.functional.conv1d(xt, torch.tensor(kernel).permute(2, 1, 0),
                                                torch.tensor(bias)))
    _close(y, ref.permute(0, 2, 1).numpy(), 1e-4, 1e-4)


@pytest.mark.parametrize("padding,kernel,strides,size", [
    ("same", 3, 2, 10), ("valid", 3, 2, 11), ("same", 4, 2, 10), ("valid", 2, 3, 15),
    ("same", 3, 1, 5)])
def test_conv2d_transpose_sizes_and_values(torch, padding, kernel, strides, size):
    layer = L.Conv2DTranspose(4, kernel, strides=strides, padding=padding)
    x = _x(2, 5, 5, 3)
    y = layer(x)
    assert tuple(y.shape) == (2, size, size, 4)
    k, b = layer.get_weights()
    assert k.shape == (kernel, kernel, 4, 3)
    full = torch.nn.functional.conv_transpose2d(_tt(torch, x).permute(0, 3, 1, 2),
                                                torch.tensor(k).permute(3, 2, 0, 1),
                                                stride=strides)
    before = max(kernel - strides, 0) // 2 if padding == "same" else 0
    full = torch.nn.functional.pad(full, (0, size, 0, size))  # zeros where k < s
    ref = full[:, :, before:before + size, before:before + size].permute(0, 2, 3, 1)
    # the bias is added after cropping, so rows beyond the full output (k < s) hold it
    _close(y, ref.numpy() + b, 1e-4, 1e-4)


@pytest.mark.parametrize("cls,padding", [(L.MaxPooling2D, "valid"), (L.MaxPooling2D, "same"),
                                         (L.AveragePooling2D, "valid"),
                                         (L.AveragePooling2D, "same")])
def test_pooling_2d_against_torch(torch, cls, padding):
    layer = cls(pool_size=3, strides=2, padding=padding)
    x = _x(2, 8, 7, 3)
    y = layer(x)
    xt = _tt(torch, x).permute(0, 3, 1, 2)
    if padding == "same":  # out 4 x 4: pad H by (0, 1), W by (1, 1)
        if cls is L.MaxPooling2D:
            ref = torch.nn.functional.max_pool2d(
                torch.nn.functional.pad(xt, (1, 1, 0, 1), value=-float("inf")), 3, 2)
        else:
            s = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(xt, (1, 1, 0, 1)), 3, 2)
            n = torch.nn.functional.avg_pool2d(
                torch.nn.functional.pad(torch.ones(1, 1, 8, 7), (1, 1, 0, 1)), 3, 2)
            ref = s / n
    else:
        fn = torch.nn.functional.max_pool2d if cls is L.MaxPooling2D else \
            torch.nn.functional.avg_pool2d
        ref = fn(xt, 3, 2)
    _close(y, ref.permute(0, 2, 3, 1).numpy())


def test_pooling_defaults_and_1d():
    x = _x(2, 6, 6, 3)
    assert tuple(L.MaxPooling2D()(x).shape) == (2, 3, 3, 3)
    s = _x(2, 9, 4)
    _close(L.MaxPooling1D()(s), _np(s)[:, :8].reshape(2, 4, 2, 4).max(2))
    _close(L.AveragePooling1D(3)(s), _np(s).reshape(2, 3, 3, 4).mean(2))
    _close(L.GlobalAveragePooling2D()(x), _np(x).mean((1, 2)))
    _close(L.GlobalMaxPooling2D()(x), _np(x).max((1, 2)))
    _close(L.GlobalAveragePooling1D()(s), _np(s).mean(1))
    _close(L.GlobalAveragePooling2D(keepdims=True)(x), _np(x).mean((1, 2), keepdims=True))


def test_zero_padding_2d():
    x = _x(1, 2, 3, 2)
    y = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    _close(y, np.pad(_np(x), ((0, 0), (1, 2), (0, 1), (0, 0))))
    assert tuple(L.ZeroPadding2D(1)(x).shape) == (1, 4, 5, 2)


# --- normalization --------------------------------------------------------------------------

def test_batch_normalization_against_torch(torch):
    layer = L.BatchNormalization()
    x = _x(4, 5, 5, 3)
    layer.train()
    y = layer(x)
    bn = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.01)
    ref = bn(_tt(torch, x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    _close(y, ref.detach().numpy(), 1e-4, 1e-4)
    gamma, beta, mean, var = layer.get_weights()
    _close(mean, bn.running_mean.numpy())
    # Keras updates the moving variance with the biased batch variance (torch: unbiased);
    # the batch holds 100 values per channel
    _close(var, 0.99 + (bn.running_var.numpy() - 0.99) * 99 / 100)
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    layer.eval()
    bn.eval()
    _close(layer(x), bn(_tt(torch, x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach(),
           1e-4, 1e-4)


def test_batch_normalization_frozen_runs_in_inference_mode():
    layer = L.BatchNormalization()
    x = _x(8, 3) * 3 + 1
    layer(x)
    layer.trainable = False
    layer.train()
    before = layer.get_weights()
    gamma, beta, mean, var = before
    _close(layer(x, training=True), (_np(x) - mean) / np.sqrt(var + 1e-3) * gamma + beta,
           1e-4, 1e-4)
    for a, b in zip(before, layer.get_weights()):
        _close(a, b)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_layer_normalization_equals_nn():
    layer = L.LayerNormalization()
    x = _x(2, 3, 6)
    ln = nn.LayerNorm(6, eps=1e-3)
    y = layer(x)
    ln.load_state_dict(layer.state_dict())
    _close(y, ln(x))


# --- recurrent ----------------------------------------------------------------------------

def _torch_rnn(torch, kind, layer, n_in, u, bidirectional=False):
    """A torch RNN carrying `layer`'s Keras weights (one direction, or fwd+bwd)."""
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[kind]
    net = cls(n_in, u, batch_first=True, bidirectional=bidirectional)
    subs = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
    with torch.no_grad():
        for sub, suffix in zip(subs, ["", "_reverse"]):
            k, r, b = sub.get_weights()
            if kind == "GRU":
                def swap(a):  # Keras (z, r, h) -> torch (r, z, n) on the last axis
                    z, rr, h = np.split(a, 3, axis=-1)
                    return np.concatenate([rr, z, h], -1)
                k, r = swap(k), swap(r)
                b_ih, b_hh = swap(b[0]), swap(b[1])
            else:
                b_ih, b_hh = b, np.zeros_like(b)
            getattr(net, "weight_ih_l0" + suffix).copy_(torch.tensor(k.T))
            getattr(net, "weight_hh_l0" + suffix).copy_(torch.tensor(r.T))
            getattr(net, "bias_ih_l0" + suffix).copy_(torch.tensor(b_ih))
            getattr(net, "bias_hh_l0" + suffix).copy_(torch.tensor(b_hh))
    return net


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_recurrent_layers_against_torch(torch, kind):
    layer = getattr(L, kind)(6, return_sequences=True, return_state=True)
    x = _x(3, 5, 4)
    out, *states = layer(x)
    net = _torch_rnn(torch, kind, layer, 4, 6)
    ref, hs = net(_tt(torch, x))
    hs = hs if kind == "LSTM" else (hs,)
    _close(out, ref.detach().numpy(), 1e-4, 1e-4)
    assert len(states) == len(hs)
    for s, h in zip(states, hs):
        _close(s, h[0].detach().numpy(), 1e-4, 1e-4)
    last = getattr(L, kind)(6)
    last.build((None, 5, 4))
    last.set_weights(layer.get_weights())
    _close(last(x), ref[:, -1].detach().numpy(), 1e-4, 1e-4)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_go_backwards_and_initial_state(torch, kind):
    layer = getattr(L, kind)(3, return_sequences=True, go_backwards=True)
    x = _x(2, 4, 2)
    y = layer(x)
    net = _torch_rnn(torch, kind, layer, 2, 3)
    ref, _ = net(_tt(torch, x).flip(1))  # Keras returns outputs in processing order
    _close(y, ref.detach().numpy(), 1e-4, 1e-4)
    fwd = getattr(L, kind)(3)
    fwd.build((None, 4, 2))
    h0 = [_x(2, 3) for _ in range(2 if kind == "LSTM" else 1)]
    y = fwd(x, initial_state=h0)
    net = _torch_rnn(torch, kind, fwd, 2, 3)
    th = [_tt(torch, h).unsqueeze(0) for h in h0]
    ref, _ = net(_tt(torch, x), tuple(th) if kind == "LSTM" else th[0])
    _close(y, ref[:, -1].detach().numpy(), 1e-4, 1e-4)


def test_lstm_keras_layout_and_initializers():
    layer = L.LSTM(8)
    layer.build((None, 5, 3))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (3, 32) and recurrent.shape == (8, 32) and bias.shape == (32,)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthogonal
    assert np.abs(kernel).max() <= np.sqrt(6 / (3 + 32))  # glorot_uniform
    keys = ["cell.bias_ih_l0", "cell.weight_hh_l0", "cell.weight_ih_l0"]  # no bias_hh
    assert sorted(layer.state_dict()) == keys
    assert layer.count_params() == 4 * 8 * (3 + 8 + 1)
    gru = L.GRU(4)
    gru.build((None, 2, 3))
    assert [w.shape for w in gru.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    assert gru.count_params() == 3 * 4 * (3 + 4 + 2)


def test_bidirectional_against_torch(torch):
    layer = L.Bidirectional(L.LSTM(4, return_sequences=True))
    x = _x(2, 5, 3)
    y = layer(x)
    net = _torch_rnn(torch, "LSTM", layer, 3, 4, bidirectional=True)
    ref, _ = net(_tt(torch, x))
    _close(y, ref.detach().numpy(), 1e-4, 1e-4)
    assert [w.layer for w in layer.weights] == [layer.forward_layer] * 3 + \
        [layer.backward_layer] * 3
    assert layer.forward_layer.name.startswith("forward_lstm")
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert layer.count_params() == 2 * 4 * 4 * (3 + 4 + 1)
    summed = L.Bidirectional(L.GRU(4), merge_mode="sum")(x)
    assert tuple(summed.shape) == (2, 4)


def test_recurrent_unsupported_options_are_refused():
    with pytest.raises(NotImplementedError, match="recurrent_dropout"):
        L.LSTM(4, recurrent_dropout=0.2)
    with pytest.raises(NotImplementedError, match="reset_after"):
        L.GRU(4, reset_after=False)
    with pytest.raises(ValueError, match=r"lstm\w*.*\(batch, steps, features\).*\(2, 3\)"):
        L.LSTM(4)(_x(2, 3))


# --- attention ----------------------------------------------------------------------------

def test_multi_head_attention_against_torch(torch):
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3)
    q, v = _x(2, 4, 6), _x(2, 5, 6) * 0.5
    mask = fathom.tensor(np.random.default_rng(2).random((2, 4, 5)) > 0.3)
    y, scores = layer(q, v, attention_mask=mask, return_attention_scores=True)
    assert tuple(scores.shape) == (2, 2, 4, 5)
    w = layer.get_weights()
    assert [a.shape for a in w] == [(6, 2, 3), (2, 3)] * 3 + [(2, 3, 6), (6,)]
    mha = torch.nn.MultiheadAttention(6, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.tensor(np.concatenate(
            [w[i].reshape(6, 6).T for i in (0, 2, 4)])))
        mha.in_proj_bias.copy_(torch.tensor(np.concatenate([w[i].reshape(6) for i in (1, 3, 5)])))
        mha.out_proj.weight.copy_(torch.tensor(w[6].reshape(6, 6).T))
        mha.out_proj.bias.copy_(torch.tensor(w[7]))
    tmask = ~torch.tensor(_np(mask)).repeat_interleave(2, 0)  # torch: True = blocked
    ref, attn = mha(_tt(torch, q), _tt(torch, v), _tt(torch, v), attn_mask=tmask,
                    average_attn_weights=False)
    _close(y, ref.detach().numpy(), 1e-4, 1e-4)
    _close(scores, attn.detach().numpy(), 1e-4, 1e-4)
    causal = layer(q, q, use_causal_mask=True, return_attention_scores=True)[1]
    assert np.allclose(np.triu(_np(causal)[0, 0], 1), 0)


# --- shared behaviour ---------------------------------------------------------------------

def _cases():
    return [
        (lambda: L.Dense(3), (2, 4)),
        (lambda: L.Conv2D(2, 3, padding="same", strides=2), (2, 5, 5, 3)),
        (lambda: L.Conv1D(2, 2), (2, 5, 3)),
        (lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same"), (2, 3, 3, 2)),
        (lambda: L.BatchNormalization(), (4, 3, 3, 2)),
        (lambda: L.LayerNormalization(), (2, 3, 4)),
        (lambda: L.SimpleRNN(3), (2, 4, 2)),
        (lambda: L.LSTM(3, return_sequences=True), (2, 4, 2)),
        (lambda: L.GRU(3), (2, 4, 2)),
        (lambda: L.Bidirectional(L.LSTM(3)), (2, 4, 2)),
        (lambda: L.MultiHeadAttention(2, 2), None),
        (lambda: L.Embedding(7, 3), "int"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_gradient_reaches_every_parameter_and_weights_round_trip(case):
    make, shape = _cases()[case]
    layer = make()
    layer.train()
    if shape is None:
        x = _x(2, 3, 4)
        y = layer(x, x)
    elif shape == "int":
        y = layer(fathom.tensor([[1, 2], [3, 6]]))
    else:
        y = layer(_x(*shape))
    (y * _x(*y.shape)).sum().backward()
    params = list(layer.named_parameters())
    assert params
    for name, p in params:
        assert p.grad is not None and np.abs(_np(p.grad)).sum() > 0, name
    # get_weights/set_weights round trip through the Keras layouts
    new = [np.random.default_rng(3).standard_normal(w.shape).astype(np.float32)
           for w in layer.get_weights()]
    layer.set_weights(new)
    for a, b in zip(new, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=layer.name):
        layer.set_weights(new[:-1])
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.zeros((1,) + w.shape) for w in new])


def test_names_and_lazy_build():
    assert snake_case("Conv2DTranspose") == "conv2d_transpose"
    assert snake_case("ReLU") == "re_lu"
    assert snake_case("BatchNormalization") == "batch_normalization"
    a, b = L.Dense(2), L.Dense(2)
    assert b.name.startswith("dense_") and a.name != b.name
    assert not a.built and len(a.state_dict()) == 0
    a(fathom.ones(1, 7))
    assert a.built and a.get_weights()[0].shape == (7, 2)
    with pytest.raises(ValueError, match=r"count_params.*isn't built"):
        L.Dense(2).count_params()
    with pytest.raises(ValueError, match="name"):
        L.Dense(2, name="a.b")


def test_shape_errors_name_the_layer_and_shapes():
    layer = L.Dense(3, name="head")
    layer(fathom.ones(2, 4))
    with pytest.raises(ValueError, match=r"head.*\(2, 5\)"):
        layer(fathom.ones(2, 5))
    conv = L.Conv2D(2, 3, name="c1")
    conv(fathom.ones(1, 5, 5, 3))
    with pytest.raises(ValueError, match=r"c1.*\(1, 5, 5, 4\)"):
        conv(fathom.ones(1, 5, 5, 4))
    with pytest.raises(ValueError, match=r"dense_bad.*axis -1.*\(None, None\)"):
        L.Dense(3, name="dense_bad").build((None, None))
    with pytest.raises(NotImplementedError, match="Dense: kernel_regularizer is not supported"):
        L.Dense(3, kernel_regularizer="l2")
    assert L.Dense(3, kernel_regularizer=None, bias_constraint=None).units == 3
    with pytest.raises(TypeError, match="unrecognized keyword arguments.*'kernal_size'"):
        L.Conv2D(3, 3, kernal_size=3)


def test_trainable_false_freezes():
    layer = L.Dense(3)
    layer(fathom.ones(1, 2))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert all(not p.requires_grad for p in layer.parameters())
    layer.trainable = True
    assert len(layer.trainable_weights) == 2


def test_initializers_by_name_and_config():
    init = keras.initializers
    fathom.manual_seed(5)
    a = init.get("glorot_uniform")((20, 30))
    fathom.manual_seed(5)
    np.testing.assert_array_equal(a, init.GlorotUniform()((20, 30)))
    assert np.abs(a).max() <= np.sqrt(6 / 50)
    he = init.HeNormal()((400, 300))
    limit = 2 * np.sqrt(2 / 400) / 0.8796  # truncated at two (corrected) standard deviations
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.01 and np.abs(he).max() <= limit
    np.testing.assert_array_equal(init.get("ones")((2,)), [1, 1])
    np.testing.assert_array_equal(init.Constant(3)((2,)), [3, 3])
    np.testing.assert_array_equal(init.RandomNormal(seed=1)((3,)), init.RandomNormal(seed=1)((3,)))
    cfg = init.serialize(init.RandomUniform(-1, 1))
    assert cfg == {"class_name": "RandomUniform",
                   "config": {"minval": -1, "maxval": 1, "seed": None}}
    assert isinstance(init.deserialize(cfg), init.RandomUniform)
    for bad in ("os.system", {"class_name": "builtins.eval", "config": {}}, 3):
        with pytest.raises(ValueError):
            init.get(bad)


def test_activations_registry():
    act = keras.activations
    assert act.get(None) is act.linear and act.serialize(act.get("relu")) == "relu"
    with pytest.raises(ValueError, match="custom function is code"):
        act.serialize(lambda x: x)
    _close(act.gelu(fathom.tensor([1.0])), [0.8413447])
    _close(act.hard_sigmoid(fathom.tensor([0.0, 5.0])), [0.5, 1.0])


class Linear(L.Layer):
    """A custom layer in Keras's documented style."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return inputs @ self.w + self.b


def test_custom_layer_with_add_weight():
    layer = Linear(3)
    x = _x(2, 5)
    y = layer(x)
    w, b = layer.get_weights()
    assert w.shape == (5, 3) and np.abs(w).max() < 0.3 and not b.any()
    assert list(layer.state_dict()) == ["w", "b"]
    _close(y, _np(x) @ w)
    y.sum().backward()
    assert layer.w.grad is not None and layer.b.grad is not None
    model = keras.Sequential([Linear(3, input_shape=(5,)), L.Dense(1)])
    assert model.count_params() == 18 + 4
    with pytest.raises(NotImplementedError, match="regularizer"):
        layer.add_weight(shape=(2,), regularizer="l2")
