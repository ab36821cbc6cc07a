"""ONNX import: `load(path_or_ModelProto)` turns an ONNX model into a `fathom.nn.Module`.

`load` checks the file with `onnx.checker`, turns float initializers that feed weights into
`Parameter`s (so `state_dict()`, optimizers and fine-tuning work) and the other initializers
into buffers, and returns an `OnnxModule` whose `forward(*inputs)` runs the nodes in their
(checked, topological) order through OPS, a table from ONNX op_type to a function built from
Fathom's differentiable ops, so gradients flow back to the parameters. Nothing in the file
is ever executed: the importer reads tensors, op names and attributes, never code.

    >>> model = fathom.onnx.load("mlp.onnx")
    >>> model(fathom.randn(4, 784)).shape
    fathom.Size([4, 10])

Differences from onnxruntime, by design (see docs/onnx.md):
- `load` returns the module in eval mode (outputs match onnxruntime). After `.train()`,
  Dropout nodes without a `training_mode` input drop out, and BatchNormalization uses batch
  statistics and updates its running statistics (PyTorch's semantics for fine-tuning).
- Tensors have Fathom's dtypes (float16/32/64, int8/16/32/64, uint8, bool); strings, other
  unsigned ints, bfloat16, float8 and 4-bit types are refused with an error naming the node.
- Conv, ConvTranspose and pooling support 1-D and 2-D inputs (not 3-D).
"""
from __future__ import annotations

import math
import os
import re

import numpy as np
import onnx
import onnx.inliner
import onnx.shape_inference
from onnx import helper, numpy_helper

import fathom as F  # the op functions, creation functions included (zeros_like, stack...)

from .. import dtypes as _dt
from ..autograd import Function
from ..autograd.grad_mode import no_grad
from ..creation import as_tensor, tensor as _tensor
from ..io import FileFormatError
from ..nn import Module, Parameter
from ..nn import functional as NF
from ..tensor import Tensor

__all__ = ["load", "OnnxModule", "OPS", "MIN_OPSET", "MAX_OPSET"]

MIN_OPSET = 7  # older opsets have other broadcasting rules (the `broadcast` attribute)
MAX_OPSET = onnx.defs.onnx_opset_version()
_DOMAINS = ("", "ai.onnx")

OPS: dict = {}  # ONNX op_type -> fn(node, *inputs) -> Tensor or tuple of Tensors/None

# Inputs that are settings, not weights: float initializers feeding only these positions
# become buffers, not Parameters (BatchNormalization's running statistics, Clip's bounds...).
_STATIC_INPUTS = {
    "BatchNormalization": (3, 4), "Clip": (1, 2), "Dropout": (1, 2), "Pad": (1, 2, 3),
    "Resize": (1, 2, 3), "Upsample": (1,), "CumSum": (1,), "CumProd": (1,), "OneHot": (1,),
    "Range": (0, 1, 2), "ConstantOfShape": (0,), "TopK": (1,), "Tile": (1,), "Expand": (1,),
    "Reshape": (1,),
}


def _op(*names):
    def register(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return register


# --- helpers ---------------------------------------------------------------------------

def _host(t) -> np.ndarray:
    """A static value (shape, axes, indices) as a NumPy array."""
    return t.numpy(force=True) if isinstance(t, Tensor) else np.asarray(t)


def _ints(t) -> list:
    return [int(v) for v in _host(t).reshape(-1)]


def _scalar(t):
    return _host(t).reshape(-1)[0].item()


def _const(arr, dtype=None) -> Tensor:
    arr = np.asarray(arr) if dtype is None else np.asarray(arr, dtype=dtype)
    return as_tensor(arr if arr.flags.c_contiguous else arr.copy())


def _axis(a: int, ndim: int) -> int:
    return a + ndim if a < 0 else a


def _np_dtype(elem_type: int):
    return helper.tensor_dtype_to_np_dtype(elem_type)


def _fathom_dtype(elem_type: int):
    return _dt.from_numpy_dtype(_np_dtype(elem_type))


def _prod(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


class _Node:
    """One graph node: its op function, value names, attributes and opset version."""

    __slots__ = ("index", "name", "op_type", "fn", "inputs", "outputs", "attrs", "opset",
                 "state")

    def __init__(self, index, proto, opset, state):
        self.index, self.name, self.op_type = index, proto.name, proto.op_type
        self.fn = OPS[proto.op_type]
        self.inputs, self.outputs = list(proto.input), list(proto.output)
        self.attrs = {a.name: _attr_value(a) for a in proto.attribute}
        self.opset, self.state = opset, state

    def a(self, name, default=None):
        return self.attrs.get(name, default)

    @property
    def training(self) -> bool:
        return self.state["training"]

    @property
    def n_out(self) -> int:
        return len(self.outputs)

    def wants(self, i: int) -> bool:
        return i < len(self.outputs) and self.outputs[i] != ""

    def __repr__(self):
        return f"node {self.index} ({self.op_type}{' ' + repr(self.name) if self.name else ''})"


def _attr_value(a):
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [s.decode() for s in v]
    if isinstance(v, onnx.GraphProto):
        raise ValueError("graph attributes (If/Loop/Scan bodies) are not supported")
    return v


# --- elementwise -----------------------------------------------------------------------

def _unary(name, fn):
    OPS[name] = lambda n, x: fn(x)


for _name, _fn in {
    "Neg": F.neg, "Abs": F.abs, "Exp": F.exp, "Log": F.log, "Sqrt": F.sqrt,
    "Reciprocal": F.reciprocal, "Sin": F.sin, "Cos": F.cos, "Tan": F.tan, "Tanh": F.tanh,
    "Sigmoid": F.sigmoid, "Relu": F.relu, "Erf": F.erf, "Floor": F.floor, "Ceil": F.ceil,
    "Round": F.round, "Sign": F.sign, "Softsign": NF.softsign, "Not": F.logical_not,
    "IsNaN": F.isnan, "BitwiseNot": F.bitwise_not, "Identity": lambda x: x,
    "Sinh": lambda x: (F.exp(x) - F.exp(-x)) * 0.5,
    "Cosh": lambda x: (F.exp(x) + F.exp(-x)) * 0.5,
    "Asinh": lambda x: F.log(x + F.sqrt(x * x + 1.0)),
    "Acosh": lambda x: F.log(x + F.sqrt(x * x - 1.0)),
    "Atanh": lambda x: F.log((1.0 + x) / (1.0 - x)) * 0.5,
    "Softplus": lambda x: NF.softplus(x),
    "HardSwish": NF.hardswish,
    "Mish": lambda x: x * F.tanh(NF.softplus(x)),
}.items():
    _unary(_name, _fn)

for _name, _fn in {
    "Add": F.add, "Sub": F.sub, "Mul": F.mul, "Equal": F.eq, "Less": F.lt, "Greater": F.gt,
    "LessOrEqual": F.le, "GreaterOrEqual": F.ge, "And": F.logical_and, "Or": F.logical_or,
    "Xor": F.logical_xor, "BitwiseAnd": F.bitwise_and, "BitwiseOr": F.bitwise_or,
    "BitwiseXor": F.bitwise_xor,
}.items():
    OPS[_name] = (lambda fn: lambda n, a, b: fn(a, b))(_fn)


@_op("Div")
def _div(n, a, b):
    if a.dtype.is_floating_point:
        return F.div(a, b)
    return F.div(a, b, rounding_mode="trunc")  # ONNX integer division truncates (C)


@_op("Mod")
def _mod(n, a, b):
    # fmod=1: C's fmod (sign of the dividend); fmod=0: Python's % (sign of the divisor)
    return F.fmod(a, b) if n.a("fmod", 0) else F.remainder(a, b)


@_op("Pow")
def _pow(n, x, y):
    out = F.pow(x, y)
    return out if out.dtype is x.dtype else out.to(x.dtype)  # ONNX: the type of the base


@_op("Max", "Min", "Sum", "Mean")
def _variadic(n, *xs):
    fn = {"Max": F.maximum, "Min": F.minimum, "Sum": F.add, "Mean": F.add}[n.op_type]
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    if len(xs) == 1 and n.op_type in ("Sum", "Mean"):
        out = out + 0  # a new tensor, never the input itself
    return out / len(xs) if n.op_type == "Mean" else out


class _InverseTrig(Function):
    """asin, acos, atan: fathom.ops has no primitive for them (reported), so the importer
    defines them as one custom Function: NumPy forward, d/dx from fathom ops."""

    @staticmethod
    def forward(ctx, x, name):
        ctx.save_for_backward(x)
        ctx.name = name
        return _const(getattr(np, name)(_host(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.name == "arctan":
            return g / (x * x + 1), None
        d = F.rsqrt(1 - x * x)
        return (g * d if ctx.name == "arcsin" else -g * d), None


for _name, _np_name in (("Asin", "arcsin"), ("Acos", "arccos"), ("Atan", "arctan")):
    OPS[_name] = (lambda f: lambda n, x: _InverseTrig.apply(x, f))(_np_name)


@_op("IsInf")
def _isinf(n, x):
    pos, neg = n.a("detect_positive", 1), n.a("detect_negative", 1)
    if pos and neg:
        return F.isinf(x)
    return F.logical_and(F.isinf(x), x > 0 if pos else x < 0)


@_op("Where")
def _where(n, c, a, b):
    return F.where(c, a, b)


@_op("Clip")
def _clip(n, x, lo=None, hi=None):
    if n.opset < 11:
        lo, hi = n.a("min"), n.a("max")
    else:
        lo = None if lo is None else _scalar(lo)
        hi = None if hi is None else _scalar(hi)
    if lo is None and hi is None:
        return x + 0 if x.dtype is not _dt.bool else x
    return F.clamp(x, lo, hi)


@_op("Cast")
def _cast(n, x):
    return x.to(_fathom_dtype(n.a("to")))


@_op("CastLike")
def _cast_like(n, x, like):
    return x.to(like.dtype)


# --- activations -----------------------------------------------------------------------

def _neg_part(x, alpha):
    """alpha * (exp(x) - 1) for x <= 0, computed on min(x, 0) so the unused branch of a
    `where` never overflows (inf * 0 would poison the gradient with NaN)."""
    return F.expm1(F.minimum(x, _const(0, x.dtype.np))) * alpha


@_op("LeakyRelu")
def _leaky_relu(n, x):
    return NF.leaky_relu(x, n.a("alpha", 0.01))


@_op("Elu")
def _elu(n, x):
    return F.where(x > 0, x, _neg_part(x, n.a("alpha", 1.0)))


@_op("Celu")
def _celu(n, x):
    alpha = n.a("alpha", 1.0)
    return F.where(x > 0, x, _neg_part(x / alpha, alpha))


@_op("Selu")
def _selu(n, x):
    alpha = n.a("alpha", 1.67326319217681884765625)
    gamma = n.a("gamma", 1.05070102214813232421875)
    return F.where(x > 0, x, _neg_part(x, alpha)) * gamma


@_op("ThresholdedRelu")
def _thresholded_relu(n, x):
    return F.where(x > n.a("alpha", 1.0), x, _const(0, x.dtype.np))


@_op("HardSigmoid")
def _hard_sigmoid(n, x):
    return F.clamp(x * n.a("alpha", 0.2) + n.a("beta", 0.5), 0.0, 1.0)


@_op("Gelu")
def _gelu(n, x):
    return NF.gelu(x, approximate=n.a("approximate", "none"))


@_op("Swish")
def _swish(n, x):
    return x * F.sigmoid(x * n.a("alpha", 1.0))


@_op("PRelu")
def _prelu(n, x, slope):
    if n.opset < 9 or slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] and \
            slope.shape[0] != x.shape[-1]:
        slope = F.reshape(slope, (-1,) + (1,) * (x.ndim - 2))  # one slope per channel
    return F.where(x < 0, x * slope, x)


@_op("Shrink")
def _shrink(n, x):
    lambd, bias = n.a("lambd", 0.5), n.a("bias", 0.0)
    zero = _const(0, x.dtype.np)
    return F.where(x < -lambd, x + bias, F.where(x > lambd, x - bias, zero))


def _coerce_2d(fn, x, axis):
    """Opset < 13 softmax: flatten to (prod(shape[:axis]), prod(shape[axis:])), apply on
    the last dim, reshape back."""
    shape = tuple(x.shape)
    axis = _axis(axis, x.ndim)
    y = fn(F.reshape(x, (_prod(shape[:axis]), _prod(shape[axis:]))), -1)
    return F.reshape(y, shape)


def _softmax_family(fn):
    def run(n, x):
        if n.opset < 13:
            return _coerce_2d(fn, x, n.a("axis", 1))
        return fn(x, n.a("axis", -1))
    return run


def _hardmax(x, dim):
    idx = F.argmax(x, dim, keepdim=True)
    out = F.zeros_like(x)
    return F.scatter(out, dim, idx, 1.0)


OPS["Softmax"] = _softmax_family(lambda x, d: F.softmax(x, d))
OPS["LogSoftmax"] = _softmax_family(lambda x, d: F.log_softmax(x, d))
OPS["Hardmax"] = _softmax_family(_hardmax)


# --- linear algebra --------------------------------------------------------------------

@_op("MatMul")
def _matmul(n, a, b):
    return F.matmul(a, b)


@_op("Gemm")
def _gemm(n, a, b, c=None):
    if n.a("transA", 0):
        a = F.transpose(a, 0, 1)
    if n.a("transB", 0):
        b = F.transpose(b, 0, 1)
    y = F.matmul(a, b)
    alpha, beta = n.a("alpha", 1.0), n.a("beta", 1.0)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c if beta == 1.0 else c * beta)
    return y


@_op("Einsum")
def _einsum(n, *xs):
    return F.einsum(n.a("equation").replace(" ", ""), *xs)


# --- convolution and pooling -----------------------------------------------------------

def _spatial(n, x, kernel):
    """(strides, dilations, pads_begin, pads_end) with auto_pad resolved."""
    k = len(kernel)
    size = tuple(x.shape[2:])
    if len(size) != k:
        raise ValueError(f"{n.op_type}: input of shape {tuple(x.shape)} does not match a "
                         f"{k}-d kernel {tuple(kernel)}")
    strides = list(n.a("strides", [1] * k))
    dil = list(n.a("dilations", [1] * k))
    pads = list(n.a("pads", [0] * 2 * k))
    auto = n.a("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * 2 * k
        for i in range(k):
            out = -(-size[i] // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - size[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + k] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * 2 * k
    return strides, dil, pads[:k], pads[k:]


def _dims_fn(n, fns, k):
    if k not in fns:
        raise ValueError(f"{n.op_type}: only 1-D and 2-D inputs are supported, got a {k}-D "
                         "kernel")
    return fns[k]


def _pad_spatial(x, begin, end, value=0.0):
    """Pad the trailing spatial dims by (begin, end) per dim (ONNX order, first dim first)."""
    pad = []
    for b, e in zip(reversed(begin), reversed(end)):
        pad += [b, e]
    return NF.pad(x, tuple(pad), value=value) if any(pad) else x


@_op("Conv")
def _conv(n, x, w, b=None):
    kernel = n.a("kernel_shape", list(w.shape[2:]))
    strides, dil, pb, pe = _spatial(n, x, kernel)
    conv = _dims_fn(n, {1: NF.conv1d, 2: NF.conv2d}, len(kernel))
    if pb == pe:
        return conv(x, w, b, tuple(strides), tuple(pb), tuple(dil), n.a("group", 1))
    return conv(_pad_spatial(x, pb, pe), w, b, tuple(strides), 0, tuple(dil), n.a("group", 1))


@_op("ConvTranspose")
def _conv_transpose(n, x, w, b=None):
    kernel = n.a("kernel_shape", list(w.shape[2:]))
    k = len(kernel)
    conv = _dims_fn(n, {1: NF.conv_transpose1d, 2: NF.conv_transpose2d}, k)
    size = tuple(x.shape[2:])
    strides = list(n.a("strides", [1] * k))
    dil = list(n.a("dilations", [1] * k))
    out_pad = list(n.a("output_padding", [0] * k))
    pads = list(n.a("pads", [0] * 2 * k))
    auto, out_shape = n.a("auto_pad", "NOTSET"), n.a("output_shape")
    full = [(size[i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 + out_pad[i]
            for i in range(k)]
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(out_shape)[-k:] if out_shape is not None else \
            [size[i] * strides[i] for i in range(k)]
        for i in range(k):
            total = full[i] - target[i]
            small, big = total // 2, total - total // 2
            pads[i], pads[i + k] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * 2 * k
    # full transposed convolution, then output_padding (rows only the bias reaches) and the
    # pads cropped (negative crops pad), then the bias
    y = conv(x, w, None, tuple(strides), 0, 0, n.a("group", 1), tuple(dil))
    y = _pad_spatial(y, [-p for p in pads[:k]], [op - p for op, p in zip(out_pad, pads[k:])])
    if b is not None:
        y = y + F.reshape(b, (-1,) + (1,) * k)
    return y


def _pool_geometry(n, x):
    kernel = list(n.a("kernel_shape"))
    strides, dil, pb, pe = _spatial(n, x, kernel)
    return kernel, strides, dil, pb, pe


def _torch_padding(kernel, pb, pe):
    """The symmetric padding PyTorch's pooling takes, or None when ONNX's pads are not."""
    if pb == pe and all(p <= k // 2 for p, k in zip(pb, kernel)):
        return tuple(pb)
    return None


@_op("MaxPool")
def _max_pool(n, x):
    kernel, strides, dil, pb, pe = _pool_geometry(n, x)
    k = len(kernel)
    pool = _dims_fn(n, {1: NF.max_pool1d, 2: NF.max_pool2d}, k)
    if not x.dtype.is_floating_point:  # pool integers as float64 (exact), cast back
        out = _max_pool(n, x.to(_dt.float64))
        return out.to(x.dtype) if not isinstance(out, tuple) else (out[0].to(x.dtype), out[1])
    ceil = bool(n.a("ceil_mode", 0))
    padding = _torch_padding(kernel, pb, pe)
    src = x
    if padding is None:
        low = -math.inf if x.dtype.is_floating_point else np.iinfo(x.dtype.np).min
        src, padding = _pad_spatial(x, pb, pe, low), (0,) * k
    if not n.wants(1):
        return pool(src, tuple(kernel), tuple(strides), padding, tuple(dil), ceil)
    y, idx = pool(src, tuple(kernel), tuple(strides), padding, tuple(dil), ceil, True)
    return y, _onnx_pool_indices(n, x, src, idx, pb if src is not x else [0] * k)


def _onnx_pool_indices(n, x, src, idx, shift):
    """PyTorch's per-plane flat indices into `src` -> ONNX's flat indices into `x` (over
    N, C and the spatial dims, row-major or, with storage_order=1, column-major)."""
    i = _host(idx)
    size, psize = tuple(x.shape[2:]), tuple(src.shape[2:])
    coords = np.unravel_index(i, psize)
    coords = [c - s for c, s in zip(coords, shift)]
    if n.a("storage_order", 0):
        flat = coords[-1] * size[0] + coords[0] if len(size) == 2 else coords[0]
    else:
        flat = np.ravel_multi_index(tuple(coords), size)
    plane = np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[:2] + (1,) * len(size))
    return _const((flat + plane * _prod(size)).astype(np.int64))


@_op("MaxUnpool")
def _max_unpool(n, x, idx, out_shape=None):
    kernel = list(n.a("kernel_shape"))
    k = len(kernel)
    strides = list(n.a("strides", [1] * k))
    pads = list(n.a("pads", [0] * 2 * k))
    default = tuple(x.shape[:2]) + tuple(
        (x.shape[2 + i] - 1) * strides[i] - pads[i] - pads[i + k] + kernel[i]
        for i in range(k))
    shape = default if out_shape is None else tuple(_ints(out_shape))
    # MaxPool's indices are flat over the whole (N, C, spatial...) default-sized output;
    # a larger output_shape keeps each value at the same coordinates
    i = _host(idx).astype(np.int64).reshape(-1)
    if shape != default:
        i = np.ravel_multi_index(np.unravel_index(i, default), shape)
    flat = F.scatter(F.zeros((_prod(shape),), dtype=x.dtype), 0, _const(i),
                     F.reshape(x, (-1,)))
    return F.reshape(flat, shape)


@_op("AveragePool")
def _avg_pool(n, x):
    kernel, strides, dil, pb, pe = _pool_geometry(n, x)
    k = len(kernel)
    if any(d != 1 for d in dil):
        raise ValueError("AveragePool: dilations other than 1 are not supported")
    pool = _dims_fn(n, {1: NF.avg_pool1d, 2: NF.avg_pool2d}, k)
    ceil, include = bool(n.a("ceil_mode", 0)), bool(n.a("count_include_pad", 0))
    padding = _torch_padding(kernel, pb, pe)
    if padding is not None:
        return pool(x, tuple(kernel), tuple(strides), padding, ceil, include)
    args = (tuple(kernel), tuple(strides), 0, ceil, True)
    y = pool(_pad_spatial(x, pb, pe), *args)
    if include:
        return y
    # mean over the real elements of each window: average of x over average of a mask
    mask = _pad_spatial(F.ones_like(x[:1, :1]), pb, pe)
    return y / pool(mask, *args)


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(n, x):
    dims = tuple(range(2, x.ndim))
    if n.op_type == "GlobalAveragePool":
        return F.mean(x, dims, keepdim=True)
    return F.amax(x, dims, keepdim=True)


@_op("LpPool", "GlobalLpPool")
def _lp_pool(n, x):
    p = n.a("p", 2)
    if n.op_type == "GlobalLpPool":
        return F.sum(F.abs(x) ** p, tuple(range(2, x.ndim)), keepdim=True) ** (1.0 / p)
    kernel, strides, dil, pb, pe = _pool_geometry(n, x)
    k = len(kernel)
    pool = _dims_fn(n, {1: NF.avg_pool1d, 2: NF.avg_pool2d}, k)
    if any(d != 1 for d in dil):
        raise ValueError("LpPool: dilations other than 1 are not supported")
    y = pool(_pad_spatial(F.abs(x) ** p, pb, pe), tuple(kernel), tuple(strides), 0,
             bool(n.a("ceil_mode", 0)), True)
    return (y * _prod(kernel)) ** (1.0 / p)


@_op("Resize", "Upsample")
def _resize(n, x, *args):
    """Separable: one gather-and-weight pass per resized axis (nearest: 1 tap, linear: 2,
    cubic: 4), with the taps' indices and weights computed in NumPy from the shapes."""
    if n.op_type == "Upsample" or n.opset < 11:
        scales = n.a("scales") if n.opset < 9 else _host(args[0]).tolist()
        roi, sizes, coord, nearest = None, None, "asymmetric", "floor"
    else:
        roi, scales, sizes = (list(args) + [None] * 3)[:3]
        roi = None if roi is None or _host(roi).size == 0 else _host(roi).astype(np.float64)
        scales = None if scales is None or _host(scales).size == 0 else \
            _host(scales).astype(np.float64).tolist()
        sizes = None if sizes is None or _host(sizes).size == 0 else _ints(sizes)
        coord = n.a("coordinate_transformation_mode", "half_pixel")
        nearest = n.a("nearest_mode", "round_prefer_floor")
    mode = n.a("mode", "nearest")
    axes = [_axis(a, x.ndim) for a in n.a("axes", range(x.ndim))]
    if roi is not None:  # [starts..., ends...] over `axes`
        roi = dict(zip(axes, zip(roi[:len(axes)], roi[len(axes):])))
    shape = tuple(x.shape)
    if sizes is not None:
        scale = {a: s / shape[a] for a, s in zip(axes, sizes)}
        policy = n.a("keep_aspect_ratio_policy", "stretch")
        out = dict(zip(axes, sizes))
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            k = pick(scale.values())
            scale = {a: k for a in axes}
            out = {a: int(k * shape[a] + 0.5) for a in axes}
    else:
        scale = dict(zip(axes, scales))
        out = {a: int(math.floor(scale[a] * shape[a])) for a in axes}
    y = x if x.dtype.is_floating_point else x.to(_dt.float32)
    for a in axes:
        if out[a] == shape[a] and scale[a] == 1.0 and (roi is None or roi[a] == (0.0, 1.0)):
            continue
        y = _resize_axis(n, y, a, shape[a], out[a], scale[a], mode, coord, nearest,
                         None if roi is None else roi[a])
    return y if y.dtype is x.dtype else F.round(y).to(x.dtype)


def _resize_axis(n, x, axis, size, out, scale, mode, coord, nearest, roi):
    o = np.arange(out, dtype=np.float64)
    ow = scale * size  # ONNX maps with the unrounded output width
    if coord == "align_corners":
        src = o * (size - 1) / (ow - 1) if ow != 1 else np.zeros(out)
    elif coord == "asymmetric":
        src = o / scale
    elif coord == "pytorch_half_pixel":
        src = (o + 0.5) / scale - 0.5 if ow != 1 else np.full(out, -0.5)
    elif coord == "half_pixel":
        src = (o + 0.5) / scale - 0.5
    elif coord == "half_pixel_symmetric":
        src = size / 2 * (1 - out / (scale * size)) + (o + 0.5) / scale - 0.5
    elif coord == "tf_crop_and_resize":
        lo, hi = roi
        src = o * (hi - lo) * (size - 1) / (ow - 1) if ow != 1 else \
            np.full(out, (hi - lo) * (size - 1) / 2)
        src = src + lo * (size - 1)
    else:
        raise ValueError(f"Resize: coordinate_transformation_mode {coord!r} is not supported")
    if mode == "nearest":
        rounding = {"round_prefer_floor": lambda v: np.ceil(v - 0.5),
                    "round_prefer_ceil": lambda v: np.floor(v + 0.5),
                    "floor": np.floor, "ceil": np.ceil}[nearest]
        idx = rounding(src)[:, None]
        w = np.ones_like(idx)
    else:
        base = np.floor(src)
        r = (src - base)[:, None]
        # antialias (when downsampling) stretches the kernel by 1/scale: more taps
        aa = bool(n.a("antialias", 0)) and scale < 1
        s = scale if aa else 1.0
        if mode == "linear":  # 2 taps at scale 1
            start = int(np.floor(-1 / s)) + 1
            offsets = np.arange(start, 2 - start)
            w = np.clip(1 - np.abs((offsets - r) * s), 0, None)
        elif mode == "cubic":  # 4 taps at scale 1
            A = n.a("cubic_coeff_a", -0.75)
            start = int(np.floor(-2 / s)) + 1
            offsets = np.arange(start, 2 - start)
            d = np.abs((offsets - r) * s)
            w = np.where(d <= 1, ((A + 2) * d - (A + 3)) * d * d + 1,
                         np.where(d < 2, ((A * d - 5 * A) * d + 8 * A) * d - 4 * A, 0.0))
        else:
            raise ValueError(f"Resize: mode {mode!r} is not supported")
        idx = base[:, None] + offsets
        if aa:
            w = w / w.sum(1, keepdims=True)
        if n.a("exclude_outside", 0):
            w = np.where((idx < 0) | (idx >= size), 0.0, w)
            w = w / w.sum(1, keepdims=True)
    idx = np.clip(idx, 0, size - 1).astype(np.int64)
    taps = F.getitem(x, (slice(None),) * axis + (idx,))  # (..., out, taps, ...)
    wshape = (1,) * axis + w.shape + (1,) * (x.ndim - axis - 1)
    y = F.sum(taps * _const(w.reshape(wshape).astype(x.dtype.np)), axis + 1)
    if coord == "tf_crop_and_resize":
        outside = (src < 0) | (src > size - 1)
        if outside.any():
            mask = _const(outside.reshape((1,) * axis + (out,) + (1,) * (x.ndim - axis - 1)))
            y = F.where(mask, _const(np.asarray(n.a("extrapolation_value", 0.0),
                                                x.dtype.np)), y)
    return y


@_op("ReverseSequence")
def _reverse_sequence(n, x, lens):
    t_axis, b_axis = n.a("time_axis", 0), n.a("batch_axis", 1)
    T, B = x.shape[t_axis], x.shape[b_axis]
    L = _host(lens).astype(np.int64).reshape(1, B)
    t = np.arange(T).reshape(T, 1)
    src = np.where(t < L, L - 1 - t, t)  # (T, B): reverse the first len steps of each row
    b = np.broadcast_to(np.arange(B).reshape(1, B), (T, B))
    key = [slice(None)] * x.ndim
    key[t_axis], key[b_axis] = src, b
    y = F.getitem(x, tuple(key))  # the (T, B) index dims come first
    return y if t_axis < b_axis else F.transpose(y, 0, 1)


@_op("Unique")
def _unique(n, x):
    h = _host(x)
    axis = n.a("axis")
    flat = h.reshape(-1) if axis is None else h
    kw = {} if axis is None else {"axis": _axis(axis, h.ndim)}
    _, first, inverse, counts = np.unique(flat, return_index=True, return_inverse=True,
                                          return_counts=True, **kw)
    if not n.a("sorted", 1):  # order of first occurrence
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        first, counts, inverse = first[order], counts[order], rank[inverse.reshape(-1)]
    src = F.reshape(x, (-1,)) if axis is None else x
    a = 0 if axis is None else _axis(axis, h.ndim)
    y = F.getitem(src, (slice(None),) * a + (first,))  # gathered, so gradients flow
    as64 = lambda v: _const(np.asarray(v, np.int64).reshape(-1))  # noqa: E731
    return y, as64(first), as64(inverse), as64(counts)


# --- normalization ---------------------------------------------------------------------

def _channel(t, ndim):
    """A per-channel vector shaped to broadcast over (N, C, ...)."""
    return F.reshape(t, (-1,) + (1,) * (ndim - 2))


@_op("BatchNormalization")
def _batch_norm(n, x, scale, bias, mean, var):
    eps, momentum = n.a("epsilon", 1e-5), n.a("momentum", 0.9)
    onnx_training = bool(n.a("training_mode", 0)) and n.opset >= 14
    if not (onnx_training or n.training):
        return NF.batch_norm(x, mean, var, scale, bias, False, 0.0, eps)
    # batch statistics; ONNX's running update uses the biased variance
    dims = (0,) + tuple(range(2, x.ndim))
    bmean = F.mean(x, dims)
    d = x - _channel(bmean, x.ndim)
    bvar = F.mean(d * d, dims)
    y = d * _channel(F.rsqrt(bvar + eps) * scale, x.ndim) + _channel(bias, x.ndim)
    with no_grad():
        new_mean = mean * momentum + bmean.detach() * (1 - momentum)
        new_var = var * momentum + bvar.detach() * (1 - momentum)
        owned = n.state.get("buffers", ())
        if not onnx_training and id(mean) in owned and id(var) in owned:
            mean.data[...] = new_mean.data  # fine-tuning: the buffers keep running stats
            var.data[...] = new_var.data
    if onnx_training:
        return y, new_mean.to(mean.dtype), new_var.to(var.dtype)
    return y


@_op("InstanceNormalization")
def _instance_norm(n, x, scale, bias):
    return NF.instance_norm(x, weight=scale, bias=bias, eps=n.a("epsilon", 1e-5))


def _stash(n, x):
    return x.to(_dt.float32) if n.a("stash_type", 1) == 1 and x.dtype is _dt.float16 else x


@_op("LayerNormalization")
def _layer_norm(n, x, scale, bias=None):
    axis = _axis(n.a("axis", -1), x.ndim)
    dims = tuple(range(axis, x.ndim))
    xs = _stash(n, x)
    mean = F.mean(xs, dims, keepdim=True)
    d = xs - mean
    inv = F.rsqrt(F.mean(d * d, dims, keepdim=True) + n.a("epsilon", 1e-5))
    y = (d * inv).to(x.dtype) * scale
    if bias is not None:
        y = y + bias
    return y, mean, inv


@_op("RMSNormalization")
def _rms_norm(n, x, scale):
    axis = _axis(n.a("axis", -1), x.ndim)
    xs = _stash(n, x)
    ms = F.mean(xs * xs, tuple(range(axis, x.ndim)), keepdim=True)
    return (xs * F.rsqrt(ms + n.a("epsilon", 1e-5))).to(x.dtype) * scale


@_op("GroupNormalization")
def _group_norm(n, x, scale, bias):
    g = n.a("num_groups")
    shape, eps = tuple(x.shape), n.a("epsilon", 1e-5)
    xs = F.reshape(_stash(n, x), (shape[0], g, -1))
    mean = F.mean(xs, -1, keepdim=True)
    d = xs - mean
    y = d * F.rsqrt(F.mean(d * d, -1, keepdim=True) + eps)
    if n.opset < 21:  # opset 18: one scale and bias per group
        y = y * F.reshape(scale, (1, g, 1)) + F.reshape(bias, (1, g, 1))
        return F.reshape(y, shape).to(x.dtype)
    y = F.reshape(y, shape).to(x.dtype)
    return y * _channel(scale, x.ndim) + _channel(bias, x.ndim)


@_op("MeanVarianceNormalization")
def _mvn(n, x):
    dims = tuple(_axis(a, x.ndim) for a in n.a("axes", [0, 2, 3]))
    d = x - F.mean(x, dims, keepdim=True)
    return d / F.sqrt(F.mean(d * d, dims, keepdim=True) + 1e-9)


@_op("LpNormalization")
def _lp_norm(n, x):
    p, axis = n.a("p", 2), n.a("axis", -1)
    norm = F.sum(F.abs(x), axis, keepdim=True) if p == 1 else \
        F.sqrt(F.sum(x * x, axis, keepdim=True))
    return x / F.where(norm == 0, F.ones_like(norm), norm)  # a zero vector stays zero


@_op("LRN")
def _lrn(n, x):
    size = n.a("size")
    alpha, beta, bias = n.a("alpha", 1e-4), n.a("beta", 0.75), n.a("bias", 1.0)
    sq = F.unsqueeze(x * x, 1)  # (N, 1, C, ...): average over a window of channels
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    pad = [0, 0] * (x.ndim - 2) + [lo, hi]
    win = F.sum(F.stack([NF.pad(sq, tuple(pad))[:, :, i:i + x.shape[1]]
                         for i in range(size)]), 0)
    return x / (bias + alpha / size * F.squeeze(win, 1)) ** beta


@_op("Dropout")
def _dropout(n, x, ratio=None, training_mode=None):
    p = n.a("ratio", 0.5) if n.opset < 12 else (0.5 if ratio is None else _scalar(ratio))
    train = n.training if training_mode is None else bool(_scalar(training_mode))
    if n.opset < 7 or not train or p == 0:
        y = x
        mask = F.ones(tuple(x.shape), dtype=_dt.bool)
    else:
        y = NF.dropout(x, p, True)
        mask = y != 0
    return (y, mask) if n.wants(1) else y


# --- shape and movement ----------------------------------------------------------------

@_op("Flatten")
def _flatten(n, x):
    axis = _axis(n.a("axis", 1), x.ndim)
    s = tuple(x.shape)
    return F.reshape(x, (_prod(s[:axis]), _prod(s[axis:])))


@_op("Reshape")
def _reshape(n, x, shape=None):
    shape = list(n.a("shape")) if n.opset < 5 else _ints(shape)
    if not n.a("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return F.reshape(x, tuple(shape))


@_op("Transpose")
def _transpose(n, x):
    perm = n.a("perm", list(range(x.ndim))[::-1])
    return F.permute(x, tuple(perm))


def _axes_in(n, axes, since=13):
    """Axes from the attribute (opset < since) or the optional input."""
    if n.opset < since:
        return n.a("axes")
    return None if axes is None else _ints(axes)


@_op("Squeeze")
def _squeeze(n, x, axes=None):
    axes = _axes_in(n, axes)
    if axes is None:
        axes = [i for i, s in enumerate(x.shape) if s == 1]
    return F.reshape(x, tuple(s for i, s in enumerate(x.shape)
                              if i not in {_axis(a, x.ndim) for a in axes}))


@_op("Unsqueeze")
def _unsqueeze(n, x, axes=None):
    axes = _axes_in(n, axes)
    rank = x.ndim + len(axes)
    axes = sorted(_axis(a, rank) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return F.reshape(x, tuple(shape))


@_op("Concat")
def _concat(n, *xs):
    return F.cat(list(xs), n.a("axis"))


@_op("Split")
def _split(n, x, split=None):
    axis = _axis(n.a("axis", 0), x.ndim)
    sizes = n.a("split") if n.opset < 13 else (None if split is None else _ints(split))
    if sizes is None:
        parts = n.a("num_outputs", n.n_out)
        step = -(-x.shape[axis] // parts)  # ceil: the last part may be smaller (opset 18)
        sizes = [min(step, x.shape[axis] - i * step) for i in range(parts)]
    return tuple(F.split(x, list(sizes), axis))


@_op("Slice")
def _slice(n, x, starts=None, ends=None, axes=None, steps=None):
    if n.opset < 10:
        starts, ends, axes, steps = n.a("starts"), n.a("ends"), n.a("axes"), None
    else:
        starts, ends = _ints(starts), _ints(ends)
        axes = None if axes is None else _ints(axes)
        steps = None if steps is None else _ints(steps)
    axes = list(range(len(starts))) if axes is None else [_axis(a, x.ndim) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    key = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        dim = x.shape[a]
        s, e = (s + dim if s < 0 else s), (e + dim if e < 0 else e)
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:  # ONNX clamps to [-1, dim-1]; -1 means "before the first element"
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
            e = None if e < 0 else e
        key[a] = slice(s, e, st)
    return F.getitem(x, tuple(key))


@_op("Expand")
def _expand(n, x, shape):
    return F.broadcast_to(x, np.broadcast_shapes(tuple(x.shape), tuple(_ints(shape))))


@_op("Tile")
def _tile(n, x, repeats):
    return F.tile(x, tuple(_ints(repeats)))


@_op("Pad")
def _pad(n, x, pads=None, value=None, axes=None):
    mode = n.a("mode", "constant")
    if n.opset < 11:
        pads, value = list(n.a("pads")), n.a("value", 0.0)
    else:
        pads = _ints(pads)
        value = 0 if value is None or _host(value).size == 0 else _scalar(value)
    k = len(pads) // 2
    axes = list(range(x.ndim)) if axes is None else [_axis(a, x.ndim) for a in _ints(axes)]
    begin, end = [0] * x.ndim, [0] * x.ndim
    for j, a in enumerate(axes[:k]):
        begin[a], end[a] = pads[j], pads[j + k]
    if mode == "constant":
        return _pad_spatial(x, begin, end, value) if x.ndim else x
    # reflect / edge / wrap: gather along each dim with the index map np.pad gives
    np_mode = {"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode]
    for a in range(x.ndim):
        b, e = begin[a], end[a]
        if b == 0 and e == 0:
            continue
        size = x.shape[a]
        idx = np.arange(size)[max(-b, 0):size - max(-e, 0)]
        idx = np.pad(idx, (max(b, 0), max(e, 0)), mode=np_mode)
        x = F.getitem(x, (slice(None),) * a + (idx,))
    return x


@_op("Shape")
def _shape(n, x):
    shape = np.asarray(x.shape, dtype=np.int64)
    start, end = n.a("start", 0), n.a("end", len(shape))
    return _const(shape[start:end])


@_op("Size")
def _size(n, x):
    return _const(np.int64(_prod(tuple(x.shape))))


@_op("ConstantOfShape")
def _constant_of_shape(n, shape):
    value = n.a("value")
    value = np.zeros(1, np.float32) if value is None else value.reshape(-1)
    return _const(np.full(tuple(_ints(shape)), value[0], dtype=value.dtype))


@_op("Constant")
def _constant(n):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in n.attrs:
            v = n.attrs[key]
            dtype = {"value_float": np.float32, "value_floats": np.float32,
                     "value_int": np.int64, "value_ints": np.int64}.get(key)
            return _const(v, dtype)
    raise ValueError(f"Constant: attribute {sorted(n.attrs)} is not supported")


@_op("EyeLike")
def _eye_like(n, x):
    dtype = _np_dtype(n.a("dtype")) if "dtype" in n.attrs else x.dtype.np
    return _const(np.eye(x.shape[0], x.shape[1], k=n.a("k", 0), dtype=dtype))


@_op("Range")
def _range(n, start, limit, delta):
    s, lim, d = _scalar(start), _scalar(limit), _scalar(delta)
    count = max(int(math.ceil((lim - s) / d)), 0)
    return _const((s + np.arange(count) * d).astype(start.dtype.np))


@_op("Trilu")
def _trilu(n, x, k=None):
    k = 0 if k is None else int(_scalar(k))
    return F.triu(x, k) if n.a("upper", 1) else F.tril(x, k)


@_op("DepthToSpace")
def _depth_to_space(n, x):
    b = n.a("blocksize")
    N, C, H, W = x.shape
    if n.a("mode", "DCR") == "DCR":
        y = F.permute(F.reshape(x, (N, b, b, C // b // b, H, W)), (0, 3, 4, 1, 5, 2))
    else:
        y = F.permute(F.reshape(x, (N, C // b // b, b, b, H, W)), (0, 1, 4, 2, 5, 3))
    return F.reshape(y, (N, C // b // b, H * b, W * b))


@_op("SpaceToDepth")
def _space_to_depth(n, x):
    b = n.a("blocksize")
    N, C, H, W = x.shape
    perm = (0, 3, 5, 1, 2, 4) if n.a("mode", "DCR") == "DCR" else (0, 1, 3, 5, 2, 4)
    y = F.permute(F.reshape(x, (N, C, H // b, b, W // b, b)), perm)
    return F.reshape(y, (N, C * b * b, H // b, W // b))


# --- indexing --------------------------------------------------------------------------

def _index(idx, dim):
    """ONNX indices (negative counts from the end) as non-negative NumPy int64."""
    i = _host(idx).astype(np.int64)
    return np.where(i < 0, i + dim, i)


@_op("Gather")
def _gather(n, x, idx):
    axis = _axis(n.a("axis", 0), x.ndim)
    i = _index(idx, x.shape[axis])
    return F.getitem(x, (slice(None),) * axis + (i,))


@_op("GatherElements")
def _gather_elements(n, x, idx):
    axis = _axis(n.a("axis", 0), x.ndim)
    return F.gather(x, axis, _const(_index(idx, x.shape[axis])))


@_op("GatherND")
def _gather_nd(n, x, idx):
    b = n.a("batch_dims", 0)
    i = _host(idx).astype(np.int64)
    k = i.shape[-1]
    batch = [np.arange(s).reshape((-1,) + (1,) * (i.ndim - 2 - j))
             for j, s in enumerate(i.shape[:b])]
    key = tuple(batch) + tuple(np.where(i[..., j] < 0, i[..., j] + x.shape[b + j], i[..., j])
                               for j in range(k))
    return F.getitem(x, key)


def _scatter(n, x, axis, i, upd):
    red = n.a("reduction", "none")
    if red == "none":
        return F.scatter(x, axis, i, upd)
    if red == "add":
        return F.scatter_add(x, axis, i, upd)
    if red == "mul":
        return F.scatter(x, axis, i, upd, reduce="multiply")
    raise ValueError(f"{n.op_type}: reduction {red!r} is not supported")


@_op("ScatterElements", "Scatter")
def _scatter_elements(n, x, idx, upd):
    axis = _axis(n.a("axis", 0), x.ndim)
    return _scatter(n, x, axis, _const(_index(idx, x.shape[axis])), upd)


@_op("ScatterND")
def _scatter_nd(n, x, idx, upd):
    # as ScatterElements on dim 0 of x viewed as (rows of the k indexed dims, the rest)
    i = _host(idx).astype(np.int64)
    k = i.shape[-1]
    lead, rest = tuple(x.shape[:k]), tuple(x.shape[k:])
    rows = np.ravel_multi_index(tuple(_index(i[..., j], lead[j]) for j in range(k)), lead)
    rows = np.broadcast_to(rows.reshape(-1, 1), (rows.size, _prod(rest)))
    flat = F.reshape(x, (_prod(lead), _prod(rest)))
    out = _scatter(n, flat, 0, _const(rows), F.reshape(upd, (rows.shape[0], _prod(rest))))
    return F.reshape(out, tuple(x.shape))


@_op("OneHot")
def _one_hot(n, idx, depth, values):
    d = int(_scalar(depth))
    i = _host(idx).astype(np.int64)
    i = np.where(i < 0, i + d, i)
    axis = _axis(n.a("axis", -1), i.ndim + 1)
    classes = np.arange(d).reshape((-1,) + (1,) * (i.ndim - axis))
    hot = np.expand_dims(i, axis) == classes
    return F.where(_const(hot), values[1], values[0])


@_op("TopK")
def _topk(n, x, k):
    k = int(_scalar(k)) if n.opset >= 10 else n.a("k")
    axis = _axis(n.a("axis", -1), x.ndim)
    h = _host(x)
    # stable sort: among equal values the lower index comes first, as ONNX asks
    order = np.argsort(-h if n.a("largest", 1) else h, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    if not n.a("sorted", 1):
        idx = np.sort(idx, axis=axis)
    return F.gather(x, axis, _const(idx)), _const(idx)


@_op("ArgMax", "ArgMin")
def _argmax(n, x):
    axis = _axis(n.a("axis", 0), x.ndim)
    keep = bool(n.a("keepdims", 1))
    fn = F.argmax if n.op_type == "ArgMax" else F.argmin
    if not n.a("select_last_index", 0):
        return fn(x, axis, keep)
    return (x.shape[axis] - 1) - fn(F.flip(x, (axis,)), axis, keep)


def _scan(n, x, axis, fn, identity):
    """CumSum/CumProd with ONNX's reverse and exclusive attributes."""
    a = _axis(int(_scalar(axis)), x.ndim)
    if n.a("reverse", 0):
        x = F.flip(x, (a,))
    if n.a("exclusive", 0):  # shift by one: the identity first, the last element dropped
        head = identity(F.narrow(x, a, 0, 1))
        x = F.cat([head, F.narrow(x, a, 0, x.shape[a] - 1)], a)
    y = fn(x, a)
    y = y if y.dtype is x.dtype else y.to(x.dtype)  # PyTorch widens integers; ONNX keeps them
    return F.flip(y, (a,)) if n.a("reverse", 0) else y


@_op("CumSum")
def _cumsum(n, x, axis):
    return _scan(n, x, axis, F.cumsum, F.zeros_like)


@_op("CumProd")
def _cumprod(n, x, axis):
    return _scan(n, x, axis, F.cumprod, F.ones_like)


@_op("NonZero")
def _nonzero(n, x):
    return _const(np.stack(np.nonzero(_host(x))).astype(np.int64).reshape(x.ndim, -1))


@_op("Compress")
def _compress(n, x, cond):
    c = _host(cond).astype(bool)
    axis = n.a("axis")
    if axis is None:
        return F.getitem(F.reshape(x, (-1,)), np.nonzero(c)[0])
    axis = _axis(axis, x.ndim)
    return F.getitem(x, (slice(None),) * axis + (np.nonzero(c)[0],))


# --- reductions ------------------------------------------------------------------------

_EMPTY = {"ReduceSum": 0, "ReduceSumSquare": 0, "ReduceL1": 0, "ReduceL2": 0,
          "ReduceProd": 1, "ReduceMax": -np.inf, "ReduceMin": np.inf,
          "ReduceLogSum": -np.inf, "ReduceLogSumExp": -np.inf, "ReduceMean": np.nan}


def _prod_dims(x, dims, keep):
    for d in sorted(dims, reverse=True):
        x = F.prod(x, d, keepdim=keep)
    return x


_REDUCE = {
    "ReduceSum": lambda x, d, k: F.sum(x, d, keepdim=k),
    "ReduceMean": lambda x, d, k: F.mean(x, d, keepdim=k),
    "ReduceMax": lambda x, d, k: F.amax(x, d, keepdim=k),
    "ReduceMin": lambda x, d, k: F.amin(x, d, keepdim=k),
    "ReduceProd": _prod_dims,
    "ReduceL1": lambda x, d, k: F.sum(F.abs(x), d, keepdim=k),
    "ReduceL2": lambda x, d, k: F.sqrt(F.sum(x * x, d, keepdim=k)),
    "ReduceSumSquare": lambda x, d, k: F.sum(x * x, d, keepdim=k),
    "ReduceLogSum": lambda x, d, k: F.log(F.sum(x, d, keepdim=k)),
    "ReduceLogSumExp": lambda x, d, k: F.logsumexp(x, d, keepdim=k),
}


def _reduce(n, x, axes=None):
    since = 13 if n.op_type == "ReduceSum" else 18
    axes = _axes_in(n, axes, since)
    keep = bool(n.a("keepdims", 1))
    if not axes:
        if n.a("noop_with_empty_axes", 0) and n.opset >= since:
            return x
        axes = list(range(x.ndim))
    dims = tuple(sorted({_axis(a, x.ndim) for a in axes}))
    if any(x.shape[d] == 0 for d in dims):  # reducing nothing gives the identity
        shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape) if keep or
                      i not in dims)
        empty = _EMPTY[n.op_type]
        if x.dtype is _dt.bool:  # max is any, min is all
            empty = n.op_type == "ReduceMin"
        return _const(np.full(shape, empty, dtype=x.dtype.np))
    if not x.dtype.is_floating_point and n.op_type in ("ReduceMean", "ReduceL2",
                                                       "ReduceLogSum", "ReduceLogSumExp"):
        # integer inputs: compute in float64, cast back (truncating, as ONNX's reference)
        return _REDUCE[n.op_type](x.to(_dt.float64), dims, keep).to(x.dtype)
    if x.dtype is _dt.bool and n.op_type in ("ReduceMax", "ReduceMin"):
        fn = F.any if n.op_type == "ReduceMax" else F.all
        return _reduce_bool(fn, x, dims, keep)
    return _REDUCE[n.op_type](x, dims, keep)


def _reduce_bool(fn, x, dims, keep):
    for d in sorted(dims, reverse=True):
        x = fn(x, d, keepdim=keep)
    return x


for _name in _REDUCE:
    OPS[_name] = _reduce


# --- losses ----------------------------------------------------------------------------

def _nll(n, logp, target, weight):
    ignore = n.a("ignore_index")
    t = _host(target).astype(np.int64)
    if ignore is None:
        ignore = -(2 ** 62)  # no class is ignored
    elif ignore < 0:  # a negative ignore_index is matched as written, not from the end
        t = np.where(t == ignore, -(2 ** 62), t)
        ignore = -(2 ** 62)
    return NF.nll_loss(logp, _const(t), weight, ignore_index=ignore,
                       reduction=n.a("reduction", "mean"))


@_op("NegativeLogLikelihoodLoss")
def _nll_loss(n, x, target, weight=None):
    return _nll(n, x, target, weight)


@_op("SoftmaxCrossEntropyLoss")
def _softmax_ce(n, x, target, weight=None):
    logp = F.log_softmax(x, 1)
    loss = _nll(n, logp, target, weight)
    return (loss, logp) if n.wants(1) else loss


# --- recurrent layers ------------------------------------------------------------------

_ACTS = {
    "sigmoid": lambda x, a, b: F.sigmoid(x), "tanh": lambda x, a, b: F.tanh(x),
    "relu": lambda x, a, b: F.relu(x),
    "leakyrelu": lambda x, a, b: NF.leaky_relu(x, 0.01 if a is None else a),
    "hardsigmoid": lambda x, a, b: F.clamp(x * (0.2 if a is None else a) +
                                           (0.5 if b is None else b), 0.0, 1.0),
    "affine": lambda x, a, b: x * (1.0 if a is None else a) + (0.0 if b is None else b),
    "scaledtanh": lambda x, a, b: F.tanh(x * (1.0 if b is None else b)) *
    (1.0 if a is None else a),
    "softsign": lambda x, a, b: NF.softsign(x), "softplus": lambda x, a, b: NF.softplus(x),
    "elu": lambda x, a, b: F.where(x > 0, x, _neg_part(x, 1.0 if a is None else a)),
}


def _activations(n, defaults, dirs):
    names = n.a("activations") or defaults * dirs
    alphas, betas = list(n.a("activation_alpha", [])), list(n.a("activation_beta", []))
    out = []
    for i, name in enumerate(names):
        fn = _ACTS.get(name.lower())
        if fn is None:
            raise ValueError(f"{n.op_type}: activation {name!r} is not supported")
        a = alphas[i] if i < len(alphas) else None
        b = betas[i] if i < len(betas) else None
        out.append(lambda x, fn=fn, a=a, b=b: fn(x, a, b))
    return [out[d * len(defaults):(d + 1) * len(defaults)] for d in range(dirs)]


def _recurrent(n, cell, gates, defaults, x, w, r, b, lens, h0, c0=None, p=None):
    """Shared driver of RNN, GRU and LSTM: a loop over time steps per direction.

    x (T, B, I) (or (B, T, I) with layout=1); w (D, G*H, I); r (D, G*H, H); b (D, 2*G*H).
    Returns Y (T, D, B, H), Y_h (D, B, H) and, for LSTM, Y_c (D, B, H)."""
    batch_first = bool(n.a("layout", 0))
    if batch_first:
        x = F.transpose(x, 0, 1)
        h0 = None if h0 is None else F.transpose(h0, 0, 1)
        c0 = None if c0 is None else F.transpose(c0, 0, 1)
    T, B = x.shape[0], x.shape[1]
    H = n.a("hidden_size") or r.shape[-1]
    direction = n.a("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    acts = _activations(n, defaults, dirs)
    clip = n.a("clip")
    lens_np = None if lens is None else _host(lens).astype(np.int64)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        wb = None if b is None else b[d, :gates * H]
        rb = None if b is None else b[d, gates * H:]
        xw = F.matmul(x, F.transpose(w[d], 0, 1))  # all time steps in one product
        if wb is not None:
            xw = xw + wb
        h = F.zeros((B, H), dtype=x.dtype) if h0 is None else h0[d]
        c = None if gates != 4 else (F.zeros((B, H), dtype=x.dtype) if c0 is None else c0[d])
        out = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h_new, c_new = cell(xw[t], h, c, F.transpose(r[d], 0, 1), rb, acts[d], clip,
                                None if p is None else p[d], n)
            if lens_np is None:
                h, c = h_new, c_new
                out[t] = h
            else:  # past a sequence's length its state stays and its output is zero
                live = _const((t < lens_np).reshape(-1, 1))
                h = F.where(live, h_new, h)
                c = None if c is None else F.where(live, c_new, c)
                out[t] = F.where(live, h_new, F.zeros_like(h_new))
        ys.append(F.stack(out) if T else F.zeros((0, B, H), dtype=x.dtype))
        hs.append(h)
        cs.append(c)
    y, yh = F.stack(ys, 1), F.stack(hs)
    yc = F.stack(cs) if gates == 4 else None
    if batch_first:
        y, yh = F.permute(y, (2, 0, 1, 3)), F.transpose(yh, 0, 1)
        yc = None if yc is None else F.transpose(yc, 0, 1)
    return (y, yh) if gates != 4 else (y, yh, yc)


def _clip_gates(g, clip):
    return g if clip is None else F.clamp(g, -clip, clip)


def _rnn_cell(xw, h, c, rt, rb, acts, clip, p, n):
    g = xw + F.matmul(h, rt)
    if rb is not None:
        g = g + rb
    return acts[0](_clip_gates(g, clip)), None


def _gru_cell(xw, h, c, rt, rb, acts, clip, p, n):
    f, g = acts
    H = h.shape[-1]
    hr = F.matmul(h, rt[:, :2 * H])
    zr = xw[:, :2 * H] + hr + (0 if rb is None else rb[:2 * H])
    zr = f(_clip_gates(zr, clip))
    z, r = zr[:, :H], zr[:, H:]
    rbh = 0 if rb is None else rb[2 * H:]
    if n.a("linear_before_reset", 0):
        cand = xw[:, 2 * H:] + r * (F.matmul(h, rt[:, 2 * H:]) + rbh)
    else:
        cand = xw[:, 2 * H:] + F.matmul(r * h, rt[:, 2 * H:]) + rbh
    cand = g(_clip_gates(cand, clip))
    return (1 - z) * cand + z * h, None


def _lstm_cell(xw, h, c, rt, rb, acts, clip, p, n):
    f, g, hf = acts
    H = h.shape[-1]
    gates = xw + F.matmul(h, rt)
    if rb is not None:
        gates = gates + rb
    gates = _clip_gates(gates, clip)
    gi, go, gf, gc = (gates[:, k * H:(k + 1) * H] for k in range(4))  # ONNX order: i o f c
    if p is not None:
        gi, gf = gi + p[:H] * c, gf + p[2 * H:] * c
    i = f(gi)
    fg = 1 - i if n.a("input_forget", 0) else f(gf)
    c = fg * c + i * g(gc)
    if p is not None:
        go = go + p[H:2 * H] * c
    return f(go) * hf(c), c


@_op("RNN")
def _rnn(n, x, w, r, b=None, lens=None, h0=None):
    return _recurrent(n, _rnn_cell, 1, ["Tanh"], x, w, r, b, lens, h0)


@_op("GRU")
def _gru(n, x, w, r, b=None, lens=None, h0=None):
    return _recurrent(n, _gru_cell, 3, ["Sigmoid", "Tanh"], x, w, r, b, lens, h0)


@_op("LSTM")
def _lstm(n, x, w, r, b=None, lens=None, h0=None, c0=None, p=None):
    return _recurrent(n, _lstm_cell, 4, ["Sigmoid", "Tanh", "Tanh"], x, w, r, b, lens, h0,
                      c0, p)


# --- the module ------------------------------------------------------------------------

class _Scope(Module):
    """A container that gives dotted initializer names ('fc1.weight') their PyTorch path."""

    def forward(self, *args):
        raise RuntimeError("a fathom.onnx scope holds weights only; call the model")


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^[0-9]+$")


class OnnxModule(Module):
    """An ONNX graph run by Fathom ops. Initializers are its parameters and buffers, named
    by their ONNX names (dotted names such as 'fc1.weight' keep their path; other
    characters become '_').

    Attributes: input_names, output_names (the graph's), opset (of the ai.onnx domain).
    forward(*inputs) takes the graph inputs in order (Tensors or arrays) and returns one
    Tensor, or a tuple for several outputs.
    """

    def __init__(self, model: onnx.ModelProto, source: str = "<ModelProto>"):
        super().__init__()
        object.__setattr__(self, "_source", source)
        self.opset = _check_opsets(model, source)
        model = _expand_functions(model, self.opset, source)
        graph = model.graph
        state = {"training": False}
        self._state = state
        self._nodes = []
        for i, proto in enumerate(graph.node):
            where = _where(source, i, proto)
            if proto.domain not in _DOMAINS:
                raise FileFormatError(f"{where}: domain {proto.domain!r} is not supported "
                                      "(fathom.onnx runs the default ai.onnx domain only)")
            if proto.op_type not in OPS:
                raise FileFormatError(f"{where}: op {proto.op_type!r} is not supported by "
                                      "fathom.onnx (fathom.onnx.importer.OPS lists those "
                                      "that are)")
            try:
                self._nodes.append(_Node(i, proto, self.opset, state))
            except ValueError as e:
                raise FileFormatError(f"{where}: {e}") from e
        self._weights = []  # (onnx name, owning module, attribute)
        trainable = _trainable_inputs(graph)
        for t in graph.initializer:
            arr = numpy_helper.to_array(t)
            try:
                value = _tensor(np.array(arr))
            except TypeError as e:
                raise FileFormatError(f"{source}: initializer {t.name!r}: {e}") from e
            owner, attr = self._place(t.name)
            if arr.dtype.kind == "f" and t.name in trainable:
                owner.register_parameter(attr, Parameter(value))
            else:
                owner.register_buffer(attr, value)
            self._weights.append((t.name, owner, attr))
        inits = {t.name for t in graph.initializer}
        self.input_names = [v.name for v in graph.input if v.name not in inits]
        self.output_names = [v.name for v in graph.output]
        self.eval()

    def _place(self, name):
        """The (module, attribute) an initializer is registered under."""
        parts = name.split(".")
        if all(_IDENT.match(p) for p in parts) and parts[-1] not in self.__dict__:
            owner = self
            try:
                for p in parts[:-1]:
                    sub = owner._modules.get(p)
                    if sub is None:
                        if p in owner._parameters or p in owner._buffers or \
                                hasattr(type(owner), p) or p in owner.__dict__:
                            raise KeyError(p)
                        sub = _Scope()
                        owner.add_module(p, sub)
                    owner = sub
                last = parts[-1]
                if not (last in owner._modules or last in owner._parameters or
                        last in owner._buffers or hasattr(type(owner), last) or
                        last in owner.__dict__):
                    return owner, last
            except KeyError:
                pass
        flat = re.sub(r"[^A-Za-z0-9_]", "_", name)
        flat = flat if flat and not flat[0].isdigit() else "_" + flat
        key, k = flat, 1
        while key in self._parameters or key in self._buffers or key in self._modules or \
                hasattr(type(self), key) or key in self.__dict__:
            key, k = f"{flat}_{k}", k + 1
        return self, key

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"{self._source}: the model takes {len(self.input_names)} "
                            f"input(s) {self.input_names}, got {len(inputs)}")
        self._state["training"] = self.training  # read by Dropout and BatchNormalization
        if self.training:  # BatchNormalization updates running statistics it owns only
            self._state["buffers"] = {id(b) for b in self.buffers()}
        env = {"": None}
        for name, owner, attr in self._weights:
            env[name] = getattr(owner, attr)
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else _input(self._source, name, x)
        for node in self._nodes:
            try:
                out = node.fn(node, *[env[i] for i in node.inputs])
            except Exception as e:  # noqa: BLE001 - re-raised with the node that failed
                raise _node_error(self._source, node, e) from e
            if not isinstance(out, (tuple, list)):
                out = (out,)
            for name, value in zip(node.outputs, out):
                if name:
                    env[name] = value
        outs = tuple(env[name] for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def extra_repr(self) -> str:
        return (f"inputs={self.input_names}, outputs={self.output_names}, "
                f"nodes={len(self._nodes)}, opset={self.opset}")


def _input(source, name, x) -> Tensor:
    x = np.asarray(x)
    try:
        return as_tensor(x if x.flags.c_contiguous else x.copy())
    except TypeError as e:
        raise TypeError(f"{source}: input {name!r}: {e}") from None


def _node_error(source, node, e):
    msg = f"{source}: {node!r}: {e}"
    try:
        return type(e)(msg)
    except Exception:  # noqa: BLE001 - exception types with other constructors
        return RuntimeError(msg)


_EXPANDED = "fathom.expanded"  # the private domain of function bodies being inlined


def _expand_functions(model, opset, source):
    """Inline model-local functions, and replace each node of an op that OPS lacks but whose
    ONNX schema defines a function body (Attention, RotaryEmbedding, window functions...) by
    that body: ONNX's own definition of the op in terms of other ops."""
    if len(model.functions):
        model = _inline(model, source)
    for _ in range(4):  # a body may use ops that have bodies of their own
        expanded = _expand_once(model, opset, source)
        if expanded is None:
            break
        model = expanded
    return model


def _inline(model, source):
    try:
        return onnx.inliner.inline_local_functions(model, convert_version=True)
    except Exception as e:  # noqa: BLE001 - the inliner raises several types
        raise FileFormatError(f"{source}: cannot inline the model's functions: {e}") from e


def _schema(op_type, opset):
    try:
        return onnx.defs.get_schema(op_type, opset, "")
    except onnx.defs.SchemaError:
        return None  # an unknown op: reported with its node when the graph is read


def _has_body(op_type, opset) -> bool:
    s = _schema(op_type, opset)
    return s is not None and any(v <= opset for v in list(s.function_opset_versions) +
                                 list(s.context_dependent_function_opset_versions))


def _expand_once(model, opset, source):
    """One pass of _expand_functions; None when no node has a body to expand."""
    todo = [i for i, n in enumerate(model.graph.node)
            if n.domain in _DOMAINS and n.op_type not in OPS and _has_body(n.op_type, opset)]
    if not todo:
        return None
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    model, types, bodies = copy, None, []
    for i in todo:
        node = model.graph.node[i]
        schema = _schema(node.op_type, opset)
        plain = [v for v in schema.function_opset_versions if v <= opset]
        if plain:
            body = schema.get_function_with_opset_version(max(plain))
        else:  # the body depends on the input types: infer them once
            types = _value_types(model) if types is None else types
            in_types = [types.get(name, onnx.TypeProto()).SerializeToString()
                        for name in node.input]
            version = max(v for v in schema.context_dependent_function_opset_versions
                          if v <= opset)
            try:
                body = schema.get_context_dependent_function_with_opset_version(
                    version, node.SerializeToString(), in_types)
            except Exception as e:  # noqa: BLE001 - no body for these types
                raise FileFormatError(f"{_where(source, i, node)}: op {node.op_type!r} is "
                                      f"not supported for these input types ({e})") from e
        fn = onnx.FunctionProto()
        fn.ParseFromString(body)
        bad = sorted({b.op_type for b in fn.node if b.domain not in _DOMAINS or
                      (b.op_type not in OPS and not _has_body(b.op_type, opset))})
        if bad:
            raise FileFormatError(f"{_where(source, i, node)}: op {node.op_type!r} is not "
                                  f"supported by fathom.onnx (its ONNX function body uses "
                                  f"{', '.join(bad)})")
        given = {a.name for a in node.attribute}
        for name, attr in schema.attributes.items():  # the body may refer to defaults
            if name not in given and attr.default_value.name:
                node.attribute.append(attr.default_value)
        fn.domain, fn.name = _EXPANDED, f"{node.op_type}_{i}"
        node.domain, node.op_type = _EXPANDED, fn.name
        bodies.append(fn)
    model.functions.extend(bodies)
    if not any(o.domain == _EXPANDED for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_EXPANDED, 1))
    return _inline(model, source)


def _value_types(model) -> dict:
    """{value name: TypeProto} for the graph's inputs, outputs and inferred values."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort
        inferred = model
    g = inferred.graph
    types = {v.name: v.type for v in list(g.input) + list(g.value_info) + list(g.output)}
    for t in g.initializer:
        types.setdefault(t.name, helper.make_tensor_type_proto(t.data_type, list(t.dims)))
    return types


def _check_opsets(model, source) -> int:
    opset = None
    for o in model.opset_import:
        if o.domain in _DOMAINS:
            opset = o.version
        elif o.domain == _EXPANDED:
            continue
        else:
            raise FileFormatError(f"{source}: opset domain {o.domain!r} is not supported "
                                  "(fathom.onnx runs the default ai.onnx domain only)")
    if opset is None:
        raise FileFormatError(f"{source}: the model imports no ai.onnx opset")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise FileFormatError(f"{source}: opset {opset} is not supported (fathom.onnx "
                              f"supports opsets {MIN_OPSET} to {MAX_OPSET})")
    return opset


def _trainable_inputs(graph) -> set:
    """Names fed to at least one input position that is a weight, not a setting."""
    names = set()
    for node in graph.node:
        static = _STATIC_INPUTS.get(node.op_type, ())
        names.update(v for i, v in enumerate(node.input) if i not in static)
    return names


def load(f) -> OnnxModule:
    """Load an ONNX model (a path or an `onnx.ModelProto`) as a Fathom module.

    Args:
        f: path to a .onnx file, or an `onnx.ModelProto`.
    Returns:
        an `OnnxModule` in eval mode; float weights are Parameters (fine-tune with
        fathom.optim), other initializers buffers.
    Raises:
        FileFormatError: the file is not a valid ONNX model, or uses an op, opset or
        domain fathom.onnx does not support (the message names the file and the node).

        >>> model = fathom.onnx.load("model.onnx")
        >>> y = model(fathom.randn(1, 3, 32, 32))
    """
    if isinstance(f, onnx.ModelProto):
        model, source = f, "<ModelProto>"
    else:
        source = os.fspath(f)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"fathom.onnx.load: no such file: {source!r}")
        try:
            model = onnx.load(source)
        except Exception as e:  # noqa: BLE001 - any parse failure is a bad file
            raise FileFormatError(f"{source}: not a valid ONNX file ({type(e).__name__}: "
                                  f"{e})") from e
    opset = _check_opsets(model, source)
    for i, n in enumerate(model.graph.node):  # name the node before the checker's message
        if n.domain in _DOMAINS and n.op_type not in OPS and \
                not onnx.defs.has(n.op_type, opset, ""):
            raise FileFormatError(f"{_where(source, i, n)}: unknown op {n.op_type!r} (not an "
                                  f"ONNX op at opset {opset}, nor one fathom.onnx supports)")
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - the checker raises several types
        raise FileFormatError(f"{source}: invalid ONNX model: {e}") from e
    return OnnxModule(model, source)


def _where(source, i, proto) -> str:
    return f"{source}: node {i} ({proto.op_type}" + (f" {proto.name!r})" if proto.name else ")")
