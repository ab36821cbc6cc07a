"""fathom.onnx.load: models built with onnx.helper, run by Fathom and by onnxruntime.

Each op family is compared with onnxruntime at rtol 1e-4 / atol 1e-5; imported models
fine-tune with fathom.optim (gradients checked against a Fathom model with the same
weights); export -> load round trips; bad files give errors naming the file or node.
"""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fathom  # noqa: E402
import fathom.onnx as fonnx  # noqa: E402
from fathom import nn  # noqa: E402
from fathom.io import FileFormatError  # noqa: E402
from fathom.onnx.backend import Backend  # noqa: E402

F32 = TensorProto.FLOAT
RTOL, ATOL = 1e-4, 1e-5


def _rng():
    return np.random.default_rng(0)


def _model(nodes, inputs, outputs, inits=(), opset=17, typed=True):
    """A model from nodes; inputs {name: array}; outputs: names (typed from onnxruntime's
    results on `inputs`, since onnx's checker wants output types and shapes) or
    (name, elem_type, shape) tuples."""
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for k, v in inputs.items()],
        [helper.make_tensor_value_info(*o) if isinstance(o, tuple) else
         helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if typed and not all(isinstance(o, tuple) for o in outputs):
        for value, result in zip(model.graph.output, _ort(model, inputs)):
            value.CopyFrom(helper.make_tensor_value_info(
                value.name, helper.np_dtype_to_tensor_dtype(result.dtype), result.shape))
    return model


def _ort(model, inputs):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def _fathom(model, inputs):
    module = fonnx.load(model)
    with fathom.no_grad():
        out = module(*[fathom.tensor(v) for v in inputs.values()])
    out = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in out]


def check(nodes, inputs, outputs, inits=(), opset=17, rtol=RTOL, atol=ATOL):
    """Fathom's outputs equal onnxruntime's (values, shapes and dtypes)."""
    model = _model(nodes, inputs, outputs, inits, opset)
    want, got = _ort(model, inputs), _fathom(model, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return got


def x32(*shape, lo=-2.0, hi=2.0):
    return _rng().uniform(lo, hi, shape).astype(np.float32)


node = helper.make_node


# --- elementwise -------------------------------------------------------------------------

UNARY = ["Neg", "Abs", "Exp", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "Erf", "Floor",
         "Ceil", "Round", "Sign", "Softsign", "Softplus", "HardSwish", "Sinh", "Cosh",
         "Asinh", "Mish", "Identity"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op):
    check([node(op, ["x"], ["y"])], {"x": x32(3, 4)}, ["y"], opset=18)


@pytest.mark.parametrize("op", ["Log", "Sqrt", "Reciprocal"])
def test_unary_positive(op):
    check([node(op, ["x"], ["y"])], {"x": x32(3, 4, lo=0.1)}, ["y"])


@pytest.mark.parametrize("op", ["Asin", "Acos", "Atan", "Atanh"])
def test_inverse_trig_values_and_gradients(op):
    x = x32(3, 4, lo=-0.9, hi=0.9)
    model = _model([node(op, ["x"], ["y"])], {"x": x}, ["y"])
    check([node(op, ["x"], ["y"])], {"x": x}, ["y"])
    m = fonnx.load(model)
    assert fathom.autograd.gradcheck(lambda t: m(t), (fathom.tensor(x.astype(np.float64),
                                                                    requires_grad=True),))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Pow"])
def test_binary_broadcast(op):
    check([node(op, ["a", "b"], ["y"])], {"a": x32(2, 3, 4, lo=0.5), "b": x32(3, 1, lo=0.5)},
          ["y"])


def test_integer_div_truncates_and_mod():
    a = np.array([-7, 7, -7, 7], np.int64)
    b = np.array([2, -2, -2, 2], np.int64)
    check([node("Div", ["a", "b"], ["y"]), node("Mod", ["a", "b"], ["m"]),
           node("Mod", ["a", "b"], ["f"], fmod=1)], {"a": a, "b": b},
          ["y", "m", "f"])


@pytest.mark.parametrize("op,attrs", [
    ("LeakyRelu", {"alpha": 0.2}), ("Elu", {"alpha": 0.7}), ("Selu", {}), ("Celu", {}),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("ThresholdedRelu", {"alpha": 0.5}),
    ("Gelu", {}), ("Gelu", {"approximate": "tanh"}), ("Shrink", {"lambd": 0.6, "bias": 0.1}),
])
def test_activations(op, attrs):
    opset = 20 if op == "Gelu" else 17
    check([node(op, ["x"], ["y"], **attrs)], {"x": x32(4, 5)}, ["y"], opset=opset)


def test_prelu_per_channel():
    check([node("PRelu", ["x", "s"], ["y"])], {"x": x32(2, 3, 4, 4)}, ["y"],
          inits={"s": x32(3, 1, 1)})


def test_variadic_min_max_sum_mean():
    ins = {"a": x32(2, 3), "b": x32(3), "c": x32(1, 3)}
    check([node(op, ["a", "b", "c"], [op]) for op in ("Min", "Max", "Sum", "Mean")], ins,
          ["Min", "Max", "Sum", "Mean"])


@pytest.mark.parametrize("opset", [7, 13])
def test_clip_attribute_and_input_forms(opset):
    if opset < 11:
        nodes, inits = [node("Clip", ["x"], ["y"], min=-0.5, max=0.7)], {}
    else:
        nodes = [node("Clip", ["x", "lo", "hi"], ["y"])]
        inits = {"lo": np.float32(-0.5), "hi": np.float32(0.7)}
    check(nodes, {"x": x32(3, 4)}, ["y"], inits=inits, opset=opset)


def test_compare_logical_where_cast():
    a, b = x32(3, 4), x32(3, 4)
    nodes = [node("Cast", ["a"], ["ai"], to=TensorProto.INT64),
             node("Cast", ["b"], ["bi"], to=TensorProto.INT64),
             node("Less", ["a", "b"], ["lt"]), node("GreaterOrEqual", ["a", "b"], ["ge"]),
             node("Equal", ["ai", "bi"], ["eq"]), node("Xor", ["lt", "eq"], ["xo"]),
             node("Not", ["xo"], ["no"]), node("Where", ["lt", "a", "b"], ["w"]),
             node("CastLike", ["lt", "a"], ["cl"])]
    check(nodes, {"a": a, "b": b}, ["lt", "ge", "eq", "no", "w", "ai", "cl"])


# --- linear algebra, convolution, pooling ------------------------------------------------

def test_matmul_gemm_einsum():
    a, b = x32(2, 3, 4), x32(4, 5)
    nodes = [node("MatMul", ["a", "b"], ["mm"]),
             node("Gemm", ["g", "w", "c"], ["gemm"], alpha=0.5, beta=2.0, transB=1),
             node("Einsum", ["a", "b"], ["es"], equation="bij,jk->bik")]
    check(nodes, {"a": a, "b": b, "g": x32(3, 4)}, ["mm", "gemm", "es"],
          inits={"w": x32(6, 4), "c": x32(6)})


@pytest.mark.parametrize("attrs", [
    {},
    {"pads": [1, 1, 1, 1], "strides": [2, 2]},
    {"pads": [0, 1, 2, 1], "dilations": [2, 1]},   # asymmetric pads
    {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
    {"auto_pad": "SAME_LOWER"},
    {"group": 2, "pads": [1, 1, 1, 1]},
])
def test_conv2d(attrs):
    g = attrs.get("group", 1)
    check([node("Conv", ["x", "w", "b"], ["y"], **attrs)], {"x": x32(2, 4, 7, 6)}, ["y"],
          inits={"w": x32(6, 4 // g, 3, 3), "b": x32(6)})


def test_conv1d():
    check([node("Conv", ["x", "w"], ["y"], pads=[2, 1], strides=[2])], {"x": x32(2, 3, 9)},
          ["y"], inits={"w": x32(4, 3, 3)})


@pytest.mark.parametrize("attrs", [
    {"strides": [2, 2]},
    {"strides": [2, 2], "pads": [1, 0, 1, 2], "output_padding": [1, 1]},
    {"strides": [3, 2], "output_shape": [10, 8]},
    {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"group": 2, "dilations": [2, 1]},
])
def test_conv_transpose(attrs):
    g = attrs.get("group", 1)
    check([node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)], {"x": x32(2, 4, 4, 3)},
          ["y"], inits={"w": x32(4, 6 // g, 3, 3), "b": x32(6)})


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 1, 2, 0]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
    {"kernel_shape": [2, 2], "dilations": [2, 2]},
])
def test_max_pool(attrs):
    check([node("MaxPool", ["x"], ["y"], **attrs)], {"x": x32(2, 3, 7, 8)}, ["y"])


def test_max_pool_indices_and_unpool():
    check([node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2], strides=[2, 2]),
           node("MaxUnpool", ["y", "i"], ["u"], kernel_shape=[2, 2], strides=[2, 2])],
          {"x": x32(2, 3, 6, 6)}, ["y", "i", "u"])


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 2, 1, 0]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3], "strides": [2]},
])
def test_average_pool(attrs):
    x = x32(2, 3, 9) if len(attrs["kernel_shape"]) == 1 else x32(2, 3, 7, 8)
    opset = 19 if attrs.get("ceil_mode") else 17
    check([node("AveragePool", ["x"], ["y"], **attrs)], {"x": x}, ["y"], opset=opset)


def test_global_pools():
    check([node("GlobalAveragePool", ["x"], ["a"]), node("GlobalMaxPool", ["x"], ["m"])],
          {"x": x32(2, 3, 5, 4)}, ["a", "m"])


# --- normalization -----------------------------------------------------------------------

def test_batch_norm_inference():
    C = 3
    check([node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
          {"x": x32(2, C, 4, 5)}, ["y"],
          inits={"s": x32(C), "b": x32(C), "m": x32(C), "v": x32(C, lo=0.5)})


def test_instance_layer_group_norm():
    x = x32(2, 4, 3, 5)
    nodes = [node("InstanceNormalization", ["x", "c", "c2"], ["inorm"], epsilon=1e-4),
             node("LayerNormalization", ["x", "ls", "lb"], ["ln"], axis=-2),
             node("GroupNormalization", ["x", "c", "c2"], ["gn"], num_groups=2)]
    check(nodes, {"x": x}, ["inorm", "ln", "gn"], opset=21,
          inits={"c": x32(4), "c2": x32(4), "ls": x32(3, 5), "lb": x32(3, 5)})


def test_dropout_is_identity_in_eval_and_drops_in_train():
    check([node("Dropout", ["x"], ["y"])], {"x": x32(3, 4)}, ["y"])
    model = fonnx.load(_model([node("Dropout", ["x", "r"], ["y"])], {"x": x32(400)}, ["y"],
                              inits={"r": np.float32(0.5)}))
    x = fathom.ones(400)
    assert np.array_equal(model(x).numpy(), np.ones(400))
    y = model.train()(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}  # inverted dropout: kept values scaled by 1/(1-p)


def test_batch_norm_train_mode_uses_batch_stats_and_updates_buffers():
    C = 3
    model = fonnx.load(_model([node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])],
                              {"x": x32(8, C)}, ["y"],
                              inits={"s": np.ones(C, np.float32), "b": np.zeros(C, np.float32),
                                     "m": np.zeros(C, np.float32),
                                     "v": np.ones(C, np.float32)}))
    assert sorted(dict(model.named_buffers())) == ["m", "v"]  # statistics are not weights
    x = fathom.tensor(x32(8, C) * 3 + 1)
    y = model.train()(x).detach().numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(model.m.numpy(), 0.1 * x.numpy().mean(0), rtol=1e-5)


# --- shapes, indexing --------------------------------------------------------------------

@pytest.mark.parametrize("opset", [11, 13, 18])
def test_squeeze_unsqueeze_split_reduce_opsets(opset):
    x = x32(2, 1, 6)
    if opset < 13:
        nodes = [node("Squeeze", ["x"], ["s"], axes=[1]),
                 node("Unsqueeze", ["s"], ["u"], axes=[0, -1]),
                 node("Split", ["x"], ["p1", "p2"], axis=2, split=[2, 4]),
                 node("ReduceSum", ["x"], ["r"], axes=[0, 2], keepdims=0)]
        inits = {}
    else:
        split = [node("Split", ["x", "sp"], ["p1", "p2"], axis=2)] if opset == 13 else \
            [node("Split", ["x"], ["p1", "p2"], axis=2, num_outputs=2)]
        nodes = [node("Squeeze", ["x", "ax1"], ["s"]), node("Unsqueeze", ["s", "ax0"], ["u"]),
                 node("ReduceSum", ["x", "ax02"], ["r"], keepdims=0)] + split
        inits = {"ax1": np.array([1]), "ax0": np.array([0, -1]), "ax02": np.array([0, 2]),
                 "sp": np.array([2, 4])}
    check(nodes, {"x": x}, ["s", "u", "p1", "p2", "r"], inits=inits, opset=opset)


def test_movement_ops():
    x = x32(2, 3, 4)
    nodes = [node("Reshape", ["x", "shape"], ["r"]), node("Transpose", ["x"], ["t"],
                                                          perm=[2, 0, 1]),
             node("Flatten", ["x"], ["f"], axis=2), node("Concat", ["x", "x"], ["c"], axis=-1),
             node("Expand", ["e", "eshape"], ["ex"]), node("Tile", ["x", "reps"], ["ti"]),
             node("Trilu", ["x", "k"], ["tu"]), node("Trilu", ["x"], ["tl"], upper=0)]
    check(nodes, {"x": x, "e": x32(3, 1)}, ["r", "t", "f", "c", "ex", "ti", "tu", "tl"],
          inits={"shape": np.array([0, -1]), "eshape": np.array([2, 1, 5]),
                 "reps": np.array([1, 2, 1]), "k": np.array(1)})


@pytest.mark.parametrize("opset", [9, 13])
def test_slice(opset):
    x = x32(5, 6, 4)
    if opset < 10:
        nodes, inits = [node("Slice", ["x"], ["y"], starts=[1, -4], ends=[100, -1],
                             axes=[0, 1])], {}
    else:
        nodes = [node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])]
        inits = {"st": np.array([-1, 0]), "en": np.array([-100, 4]), "ax": np.array([0, 2]),
                 "sp": np.array([-2, 3])}
    check(nodes, {"x": x}, ["y"], inits=inits, opset=opset)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode):
    inits = {"p": np.array([0, 1, 2, 0, 2, 1])}
    if mode == "constant":
        inits["v"] = np.float32(1.5)
    check([node("Pad", ["x", "p"] + (["v"] if mode == "constant" else []), ["y"], mode=mode)],
          {"x": x32(2, 3, 4)}, ["y"], inits=inits, opset=19)


def test_gather_family_and_scatter():
    x = x32(4, 5)
    idx = np.array([[0, -1], [2, 1]], np.int64)
    nodes = [node("Gather", ["x", "i"], ["g"], axis=1),
             node("GatherElements", ["x", "ie"], ["ge"], axis=0),
             node("GatherND", ["x", "ind"], ["gnd"]),
             node("ScatterElements", ["x", "ie", "u"], ["se"], axis=0, reduction="add"),
             node("ScatterND", ["x", "ind", "un"], ["snd"])]
    check(nodes, {"x": x}, ["g", "ge", "gnd", "se", "snd"],
          inits={"i": idx, "ie": np.array([[1, 0, 3, 2, 0]]), "u": x32(1, 5),
                 "ind": np.array([[1], [3]]), "un": x32(2, 5)}, opset=18)


def test_shape_constant_range_onehot_topk_cumsum():
    x = x32(3, 5)
    nodes = [node("Shape", ["x"], ["s"]), node("Size", ["x"], ["n"]),
             node("Shape", ["x"], ["s1"], start=1),
             node("ConstantOfShape", ["s"], ["z"],
                  value=numpy_helper.from_array(np.array([2.5], np.float32))),
             node("Constant", [], ["c"], value_floats=[1.0, 2.0]),
             node("Range", ["r0", "r1", "r2"], ["rg"]),
             node("OneHot", ["oh", "depth", "vals"], ["o"], axis=0),
             node("TopK", ["x", "k"], ["tv", "ti"], largest=1),
             node("CumSum", ["x", "ax"], ["cs"], exclusive=1, reverse=1),
             node("ArgMax", ["x"], ["am"], axis=1, keepdims=0),
             node("ArgMin", ["x"], ["an"], axis=0, select_last_index=1)]
    check(nodes, {"x": x}, ["s", "n", "s1", "z", "c", "rg", "o", "tv", "ti", "cs", "am", "an"],
          inits={"r0": np.float32(1), "r1": np.float32(4), "r2": np.float32(0.5),
                 "oh": np.array([1, -1, 0]), "depth": np.array(4),
                 "vals": np.array([-1.0, 3.0], np.float32), "k": np.array([2]),
                 "ax": np.array(1)})


@pytest.mark.parametrize("attrs", [
    {"mode": "nearest"},
    {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
    {"mode": "linear"},
    {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
    {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
    {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1},
    {"mode": "linear", "antialias": 1},
])
@pytest.mark.parametrize("how", ["scales", "sizes"])
def test_resize(attrs, how):
    # scales that are exact in float32: with 0.6, onnxruntime and ONNX's reference (which
    # Fathom follows) round differently, and align_corners uses the unrounded width there
    x = x32(2, 3, 6, 8)
    if how == "scales":
        inputs, inits = ["x", "", "sc"], {"sc": np.array([1, 1, 1.5, 0.5], np.float32)}
    else:
        inputs, inits = ["x", "", "", "sz"], {"sz": np.array([2, 3, 4, 11])}
    check([node("Resize", inputs, ["y"], **attrs)], {"x": x}, ["y"], inits=inits, opset=18)


def test_cumprod_reverse_sequence_unique():
    x = x32(4, 3, lo=0.5)
    u = np.array([3.0, 1.0, 3.0, 2.0, 1.0, 5.0], np.float32)
    check([node("ReverseSequence", ["x", "lens"], ["rs"], time_axis=0, batch_axis=1),
           node("Unique", ["u"], ["uy", "ui", "uv", "uc"], sorted=0)],
          {"x": x, "u": u}, ["rs", "uy", "ui", "uv", "uc"],
          inits={"lens": np.array([4, 2, 1])})
    # CumProd is newer than onnxruntime's kernels: compare with NumPy
    model = _model([node("CumProd", ["x", "ax"], ["cp"], exclusive=1, reverse=1)],
                   {"x": x}, [("cp", F32, [4, 3])], inits={"ax": np.array(0)}, opset=26)
    (got,) = _fathom(model, {"x": x})
    want = np.flip(np.cumprod(np.flip(x, 0), 0), 0)
    want = np.concatenate([want[1:], np.ones((1, 3), np.float32)])
    np.testing.assert_allclose(got, want, rtol=1e-6)


# --- reductions, softmax -----------------------------------------------------------------

REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
          "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"]


@pytest.mark.parametrize("op", REDUCE)
@pytest.mark.parametrize("opset", [11, 18])
def test_reductions(op, opset):
    x = x32(2, 3, 4, lo=0.2)
    if opset < 13 or (opset < 18 and op != "ReduceSum"):
        nodes, inits = [node(op, ["x"], ["y"], axes=[0, -1])], {}
    else:
        nodes, inits = [node(op, ["x", "a"], ["y"])], {"a": np.array([0, -1])}
    check(nodes, {"x": x}, ["y"], inits=inits, opset=opset)


@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_opsets(opset):
    x = x32(2, 3, 4)  # opset 11 coerces to 2-D at axis 1; 13 works on one axis
    check([node("Softmax", ["x"], ["s"], axis=1), node("LogSoftmax", ["x"], ["l"], axis=1),
           node("Hardmax", ["x"], ["h"], axis=1)], {"x": x}, ["s", "l", "h"], opset=opset)


# --- recurrent layers --------------------------------------------------------------------

@pytest.mark.parametrize("op,gates", [("LSTM", 4), ("GRU", 3), ("RNN", 1)])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_recurrent(op, gates, direction):
    T, B, I, H = 5, 2, 3, 4
    D = 2 if direction == "bidirectional" else 1
    inits = {"w": x32(D, gates * H, I, lo=-0.5, hi=0.5), "r": x32(D, gates * H, H, lo=-0.5,
                                                                     hi=0.5),
             "b": x32(D, 2 * gates * H), "lens": np.array([5, 3], np.int32),
             "h0": x32(D, B, H)}
    ins = ["x", "w", "r", "b", "lens", "h0"]
    outs = ["y", "yh"]
    attrs = {"hidden_size": H, "direction": direction}
    if op == "LSTM":
        inits.update(c0=x32(D, B, H), p=x32(D, 3 * H))
        ins += ["c0", "p"]
        outs.append("yc")
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    check([node(op, ins, outs, **attrs)], {"x": x32(T, B, I)}, outs, inits=inits)


def test_gru_default_and_batch_first_lstm():
    T, B, I, H = 4, 3, 2, 5
    check([node("GRU", ["x", "w", "r"], ["y"], hidden_size=H)], {"x": x32(T, B, I)}, ["y"],
          inits={"w": x32(1, 3 * H, I), "r": x32(1, 3 * H, H)})
    # layout=1 (batch first): onnxruntime has no kernel for it; compare with layout=0
    inits = {"w": x32(1, 4 * H, I), "r": x32(1, 4 * H, H)}
    x = x32(T, B, I)
    y, yh = check([node("LSTM", ["x", "w", "r"], ["y", "yh"], hidden_size=H)], {"x": x},
                  ["y", "yh"], inits=inits, opset=14)
    batch_first = _model([node("LSTM", ["x", "w", "r"], ["y", "yh"], hidden_size=H,
                               layout=1)], {"x": x.transpose(1, 0, 2)},
                         [("y", F32, [B, T, 1, H]), ("yh", F32, [B, 1, H])], inits, opset=14)
    y1, yh1 = _fathom(batch_first, {"x": x.transpose(1, 0, 2)})
    np.testing.assert_allclose(y1, y.transpose(2, 0, 1, 3), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(yh1, yh.transpose(1, 0, 2), rtol=1e-6, atol=1e-7)


def test_function_body_op_runs():
    # Attention has no entry in OPS: its ONNX function body is inlined (MatMul, Softmax...)
    q, k, v = x32(2, 3, 4, 8), x32(2, 3, 5, 8), x32(2, 3, 5, 8)
    check([node("Attention", ["q", "k", "v"], ["y"], is_causal=1)],
          {"q": q, "k": k, "v": v}, ["y"], opset=23)


# --- fine-tuning -------------------------------------------------------------------------

def _mlp_onnx(rng, sizes=(6, 8, 3)):
    """An ONNX MLP (Gemm with transB, PyTorch's layout) and its Fathom twin."""
    torch_like = nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.Tanh(),
                               nn.Linear(sizes[1], sizes[2]))
    sd = {k: v for k, v in torch_like.state_dict().items()}
    nodes = [node("Gemm", ["x", "0.weight", "0.bias"], ["h"], transB=1),
             node("Tanh", ["h"], ["t"]),
             node("Gemm", ["t", "2.weight", "2.bias"], ["y"], transB=1)]
    model = _model(nodes, {"x": np.zeros((1, sizes[0]), np.float32)}, ["y"], inits=sd)
    return model, torch_like


def test_imported_weights_are_parameters_with_pytorch_names():
    model, twin = _mlp_onnx(_rng())
    m = fonnx.load(model)
    assert sorted(k for k, _ in m.named_parameters()) == sorted(twin.state_dict())
    assert all(p.requires_grad for p in m.parameters())
    m.load_state_dict(twin.state_dict())  # the keys match a Fathom model of the same shape


def test_gradients_match_a_fathom_model_with_the_same_weights():
    model, twin = _mlp_onnx(_rng())
    m = fonnx.load(model).train()
    x = fathom.tensor(x32(5, 6))
    target = fathom.tensor(x32(5, 3))
    for net in (m, twin):
        nn.functional.mse_loss(net(x), target).backward()
    got = dict(m.named_parameters())
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(got[name].grad.numpy(), p.grad.numpy(), rtol=1e-5,
                                   atol=1e-7)


def _fine_tune(module, x, y, steps=20, lr=0.1):
    opt = fathom.optim.SGD(module.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(module(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_fine_tune_imported_mlp_decreases_loss():
    model, _ = _mlp_onnx(_rng())
    m = fonnx.load(model).train()
    x = fathom.tensor(x32(32, 6))
    y = fathom.tensor((x32(32) > 0).astype(np.int64))
    losses = _fine_tune(m, x, y)
    assert losses[-1] < 0.7 * losses[0]


def test_fine_tune_imported_cnn_decreases_loss():
    C = 4
    nodes = [node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[1, 1, 1, 1]),
             node("BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.running_mean",
                                         "bn.running_var"], ["b"]),
             node("Relu", ["b"], ["r"]),
             node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Flatten", ["p"], ["f"]),
             node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1)]
    inits = {"conv.weight": x32(C, 1, 3, 3, lo=-0.3, hi=0.3), "conv.bias": np.zeros(C, "f4"),
             "bn.weight": np.ones(C, "f4"), "bn.bias": np.zeros(C, "f4"),
             "bn.running_mean": np.zeros(C, "f4"), "bn.running_var": np.ones(C, "f4"),
             "fc.weight": x32(2, C * 16, lo=-0.2, hi=0.2), "fc.bias": np.zeros(2, "f4")}
    m = fonnx.load(_model(nodes, {"x": np.zeros((1, 1, 8, 8), "f4")}, ["y"], inits=inits))
    assert "bn.running_mean" in dict(m.named_buffers())
    assert "conv.weight" in dict(m.named_parameters())
    x = fathom.tensor(x32(16, 1, 8, 8))
    y = fathom.tensor((x.numpy()[:, 0, :4].mean((1, 2)) > 0).astype(np.int64))
    losses = _fine_tune(m.train(), x, y, lr=0.05)
    assert losses[-1] < 0.7 * losses[0]


def test_names_that_are_not_identifiers_are_sanitized_and_stable():
    nodes = [node("Add", ["x", "onnx::Add_3"], ["y"]), node("Mul", ["y", "w/0"], ["z"])]
    m = fonnx.load(_model(nodes, {"x": x32(3)}, ["z"],
                          inits={"onnx::Add_3": x32(3), "w/0": x32(3)}))
    assert sorted(m.state_dict()) == ["onnx__Add_3", "w_0"]


def test_integer_initializers_are_buffers():
    m = fonnx.load(_model([node("Reshape", ["x", "shape"], ["y"])], {"x": x32(2, 3)}, ["y"],
                          inits={"shape": np.array([3, 2])}))
    assert list(m.parameters()) == [] and list(dict(m.named_buffers())) == ["shape"]


# --- round trip with fathom.onnx.export --------------------------------------------------

VISION = {"mlp": (2, 1, 28, 28), "cnn": (2, 1, 28, 28), "lenet5": (2, 1, 28, 28),
          "lstm": (2, 28, 28), "resnet18": (2, 3, 32, 32)}


@pytest.mark.parametrize("name", sorted(VISION))
def test_round_trip_export_load(name, tmp_path):
    from fathom.vision import models
    net = models.get(name).eval()
    x = fathom.randn(*VISION[name])
    path = tmp_path / f"{name}.onnx"
    fonnx.export(net, x, str(path))
    back = fonnx.load(path)
    with fathom.no_grad():
        want, got = net(x), back(x)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=RTOL, atol=ATOL)
    # the weights keep their names, so the original's state dict loads into the import
    params = dict(back.named_parameters())
    for k, v in net.named_parameters():
        if k in params:
            np.testing.assert_array_equal(params[k].detach().numpy(), v.detach().numpy())
    assert len(params) >= 1


# --- errors ------------------------------------------------------------------------------

def test_unknown_op_names_the_node(tmp_path):
    model = _model([node("Relu", ["x"], ["h"]), node("FancyOp", ["h"], ["y"], name="mystery")],
                   {"x": x32(2)}, [("y", F32, [2])])
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(FileFormatError, match=r"bad\.onnx.*node 1 \(FancyOp 'mystery'\)"):
        fonnx.load(path)


def test_truncated_file_names_the_file(tmp_path):
    model, _ = _mlp_onnx(_rng())
    data = model.SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(FileFormatError, match=r"cut\.onnx"):
        fonnx.load(path)


def test_not_onnx_and_missing_files(tmp_path):
    path = tmp_path / "text.onnx"
    path.write_text("this is not a protobuf \x00\xff")
    with pytest.raises(FileFormatError, match="text.onnx"):
        fonnx.load(path)
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        fonnx.load(tmp_path / "nope.onnx")


def test_unsupported_opset_and_domain():
    with pytest.raises(FileFormatError, match="opset 6 is not supported"):
        fonnx.load(_model([node("Relu", ["x"], ["y"])], {"x": x32(2)}, ["y"], opset=6))
    model = _model([node("Relu", ["x"], ["y"])], {"x": x32(2)}, ["y"])
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    with pytest.raises(FileFormatError, match="ai.onnx.ml"):
        fonnx.load(model)


def test_invalid_graph_is_refused_by_the_checker():
    model = _model([node("Relu", ["undefined"], ["y"])], {"x": x32(2)}, [("y", F32, [2])])
    with pytest.raises(FileFormatError, match="invalid ONNX model"):
        fonnx.load(model)


def test_runtime_errors_name_the_node_and_wrong_input_count():
    m = fonnx.load(_model([node("MatMul", ["a", "b"], ["y"], name="mm")],
                          {"a": x32(2, 3), "b": x32(3, 4)}, ["y"]))
    with pytest.raises(Exception, match=r"node 0 \(MatMul 'mm'\)"):
        m(fathom.ones(2, 3), fathom.ones(5, 4))
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \['a', 'b'\], got 1"):
        m(fathom.ones(2, 3))


# --- Backend API -------------------------------------------------------------------------

def test_backend_run_model_run_node_and_device():
    model, twin = _mlp_onnx(_rng())
    x = x32(4, 6)
    (y,) = Backend.run_model(model, [x])
    with fathom.no_grad():
        np.testing.assert_allclose(y, twin(fathom.tensor(x)).numpy(), rtol=RTOL, atol=ATOL)
    (y2,) = Backend.prepare(model).run({"x": x})
    np.testing.assert_array_equal(y, y2)
    (z,) = Backend.run_node(node("Add", ["a", "b"], ["c"]), [x, x])
    np.testing.assert_array_equal(z, x + x)
    assert Backend.supports_device("CPU") and not Backend.supports_device("CUDA")
    with pytest.raises(ValueError, match="CUDA"):
        Backend.prepare(model, "CUDA")


def test_docs_list_every_supported_op():
    import pathlib
    import re
    from fathom.onnx.importer import OPS
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "onnx.md").read_text()
    listed = doc.split("Native implementations (`fathom.onnx.importer.OPS`):")[1]
    listed = listed.split(".\n")[0]
    assert sorted(re.findall(r"[A-Za-z][A-Za-z0-9]*", listed)) == sorted(OPS)


def test_train_mode_follows_a_parent_module():
    inner = fonnx.load(_model([node("Dropout", ["x", "r"], ["y"])], {"x": x32(400)}, ["y"],
                              inits={"r": np.float32(0.5)}))
    outer = nn.Sequential(inner)
    x = fathom.ones(400)
    assert 0.0 in outer.train()(x).numpy()
    assert np.array_equal(outer.eval()(x).numpy(), np.ones(400))


def _x64(*shape):
    return _rng().uniform(-1, 1, shape)


GRAD_CASES = {
    "conv_asym": ([node("Conv", ["x", "w"], ["y"], pads=[0, 1, 2, 1], strides=[2, 1])],
                  (1, 2, 5, 5), {"w": _x64(3, 2, 3, 3)}),
    "maxpool_asym": ([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], pads=[1, 0, 0, 1])],
                     (1, 2, 4, 5), {}),
    "avgpool_exclude_pad": ([node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                                  pads=[0, 1, 2, 0])], (1, 2, 4, 4), {}),
    "convtranspose": ([node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2],
                            pads=[1, 0, 0, 1], output_padding=[1, 1])], (1, 2, 3, 3),
                      {"w": _x64(2, 3, 3, 3)}),
    "resize_cubic": ([node("Resize", ["x", "", "s"], ["y"], mode="cubic")], (1, 1, 3, 4),
                     {"s": np.array([1, 1, 2.0, 1.5])}),
    "lstm": ([node("LSTM", ["x", "w", "r", "b"], ["y"], hidden_size=3,
                   direction="bidirectional")], (4, 2, 2),
             {"w": _x64(2, 12, 2), "r": _x64(2, 12, 3), "b": _x64(2, 24)}),
    "gru": ([node("GRU", ["x", "w", "r"], ["y"], hidden_size=3)], (3, 2, 2),
            {"w": _x64(1, 9, 2), "r": _x64(1, 9, 3)}),
    "layer_norm": ([node("LayerNormalization", ["x", "s"], ["y"], axis=1)], (2, 3, 4),
                   {"s": _x64(3, 4)}),
    "elu_selu": ([node("Elu", ["x"], ["e"]), node("Selu", ["e"], ["y"])], (3, 4), {}),
    "pad_slice_gather": ([node("Pad", ["x", "p"], ["a"], mode="reflect"),
                          node("Slice", ["a", "st", "en", "ax", "sp"], ["b"]),
                          node("Gather", ["b", "i"], ["y"], axis=1)], (3, 4),
                         {"p": np.array([1, 2, 0, 1]), "st": np.array([-1]),
                          "en": np.array([-100]), "ax": np.array([0]), "sp": np.array([-2]),
                          "i": np.array([[0, 2], [-1, 0]])}),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_finite_differences(name):
    nodes, shape, inits = GRAD_CASES[name]
    model = _model(nodes, {"x": np.zeros(shape)}, [("y", TensorProto.DOUBLE, None)],
                   inits=inits, typed=False)
    m = fonnx.importer.OnnxModule(model)  # float64 throughout; the output has no shape
    x = fathom.tensor(_x64(*shape), requires_grad=True)
    assert fathom.autograd.gradcheck(m, (x,))


def test_unsupported_input_dtype_names_the_input():
    m = fonnx.load(_model([node("Neg", ["x"], ["y"])], {"x": np.ones(3, np.int32)}, ["y"]))
    with pytest.raises(TypeError, match="input 'x'.*uint16"):
        m(np.ones(3, np.uint16))
    with pytest.raises(TypeError, match="input 'x'.*uint16"):
        Backend.prepare(_model([node("Neg", ["x"], ["y"])], {"x": np.ones(3, np.int32)},
                               ["y"])).run([np.ones(3, np.uint16)])


def test_function_body_with_unsupported_ops_names_the_node_and_op():
    # AffineGrid's ONNX function body uses If, which fathom.onnx does not run
    model = _model([node("AffineGrid", ["theta", "size"], ["grid"], name="ag")],
                   {"theta": x32(1, 2, 3)}, [("grid", F32, [1, 4, 5, 2])],
                   inits={"size": np.array([1, 1, 4, 5])}, opset=20)
    with pytest.raises(FileFormatError, match=r"node 0 \(AffineGrid 'ag'\).*uses If"):
        fonnx.load(model)


def test_docs_examples_run_as_written(tmp_path, monkeypatch, capsys):
    import pathlib
    import re
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "onnx.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    for code in blocks:  # export, then import and fine-tune, then the backend
        exec(compile(code, "docs/onnx.md", "exec"), {"__name__": "__docs__"})
    out = capsys.readouterr().out
    assert "['0.bias', '0.weight', '2.bias', '2.weight']" in out
    assert float(out.split("loss after fine-tuning: ")[1].split()[0]) < 0.5
    assert (tmp_path / "small_finetuned.safetensors").exists()


def _torch_models(torch):
    nn_ = torch.nn
    return {
        "cnn": (nn_.Sequential(nn_.Conv2d(3, 8, 3, padding=1), nn_.BatchNorm2d(8), nn_.ReLU(),
                               nn_.MaxPool2d(2), nn_.Conv2d(8, 4, 3, stride=2),
                               nn_.AdaptiveAvgPool2d(1), nn_.Flatten(), nn_.Linear(4, 5)),
                (2, 3, 16, 16)),
        "lstm": (nn_.LSTM(6, 5, num_layers=2, bidirectional=True), (7, 2, 6)),
        "transformer": (nn_.TransformerEncoder(nn_.TransformerEncoderLayer(
            16, 4, 32, dropout=0.0, batch_first=True), 2), (2, 5, 16)),
        "upsample": (nn_.Sequential(nn_.Upsample(scale_factor=2, mode="bilinear"),
                                    nn_.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                        output_padding=1), nn_.GELU()),
                     (1, 3, 8, 8)),
    }


@pytest.mark.parametrize("name", ["cnn", "lstm", "transformer", "upsample"])
def test_models_exported_by_pytorch(torch, name, tmp_path):
    torch.manual_seed(0)
    net, shape = _torch_models(torch)[name]
    net.eval()
    x = torch.randn(*shape)
    path = tmp_path / f"{name}.onnx"
    try:
        torch.onnx.export(net, (x,), str(path), opset_version=17, dynamo=False)
    except Exception as e:  # noqa: BLE001 - the TorchScript exporter may be absent
        pytest.skip(f"torch.onnx.export is not available here: {e}")
    m = fonnx.load(path)
    with torch.no_grad():
        want = net(x)
    want = (want[0] if isinstance(want, tuple) else want).numpy()
    with fathom.no_grad():
        got = m(fathom.tensor(x.numpy()))
    got = (got[0] if isinstance(got, tuple) else got).numpy()
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    if name != "lstm":  # (PyTorch exports LSTM weights re-packed under new names)
        assert set(dict(m.named_parameters())) & set(net.state_dict())  # names survive
