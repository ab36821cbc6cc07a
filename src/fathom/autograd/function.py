"""Graph nodes: `Op` (Fathom's primitives), `AccumulateGrad` (leaves), `Function` (users' ops).

An `Op` instance is both the `ctx` its forward writes to and the node that
backward visits. Its forward receives raw arrays and returns an array (or a
tuple of arrays); its backward receives the output gradient and returns one
gradient per input. Backward formulas use `ctx.F` for array functions: plain
arrays by default (fast, no graph), Fathom's differentiable ops when
`create_graph=True`, so each formula is written once and can be differentiated
again. The engine, not the op, sums gradients over broadcast dims and casts
them to the input's dtype.
"""
from __future__ import annotations

import traceback
import weakref

from .. import backend
from .. import tensor as _tensor  # circular: attributes are read at call time only
from ..dtypes import get_default_dtype
from . import array_ns
from .grad_mode import state as _mode

_np = backend.np
_f64 = _np.dtype(_np.float64)
_ndarray = _np.ndarray
_F_NUMPY = array_ns.for_xp(_np)


class Node:
    """What every graph node has: edges to the nodes of its inputs, and hooks."""

    next_edges: tuple = ()
    hooks = None        # {output index: [fn]} for hooks on non-leaf tensors
    saved = ()
    trace = None        # forward traceback, kept under detect_anomaly
    n_outputs = 1

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()} object>"

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.next_edges)

    def register_hook(self, idx, fn):
        if self.hooks is None:
            self.hooks = {}
        self.hooks.setdefault(idx, []).append(fn)


class AccumulateGrad(Node):
    """The node of a leaf tensor: the engine adds the incoming gradient to `.grad`."""

    def __init__(self, tensor):
        self.tensor_ref = weakref.ref(tensor)  # weak: a leaf must not keep itself alive

    def name(self):
        return "AccumulateGrad"


class Op(Node):
    """Base of Fathom's differentiable primitives. Subclasses write forward and backward."""

    #: False when backward uses values that a second differentiation cannot track
    #: (then `create_graph=True` through this op raises instead of giving wrong numbers).
    differentiable_twice = True
    #: True when the output may share memory with input 0 (shares its version counter).
    is_view = False

    def save(ctx, *arrays):
        """Keep arrays for backward. Saved inputs and outputs are checked for in-place edits."""
        ctx.saved = arrays

    def forward(ctx, *args):
        raise NotImplementedError

    def backward(ctx, g):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **attrs):
        """Run forward on the arrays of `args` and, in grad mode, record the node."""
        Tensor, _make = _tensor.Tensor, _tensor._make
        ctx = cls.__new__(cls)
        arrays = []
        track = False
        xp = None
        for a in args:
            if isinstance(a, Tensor):
                d = a.data
                arrays.append(d)
                if xp is None:
                    xp = _np if type(d) is _ndarray else backend.namespace(d)
                if a.requires_grad:
                    track = True
            else:
                arrays.append(a)
        if xp is None or xp is _np:
            ctx.xp, ctx.F = _np, _F_NUMPY
        else:
            ctx.xp, ctx.F = xp, array_ns.for_xp(xp)
        out = ctx.forward(*arrays, **attrs)
        track = track and _mode.enabled
        if not track and type(out) is _ndarray and out.dtype is not _f64 and not ctx.is_view:
            result = _make(out, None, 0, None)  # inference: nothing to record or check
        else:
            if track:
                ctx._record(args, Tensor)
            if type(out) is tuple:
                ctx.n_outputs = len(out)
                result = tuple(_wrap_output(ctx, o, k, args, track, Tensor, _make)
                               for k, o in enumerate(out))
            else:
                result = _wrap_output(ctx, out, 0, args, track, Tensor, _make)
        if _mode.recorder is not None:  # fathom.autograd.trace is listening
            _mode.recorder(ctx, args, attrs, result)
        return result

    def _record(ctx, args, Tensor):
        """Edges, input shapes/dtypes and the saved-tensor version stamps."""
        edges, meta, needs = [], [], []
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                edges.append(a._edge())
                meta.append((a.data.shape, a.data.dtype))
                needs.append(True)
            else:
                edges.append(None)
                meta.append(None)
                needs.append(False)
        ctx.next_edges = tuple(edges)
        ctx.in_meta = tuple(meta)
        ctx.needs_grad = tuple(needs)
        if _mode.anomaly:
            ctx.trace = "".join(traceback.format_stack()[:-3])


def _wrap_output(ctx, out, k, args, track, Tensor, _make):
    xp = ctx.xp
    if type(out) is not _ndarray and not isinstance(out, xp.ndarray):
        scalar, out = out, xp.asarray(out)  # NumPy hands back scalars for 0-d results
        if any(s is scalar for s in ctx.saved):  # keep "saved the output" recognisable
            ctx.saved = tuple(out if s is scalar else s for s in ctx.saved)
    if out.dtype is _f64:
        # NumPy widens silently (int -> float64, float32 with a float64 scalar); PyTorch does not.
        if not _float64_given(args, Tensor):
            out = out.astype(get_default_dtype().np)
    differentiable = track and out.dtype.kind == "f"
    if ctx.is_view and isinstance(args[0], Tensor) and out.base is not None:
        # a real view: share the version counter and remember the base, so an in-place
        # edit of the view can rewrite the base's history (PyTorch's CopySlices)
        src = args[0]
        t = _make(out, ctx if differentiable else None, k, src._vc)
        t._view = (src._view[0], src._view[1] + (ctx,)) if src._view else (src, (ctx,))
    else:
        t = _make(out, ctx if differentiable else None, k, None)
    if differentiable and ctx.saved:
        _stamp_versions(ctx, args, t, k, Tensor)
    return t


def _float64_given(args, Tensor):
    """Whether float64 came in: a float64 tensor or array, or an explicit dtype request.

    Python floats do not count (they are weak, as in PyTorch). Beware two NumPy traps:
    a raw array's `.data` is a memoryview, and `np.dtype('float64') == None` is True.
    """
    for a in args:
        if isinstance(a, Tensor):
            a = a.data
        d = a if isinstance(a, _np.dtype) else getattr(a, "dtype", None)
        if d is not None and d == _f64:
            return True
    return False


def _stamp_versions(ctx, args, out_tensor, k, Tensor):
    """Remember which saved arrays are inputs/outputs, and their versions, for later checks."""
    sources = getattr(ctx, "saved_sources", None)
    if sources is None:
        sources = [None] * len(ctx.saved)
        ctx.versions = []
        for j, s in enumerate(ctx.saved):
            for i, a in enumerate(args):
                if isinstance(a, Tensor) and s is a.data:
                    sources[j] = ("in", a)
                    ctx.versions.append((a._vc, a._vc[0], f"input {i}", a.data.shape))
                    break
        ctx.saved_sources = sources
    for j, s in enumerate(ctx.saved):
        if s is out_tensor.data:
            sources[j] = ("out", k)
            ctx.versions.append((out_tensor._vc, out_tensor._vc[0], f"output {k}",
                                 s.shape))


def check_versions(node):
    """Raise if a tensor saved for backward was modified in place after it was saved."""
    for vc, v, what, shape in getattr(node, "versions", ()):
        if vc[0] != v:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {node.name()}'s {what} of shape {tuple(shape)} is at "
                f"version {vc[0]}; expected version {v} instead (hint: use the out-of-place "
                f"form, e.g. `x = x + y` instead of `x += y`, or `.clone()` before the edit)")


def saved_as_tensors(node):
    """Saved values as graph-connected Tensors, for create_graph backward."""
    from ..tensor import _make  # noqa: PLC0415

    sources = getattr(node, "saved_sources", None) or [None] * len(node.saved)
    out = []
    for s, src in zip(node.saved, sources):
        if src is None:
            out.append(_make(s, None, 0, None) if isinstance(s, node.xp.ndarray) else s)
        elif src[0] == "in":
            out.append(src[1])
        else:
            out.append(_make(s, node, src[1], None))
    return tuple(out)


# --- user-defined ops (PyTorch's torch.autograd.Function) ----------------------------

class FunctionCtx(Node):
    """The `ctx` of a user Function: save_for_backward, needs_input_grad, and the node."""

    def __init__(self, fn_cls):
        self.fn_cls = fn_cls
        self.to_save = ()
        self.non_differentiable = ()
        self.materialize_grads = True
        self.needs_input_grad = ()

    def name(self):
        return self.fn_cls.__name__ + "Backward"

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    @property
    def saved_tensors(self):
        if self.to_save is None:
            raise RuntimeError(f"{self.name()}: saved tensors were freed after a backward; "
                               "pass retain_graph=True to backward twice")
        return self.to_save

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class Function:
    """Custom differentiable ops, PyTorch style.

    Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`,
    then call `MyFn.apply(*args)`. Forward runs without recording; backward gets one
    gradient Tensor per output and returns one gradient (or None) per forward argument.

        class Square(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward")

    @classmethod
    def apply(cls, *args):
        from ..tensor import Tensor, _make  # noqa: PLC0415
        from .grad_mode import no_grad  # noqa: PLC0415

        ctx = FunctionCtx(cls)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        track = _mode.enabled and any(ctx.needs_input_grad)
        with no_grad():
            raw = cls.forward(ctx, *args)
        single = not isinstance(raw, tuple)
        outs = (raw,) if single else raw
        if not track:
            return raw
        ctx.xp, ctx.F = _np, _F_NUMPY
        edges, meta = [], []
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                edges.append(a._edge())
                meta.append((a.data.shape, a.data.dtype))
            else:
                edges.append(None)
                meta.append(None)
        ctx.next_edges, ctx.in_meta = tuple(edges), tuple(meta)
        ctx.n_outputs = len(outs)
        ctx.out_meta = tuple((o.data.shape, o.data.dtype) if isinstance(o, Tensor) else None
                             for o in outs)
        if _mode.anomaly:
            ctx.trace = "".join(traceback.format_stack()[:-2])
        nondiff = {id(t) for t in ctx.non_differentiable}
        wrapped = []
        for k, o in enumerate(outs):
            if isinstance(o, Tensor):
                diff = id(o) not in nondiff and o.data.dtype.kind == "f"
                # an input returned as-is still becomes a new output node, as in PyTorch
                w = _make(o.data, ctx if diff else None, k, None)
                wrapped.append(w)
            else:
                wrapped.append(o)
        mapping = {id(o): w for o, w in zip(outs, wrapped)}
        ctx.to_save = tuple(mapping.get(id(t), t) for t in ctx.to_save)
        ctx.versions = [(t._vc, t._vc[0], f"saved tensor {i}", t.data.shape)
                        for i, t in enumerate(ctx.to_save) if isinstance(t, Tensor)]
        return wrapped[0] if single else tuple(wrapped)


def run_function_backward(ctx, grads, create_graph):
    """Call a user Function's backward with Tensors; hand arrays (or Tensors) back."""
    from ..tensor import Tensor, _make  # noqa: PLC0415
    from .grad_mode import set_grad_enabled  # noqa: PLC0415

    gs = []
    for g, m in zip(grads, ctx.out_meta):
        if g is None and ctx.materialize_grads and m is not None:
            g = _np.zeros(m[0], m[1])
        if g is not None and not isinstance(g, Tensor):
            g = _make(g, None, 0, None)
        gs.append(g)
    prev = _mode.enabled
    set_grad_enabled(create_graph)
    try:
        res = ctx.fn_cls.backward(ctx, *gs)
    finally:
        _mode.enabled = prev
    if not isinstance(res, tuple):
        res = (res,)
    if len(res) != len(ctx.next_edges):
        raise RuntimeError(f"{ctx.name()}: backward returned {len(res)} gradients, but forward "
                           f"took {len(ctx.next_edges)} arguments (return None for those "
                           "without a gradient)")
    if create_graph:
        return tuple(r if r is None or isinstance(r, Tensor) else _make(r, None, 0, None)
                     for r in res)
    return tuple(r.data if isinstance(r, Tensor) else r for r in res)
