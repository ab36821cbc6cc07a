"""fathom.onnx.export: every layer and op case is checked by onnx.checker (full check) and run
in onnxruntime against Fathom's eager output (rtol 1e-4, atol 1e-5), at batch 1 and 7 from
one export with a dynamic batch axis; then opsets, the vision models, and the errors."""
import numpy as np
import pytest

import fathom
import fathom.nn as nn
import fathom.nn.functional as F

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from fathom.onnx import ExportError, export  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _flat(out):
    if isinstance(out, fathom.Tensor):
        return [out]
    return [t for o in out if o is not None for t in _flat(o)]


def _make(spec, batch, rng):
    """spec: (shape with 'B' for the batch, kind) kind 'f' float, ('i', high) ints."""
    shape, kind = spec
    shape = tuple(batch if s == "B" else s for s in shape)
    if kind == "f":
        return fathom.tensor(rng.standard_normal(shape).astype(np.float32))
    return fathom.tensor(rng.integers(0, kind[1], shape).astype(np.int64))


def check(module, specs, opset=17, batches=(1, 7), folding=True, atol=ATOL):
    """Export at batch 2 with the batch dynamic, then compare ORT and Fathom at `batches`."""
    rng = np.random.default_rng(0)
    module.eval()
    names = ["input"] if len(specs) == 1 else [f"input_{i}" for i in range(len(specs))]
    example = tuple(_make(s, 2, rng) for s in specs)
    with fathom.no_grad():
        n_out = len(_flat(module(*example)))
    out_names = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    dyn = {n: {s[0].index("B"): "batch"} for n, s in zip(names, specs) if "B" in s[0]}
    model = export(module, example if len(example) > 1 else example[0], input_names=names,
                   output_names=out_names, dynamic_axes=dyn, opset_version=opset,
                   do_constant_folding=folding)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == opset
    sess = _session(model)
    for b in batches:
        xs = tuple(_make(s, b, rng) for s in specs)
        with fathom.no_grad():
            want = _flat(module(*xs))
        got = sess.run(None, {n: x.numpy() for n, x in zip(names, xs)})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == tuple(w.shape)
            assert g.dtype == w.numpy().dtype
            np.testing.assert_allclose(g, w.numpy(), rtol=RTOL, atol=atol)
    return model


class Fn(nn.Module):
    """A module around a function of its inputs (for the tensor-op cases)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


X = (("B", 6), "f")
X3 = (("B", 3, 4), "f")
IMG = (("B", 3, 8, 8), "f")
SEQ = (("B", 5, 4), "f")           # batch-first sequences
SEQ_T = ((5, "B", 4), "f")          # time-major sequences


def _lstm(**kw):
    return nn.LSTM(4, 6, **kw)


LAYERS = {
    "linear": (lambda: nn.Linear(6, 3), [X]),
    "linear_3d_nobias": (lambda: nn.Linear(4, 2, bias=False), [X3]),
    "bilinear": (lambda: nn.Bilinear(6, 6, 3), [X, X]),
    "conv1d_groups_dilation": (lambda: nn.Conv1d(4, 6, 3, groups=2, dilation=2, padding=2),
                               [(("B", 4, 11), "f")]),
    "conv1d_same": (lambda: nn.Conv1d(4, 2, 4, padding="same"), [(("B", 4, 9), "f")]),
    "conv2d": (lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1), [IMG]),
    "conv2d_groups_nobias": (lambda: nn.Conv2d(4, 8, (3, 1), groups=4, bias=False),
                             [(("B", 4, 6, 6), "f")]),
    "conv2d_reflect": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), [IMG]),
    "conv2d_replicate": (lambda: nn.Conv2d(3, 4, 3, padding=2, padding_mode="replicate"),
                         [IMG]),
    "conv2d_circular": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), [IMG]),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1,
                                                    output_padding=1), [IMG]),
    "conv_transpose2d_groups": (lambda: nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2,
                                                           dilation=2), [(("B", 4, 5, 5), "f")]),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(4, 2, 3, stride=2),
                         [(("B", 4, 7), "f")]),
    "maxpool2d": (lambda: nn.MaxPool2d(2), [IMG]),
    "maxpool2d_pad_stride_ceil": (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                                  [(("B", 3, 9, 9), "f")]),
    "maxpool2d_dilation": (lambda: nn.MaxPool2d(2, 1, dilation=2), [IMG]),
    "maxpool1d": (lambda: nn.MaxPool1d(3, 2), [(("B", 3, 9), "f")]),
    "avgpool2d": (lambda: nn.AvgPool2d(2), [IMG]),
    "avgpool2d_pad": (lambda: nn.AvgPool2d(3, 2, 1), [IMG]),
    "avgpool2d_pad_exclude_ceil": (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True,
                                                        count_include_pad=False),
                                   [(("B", 3, 10, 10), "f")]),
    "adaptive_avg_global": (lambda: nn.AdaptiveAvgPool2d(1), [IMG]),
    "adaptive_avg_divisible": (lambda: nn.AdaptiveAvgPool2d((4, 2)), [IMG]),
    "adaptive_avg_uneven": (lambda: nn.AdaptiveAvgPool2d((3, 5)), [IMG]),
    "adaptive_max": (lambda: nn.AdaptiveMaxPool2d((2, 4)), [IMG]),
    "batchnorm1d": (lambda: _bn(nn.BatchNorm1d(6)), [X]),
    "batchnorm1d_3d": (lambda: _bn(nn.BatchNorm1d(3)), [X3]),
    "batchnorm2d": (lambda: _bn(nn.BatchNorm2d(3)), [IMG]),
    "batchnorm2d_noaffine": (lambda: _bn(nn.BatchNorm2d(3, affine=False)), [IMG]),
    "layernorm": (lambda: _ln(nn.LayerNorm(4)), [X3]),
    "layernorm_2d": (lambda: _ln(nn.LayerNorm((3, 4))), [X3]),
    "groupnorm": (lambda: _ln(nn.GroupNorm(3, 3)), [IMG]),
    "instancenorm": (lambda: nn.InstanceNorm2d(3), [IMG]),
    "dropout_eval": (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout(0.5),
                                           nn.Dropout2d(0.3)), [IMG]),
    "embedding": (lambda: nn.Embedding(10, 4), [(("B", 5), ("i", 10))]),
    "embedding_padding": (lambda: nn.Embedding(10, 4, padding_idx=0), [(("B",), ("i", 10))]),
    "flatten": (lambda: nn.Flatten(), [IMG]),
    "flatten_mid": (lambda: nn.Flatten(2), [IMG]),
    "unflatten": (lambda: nn.Unflatten(1, (2, 3)), [X]),
    "identity": (lambda: nn.Identity(), [X]),
    "zeropad": (lambda: nn.ZeroPad2d((1, 2, 0, 3)), [IMG]),
    "lstm": (lambda: _lstm(), [SEQ_T]),
    "lstm_batch_first_2layer_bi": (lambda: _lstm(batch_first=True, num_layers=2,
                                                 bidirectional=True), [SEQ]),
    "lstm_nobias": (lambda: _lstm(batch_first=True, bias=False), [SEQ]),
    "lstm_with_state": (lambda: _WithState(_lstm(num_layers=2), lstm=True), [SEQ_T]),
    "gru": (lambda: nn.GRU(4, 6, batch_first=True), [SEQ]),
    "gru_2layer_bi": (lambda: nn.GRU(4, 5, num_layers=2, bidirectional=True), [SEQ_T]),
    "gru_with_state": (lambda: _WithState(nn.GRU(4, 6)), [SEQ_T]),
    "rnn_tanh": (lambda: nn.RNN(4, 6, batch_first=True), [SEQ]),
    "rnn_relu_bi": (lambda: nn.RNN(4, 3, nonlinearity="relu", bidirectional=True), [SEQ_T]),
    "mha_self": (lambda: _SelfAttn(nn.MultiheadAttention(8, 2)), [((5, "B", 8), "f")]),
    "mha_batch_first_kv": (lambda: nn.MultiheadAttention(8, 2, batch_first=True, kdim=6,
                                                         vdim=4),
                           [(("B", 5, 8), "f"), (("B", 3, 6), "f"), (("B", 3, 4), "f")]),
    "mha_causal": (lambda: _CausalAttn(nn.MultiheadAttention(8, 4, batch_first=True)),
                   [(("B", 5, 8), "f")]),
    "transformer_layer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1),
                          [((5, "B", 8), "f")]),
    "transformer_layer_gelu_norm_first": (
        lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True,
                                           norm_first=True), [(("B", 5, 8), "f")]),
    "transformer_encoder": (lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2), [(("B", 5, 8), "f")]),
    # the rest of fathom.nn that ONNX expresses
    "adaptive_avg_pool1d": (lambda: nn.AdaptiveAvgPool1d(3), [(("B", 3, 7), "f")]),
    "adaptive_max_pool1d": (lambda: nn.AdaptiveMaxPool1d(2), [(("B", 3, 8), "f")]),
    "avgpool1d": (lambda: nn.AvgPool1d(3, 2, 1), [(("B", 3, 9), "f")]),
    "lppool2d": (lambda: nn.LPPool2d(2, 2), [(("B", 3, 6, 6), "f")]),
    "batchnorm3d": (lambda: _bn(nn.BatchNorm3d(3)), [(("B", 3, 2, 3, 4), "f")]),
    "instancenorm1d_affine": (lambda: nn.InstanceNorm1d(3, affine=True), [(("B", 3, 6), "f")]),
    "rmsnorm": (lambda: nn.RMSNorm(4), [X3]),
    "local_response_norm": (lambda: nn.LocalResponseNorm(3), [(("B", 5, 4, 4), "f")]),
    "pads_1d": (lambda: nn.Sequential(nn.ReflectionPad1d(2), nn.ReplicationPad1d((1, 3)),
                                      nn.CircularPad1d(1), nn.ConstantPad1d(2, 3.5)),
                [(("B", 3, 5), "f")]),
    "pads_3d": (lambda: nn.Sequential(nn.ReflectionPad3d(1), nn.ReplicationPad3d(1),
                                      nn.ZeroPad3d((1, 0, 0, 1, 2, 0))),
                [(("B", 2, 3, 3, 4), "f")]),
    "dropouts_eval": (lambda: nn.Sequential(nn.AlphaDropout(0.2), nn.FeatureAlphaDropout(0.2),
                                            nn.Dropout1d(0.2)), [X3]),
    "softmax2d_rrelu_step": (lambda: nn.Sequential(nn.Softmax2d(), nn.RReLU(), nn.Step()),
                             [IMG]),
    "embedding_bag_mean": (lambda: nn.EmbeddingBag(10, 4), [(("B", 5), ("i", 10))]),
    "embedding_bag_max": (lambda: nn.EmbeddingBag(10, 4, mode="max"), [(("B", 5), ("i", 10))]),
    "embedding_bag_sum_padding": (lambda: nn.EmbeddingBag(10, 4, mode="sum", padding_idx=1),
                                  [(("B", 5), ("i", 3))]),
    "lstm_cell": (lambda: nn.LSTMCell(4, 5), [(("B", 4), "f")]),
    "gru_cell_with_state": (lambda: nn.GRUCell(4, 5), [(("B", 4), "f"), (("B", 5), "f")]),
    "rnn_cell_relu": (lambda: nn.RNNCell(4, 5, nonlinearity="relu"), [(("B", 4), "f")]),
    "transformer_decoder_layer": (lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True),
                                  [(("B", 5, 8), "f"), (("B", 4, 8), "f")]),
    "transformer": (lambda: nn.Transformer(8, 2, 1, 1, 16, batch_first=True),
                    [(("B", 5, 8), "f"), (("B", 4, 8), "f")]),
}


ACTIVATIONS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish",
               "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus",
               "Softsign", "Softshrink", "Hardshrink", "Tanhshrink", "LogSigmoid", "PReLU",
               "GLU", "Threshold"]
for _name in ACTIVATIONS:
    _args = (0.1, 2.0) if _name == "Threshold" else ()
    LAYERS[_name.lower()] = ((lambda n=_name, a=_args: getattr(nn, n)(*a)), [X3])
LAYERS["gelu_tanh"] = (lambda: nn.GELU("tanh"), [X3])
LAYERS["softplus_beta"] = (lambda: nn.Softplus(beta=2.0), [X3])
LAYERS["leaky_relu_slope"] = (lambda: nn.LeakyReLU(0.3), [X3])
LAYERS["elu_alpha"] = (lambda: nn.ELU(0.5), [X3])
LAYERS["hardtanh_range"] = (lambda: nn.Hardtanh(-0.5, 2.0), [X3])
for _name in ["Softmax", "LogSoftmax", "Softmin"]:
    LAYERS[_name.lower()] = ((lambda n=_name: getattr(nn, n)(dim=-1)), [X3])
LAYERS["softmax_dim1"] = (lambda: nn.Softmax(dim=1), [X3])


def _bn(m):
    """A BatchNorm with non-trivial running statistics and affine parameters."""
    rng = np.random.default_rng(1)
    n = m.num_features
    m.running_mean.data[...] = rng.standard_normal(n)
    m.running_var.data[...] = rng.uniform(0.5, 2.0, n)
    if m.weight is not None:
        m.weight.data[...] = rng.standard_normal(n)
        m.bias.data[...] = rng.standard_normal(n)
    return m


def _ln(m):
    rng = np.random.default_rng(2)
    m.weight.data[...] = rng.standard_normal(m.weight.shape)
    m.bias.data[...] = rng.standard_normal(m.bias.shape)
    return m


class _WithState(nn.Module):
    """An RNN given an initial state computed from the input (so it follows the batch)."""

    def __init__(self, rnn, lstm=False):
        super().__init__()
        self.rnn, self.lstm = rnn, lstm
        self.h = nn.Linear(4, rnn.hidden_size * rnn.num_layers)

    def forward(self, x):
        L, H = self.rnn.num_layers, self.rnn.hidden_size
        h = self.h(x[0]).reshape(x.shape[1], L, H).permute(1, 0, 2).tanh()
        if self.lstm:
            out, (hn, cn) = self.rnn(x, (h, h * 0.5))
            return out, hn, cn
        return self.rnn(x, h)


class _SelfAttn(nn.Module):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        return self.mha(x, x, x)


class _CausalAttn(nn.Module):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        mask = fathom.triu(fathom.ones(5, 5, dtype=fathom.bool), 1)
        return self.mha(x, x, x, attn_mask=mask, average_attn_weights=False)[0]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name):
    fathom.manual_seed(0)
    factory, specs = LAYERS[name]
    check(factory(), specs)


OPS = {
    "add_sub_mul_div": (lambda a, b: (a + b) * (a - b) / (b.abs() + 1) - 2.5 * a, [X, X]),
    "broadcast_scalar_rsub": (lambda a: 1 - a * fathom.tensor([1., 2., 3., 4., 5., 6.]), [X]),
    "pow_exp_log_sqrt": (lambda a: (a.abs() + 1).pow(1.5) + a.exp() + (a.abs() + 1).log() +
                         a.abs().sqrt() + (a.abs() + 1).rsqrt(), [X]),
    "pow_tensor": (lambda a, b: a.abs().pow(b), [X, X]),
    "neg_abs_sign": (lambda a: -a.abs() + a.sign(), [X]),
    "trig_erf": (lambda a: a.sin() + a.cos() + a.tanh() + a.sigmoid() + fathom.erf(a), [X]),
    "log1p_expm1": (lambda a: a.abs().log1p() + a.expm1(), [X]),
    "clamp": (lambda a: a.clamp(-0.5, 0.7) + a.clamp(min=0.1) + a.clamp(max=-0.1), [X]),
    "clamp_tensor": (lambda a, b: fathom.clamp(a, b, b + 1), [X, X]),
    "maximum_minimum": (lambda a, b: fathom.maximum(a, b) - fathom.minimum(a, b), [X, X]),
    "where": (lambda a, b: fathom.where(a > b, a, b * 2), [X, X]),
    "where_scalar": (lambda a: fathom.where(a > 0, a, 0.0), [X]),
    "comparisons": (lambda a, b: ((a < b).float() + (a <= b).float() + (a >= b).float() +
                                  (a == b).float() + (a != b).float()), [X, X]),
    "logical": (lambda a, b: ((a > 0) & (b > 0)) | ~((a > 0) ^ (b < 0)), [X, X]),
    "floor_ceil_round": (lambda a: (3 * a).floor() + (3 * a).ceil() + (3 * a).round(), [X]),
    "floor_divide_remainder": (lambda a, b: fathom.floor_divide(a, b.abs() + 0.5) +
                               fathom.remainder(a, b.abs() + 0.5) +
                               fathom.div(a, 0.3, rounding_mode="trunc"), [X, X]),
    "int_cast": (lambda a: (a * 3).to(fathom.int64).float() / 2, [X]),
    "isnan_isfinite": (lambda a: fathom.isnan(a).float() + fathom.isfinite(a).float(), [X]),
    "matmul": (lambda a, b: a @ b.transpose(1, 2), [X3, X3]),
    "matmul_2d": (lambda a: a @ fathom.ones(6, 3), [X]),
    "bmm_einsum": (lambda a, b: fathom.einsum("bij,bkj->bik", a, b), [X3, X3]),
    "reshape_view": (lambda a: a.reshape(-1, 2, 2).view(a.shape[0], 12) * 1, [X3]),
    "flatten_squeeze_unsqueeze": (lambda a: a.unsqueeze(1).flatten(2).squeeze(1), [X3]),
    "permute_transpose_t": (lambda a: a.permute(2, 0, 1).transpose(0, 2) + 0, [X3]),
    "cat_stack": (lambda a, b: fathom.cat([a, fathom.stack([b, a], 1).sum(1)], -1), [X3, X3]),
    "cat_batch_dim": (lambda a, b: fathom.cat([a, b], 0), [X, X]),
    "split_chunk": (lambda a: sum(t.sum(-1) for t in a.split(2, -1)) +
                    a.chunk(2, 1)[1].mean(-1), [X3]),
    "slicing": (lambda a: a[:, 1:, ::2] + a[:, :-1, 1::2] + a[:, :2, 0:2].flip(-1), [X3]),
    "indexing_int_none": (lambda a: a[:, 0] + a[:, -1, None, 1], [X3]),
    "index_select": (lambda a: a.index_select(2, fathom.tensor([3, 0, 0])), [X3]),
    "sum_mean_dims": (lambda a: a.sum(-1) + a.mean(2, keepdim=True).squeeze(2) +
                      a.sum((1, 2), keepdim=True).squeeze(-1), [X3]),
    "max_min_dim": (lambda a: a.max(1).values + a.min(-1, keepdim=True).values.squeeze(-1)
                    .sum(-1, keepdim=True) + a.amax((1, 2), keepdim=True).squeeze(-1), [X3]),
    "argmax": (lambda a: a.argmax(-1) + a.max(1).indices.sum(-1, keepdim=True), [X3]),
    "amin_prod_norm": (lambda a: a.amin(1) + a.prod(1) + a.norm(dim=1) +
                       fathom.logsumexp(a, 1), [X3]),
    "cumsum": (lambda a: a.cumsum(1), [X3]),
    "roll_trunc": (lambda a: a.roll((1, -1), (1, 2)) + a.roll(-5, -1) + (3 * a).trunc(), [X3]),
    "softmax_fns": (lambda a: fathom.softmax(a, -1) + F.log_softmax(a, 1), [X3]),
    "expand_repeat": (lambda a: a[:, :1].expand(-1, 3, -1) + a.repeat(1, 1, 2)[..., :4], [X3]),
    "zeros_like_ones_like": (lambda a: fathom.zeros_like(a) + fathom.ones_like(a) * a, [X3]),
    "pad_functional": (lambda a: F.pad(a, (1, 1, 2, 0), value=0.5) +
                       F.pad(a, (1, 1, 2, 0), mode="reflect"), [IMG]),
    "var_std": (lambda a: a.var(-1) + a.std(1).sum(-1, keepdim=True), [X3]),
    "all_any": (lambda a: (a > 0).all(-1).float() + (a > 1).any(1).float().sum(-1, keepdim=True),
                [X3]),
    "integer_input": (lambda i: (i * 2 + 1).sum(-1), [(("B", 4), ("i", 100))]),
}


@pytest.mark.parametrize("opset", [17, 18])  # 18 moves the reduce ops' axes to an input
@pytest.mark.parametrize("name", sorted(OPS))
def test_op(name, opset):
    fn, specs = OPS[name]
    check(Fn(fn), specs, opset=opset)


@pytest.mark.parametrize("opset", [13, 18, 20])
@pytest.mark.parametrize("name", ["transformer_layer_gelu_norm_first", "lstm",
                                  "conv_transpose2d", "batchnorm2d", "layernorm"])
def test_other_opsets(name, opset):
    fathom.manual_seed(0)
    factory, specs = LAYERS[name]
    check(factory(), specs, opset=opset)


def test_opset_ops_differ():
    fathom.manual_seed(0)
    m = nn.Sequential(nn.LayerNorm(6), nn.GELU())
    kinds = {op: {n.op_type for n in check(m, [X], opset=op).graph.node} for op in (13, 17, 20)}
    assert "LayerNormalization" not in kinds[13] and "LayerNormalization" in kinds[17]
    assert "Gelu" not in kinds[17] and "Gelu" in kinds[20]


@pytest.mark.parametrize("name,shape", [("mlp", (1, 28, 28)), ("lenet5", (1, 28, 28)),
                                        ("cnn", (1, 28, 28)), ("lstm", (1, 28, 28)),
                                        ("resnet18", (3, 8, 8))])
def test_vision_models(name, shape):
    from fathom.vision import models
    fathom.manual_seed(0)
    model = models.get(name)
    if name == "resnet18":  # make BatchNorm's eval statistics matter
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                _bn(m)
    check(model, [(("B",) + shape, "f")])


# --- behaviour ------------------------------------------------------------------------------

def test_names_initializers_and_file(tmp_path):
    fathom.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.ReLU(),
                      nn.Linear(4, 2))
    m.train()
    path = tmp_path / "m.onnx"
    model = export(m, fathom.randn(3, 6), path, input_names=["x"], output_names=["logits"],
                   dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    assert m.training and all(c.training for c in m.children())  # mode restored
    inits = {i.name for i in model.graph.initializer}
    assert {"0.weight", "0.bias", "1.running_mean", "1.running_var", "2.weight", "2.bias",
            "4.weight"} <= inits
    assert model.graph.input[0].name == "x"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "N"
    kinds = [n.op_type for n in model.graph.node]
    assert kinds == ["Gemm", "BatchNormalization", "LayerNormalization", "Relu", "Gemm",
                     "Identity"]
    loaded = onnx.load(path)
    assert loaded.SerializeToString() == model.SerializeToString()
    assert not [p for p in tmp_path.iterdir() if p.name != "m.onnx"]  # no temporary left


def test_static_shapes_without_dynamic_axes():
    m = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    model = export(m, fathom.randn(2, 3, 4))
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 4]
    x = fathom.randn(2, 3, 4)
    (got,) = _session(model).run(None, {"input": x.numpy()})
    with fathom.no_grad():
        np.testing.assert_allclose(got, m.eval()(x).numpy(), rtol=RTOL, atol=ATOL)


def test_constant_folding_flag():
    fathom.manual_seed(0)
    m = _SelfAttn(nn.MultiheadAttention(8, 2))
    folded = check(m, [((5, "B", 8), "f")])
    unfolded = check(m, [((5, "B", 8), "f")], folding=False)
    assert len(unfolded.graph.node) > len(folded.graph.node)
    assert "mha.in_proj_weight" in {i.name for i in unfolded.graph.initializer}


def test_list_dynamic_axes_and_multiple_outputs():
    m = nn.GRU(4, 3, batch_first=True)
    model = export(m, fathom.randn(2, 5, 4), dynamic_axes={"input": [0, 1]},
                   output_names=["out", "h"])
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_param and dims[0].dim_param != dims[1].dim_param
    sess = _session(model)
    for b, t in ((1, 3), (7, 9)):
        x = fathom.randn(b, t, 4)
        with fathom.no_grad():
            out, h = m(x)
        got = sess.run(None, {"input": x.numpy()})
        np.testing.assert_allclose(got[0], out.numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(got[1], h.numpy(), rtol=RTOL, atol=ATOL)


def test_round_trip_through_fathom_load(tmp_path):
    from fathom.onnx import load
    fathom.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    path = tmp_path / "mlp.onnx"
    export(m, fathom.randn(2, 6), path, dynamic_axes={"input": {0: "batch"}})
    back = load(path)
    x = fathom.randn(7, 6)
    with fathom.no_grad():
        got = back(x)
    with fathom.no_grad():
        np.testing.assert_allclose(got.numpy(), m.eval()(x).numpy(), rtol=RTOL, atol=ATOL)


# --- errors ---------------------------------------------------------------------------------

def test_unsupported_op_names_op_module_and_opset():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = Fn(lambda x: x.cumprod(1))

        def forward(self, x):
            return self.head(x)

    with pytest.raises(ExportError, match=r"Cumprod.*'head'.*opset 17"):
        export(Net(), fathom.randn(2, 6))


def test_unsupported_layer_configurations():
    with pytest.raises(ExportError, match="proj_size"):
        export(nn.LSTM(4, 6, proj_size=3), fathom.randn(5, 2, 4))
    with pytest.raises(ExportError, match="return_indices"):
        export(nn.MaxPool2d(2, return_indices=True), fathom.randn(1, 1, 4, 4))
    with pytest.raises(ExportError, match="uneven"):
        export(nn.AdaptiveMaxPool2d(3), fathom.randn(1, 1, 4, 4))


def test_bad_dynamic_axes():
    m = nn.Linear(6, 2)
    x = fathom.randn(2, 6)
    with pytest.raises(ValueError, match="'inptu'"):
        export(m, x, dynamic_axes={"inptu": [0]})
    with pytest.raises(ValueError, match="out of range"):
        export(m, x, dynamic_axes={"input": [2]})
    with pytest.raises(ValueError, match="output 'output' is out of range"):
        export(m, x, dynamic_axes={"output": [3]})
    with pytest.raises(TypeError, match="dynamic_axes"):
        export(m, x, dynamic_axes=[0])


def test_axis_the_model_cannot_vary():
    m = Fn(lambda x: x.reshape(12) * 2)  # only works with batch 2
    with pytest.raises(ExportError, match="not dynamic"):
        export(m, fathom.randn(2, 6), dynamic_axes={"input": [0]})


def test_bad_example_input_and_arguments():
    m = nn.Linear(6, 2)
    with pytest.raises(TypeError, match="example input 0"):
        export(m, (np.zeros((2, 6), np.float32),))
    with pytest.raises(TypeError, match="args"):
        export(m, 3.0)
    with pytest.raises(ValueError, match="opset_version"):
        export(m, fathom.randn(2, 6), opset_version=7)
    with pytest.raises(ValueError, match="input_names"):
        export(m, fathom.randn(2, 6), input_names=["a", "b"])
    with pytest.raises(Exception, match="(?i)linear"):  # a wrong shape fails in the trace
        export(m, fathom.randn(2, 5))


def test_failed_write_leaves_old_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ExportError):
        export(Fn(lambda x: x.cumprod(1)), fathom.randn(2, 6), path)
    assert path.read_bytes() == b"old"


def test_inplace_layers_and_unrecorded_inplace_edits():
    fathom.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 6), nn.ReLU(inplace=True), nn.Hardtanh(-0.2, 0.2, True))
    check(m, [X])
    assert m[1].inplace and m[2].inplace  # restored

    def edit(x):
        y = x * 2
        y += 1  # under no_grad a NumPy in-place add that the trace does not see
        return y * x

    with pytest.raises(ExportError, match="in place"):
        export(Fn(edit), fathom.randn(2, 6))


class _PaddedAttn(nn.Module):
    """Self-attention with a float key padding mask given as a second input."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, pad):
        return self.mha(x, x, x, key_padding_mask=pad * -1e9)[0]


class _TextModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.fc = nn.Embedding(20, 8), nn.LSTM(8, 6, batch_first=True), \
            nn.Linear(6, 3)

    def forward(self, i):
        out, _ = self.rnn(self.emb(i))
        return self.fc(out[:, -1])


def _dynamic_case(module, example, axes, feeds):
    """Export `example` with `axes` ({input index: {axis: symbol}}) and compare at `feeds`."""
    module.eval()
    names = [f"input_{i}" for i in range(len(example))]
    model = export(module, tuple(example), input_names=names,
                   dynamic_axes={names[i]: a for i, a in axes.items()})
    sess = _session(model)
    for xs in feeds:
        with fathom.no_grad():
            want = _flat(module(*xs))
        got = sess.run(None, {n: x.numpy() for n, x in zip(names, xs)})
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.numpy(), rtol=RTOL, atol=ATOL)


def test_dynamic_sequence_and_spatial_axes():
    fathom.manual_seed(0)
    r = fathom.randn
    _dynamic_case(nn.LSTM(4, 5, batch_first=True, bidirectional=True), [r(2, 6, 4)],
                  {0: {0: "b", 1: "t"}}, [(r(1, 3, 4),), (r(7, 9, 4),)])
    _dynamic_case(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), [r(2, 5, 8)],
                  {0: {0: "b", 1: "t"}}, [(r(1, 3, 8),), (r(7, 9, 8),)])
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    _dynamic_case(cnn, [r(2, 3, 8, 8)], {0: {0: "b", 2: "h", 3: "w"}},
                  [(r(1, 3, 6, 10),), (r(7, 3, 12, 8),)])


class _LearnedPositions(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Parameter(fathom.randn(1, 16, 8))
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x + self.pos[:, :x.shape[1]])


def test_parameter_sliced_to_a_dynamic_length():
    fathom.manual_seed(0)
    r = fathom.randn
    _dynamic_case(_LearnedPositions(), [r(2, 5, 8)], {0: {0: "b", 1: "t"}},
                  [(r(1, 3, 8),), (r(7, 11, 8),)])


def test_text_model_and_padding_mask_inputs():
    fathom.manual_seed(0)
    ids = lambda b: fathom.randint(0, 20, (b, 5))  # noqa: E731
    _dynamic_case(_TextModel(), [ids(2)], {0: {0: "b"}}, [(ids(1),), (ids(7),)])

    def pad(b):
        p = fathom.zeros(b, 5)
        p[:, -2:] = 1.0
        return p
    r = fathom.randn
    _dynamic_case(_PaddedAttn(), [r(2, 5, 8), pad(2)], {0: {0: "b"}, 1: {0: "b"}},
                  [(r(1, 5, 8), pad(1)), (r(7, 5, 8), pad(7))])


def test_values_taken_outside_the_trace_are_refused():
    def detour(x):  # a NumPy round trip: the trace would freeze the example's values
        return x * fathom.tensor(np.abs(x.numpy()))

    with pytest.raises(ExportError, match="changes with the input's values"):
        export(Fn(detour), fathom.randn(2, 6))
    with pytest.raises(ExportError, match="input's values"):
        export(Fn(lambda x: x.clamp(max=x.max().item())), fathom.randn(2, 6))


def test_docstring_examples():
    import doctest
    import importlib

    mod = importlib.import_module("fathom.onnx.export")  # the attribute is the function
    result = doctest.testmod(mod, extraglobs={"fathom": fathom, "nn": nn})
    assert result.attempted and not result.failed


def test_failures_leave_no_recorder_or_hooks_behind():
    from fathom.autograd.grad_mode import state

    m = nn.Sequential(nn.Linear(6, 4), nn.LSTM(5, 3))  # the LSTM (paused body) raises
    with pytest.raises(Exception, match="input_size"):
        export(m, fathom.randn(2, 6))
    assert state.recorder is None
    assert all(not s._forward_hooks and not s._forward_pre_hooks for s in m.modules())


def test_data_dependent_control_flow_is_refused():
    def branchy(x):
        return x.exp() if float(x.sum()) > 0 else x.sin()

    x = fathom.full((2, 6), -0.005)  # the shuffled, shifted second input sums above 0
    with pytest.raises(ExportError, match="different ops"):
        export(Fn(branchy), x)
