"""ONNX export by tracing: `export(module, args, path, ...)` runs the module under
`fathom.autograd.trace.record()` and writes each recorded primitive as ONNX nodes
(onnx.helper), in the manner of `torch.onnx.export`'s TorchScript tracer.

- Parameters and buffers become initializers named by their state_dict keys; other
  constant arrays become initializers too. With `do_constant_folding` (the default), ops
  whose inputs are all constant (e.g. slicing `in_proj_weight`) are folded into one value.
- Modules that ONNX has as one op are emitted as that op, not as their primitives: LSTM, GRU
  and RNN (gates reordered: PyTorch's i,f,g,o and r,z,n become ONNX's i,o,f,c and z,r,h),
  their cells, ConvTranspose1d/2d, EmbeddingBag (2-D input), BatchNorm1d/2d/3d in eval
  mode and, from opset 17, LayerNorm. Forward hooks on those instances pause the recorder
  for the module's body and record one module-level call instead.
- Two traces: the module runs a second time on shuffled input values, with other sizes on
  the `dynamic_axes`. A trace records concrete sizes (a reshape to (N, 12)); a size that
  changes between the traces follows the dynamic axes and is written symbolically
  (Reshape's 0 and -1, or Shape -> Gather -> Concat), so the model runs at any batch size.
  A constant that changes between the traces came from the input outside Fathom's ops
  (NumPy, .item()) and is refused rather than frozen.
- In-place edits that the trace cannot see (`x += y` under no_grad) are caught by the
  tensors' version counters; layers built with inplace=True run out of place for export.

The translations of single primitives are in `_export_ops.py`; the module-level ones are in
`_export_modules.py`.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..autograd import trace
from ..autograd.grad_mode import no_grad, state as _mode
from ..tensor import Tensor

__all__ = ["export", "ExportError", "MIN_OPSET"]

#: The oldest opset written: 13 has Softmax per axis and Squeeze/ReduceSum axes as inputs.
MIN_OPSET = 13
_I64_MAX = int(np.iinfo(np.int64).max)


class ExportError(RuntimeError):
    """The module (or an op it runs) cannot be written as ONNX at the requested opset."""


class _Unavailable:
    """Marks an output that the ONNX translation does not produce (e.g. max-pool indices)."""

    def __init__(self, why):
        self.why = why


class _ModuleCall:
    """The `op` of a recorded module-level call: the module and its dotted path."""

    def __init__(self, module, path, kwargs):
        self.module, self.path, self.kwargs = module, path, kwargs


def export(module, args, path=None, *, input_names=None, output_names=None,
           dynamic_axes=None, opset_version: int = 17,
           do_constant_folding: bool = True) -> onnx.ModelProto:
    """Trace `module` on the example `args` and return (and write to `path`) an ONNX model.

    Args:
        module: a fathom.nn.Module (put in eval mode for the trace, restored afterwards).
        args: the example input: a Tensor, or a tuple of Tensors (the forward's arguments).
        path: where to write the .onnx file (atomically), or None.
        input_names, output_names: graph names; default "input" / "output" for one, else
            "input_0", "input_1", ... (torch numbers them differently).
        dynamic_axes: {name: [axis, ...] or {axis: "symbol"}} for inputs and outputs whose
            sizes vary (e.g. {"input": {0: "batch"}, "output": {0: "batch"}}); other sizes
            are fixed to those of the example.
        opset_version: the default ONNX opset to target (13 up to what onnx knows; 17 default).
        do_constant_folding: fold ops whose inputs are all constants into initializers.

    Returns:
        the onnx.ModelProto (checked with onnx.checker, full check).

    Differences from torch.onnx.export: the module is always traced twice (the second run
    on shuffled values, and other sizes on the dynamic axes), which is how symbolic sizes
    are found and how values that bypass Fathom's ops (NumPy, .item()) are caught: such a
    model raises ExportError instead of exporting frozen values. Parameters are always
    exported (export_params=True), as initializers, never as inputs; there is no
    `training`, `verbose` or `operator_export_type`; opsets 13 and newer only; the default
    names differ; LSTM/GRU/RNN weights are stored stacked and gate-reordered under
    `<module>.W_l<k>`/`.R_l<k>`/`.B_l<k>`, not their state_dict keys.

        >>> m = export(nn.Linear(4, 2), fathom.randn(1, 4), dynamic_axes={"input": [0]})
        >>> [n.op_type for n in m.graph.node]
        ['Gemm', 'Identity']
    """
    opset = _check_opset(opset_version)
    inputs = _example_inputs(args)
    input_names = _names("input", input_names, len(inputs), "input_names")
    dyn, keys = _check_dynamic_axes(dynamic_axes, input_names, output_names, inputs)
    states = [(m, m.training) for m in module.modules()]
    # layers built with inplace=True (ReLU(inplace=True)) run out of place for the trace
    inplace = [(m, m.inplace) for m in module.modules()
               if isinstance(getattr(m, "inplace", None), bool)]
    module.eval()
    for m, _ in inplace:
        m.inplace = False
    try:
        in_versions = _versions(inputs)
        calls, outs, paths, versions = _trace(module, inputs, opset)
        # a second run on other values (and other sizes on the dynamic axes) shows which
        # sizes follow those axes, and catches values the trace took as constants although
        # they came from the input (a NumPy detour, .item())
        inputs2 = _second_inputs(inputs, input_names, dyn, keys)
        try:
            calls2, outs2, _, _ = _trace(module, inputs2, opset)
        except Exception as e:  # noqa: BLE001 - any failure means the export would be wrong
            hint = (f"with the dynamic axes {_show_dyn(dyn)} at other sizes; it is not "
                    f"dynamic on them (hint: leave those axes out of dynamic_axes)" if dyn else
                    "(its control flow depends on the example's values)")
            raise ExportError(f"export: the module fails on other input values {hint}: "
                              f"{type(e).__name__}: {e}") from e
        _check_same_structure(calls, calls2, paths)
        output_names = _names("output", output_names, len(outs), "output_names")
        unknown = [n for n in dyn if n not in input_names and n not in output_names]
        if unknown:
            raise ValueError(f"export: dynamic_axes names {unknown}, which is neither an input "
                             f"({input_names}) nor an output ({output_names})")
        for name, t in zip(output_names, outs):
            spec = dyn.get(name, {})
            for a in list(spec):
                if not -t.ndim <= a < t.ndim:
                    raise ValueError(f"export: dynamic axis {a} of output {name!r} is out of "
                                     f"range for its {t.ndim} dims")
                spec[a % t.ndim] = spec.pop(a)
        from ._export_ops import build  # noqa: PLC0415 - the op table imports this module
        model = build(module, opset, do_constant_folding, inputs, inputs2, input_names,
                      in_versions, calls, calls2, paths, versions, outs, outs2, output_names,
                      dyn)
    finally:
        for m, was_training in states:
            m.training = was_training
        for m, flag in inplace:
            m.inplace = flag
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        from ..io.atomic import atomic_path  # noqa: PLC0415
        with atomic_path(path) as tmp:
            onnx.save(model, tmp)
    return model


# --- arguments ---------------------------------------------------------------------------

def _check_opset(opset_version):
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset_version, int) or not MIN_OPSET <= opset_version <= newest:
        raise ValueError(f"export: opset_version must be an int from {MIN_OPSET} to {newest} "
                         f"(the installed onnx's newest); got {opset_version!r}")
    return opset_version


def _example_inputs(args):
    if isinstance(args, Tensor):
        return (args,)
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple) or not args:
        raise TypeError(f"export: args must be a Tensor or a non-empty tuple of Tensors (the "
                        f"example input); got {type(args).__name__}")
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise TypeError(f"export: example input {i} must be a Tensor; got "
                            f"{type(a).__name__} (hint: wrap arrays with fathom.tensor)")
    return args


def _names(kind, names, n, what):
    if names is None:
        return [kind] if n == 1 else [f"{kind}_{i}" for i in range(n)]
    names = list(names)
    if len(names) != n or len(set(names)) != n or not all(isinstance(s, str) for s in names):
        raise ValueError(f"export: {what} must be {n} distinct strings (the module has {n} "
                         f"{kind}s); got {names}")
    return names


def _check_dynamic_axes(dynamic_axes, input_names, output_names, inputs):
    """({name: {axis: symbol}}, {(name, axis): size key}); an axis list gets torch's
    generated names, and its axes are resized by position (so several inputs' batch axes,
    given as lists, keep one size in the second trace)."""
    if dynamic_axes is None:
        return {}, {}
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"export: dynamic_axes must be a dict {{name: axes}}; got "
                        f"{type(dynamic_axes).__name__}")
    out, keys = {}, {}
    for name, axes in dynamic_axes.items():
        named = isinstance(axes, dict)
        if named:
            spec = {int(a): str(s) for a, s in axes.items()}
        elif isinstance(axes, (list, tuple)):
            spec = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
        else:
            raise TypeError(f"export: dynamic_axes[{name!r}] must be a list of axes or a dict "
                            f"{{axis: name}}; got {axes!r}")
        if name in input_names:
            nd = inputs[input_names.index(name)].ndim
            for a in list(spec):
                if not -nd <= a < nd:
                    raise ValueError(f"export: dynamic axis {a} of input {name!r} is out of "
                                     f"range for its {nd} dims")
                if a < 0:
                    spec[a % nd] = spec.pop(a)
            for a, sym in spec.items():
                keys[(name, a)] = sym if named else ("axis", a)
        elif output_names is not None and name not in output_names:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input "
                             f"({input_names}) nor an output ({list(output_names)})")
        out[name] = spec
    return out, keys


def _show_dyn(dyn):
    return {n: sorted(s) for n, s in dyn.items()}


def _second_inputs(inputs, input_names, dyn, keys):
    """The example inputs with every dynamic axis at another size and the values shuffled.

    One size key gets one new size everywhere; different keys get different sizes so
    their products stay apart. Rows are repeated cyclically and values permuted, so integer
    inputs (indices) keep valid values; float values are also scaled and shifted a little."""
    from ..creation import tensor  # noqa: PLC0415
    sizes, out = {}, []
    rng = np.random.default_rng(0)
    for x, name in zip(inputs, input_names):
        data = x.data
        for axis in sorted(dyn.get(name, {})):
            n = x.shape[axis]
            key = keys[(name, axis)]
            if key not in sizes:
                sizes[key] = n + 2 + len(sizes)
            data = np.take(data, np.arange(sizes[key]) % max(n, 1), axis=axis)
        flat = data.reshape(-1)
        flat = flat[rng.permutation(flat.size)]
        if flat.dtype.kind == "f":  # shifted too, so that statistics (a max) change as well
            flat = flat * flat.dtype.type(1.1) + flat.dtype.type(0.01)
        out.append(tensor(flat.reshape(data.shape)))
    return tuple(out)


# --- tracing -----------------------------------------------------------------------------

def _trace(module, inputs, opset):
    """Run module(*inputs) recording primitives.

    Returns (calls, flat outputs, paths, versions): paths[i] is the dotted name of the
    module that ran call i; versions[i] holds the version counters of call i's tensor
    arguments and outputs when it ran, so that an in-place edit the trace did not see
    (e.g. `x += y` under no_grad) is caught instead of exported wrongly."""
    from ._export_modules import claims  # noqa: PLC0415
    names = {id(m): n for n, m in module.named_modules()}
    stack, paths, versions, handles = [""], [], [], []
    paused = []  # per module-level call being recorded: its pause context
    calls = None

    def fill():
        while len(paths) < len(calls):
            paths.append(stack[-1])

    def pre(m, args, kwargs):
        fill()
        stack.append(names.get(id(m), ""))
        if not paused and claims(m, args, kwargs, opset):
            cm = trace.paused()
            cm.__enter__()
            paused.append((m, cm))

    def post(m, args, kwargs, out):
        if paused and paused[-1][0] is m:
            _, cm = paused.pop()
            cm.__exit__(None, None, None)
            flat = tuple(_flatten(out))
            calls.append(trace.Call(_ModuleCall(m, stack[-1], kwargs), tuple(args), {}, flat))
            versions.append((_versions(tuple(args) + tuple(kwargs.values())), _versions(flat)))
        fill()
        stack.pop()

    def watch(op, args, attrs, out):
        inner(op, args, attrs, out)
        versions.append((_versions(args), _versions(out if isinstance(out, tuple) else (out,))))

    for m in module.modules():
        handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(m.register_forward_hook(post, with_kwargs=True))
    try:
        with no_grad(), trace.record() as calls:
            inner, _mode.recorder = _mode.recorder, watch
            try:
                out = module(*inputs)
            finally:  # a module that raised inside its paused body: unpause before record ends
                for _, cm in reversed(paused):
                    cm.__exit__(None, None, None)
                paused.clear()
        fill()
    finally:
        for h in handles:
            h.remove()
    return calls, _flatten(out), paths, versions


def _versions(values):
    """Each tensor's version counter (None for other values); tuples of tensors too."""
    out = []
    for v in values:
        if isinstance(v, Tensor):
            out.append(v._vc[0])
        elif isinstance(v, (tuple, list)):
            out.append(_versions(v))
        else:
            out.append(None)
    return out


def _flatten(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    if out is None:
        return []
    raise ExportError(f"export: the module returned a {type(out).__name__}; ONNX outputs "
                      f"must be Tensors (or tuples of them)")


def _check_same_structure(calls, calls2, paths):
    for i, (c1, c2) in enumerate(zip(calls, calls2)):
        if _op_name(c1.op) != _op_name(c2.op):
            raise ExportError(f"export: the module runs different ops on other input values "
                              f"or sizes (call {i}: {_op_name(c1.op)} vs "
                              f"{_op_name(c2.op)}, in module {paths[i]!r}); its control flow "
                              f"depends on the input")
    if len(calls) != len(calls2):
        raise ExportError(f"export: the module runs {len(calls)} ops on the example but "
                          f"{len(calls2)} on other input values or sizes; its control flow "
                          f"depends on the input")


def _op_name(op):
    if isinstance(op, _ModuleCall):
        return type(op.module).__name__
    return type(op).__name__


# --- the graph under construction ------------------------------------------------------------

class Graph:
    """Nodes, initializers and what is known of each value: shape at both traces, dtype."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes, self.inits = [], []
        self.info = {}         # value name -> (shape at trace 1, shape at trace 2, np dtype)
        self.dim_src = {}      # (size 1, size 2) of a dynamic dim -> (value name, axis)
        self._used = set()
        self._const_cache = {}
        self._shape_of = {}

    def fresh(self, hint):
        name = hint
        k = 1
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def add_value(self, name, shape1, shape2, dtype):
        self.info[name] = (tuple(shape1), tuple(shape2), np.dtype(dtype))
        for axis, (a, b) in enumerate(zip(shape1, shape2)):
            if a != b:
                self.dim_src.setdefault((a, b), (name, axis))

    def node(self, op_type, inputs, hint, n_out=1, **attrs):
        outs = [self.fresh(f"{hint}" if k == 0 else f"{hint}_out{k}") for k in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=outs[0],
                                           **attrs))
        return outs[0] if n_out == 1 else outs

    def initializer(self, array, name):
        self._used.add(name)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, array, dtype=None, hint="const"):
        """An initializer holding `array` (small ones are shared)."""
        a = np.asarray(array, dtype=dtype)
        key = None
        if a.size <= 16:
            key = (a.dtype.str, a.shape, a.tobytes())
            if key in self._const_cache:
                return self._const_cache[key]
        name = self.initializer(a, self.fresh(hint))
        if key is not None:
            self._const_cache[key] = name
        self.info[name] = (a.shape, a.shape, a.dtype)
        return name

    def ints(self, values):
        return self.const(np.asarray(values, np.int64).reshape(-1))

    def cast(self, name, dtype):
        have = self.info[name][2] if name in self.info else None
        if have is not None and have == np.dtype(dtype):
            return name
        out = self.node("Cast", [name], f"{name}_cast", to=_onnx_type(dtype))
        if have is not None:
            s1, s2, _ = self.info[name]
            self.info[out] = (s1, s2, np.dtype(dtype))
        return out

    def shape_tensor(self, pairs, hint="shape", ref=None, ref_pairs=None, infer=False):
        """An int64 1-D value of the sizes `pairs` ((size 1, size 2) per dim).

        With `ref` (Reshape's input), a dynamic size equal to ref's at the same index is
        written 0 (Reshape copies it); with `infer`, one remaining dynamic size is -1."""
        out = []
        missing = []
        for k, (a, b) in enumerate(pairs):
            if a == b:
                out.append(int(a))
            elif ref_pairs is not None and k < len(ref_pairs) and ref_pairs[k] == (a, b):
                out.append(0)
            elif (a, b) in self.dim_src:
                out.append(self.dim_src[(a, b)])
            else:
                out.append(None)
                missing.append(k)
        if missing and not (infer and len(missing) == 1):
            raise ExportError(f"a size of shape {tuple(a for a, _ in pairs)} depends on the "
                              f"dynamic axes in a way export cannot express")
        if missing:
            out[missing[0]] = -1
        if all(isinstance(v, int) for v in out):
            return self.ints(out)
        pieces = []
        static = []
        for v in out:
            if isinstance(v, int):
                static.append(v)
                continue
            if static:
                pieces.append(self.ints(static))
                static = []
            src, axis = v
            if src not in self._shape_of:
                self._shape_of[src] = self.node("Shape", [src], f"{src}_shape")
            pieces.append(self.node("Gather", [self._shape_of[src], self.ints([axis])],
                                    f"{src}_dim{axis}", axis=0))
        if static:
            pieces.append(self.ints(static))
        return self.node("Concat", pieces, hint, axis=0)

    def reduce(self, op_type, x, axes, keepdims, hint):
        """ReduceX over `axes`, as an attribute or (opset 18, ReduceSum 13) an input."""
        axes = [int(a) for a in axes]
        if not axes:  # ONNX would reduce everything; NumPy's axis=() reduces nothing
            return self.node("Identity", [x], hint)
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], hint, keepdims=int(keepdims))
        return self.node(op_type, [x], hint, axes=axes, keepdims=int(keepdims))


_NP_TO_ONNX = {np.dtype(k): v for k, v in (
    ("float32", onnx.TensorProto.FLOAT), ("float64", onnx.TensorProto.DOUBLE),
    ("float16", onnx.TensorProto.FLOAT16), ("int64", onnx.TensorProto.INT64),
    ("int32", onnx.TensorProto.INT32), ("int16", onnx.TensorProto.INT16),
    ("int8", onnx.TensorProto.INT8), ("uint8", onnx.TensorProto.UINT8),
    ("bool", onnx.TensorProto.BOOL))}


def _onnx_type(dtype):
    try:
        return _NP_TO_ONNX[np.dtype(dtype)]
    except KeyError:
        raise ExportError(f"export: dtype {np.dtype(dtype)} has no ONNX tensor type "
                          f"here") from None


def value_info(name, dtype, shape, symbols=None):
    """A graph input/output declaration; `symbols` maps axis -> dim_param name."""
    symbols = symbols or {}
    dims = [symbols.get(k, int(s)) for k, s in enumerate(shape)]
    return helper.make_tensor_value_info(name, _onnx_type(dtype), dims)


def make_model(graph, nodes_inputs, outputs):
    g = helper.make_graph(graph.nodes, "fathom", nodes_inputs, outputs, graph.inits)
    opset = [helper.make_opsetid("", graph.opset)]
    from .. import __version__  # noqa: PLC0415
    return helper.make_model(g, opset_imports=opset, producer_name="fathom",
                             producer_version=__version__,
                             ir_version=helper.find_min_ir_version_for(opset))
