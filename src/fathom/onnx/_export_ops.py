"""The translation loop of `fathom.onnx.export`, and one ONNX translation per primitive op.

A handler gets a `_Ctx` for one recorded call (the arguments, resolved to graph values,
parameters, constants or Python values; the outputs) and returns the ONNX name of each
output. Binary ops cast their operands to the dtype Fathom computed in, since ONNX does not
promote; Python scalars become constants of that dtype (PyTorch's weak scalars).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import helper

from ..dtypes import result_type
from ..ops import conv, elementwise as ew, index, linalg, nn as nnops, pool, reduce, shape
from ..tensor import Tensor
from .export import (_I64_MAX, ExportError, Graph, _ModuleCall, _onnx_type, _Unavailable,
                     make_model, value_info)

_I64_MIN = int(np.iinfo(np.int64).min)


def build(module, opset, folding, inputs, inputs2, input_names, in_versions, calls, calls2,
          paths, versions, outs, outs2, output_names, dyn):
    """The ModelProto of a traced run (calls2/inputs2/outs2: the resized trace, or None)."""
    g = Graph(opset)
    tr = _Translator(g, module, folding)
    graph_inputs = []
    for k, (x, name) in enumerate(zip(inputs, input_names)):
        x2 = inputs2[k] if inputs2 is not None else x
        g._used.add(name)
        g.add_value(name, x.shape, x2.shape, x.data.dtype)
        tr.bind(x, name, in_versions[k])
        graph_inputs.append(value_info(name, x.data.dtype, x.shape, dyn.get(name)))
    for i, c in enumerate(calls):
        tr.translate(c, calls2[i] if calls2 is not None else c, paths[i], versions[i])
    graph_outputs = []
    for k, (t, name) in enumerate(zip(outs, output_names)):
        t2 = outs2[k] if outs2 is not None else t
        tr.check_version(t, t._vc[0], f"output {name!r}")
        ref = tr.resolve(t, t2)
        tr._check_constants([ref], [t2], None, f"output {name!r}")
        src = tr.materialize(ref, None, name)
        g._used.add(name)
        g.nodes.append(helper.make_node("Identity", [src], [name], name=name))
        symbols = dict(dyn.get(name, {}))
        for axis, (a, b) in enumerate(zip(t.shape, t2.shape)):
            if a != b and axis not in symbols:
                symbols[axis] = f"{name}_dim{axis}"
        graph_outputs.append(value_info(name, t.data.dtype, t.shape, symbols))
    return make_model(g, graph_inputs, graph_outputs)


class _Translator:
    def __init__(self, g: Graph, module, folding):
        self.g, self.folding = g, folding
        self.env = {}      # id(Tensor) -> value name (or _Unavailable)
        self.arr_env = {}  # id(array) -> value name: ops that receive a tensor's raw array
        self.consts = {}   # id(Tensor) -> (array, shape at trace 2) of folded values
        self.version = {}  # id(Tensor) -> its version counter when its value was bound
        self.params = {}   # id(Tensor or its array) -> (state_dict key, array)
        self.const_names = {}
        for key, p in list(module.named_parameters()) + list(module.named_buffers()):
            if p is not None:
                g._used.add(key)  # node names never take a state_dict key
                self.params.setdefault(id(p), (key, p.data))
                self.params.setdefault(id(p.data), (key, p.data))

    def bind(self, t, name, version):
        self.env[id(t)] = name
        self.arr_env[id(t.data)] = name
        self.version[id(t)] = version

    def check_version(self, t, version, what):
        """A graph tensor used at another version than it was made at was edited in place
        by something the trace did not record."""
        if isinstance(t, Tensor) and id(t) in self.version and self.version[id(t)] != version:
            raise ExportError(f"export: a tensor of shape {tuple(t.shape)} used by {what} was "
                              f"modified in place after it was computed, which the trace does "
                              f"not record (hint: use the out-of-place form, e.g. `x = x + y` "
                              f"instead of `x += y`, `relu(x)` instead of `relu_(x)`)")

    def resolve(self, obj, obj2):
        """('v', name) | ('p', key, array) | ('c', array, shape2) | ('py', value) | ('x', why)"""
        if isinstance(obj, Tensor):
            name = self.env.get(id(obj))
            if isinstance(name, _Unavailable):
                return ("x", name.why)
            if name is not None:
                return ("v", name)
            if id(obj) in self.params:
                return ("p",) + self.params[id(obj)]
            if id(obj) in self.consts:
                return ("c",) + self.consts[id(obj)]
            return ("c", obj.data, tuple(getattr(obj2, "shape", obj.shape)))
        if isinstance(obj, np.ndarray):
            if id(obj) in self.arr_env:
                return ("v", self.arr_env[id(obj)])
            if id(obj) in self.params:
                return ("p",) + self.params[id(obj)]
            return ("c", obj, tuple(getattr(obj2, "shape", obj.shape)))
        return ("py", obj)

    def materialize(self, ref, dtype, hint):
        g = self.g
        kind = ref[0]
        if kind == "v":
            return ref[1] if dtype is None else g.cast(ref[1], dtype)
        if kind == "x":
            raise ExportError(f"export: {ref[1]}")
        if kind == "p":
            key, arr = ref[1], ref[2]
            if key not in g.info:
                g.initializer(arr, key)
                g.info[key] = (arr.shape, arr.shape, arr.dtype)
            return key if dtype is None else g.cast(key, dtype)
        if kind == "py":
            v = ref[1]
            if dtype is None:
                dtype = np.bool_ if isinstance(v, bool) else \
                    np.int64 if isinstance(v, int) else np.float32
            return g.const(np.asarray(v, dtype), hint="scalar")
        arr, shape2 = ref[1], ref[2]
        arr = np.asarray(arr)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        if tuple(arr.shape) != tuple(shape2):
            return self._dynamic_const(arr, shape2, hint)
        key = (id(ref[1]), arr.dtype.str)
        if arr.size > 16 and key in self.const_names:
            return self.const_names[key]
        name = g.const(arr, hint=f"{hint}_const")
        self.const_names[key] = name
        return name

    def _check_constants(self, refs, args2, op, where):
        """A constant whose values differ in the second trace came from the input by a route
        the trace cannot see (a NumPy array, .item(), .tolist())."""
        for r, a2 in zip(refs, args2):
            if r[0] != "c":
                continue
            arr2 = a2.data if isinstance(a2, Tensor) else a2
            arr1 = np.asarray(r[1])
            if isinstance(arr2, np.ndarray) and arr2.shape == arr1.shape and not \
                    np.array_equal(arr1, arr2, equal_nan=arr1.dtype.kind in "fc"):
                what = f"{_op_label(op)}{where} takes" if op is not None else f"{where} is"
                raise ExportError(
                    f"export: {what} an array of shape {arr1.shape} "
                    f"that the trace sees as a constant, yet it changes with the input's values "
                    f"(it was computed outside Fathom's ops: NumPy, .item(), .tolist(), or "
                    f"random values made in forward); ONNX would freeze it")

    def _dynamic_const(self, arr, shape2, hint):
        """A constant whose shape follows the dynamic axes: fine if every element is equal."""
        flat = arr.reshape(-1)
        if flat.size == 0 or not (flat == flat[0]).all():
            raise ExportError(f"export: a constant of shape {arr.shape} (in {hint}) changes "
                              f"shape with the dynamic axes and is not filled with one value "
                              f"(or it was computed outside Fathom's ops, e.g. with NumPy); "
                              f"make it from the input (e.g. zeros_like) or drop those axes")
        pairs = list(zip(arr.shape, shape2))
        value = helper.make_tensor("value", _onnx_type(arr.dtype), [1], [flat[0].item()])
        return self.g.node("ConstantOfShape", [self.g.shape_tensor(pairs)], f"{hint}_fill",
                           value=value)

    def translate(self, c, c2, path, ver):
        op = c.op
        args, args2 = list(c.args), list(c2.args)
        if isinstance(op, _ModuleCall):
            from ._export_modules import handler_for  # noqa: PLC0415
            handler, what = handler_for(op.module), type(op.module).__name__
            kw2 = c2.op.kwargs
            for k, v in op.kwargs.items():
                args.append(v)
                args2.append(kw2.get(k))
        else:
            handler, what = HANDLERS.get(type(op)), type(op).__name__
        where = f" in module {path!r}" if path else " at the top level"
        for a, v in zip(args, ver[0]):
            for t, tv in (zip(a, v) if isinstance(a, (tuple, list)) else ((a, v),)):
                self.check_version(t, tv, f"{_op_label(op)}{where}")
        refs = [self.resolve(a, a2) for a, a2 in zip(args, args2)]
        self._check_constants(refs, args2, op, where)
        outs = c.out if isinstance(c.out, tuple) else (c.out,)
        outs2 = c2.out if isinstance(c2.out, tuple) else (c2.out,)
        live = any(r[0] in ("v", "x") for r in refs)
        # a constant whose shape follows the dynamic axes (pos_embedding[:, :T]) is computed
        # in the graph instead, where its sizes can be symbolic
        varying = any(isinstance(t, Tensor) and t.shape != t2.shape
                      for t, t2 in zip(c.out if isinstance(c.out, tuple) else (c.out,),
                                       c2.out if isinstance(c2.out, tuple) else (c2.out,)))
        if not live and not varying and (self.folding or not any(r[0] == "p" for r in refs)):
            for t, t2 in zip(outs, outs2):  # every input constant: the output is one too
                if isinstance(t, Tensor):
                    self.consts[id(t)] = (t.data, tuple(t2.shape))
            return
        if handler is None:
            raise ExportError(f"export: op {what}{where} has no ONNX translation at opset "
                              f"{self.g.opset} (hint: compute it outside the exported module, "
                              f"or use a layer that ONNX expresses)")
        ctx = _Ctx(self, c, c2, args, args2, refs, path, what)
        ctx.check_static_args(getattr(handler, "dynamic_args", ()))
        try:
            names = handler(ctx)
        except ExportError as e:
            msg = str(e)
            if not msg.startswith("export:"):
                msg = f"export: {what}{where} (opset {self.g.opset}): {msg}"
            raise ExportError(msg) from None
        names = names if isinstance(names, (list, tuple)) else [names]
        for k, (t, t2) in enumerate(zip(outs, outs2)):
            if not isinstance(t, Tensor):
                continue
            name = names[k] if k < len(names) else None
            if name is None or isinstance(name, _Unavailable):
                why = name.why if isinstance(name, _Unavailable) else \
                    f"output {k} of {what}{where} is not available in ONNX"
                self.env[id(t)] = _Unavailable(why)
                continue
            self.bind(t, name, ver[1][k])
            self.g.add_value(name, t.shape, t2.shape, t.data.dtype)


class _Ctx:
    """One call as a handler sees it."""

    def __init__(self, tr, call, call2, args, args2, refs, path, what):
        self.tr, self.g, self.opset = tr, tr.g, tr.g.opset
        self.call, self.call2, self.args, self.args2, self.refs = call, call2, args, args2, refs
        self.path, self.what = path, what
        self.hint = f"{path}.{what}" if path else what
        outs = call.out if isinstance(call.out, tuple) else (call.out,)
        outs2 = call2.out if isinstance(call2.out, tuple) else (call2.out,)
        self.outs, self.outs2 = outs, outs2

    # arguments
    def x(self, i, dtype=None):
        """The ONNX name of argument i (cast to dtype when given)."""
        return self.tr.materialize(self.refs[i], dtype, self.hint)

    def is_value(self, i):
        return self.refs[i][0] in ("v", "p", "c")

    def dtype(self, i):
        a = self.args[i]
        a = a.data if isinstance(a, Tensor) else a
        return getattr(a, "dtype", None)

    def shape(self, i):
        a = self.args[i]
        return tuple(getattr(a, "shape", ()))

    def pairs(self, i):
        return list(zip(self.shape(i), tuple(getattr(self.args2[i], "shape", ()))))

    def raw(self, i):
        a = self.args[i]
        return a.data if isinstance(a, Tensor) else a

    # outputs
    def out_dtype(self, k=0):
        return self.outs[k].data.dtype

    def out_shape(self, k=0):
        return tuple(self.outs[k].shape)

    def out_pairs(self, k=0):
        return list(zip(self.outs[k].shape, self.outs2[k].shape))

    # building
    def node(self, op_type, inputs, n_out=1, **attrs):
        return self.g.node(op_type, inputs, f"{self.hint}.{op_type}", n_out, **attrs)

    def const(self, array, dtype=None):
        return self.g.const(array, dtype, hint=f"{self.hint}_const")

    def check_static_args(self, allowed):
        """Non-tensor arguments that differ between the two traces are sizes that follow the
        dynamic axes; only handlers that say so (dynamic_args) can write them."""
        for k, (a, b) in enumerate(zip(self.args, self.args2)):
            if k in allowed or isinstance(a, Tensor) or self.refs[k][0] == "v":
                continue
            if not _same(a, b, self.tr.arr_env):
                raise ExportError(f"export: {self.what}{_where(self.path)} takes an argument "
                                  f"that depends on the input's values or on the dynamic axes "
                                  f"({_short(a)} vs {_short(b)}); export cannot make it "
                                  f"symbolic (hint: compute it with tensor ops, or leave those "
                                  f"axes out of dynamic_axes)")


def _op_label(op):
    return type(op.module).__name__ if isinstance(op, _ModuleCall) else type(op).__name__


def _where(path):
    return f" in module {path!r}" if path else ""


def _short(v):
    s = repr(v)
    return s if len(s) < 80 else s[:77] + "..."


def _same(a, b, graph_arrays):
    if isinstance(a, Tensor) or id(a) in graph_arrays:  # values of the graph
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and \
            all(_same(x, y, graph_arrays) for x, y in zip(a, b))
    if isinstance(a, slice):
        return isinstance(b, slice) and (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # noqa: BLE001 - incomparable values are different
        return False


# --- handlers ------------------------------------------------------------------------------

HANDLERS: dict = {}


def _handles(*classes, dynamic_args=()):
    def register(fn):
        fn.dynamic_args = dynamic_args
        for cls in classes:
            HANDLERS[cls] = fn
        return fn
    return register


def _binary(onnx_op):
    def fn(C):
        dt = C.out_dtype()
        return C.node(onnx_op, [C.x(0, dt), C.x(1, dt)])
    return fn


for _cls, _op in ((ew.Add, "Add"), (ew.Sub, "Sub"), (ew.Mul, "Mul"), (ew.Div, "Div"),
                  (ew.Maximum, "Max"), (ew.Minimum, "Min"), (ew.Pow, "Pow"),
                  (linalg.Matmul, "MatMul")):
    _handles(_cls)(_binary(_op))


def _compare(onnx_op, negate=False):
    def fn(C):
        dt = result_type(C.raw(0), C.raw(1))
        y = C.node(onnx_op, [C.x(0, dt), C.x(1, dt)])
        return C.node("Not", [y]) if negate else y
    return fn


for _cls, _op in ((ew.Eq, "Equal"), (ew.Lt, "Less"), (ew.Le, "LessOrEqual"),
                  (ew.Gt, "Greater"), (ew.Ge, "GreaterOrEqual")):
    _handles(_cls)(_compare(_op))
_handles(ew.Ne)(_compare("Equal", negate=True))


def _logical(onnx_op):
    def fn(C):
        return C.node(onnx_op, [C.x(0, np.bool_), C.x(1, np.bool_)])
    return fn


for _cls, _op in ((ew.LogicalAnd, "And"), (ew.LogicalOr, "Or"), (ew.LogicalXor, "Xor")):
    _handles(_cls)(_logical(_op))


def _unary(onnx_op):
    def fn(C):
        return C.node(onnx_op, [C.x(0, C.out_dtype())])
    return fn


for _cls, _op in ((ew.Neg, "Neg"), (ew.Exp, "Exp"), (ew.Log, "Log"), (ew.Sqrt, "Sqrt"),
                  (ew.Abs, "Abs"), (ew.Sin, "Sin"), (ew.Cos, "Cos"), (ew.Tanh, "Tanh"),
                  (ew.Sigmoid, "Sigmoid"), (ew.Relu, "Relu"), (ew.Erf, "Erf"),
                  (ew.Sign, "Sign"), (ew.Floor, "Floor"), (ew.Ceil, "Ceil"),
                  (ew.Clone, "Identity"), (ew.ToDevice, "Identity")):
    _handles(_cls)(_unary(_op))


@_handles(ew.IsNan, ew.IsInf)
def _isnan_isinf(C):
    return C.node("IsNaN" if type(C.call.op) is ew.IsNan else "IsInf", [C.x(0)])


@_handles(ew.IsFinite)
def _isfinite(C):
    x = C.x(0)
    return C.node("Not", [C.node("Or", [C.node("IsNaN", [x]), C.node("IsInf", [x])])])


@_handles(ew.LogicalNot)
def _not(C):
    return C.node("Not", [C.x(0, np.bool_)])


def _bitwise(logical, bitwise):
    """&, |, ^, ~ : logical ops on bools, ONNX's bitwise ops (opset 18) on integers."""
    def fn(C):
        dt = C.out_dtype()
        ins = [C.x(i, dt) for i in range(len(C.args))]
        if dt == np.bool_:
            return C.node(logical, ins)
        if C.opset < 18:
            raise ExportError("bitwise ops on integers need opset 18")
        return C.node(bitwise, ins)
    return fn


for _cls, _ops in ((ew.BitwiseAnd, ("And", "BitwiseAnd")), (ew.BitwiseOr, ("Or", "BitwiseOr")),
                   (ew.BitwiseXor, ("Xor", "BitwiseXor")),
                   (ew.BitwiseNot, ("Not", "BitwiseNot"))):
    _handles(_cls)(_bitwise(*_ops))


@_handles(ew.Round)
def _round(C):
    decimals = C.args[1] if len(C.args) > 1 else 0
    x = C.x(0)
    if not decimals:
        return C.node("Round", [x])
    scale = C.const(np.asarray(10.0 ** decimals, C.out_dtype()))
    return C.node("Div", [C.node("Round", [C.node("Mul", [x, scale])]), scale])


@_handles(ew.Log1p)
def _log1p(C):
    dt = C.out_dtype()
    return C.node("Log", [C.node("Add", [C.x(0, dt), C.const(np.asarray(1, dt))])])


@_handles(ew.Expm1)
def _expm1(C):
    dt = C.out_dtype()
    return C.node("Sub", [C.node("Exp", [C.x(0, dt)]), C.const(np.asarray(1, dt))])


@_handles(ew.Rsqrt)
def _rsqrt(C):
    return C.node("Reciprocal", [C.node("Sqrt", [C.x(0, C.out_dtype())])])


@_handles(ew.Clamp)
def _clamp(C):
    dt = C.out_dtype()
    y = C.x(0, dt)
    if C.args[1] is not None:
        y = C.node("Max", [y, C.x(1, dt)])
    if C.args[2] is not None:
        y = C.node("Min", [y, C.x(2, dt)])
    return y


@_handles(ew.Where)
def _where_op(C):
    dt = C.out_dtype()
    return C.node("Where", [C.x(0, np.bool_), C.x(1, dt), C.x(2, dt)])


@_handles(ew.RoundedDiv)
def _rounded_div(C):
    dt = C.out_dtype()
    if dt.kind != "f":
        raise ExportError("integer floor/trunc division has no exact ONNX form here")
    q = C.node("Div", [C.x(0, dt), C.x(1, dt)])
    if C.args[2] == "floor":
        return C.node("Floor", [q])
    neg = C.node("Less", [q, C.const(np.asarray(0, dt))])
    return C.node("Where", [neg, C.node("Ceil", [q]), C.node("Floor", [q])])


@_handles(ew.Trunc)
def _trunc(C):
    x = C.x(0)
    if C.out_dtype().kind != "f":
        return C.node("Identity", [x])
    neg = C.node("Less", [x, C.const(np.asarray(0, C.out_dtype()))])
    return C.node("Where", [neg, C.node("Ceil", [x]), C.node("Floor", [x])])


@_handles(ew.Remainder)
def _remainder(C):
    dt = C.out_dtype()
    a, b = C.x(0, dt), C.x(1, dt)
    if dt.kind != "f":
        return C.node("Mod", [a, b], fmod=0)  # integer Mod takes the divisor's sign
    # a - floor(a / b) * b: the sign of the divisor, as torch.remainder
    return C.node("Sub", [a, C.node("Mul", [C.node("Floor", [C.node("Div", [a, b])]), b])])


@_handles(ew.Cast)
def _cast(C):
    return C.node("Cast", [C.x(0)], to=_onnx_type(C.out_dtype()))


# --- nn -----------------------------------------------------------------------------------

@_handles(nnops.Linear)
def _linear(C):
    x, w = C.x(0), C.x(1)
    has_b = C.args[2] is not None
    if len(C.shape(0)) == 2:
        return C.node("Gemm", [x, w] + ([C.x(2)] if has_b else []), transB=1)
    y = C.node("MatMul", [x, C.node("Transpose", [w], perm=[1, 0])])
    return C.node("Add", [y, C.x(2)]) if has_b else y


@_handles(nnops.Softmax)
def _softmax(C):
    y = C.node("Softmax", [C.x(0)], axis=int(C.args[1]))
    if len(C.args) > 2 and C.args[2]:  # fully masked rows: zeros, as Fathom's safe softmax
        zero = C.const(np.asarray(0, C.out_dtype()))
        y = C.node("Where", [C.node("IsNaN", [y]), zero, y])
    return y


@_handles(nnops.LogSoftmax)
def _log_softmax(C):
    return C.node("LogSoftmax", [C.x(0)], axis=int(C.args[1]))


@_handles(nnops.Softplus)
def _softplus(C):
    dt = C.out_dtype()
    beta = float(C.args[1])
    x = C.x(0)
    if beta == 1.0:
        return C.node("Softplus", [x])
    b = C.const(np.asarray(beta, dt))
    # beyond the threshold log1p(exp(bx)) / b equals x to float precision, so it is not written
    return C.node("Div", [C.node("Softplus", [C.node("Mul", [x, b])]), b])


@_handles(nnops.Gelu)
def _gelu(C):
    dt = C.out_dtype()
    x = C.x(0, dt)
    if C.opset >= 20:
        return C.node("Gelu", [x])
    half = C.const(np.asarray(0.5, dt))
    inner = C.node("Erf", [C.node("Mul", [x, C.const(np.asarray(1 / math.sqrt(2), dt))])])
    one = C.const(np.asarray(1, dt))
    return C.node("Mul", [C.node("Mul", [x, half]), C.node("Add", [inner, one])])


@_handles(nnops.Hardtanh)
def _hardtanh(C):
    dt = C.out_dtype()
    return C.node("Clip", [C.x(0), C.const(np.asarray(C.args[1], dt)),
                           C.const(np.asarray(C.args[2], dt))])


@_handles(nnops.Heaviside)
def _heaviside(C):
    dt = C.out_dtype()
    x = C.x(0, dt)
    zero = C.const(np.asarray(0, dt))
    pos = C.node("Cast", [C.node("Greater", [x, zero])], to=_onnx_type(dt))
    return C.node("Where", [C.node("Equal", [x, zero]), C.x(1, dt), pos])


@_handles(nnops.Step)
def _step(C):
    dt = C.out_dtype()
    gt = C.node("Greater", [C.x(0), C.const(np.asarray(0, C.dtype(0)))])
    return C.node("Cast", [gt], to=_onnx_type(dt))


@_handles(nnops.Embedding)
def _embedding(C):
    return C.node("Gather", [C.x(0), C.x(1)], axis=0)


@_handles(nnops.Standardize)
def _standardize(C):
    """(x - mean) / sqrt(var + eps) over axes; outputs (out, mean, var)."""
    x, axes, eps = C.x(0), tuple(C.args[1]), float(C.args[2])
    nd = len(C.shape(0))
    dt = C.out_dtype()
    trailing = axes == tuple(range(nd - len(axes), nd))
    static = all(a == b for a, b in C.pairs(0)[nd - len(axes):])
    if C.opset >= 17 and trailing and static and axes:
        scale = C.const(np.ones(C.shape(0)[nd - len(axes):], dt))
        y, mean = C.node("LayerNormalization", [x, scale], n_out=2, axis=nd - len(axes),
                         epsilon=eps)[:2]
        return [y, mean, _Unavailable("the variance of a LayerNormalization is not exported")]
    mean = C.g.reduce("ReduceMean", x, axes, True, f"{C.hint}.mean")
    xc = C.node("Sub", [x, mean])
    var = C.g.reduce("ReduceMean", C.node("Mul", [xc, xc]), axes, True, f"{C.hint}.var")
    std = C.node("Sqrt", [C.node("Add", [var, C.const(np.asarray(eps, dt))])])
    return [C.node("Div", [xc, std]), mean, var]


# --- shape -------------------------------------------------------------------------------

@_handles(shape.Reshape, dynamic_args=(1,))
def _reshape(C):
    target = C.g.shape_tensor(C.out_pairs(), f"{C.hint}.shape", ref_pairs=C.pairs(0),
                              infer=True)
    return C.node("Reshape", [C.x(0), target])


@_handles(shape.Permute)
def _permute(C):
    return C.node("Transpose", [C.x(0)], perm=[int(d) for d in C.args[1]])


@_handles(shape.Expand, dynamic_args=(1,))
def _expand(C):
    ins, outs = C.pairs(0), C.out_pairs()
    lead = len(outs) - len(ins)
    # ONNX Expand broadcasts both ways: a 1 keeps the input's size (dynamic or not)
    pairs = [(1, 1) if k >= lead and ins[k - lead] == p else p for k, p in enumerate(outs)]
    return C.node("Expand", [C.x(0), C.g.shape_tensor(pairs, f"{C.hint}.shape")])


@_handles(shape.Cat)
def _cat(C):
    dt = C.out_dtype()
    return C.node("Concat", [C.x(i, dt) for i in range(len(C.args))],
                  axis=int(C.call.attrs["dim"]))


@_handles(shape.Flip)
def _flip(C):
    dims = [int(d) for d in C.args[1]]
    n = len(dims)
    return C.node("Slice", [C.x(0), C.g.ints([-1] * n), C.g.ints([_I64_MIN] * n),
                            C.g.ints(dims), C.g.ints([-1] * n)])


def _full_index(idx, nd):
    """An index as a tuple with Ellipsis expanded to slices."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    used = sum(1 for i in idx if i is not None and i is not Ellipsis)
    full = []
    for i in idx:
        full.extend([slice(None)] * (nd - used) if i is Ellipsis else [i])
    return full


def _is_int(i):
    return isinstance(i, (int, np.integer)) and not isinstance(i, bool)


@_handles(shape.Roll)
def _roll(C):
    """Per rolled dim: the last `shift` entries, then the rest (Slice, Slice, Concat)."""
    shifts, dims = C.args[1], C.args[2]
    pairs = C.pairs(0)
    y = C.x(0)
    if dims is None:  # roll of the flattened tensor
        pairs = [(int(np.prod([a for a, _ in pairs])), int(np.prod([b for _, b in pairs])))]
        y = C.node("Reshape", [y, C.g.ints([-1])])
        shifts, dims = (shifts,), (0,)
    for shift, d in zip(shifts, dims):
        n, n2 = pairs[d]
        if n != n2:
            raise ExportError("roll along a dynamic axis has no translation")
        k = int(shift) % n if n else 0
        if k:
            tail = C.node("Slice", [y, C.g.ints([n - k]), C.g.ints([_I64_MAX]), C.g.ints([d])])
            head = C.node("Slice", [y, C.g.ints([0]), C.g.ints([n - k]), C.g.ints([d])])
            y = C.node("Concat", [tail, head], axis=int(d))
    if C.args[2] is None:
        y = C.node("Reshape", [y, C.g.shape_tensor(C.out_pairs(), f"{C.hint}.shape",
                                                    infer=True)])
    return y


@_handles(index.GetItem, index.GetItemView, dynamic_args=(1,))
def _getitem(C):
    """Basic indexing (ints, slices, None, ...) as Slice + Reshape; one integer array
    index as Gather. A slice bound that follows a dynamic axis (x[:, :T] with T the length
    of another input) is read from that input's shape."""
    full = _full_index(C.args[1], len(C.shape(0)))
    full2 = _full_index(C.args2[1], len(C.shape(0)))
    starts, ends, axes, steps = [], [], [], []
    gather = None
    ax = 0
    for i, i2 in zip(full, full2):
        if i is None:
            continue
        if isinstance(i, slice) and isinstance(i2, slice):
            if i != slice(None) or i2 != slice(None):
                step = 1 if i.step is None else int(i.step)
                if step != (1 if i2.step is None else int(i2.step)):
                    raise ExportError("a slice step that follows the dynamic axes has no "
                                      "translation")
                lo, hi = (0, _I64_MAX) if step > 0 else (-1, _I64_MIN)
                starts.append(tuple(lo if j.start is None else int(j.start) for j in (i, i2)))
                ends.append(tuple(hi if j.stop is None else int(j.stop) for j in (i, i2)))
                axes.append(ax)
                steps.append(step)
        elif _is_int(i) and _is_int(i2):
            starts.append((int(i), int(i2)))
            ends.append(tuple(_I64_MAX if int(j) == -1 else int(j) + 1 for j in (i, i2)))
            axes.append(ax)
            steps.append(1)
        elif isinstance(i, np.ndarray) and i.dtype.kind in "iu" and gather is None:
            if not _same(i, i2, C.tr.arr_env):
                raise ExportError("an index array that changes with the input's values or the "
                                  "dynamic axes but is not a graph tensor has no translation")
            gather = (ax, i)
        else:
            raise ExportError(f"indexing with {_short(i)} (a bool mask, or several index "
                              f"arrays) has no translation; only ints, slices, None, ... and "
                              f"one integer index array")
        ax += 1
    y = C.x(0)
    if axes:
        try:
            bounds = [C.g.shape_tensor(starts, f"{C.hint}.starts"),
                      C.g.shape_tensor(ends, f"{C.hint}.ends")]
        except ExportError:
            raise ExportError(f"slice bounds {[a for a, _ in starts]}:{[a for a, _ in ends]} "
                              f"follow the dynamic axes in a way export cannot express") from None
        y = C.node("Slice", [y] + bounds + [C.g.ints(axes), C.g.ints(steps)])
    if gather is not None:
        if any(_is_int(i) for i in full):
            raise ExportError("indexing that mixes an int and an index array has no "
                              "translation")
        ref = C.tr.resolve(gather[1], None)
        ind = C.tr.materialize(ref, np.int64, C.hint)
        y = C.node("Gather", [y, ind], axis=gather[0])
        if [p[0] for p in C.out_pairs()] == _gather_shape(C, gather, axes, starts, ends,
                                                            steps) and \
                all(a == b for a, b in C.out_pairs()):
            return y
    if gather is None and not any(_is_int(i) or i is None for i in full):
        return y
    target = C.g.shape_tensor(C.out_pairs(), f"{C.hint}.shape", infer=True)
    return C.node("Reshape", [y, target])


def _gather_shape(C, gather, axes, starts, ends, steps):
    """The shape after Slice + Gather at the first trace (to skip a needless Reshape)."""
    shp = list(C.shape(0))
    for a, st, e, step in zip(axes, starts, ends, steps):
        shp[a] = len(range(shp[a])[slice(st[0], e[0], step)])
    ax, arr = gather
    return shp[:ax] + list(arr.shape) + shp[ax + 1:]


# --- linalg, conv, pool ----------------------------------------------------------------------

@_handles(linalg.Einsum)
def _einsum(C):
    eq = ",".join(C.call.attrs["subs"]) + "->" + C.call.attrs["out"]
    dt = C.out_dtype()
    return C.node("Einsum", [C.x(i, dt) for i in range(len(C.args))], equation=eq)


def _pads(p4):
    """Fathom's (top, bottom, left, right) -> ONNX's (top, left, bottom, right)."""
    t, b, l, r = (int(v) for v in p4)
    return [t, l, b, r]


def _geometry(C, i):
    """(kernel, stride, pads, dilation) of a conv/pool `geo`; its output size (geo[4]) may
    follow dynamic spatial axes, the rest may not."""
    geo, geo2 = C.args[i], C.args2[i]
    if not _same(geo[:4], geo2[:4], {}):
        raise ExportError(f"export: {C.what}{_where(C.path)}: its padding depends on the "
                          f"dynamic spatial size ({geo[2]} vs {geo2[2]}, e.g. ceil_mode); "
                          f"export cannot make it symbolic")
    return geo[:4]


@_handles(conv.Conv2d, dynamic_args=(3,))
def _conv2d(C):
    kernel, stride, pads, dilation = _geometry(C, 3)
    ins = [C.x(0), C.x(1)] + ([C.x(2)] if C.args[2] is not None else [])
    return C.node("Conv", ins, kernel_shape=list(kernel), strides=list(stride),
                  pads=_pads(pads), dilations=list(dilation), group=int(C.args[4]))


@_handles(conv.ConstantPad)
def _constant_pad(C):
    pairs = C.args[1]
    pads = [int(lo) for lo, _ in pairs] + [int(hi) for _, hi in pairs]
    value = C.const(np.asarray(C.args[2], C.out_dtype()))
    return C.node("Pad", [C.x(0), C.g.ints(pads), value], mode="constant")


@_handles(conv.GatherPad)
def _gather_pad(C):
    """reflect / replicate / circular padding: a Gather of constant indices per padded dim."""
    y = C.x(0)
    for axis, i in enumerate(C.args[1]):
        if isinstance(i, slice):
            continue
        y = C.node("Gather", [y, C.g.ints(np.asarray(i).reshape(-1))], axis=axis)
    return y


def _pool_pads(kernel, pads):
    p = _pads(pads)
    return p if all(v < k for v, k in zip(p, list(kernel) * 2)) else None


@_handles(pool.MaxPool2d, dynamic_args=(1,))
def _max_pool(C):
    kernel, stride, pads, dilation = _geometry(C, 1)
    if C.args[3]:
        raise ExportError("max pooling with return_indices has no translation (ONNX "
                          "numbers the indices differently)")
    p = _pool_pads(kernel, pads)
    if p is None:
        raise ExportError(f"max pooling padding {tuple(pads)} is not below the kernel size "
                          f"{tuple(kernel)}")
    attrs = {"dilations": list(dilation)} if any(d != 1 for d in dilation) else {}
    return C.node("MaxPool", [C.x(0)], kernel_shape=list(kernel), strides=list(stride),
                  pads=p, **attrs)


@_handles(pool.AvgPool2d, dynamic_args=(1, 2))
def _avg_pool(C):
    kernel, stride, pads, _ = _geometry(C, 1)
    p = _pool_pads(kernel, pads)
    if p is None:
        raise ExportError(f"average pooling padding {tuple(pads)} is not below the kernel size "
                          f"{tuple(kernel)}")
    y = C.node("AveragePool", [C.x(0)], kernel_shape=list(kernel), strides=list(stride),
               pads=p, count_include_pad=1)
    # every window lies inside Fathom's padded canvas, so ONNX divides by kh*kw; Fathom's
    # divisor (PyTorch's rule) may differ at the edges: rescale by kh*kw / divisor
    area = kernel[0] * kernel[1]
    div = np.asarray(C.args[2], np.float64)
    if np.all(div == area) and np.all(np.asarray(C.args2[2]) == area):
        return y
    if div.shape != np.shape(C.args2[2]):
        raise ExportError("export: average pooling whose edge windows are partly padding "
                          "(count_include_pad=False or ceil_mode) cannot follow dynamic "
                          "spatial axes")
    return C.node("Mul", [y, C.const((area / div).astype(C.out_dtype()))])


@_handles(pool.AdaptiveMaxPool2d)
def _adaptive_max_pool(C):
    H, W = C.shape(0)[-2:]
    Ho, Wo = C.args[1]
    if H % Ho or W % Wo:
        raise ExportError(f"adaptive max pooling from {(H, W)} to {(Ho, Wo)} has uneven "
                          f"windows, which ONNX cannot express")
    k = [H // Ho, W // Wo]
    y = C.node("MaxPool", [C.x(0)], kernel_shape=k, strides=k)
    return [y, _Unavailable("adaptive max pooling indices are not exported")]


# --- reductions -----------------------------------------------------------------------------

def _axes_arg(C, a):
    nd = len(C.shape(0))
    if a is None:
        return list(range(nd))
    return [int(a)] if isinstance(a, (int, np.integer)) else [int(v) for v in a]


@_handles(reduce.Sum)
def _sum(C):
    return C.g.reduce("ReduceSum", C.x(0, C.out_dtype()), _axes_arg(C, C.args[1]), C.args[2],
                      C.hint)


@_handles(reduce.Mean)
def _mean(C):
    return C.g.reduce("ReduceMean", C.x(0, C.out_dtype()), _axes_arg(C, C.args[1]),
                      C.args[2], C.hint)


@_handles(reduce.Amax, reduce.Amin)
def _amax(C):
    op = "ReduceMax" if type(C.call.op) is reduce.Amax else "ReduceMin"
    return C.g.reduce(op, C.x(0), _axes_arg(C, C.args[1]), C.args[2], C.hint)


@_handles(reduce.MaxDim, reduce.MinDim)
def _max_dim(C):
    is_max = type(C.call.op) is reduce.MaxDim
    x, dim, keep = C.x(0), int(C.args[1]), int(bool(C.args[2]))
    values = C.g.reduce("ReduceMax" if is_max else "ReduceMin", x, [dim], keep, C.hint)
    idx = C.node("ArgMax" if is_max else "ArgMin", [x], axis=dim, keepdims=keep)
    return [values, idx]


@_handles(reduce.Prod)
def _prod(C):
    x = C.x(0, C.out_dtype())
    if C.args[1] is None:
        x = C.node("Reshape", [x, C.g.ints([-1])])
        return C.g.reduce("ReduceProd", x, [0], False, C.hint)
    return C.g.reduce("ReduceProd", x, [int(C.args[1])], C.args[2], C.hint)


@_handles(reduce.Cumsum)
def _cumsum(C):
    return C.node("CumSum", [C.x(0, C.out_dtype()), C.const(np.asarray(int(C.args[1])))])


@_handles(reduce.LogSumExp)
def _logsumexp(C):
    return C.g.reduce("ReduceLogSumExp", C.x(0), _axes_arg(C, C.args[1]), C.args[2], C.hint)


@_handles(reduce.Norm)
def _norm(C):
    p, axes, keep = C.args[1], _axes_arg(C, C.args[2]), C.args[3]
    x = C.x(0, C.out_dtype())
    if p == 2:
        return C.g.reduce("ReduceL2", x, axes, keep, C.hint)
    if p == 1:
        return C.g.reduce("ReduceL1", x, axes, keep, C.hint)
    if p == float("inf"):
        return C.g.reduce("ReduceMax", C.node("Abs", [x]), axes, keep, C.hint)
    raise ExportError(f"norm with p={p!r} has no translation (p = 1, 2 or inf)")


@_handles(reduce._NoGradReduce)
def _nograd_reduce(C):
    """argmax / argmin (x, impl, "argmax", axis, keepdim); all / any (x, impl, "all",
    axes, keepdim, uint8)."""
    name = C.args[2]
    if name in ("argmax", "argmin") and C.args[3] is not None:
        op = "ArgMax" if name == "argmax" else "ArgMin"
        return C.node(op, [C.x(0)], axis=int(C.args[3]), keepdims=int(bool(C.args[4])))
    if name in ("all", "any"):
        x = C.x(0)
        zero = C.const(np.asarray(0, C.dtype(0)))
        nz = C.node("Cast", [C.node("Not", [C.node("Equal", [x, zero])])],
                    to=_onnx_type(np.int32))
        op = "ReduceMin" if name == "all" else "ReduceMax"
        y = C.g.reduce(op, nz, _axes_arg(C, C.args[3]), C.args[4], C.hint)
        return C.node("Cast", [y], to=_onnx_type(C.out_dtype()))
    raise ExportError(f"reduction {name!r} with these arguments has no translation "
                      f"(argmax/argmin need a dim)")


__all__ = ["build", "HANDLERS"]
