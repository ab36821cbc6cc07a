"""Graph capture: `fathom.compile(model)` records a forward pass once and replays it.

    model = fathom.compile(net)           # a Module (or any function of Tensors)
    loss = loss_fn(model(x), y)           # call 1 and 2: eager, recorded and compared
    loss.backward(); opt.step()           # call 3 on: replayed on raw arrays

How it works. For each input signature (the shapes, dtypes and requires_grad of the
Tensor arguments, the other arguments' values, grad mode and the model's training
flag) the first call runs eagerly under `fathom.autograd.trace` and builds a plan: the
primitive ops in run order with their attributes, and where each argument comes from
(a model input, a parameter or buffer, a constant, an earlier op's output). The second
call with the same signature records again; if both recordings agree, later calls
replay the plan: each op's `forward` runs directly on arrays, with no Tensor objects,
no graph edges and no version stamps, and dead ops are skipped. The outputs hang on ONE
graph node whose backward runs the ops' `backward` functions in the order the engine
would, reducing broadcast gradients as the engine does, so `loss.backward()`,
optimizers, `autograd.grad` and gradient hooks on parameters work unchanged.

Fusion: an elementwise op (relu, tanh, exp, add, sub) whose input is a fresh array that
nothing else reads is computed in place into that array (NumPy's out=), so linear or
conv + bias + activation, batch norm's shift + residual add + relu, and similar chains
write one array, not one per op. The values are the same bits as eager.

What replays and what does not:
- Dropout and training-mode batch norm have effects outside the graph (fresh random
  masks, running statistics). They are recorded as eager segments: at each replay they
  run again through their own code (a fresh mask each call, the statistics updated),
  and their gradient comes from a small eager graph.
- A custom `autograd.Function` is a segment too, so its own backward is used.
- In-place ops (`relu_`, `nn.ReLU(inplace=True)`, `x.add_(y)` in grad mode) replay as
  their out-of-place op; later uses of the edited tensor read the op's result.
- A forward that reads a tensor's value in Python (`if x.sum() > 0`, `.item()`,
  `.numpy()`, `.tolist()`), edits a tensor in place by code that records no op
  (`x.data[...] = v`, `add_` under no_grad) after using it, draws random numbers outside
  dropout, changes a buffer outside batch norm, has forward hooks, or records different
  ops on two calls with the same signature runs eagerly for that signature, always;
  `compiled.explain()` says which signatures and why.
- To see those effects, a recording briefly wraps dropout's implementation, batch norm,
  `Function.apply`, the in-place helper, `Module.__call__` and Tensor's value reads
  (`item`, `__bool__`, ...); the wrappers act on the recording thread only and are
  removed when the recording ends.
- While another recorder listens (an ONNX export, an enclosing compile), a compiled
  model runs its real code, so the recorder sees its ops.
- Guards: a changed shape, dtype, requires_grad, grad mode or training flag selects (or
  records) another plan; a replaced parameter or buffer, a buffer edited outside the
  plan (e.g. running statistics updated by a training step before an eval call), or a
  new forward hook makes the plan record again. Up to `cache_size_limit` (8) plans are
  kept per compiled model, least recently used dropped.

Differences from PyTorch's torch.compile: no code is generated (`mode`, `dynamic` and
`options` are accepted and do not change what runs; every new shape records a new
plan); `backend` may be None, "inductor" or "fathom" (replay) or "eager" (no capture);
double backward (`create_graph=True`) through a compiled forward raises; the output
arrays are new on every call (no buffer is shared between calls, so results kept
from an earlier step stay valid).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from . import backend
from .autograd import array_ns
from .autograd import function as _function
from .autograd.engine import sum_to
from .autograd.function import Op
from .autograd.grad_mode import state as _mode
from .autograd.trace import Call
from .tensor import Tensor, _make

_np = backend.np
_ndarray = _np.ndarray
_F = array_ns.for_xp(_np)
_f64 = _np.dtype(_np.float64)
_new = object.__new__

MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
BACKENDS = (None, "inductor", "fathom", "eager")
CACHE_SIZE_LIMIT = 8


class CaptureError(RuntimeError):
    """fullgraph=True and the forward cannot be replayed (the message says why)."""


class _Unsupported(Exception):
    """Raised while building a plan: the reason this signature runs eagerly."""


# --- the tracer: what the recorder sees, plus effects it cannot see ------------------------

_local = threading.local()
_patch_lock = threading.Lock()
_patch_count = [0]
_saved_attrs = []
_SYNC_METHODS = ("__bool__", "item", "tolist", "numpy", "__float__", "__int__", "__index__")


class _Tracer:
    """One recording: the calls in run order, plus the reasons it cannot be replayed."""

    def __init__(self, watched):
        self.calls = []
        self.reasons = []
        self.watched = watched          # parameters, buffers, inputs: in-place edits show
        self.seen = {}                  # id(Tensor) -> (Tensor, version when first seen)
        self.inside = 0                 # > 0 inside a segment: nothing is recorded there
        self.sink = self.calls
        self.modules = {}               # id -> every Module called while recording

    def record(self, op, args, attrs, out):
        self.sink.append(Call(op, args, attrs, out))
        seen = self.seen
        for a in args:
            if type(a) is not Tensor and not isinstance(a, Tensor):
                continue
            if id(a) not in seen:
                seen[id(a)] = (a, a._vc[0])
        for o in (out if type(out) is tuple else (out,)):
            if isinstance(o, Tensor) and id(o) not in seen:
                seen[id(o)] = (o, o._vc[0])

    def probe(self):
        """What effects outside the graph would change: random states and versions."""
        from . import random as _random  # noqa: PLC0415
        rng = _random.default_generator.rng
        legacy = _np.random.get_state()[1:3]
        return (id(rng), rng.bit_generator.state, legacy[0].tobytes(), legacy[1],
                tuple(t._vc[0] for t in self.watched))

    def check(self, before, where):
        now = self.probe()
        if now[:4] != before[:4]:
            self.reasons.append(f"the forward draws random numbers {where} (only dropout's "
                                "draws can be replayed)")
        for t, v0, v1 in zip(self.watched, before[4], now[4]):
            if v0 != v1:
                self.reasons.append(f"the forward edits a parameter, buffer or input of shape "
                                    f"{tuple(t.shape)} in place {where}")
                break
        return now

    def segment(self, fn, args, kwargs, always):
        """Run fn eagerly as one step; kept as a segment if it had effects (or `always`)."""
        self.check(self.last, "outside dropout and batch norm")
        inner = []
        prev_sink, self.sink = self.sink, inner
        grad_mode = _mode.enabled
        self.inside += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            self.inside -= 1
            self.sink = prev_sink
        now = self.probe()
        effects = now != self.last
        self.last = now
        if always or effects:
            self.record(_Segment(fn, grad_mode), args, kwargs, out)
        else:
            self.sink.extend(inner)  # no effects: its ops replay like any others
        return out

    def synced(self, name):
        if not self.inside:
            self.reasons.append(f"the forward reads a tensor's value in Python (Tensor.{name}), "
                                "so its control flow may depend on the data")


class _Segment:
    """A recorded call that replays eagerly: dropout, training batch norm, a Function."""

    def __init__(self, fn, grad_mode):
        self.fn, self.grad_mode = fn, grad_mode

    def __eq__(self, other):
        return type(other) is _Segment and other.fn == self.fn and \
            other.grad_mode == self.grad_mode

    __hash__ = object.__hash__


def _tracer():
    return getattr(_local, "tracer", None)


def _segment_fn(orig, always=False):
    def wrapper(*args, **kwargs):
        tr = _tracer()
        if tr is None or tr.inside:
            return orig(*args, **kwargs)
        return tr.segment(orig, args, kwargs, always)
    wrapper.__wrapped__ = orig
    return wrapper


def _segment_method(orig):
    def forward(self, *args, **kwargs):
        tr = _tracer()
        if tr is None or tr.inside:
            return orig(self, *args, **kwargs)
        return tr.segment(orig, (self,) + args, kwargs, False)
    forward.__wrapped__ = orig
    return forward


def _function_apply(orig):
    def apply(cls, *args):
        tr = _tracer()
        if tr is None or tr.inside:
            return orig.__func__(cls, *args)
        return tr.segment(_BoundApply(orig.__func__, cls), args, {}, True)
    return classmethod(apply)


class _BoundApply:
    """Function.apply bound to one Function class (comparable, unlike a lambda)."""

    def __init__(self, func, cls):
        self.func, self.cls = func, cls

    def __call__(self, *args):
        return self.func(self.cls, *args)

    def __eq__(self, other):
        return type(other) is _BoundApply and other.cls is self.cls

    __hash__ = object.__hash__


class _Alias:
    """A pseudo-call: after an in-place edit, tensor `args[0]` holds the value of `out`."""


_ALIAS = _Alias()


def _inplace_fn(orig):
    def inplace(t, fn, *args, **kwargs):
        tr = _tracer()
        if tr is None or tr.inside or not isinstance(t, Tensor):
            return orig(t, fn, *args, **kwargs)
        n = len(tr.sink)
        view = t._view is not None
        res = orig(t, fn, *args, **kwargs)
        new = tr.sink[n:]
        if view or not new or not isinstance(new[-1].out, Tensor):
            if id(t) in tr.seen or view:
                tr.reasons.append(f"an in-place edit ({getattr(fn, '__name__', fn)}_) of a "
                                  "view, or one that records no op, after the tensor was used")
        else:
            tr.sink.append(Call(_ALIAS, (t,), {}, new[-1].out))
            tr.seen[id(t)] = (t, t._vc[0])
        return res
    inplace.__wrapped__ = orig
    return inplace


def _module_call(orig):
    def __call__(self, *args, **kwargs):
        tr = _tracer()
        if tr is not None and not tr.inside:
            tr.modules.setdefault(id(self), self)  # their training flags guard the plan
        return orig(self, *args, **kwargs)
    __call__.__wrapped__ = orig
    return __call__


def _sync_method(name, orig):
    def method(self, *args, **kwargs):
        tr = _tracer()
        if tr is not None:
            tr.synced(name)
        return orig(self, *args, **kwargs)
    return method


def _install():
    """Wrap the functions with effects outside the graph (while any recording runs)."""
    from .nn import functional as nnf, normalization  # noqa: PLC0415
    from . import ops  # noqa: PLC0415
    from .ops import elementwise as ew, nn as ops_nn  # noqa: PLC0415
    with _patch_lock:
        _patch_count[0] += 1
        if _patch_count[0] > 1:
            return
        targets = [(ops_nn, "_dropout_impl", _segment_fn),
                   (nnf, "batch_norm", _segment_fn),
                   (nnf, "instance_norm", _segment_fn),
                   (normalization._BatchNorm, "forward", _segment_method)]
        # every module that holds the in-place helper under some name
        targets += [(mod, name, _inplace_fn) for mod, name in
                    ((ew, "inplace"), (ops, "inplace"), (ops_nn, "_inplace"), (nnf, "_inplace"))
                    if mod.__dict__.get(name) is ew.__dict__["inplace"]]
        for owner, name, wrap in targets:
            orig = owner.__dict__[name]
            _saved_attrs.append((owner, name, orig))
            setattr(owner, name, wrap(orig))
        from .nn.module import Module  # noqa: PLC0415
        orig = Module.__dict__["__call__"]
        _saved_attrs.append((Module, "__call__", orig))
        Module.__call__ = _module_call(orig)
        orig = _function.Function.__dict__["apply"]
        _saved_attrs.append((_function.Function, "apply", orig))
        _function.Function.apply = _function_apply(orig)
        for name in _SYNC_METHODS:
            orig = Tensor.__dict__[name]
            _saved_attrs.append((Tensor, name, orig))
            setattr(Tensor, name, _sync_method(name, orig))


def _uninstall():
    with _patch_lock:
        _patch_count[0] -= 1
        if _patch_count[0]:
            return
        while _saved_attrs:
            owner, name, orig = _saved_attrs.pop()
            setattr(owner, name, orig)


def _record(fn, args, kwargs, watched):
    """Run fn eagerly while recording; returns (output, tracer)."""
    tr = _Tracer(watched)
    _install()
    prev = _mode.recorder
    _local.tracer = tr
    try:
        tr.last = tr.probe()
        _mode.recorder = tr.record
        out = fn(*args, **kwargs)
    finally:
        _mode.recorder = prev
        _local.tracer = None
        _uninstall()
    tr.check(tr.last, "outside dropout and batch norm")
    for t, v in tr.seen.values():
        if t._vc[0] != v:
            tr.reasons.append(f"a tensor of shape {tuple(t.shape)} is edited in place after an "
                              "op used it, by code that records no op (x.data[...] = ..., "
                              "fill_, or add_/mul_ under no_grad)")
            break
    return out, tr


# --- the plan -----------------------------------------------------------------------------

_OP, _FUSED, _SEG = 0, 1, 2


class _Step:
    __slots__ = ("kind", "cls", "args", "attrs", "outs", "dts", "multi", "tracked", "needs",
                 "grad_edges", "fn", "grad_mode", "seg_args", "seg_kw", "seg_leaves",
                 "seg_struct", "name", "call", "saves_out")


class _Plan:
    """Replayable steps for one input signature."""

    def __init__(self):
        self.steps = []
        self.template = []     # slot values: constants filled in, the rest per call
        self.n_in = 0
        self.ext = []          # (slot, Tensor): parameters, buffers, outside tensors
        self.out_struct = None
        self.leaves = []       # slots whose gradient leaves the node (inputs, parameters)
        self.order = []        # step indices in the engine's backward order
        self.modules = []      # (module, training, its parameters, its buffers)
        self.grad = False      # recorded in grad mode with something to differentiate
        self.versions = []     # (Tensor, expected version) for buffers and constants

    # guards
    def valid(self):
        for d, training in self.mod_flags:
            if d["training"] is not training or d["_forward_hooks"] or d["_forward_pre_hooks"]:
                return False
        for store, name, t in self.owned:
            if store.get(name) is not t:
                return False
        for t, rg, shape, dt in self.ext_flags:  # e.g. model.double() swaps the arrays
            d = t.data
            if t.requires_grad is not rg or d.dtype is not dt or d.shape != shape:
                return False
        for t, v in self.versions:
            if t._vc[0] != v:
                return False
        return True

    def refresh_versions(self):
        self.versions = [(t, t._vc[0]) for t, _ in self.versions]

    # forward
    def run(self, in_arrays, grad):
        vals = self.template[:]
        vals[:self.n_in] = in_arrays
        for s, t in self.ext:
            vals[s] = t.data
        ctxs = [None] * len(self.steps) if grad else None
        for i, st in enumerate(self.steps):
            kind = st.kind
            if kind == _OP:
                ctx = _new(st.cls)
                ctx.xp, ctx.F = _np, _F
                if grad and st.tracked:
                    ctx.needs_grad = st.needs
                    ctxs[i] = ctx
                if st.attrs:
                    out = ctx.forward(*[vals[s] for s in st.args], **st.attrs)
                else:
                    out = ctx.forward(*[vals[s] for s in st.args])
                if st.multi:
                    ctx.n_outputs = len(out)
                    for s, o, dt in zip(st.outs, out, st.dts):
                        vals[s] = o if type(o) is _ndarray and o.dtype is dt else \
                            _fix(ctx, o, dt)
                else:
                    vals[st.outs[0]] = out if type(out) is _ndarray and out.dtype is \
                        st.dts[0] else _fix(ctx, out, st.dts[0])
            elif kind == _FUSED:
                x = st.fn(*[vals[s] for s in st.args])
                vals[st.outs[0]] = x
                if grad and st.tracked:
                    ctx = _new(st.cls)
                    ctx.xp, ctx.F = _np, _F
                    ctx.needs_grad = st.needs
                    if st.saves_out:
                        ctx.saved = (x,)
                    ctxs[i] = ctx
            else:
                run = _run_segment(st, vals, grad)
                if grad:
                    ctxs[i] = run
        return vals, ctxs

    # backward
    def backward(self, ctxs, out_slots, gs):
        grads = [None] * len(self.template)
        for s, g in zip(out_slots, gs):
            if g is not None:
                grads[s] = g if grads[s] is None else _add(grads[s], g)
        steps = self.steps
        for i in self.order:
            st, ctx = steps[i], ctxs[i]
            if st.kind == _SEG:
                _segment_backward(st, ctx, grads)
                continue
            if st.multi:
                gl = [grads[s] for s in st.outs]
                if all(g is None for g in gl):
                    continue
                for s in st.outs:
                    grads[s] = None
                res = ctx.backward(*gl)
            else:
                g = grads[st.outs[0]]
                if g is None:
                    continue
                grads[st.outs[0]] = None
                res = ctx.backward(g)
            if type(res) is not tuple:
                res = (res,)
            for j, src, shape, dt in st.grad_edges:
                ga = res[j] if j < len(res) else None
                if ga is None:
                    continue
                if type(ga) is not _ndarray:
                    ga = _np.asarray(ga)
                if ga.shape != shape:
                    ga = _reduce_to(ga, shape, ctx, j)
                if ga.dtype != dt:
                    ga = ga.astype(dt)
                prev = grads[src]
                grads[src] = ga if prev is None else _add(prev, ga)
        return tuple(grads[s] for s in self.leaves)


_REDUCE = {}


def _reduce_to(g, shape, ctx, j):
    """The engine's sum_to (same sums, same order), with the axes worked out once."""
    key = (g.shape, shape)
    how = _REDUCE.get(key)
    if how is None:
        if len(_REDUCE) > 4096:
            _REDUCE.clear()
        sum_to(_F, g, shape, ctx, j)  # raises the engine's error for incompatible shapes
        lead = len(g.shape) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + k for k, s in enumerate(shape)
                                          if s == 1 and g.shape[lead + k] != 1)
        how = _REDUCE[key] = (axes, bool(lead))
    axes, lead = how
    if axes:
        g = _np.add.reduce(g, axis=axes, keepdims=True)
    return g.reshape(shape) if lead else g


def _add(a, b):
    s = a + b
    return _np.asarray(s) if isinstance(s, _np.generic) else s


def _fix(ctx, out, dt):
    """What Op.apply does to an unusual result: scalars to arrays, float64 narrowed back."""
    if type(out) is not _ndarray:
        scalar, out = out, _np.asarray(out)
        saved = getattr(ctx, "saved", ())
        if any(s is scalar for s in saved):
            ctx.saved = tuple(out if s is scalar else s for s in saved)
    if out.dtype != dt and out.dtype == _f64:
        out = out.astype(dt)
    return out


def _run_segment(st, vals, grad):
    """Run a segment eagerly on fresh Tensors; returns (outputs, leaves) for backward."""
    leaves = []
    targs = []
    for spec in st.seg_args:
        targs.append(_seg_value(spec, vals, leaves, grad))
    kw = {k: _seg_value(spec, vals, leaves, grad) for k, spec in st.seg_kw.items()}
    if grad:
        leaves.extend(st.seg_leaves)
    prev = _mode.enabled
    _mode.enabled = st.grad_mode and prev
    try:
        out = st.fn(*targs, **kw)
    finally:
        _mode.enabled = prev
    outs = out if st.seg_struct else (out,)
    for s, o in zip(st.outs, outs):
        vals[s] = o.data if isinstance(o, Tensor) else o
    return outs, leaves


def _seg_value(spec, vals, leaves, grad):
    kind, v, needs = spec
    if kind == "c":
        return v
    t = _make(vals[v], None, 0, None)
    if needs and grad:
        t.requires_grad = True
        leaves.append((v, t))
    return t


def _segment_backward(st, run, grads):
    outs, leaves = run
    pairs = []
    for s, o in zip(st.outs, outs):
        g = grads[s]
        if g is not None:
            grads[s] = None
            if isinstance(o, Tensor) and o.requires_grad:
                pairs.append((o, g))
    if not pairs or not leaves:
        return
    from .autograd import grad as _grad  # noqa: PLC0415
    res = _grad([o for o, _ in pairs], [t for _, t in leaves], [g for _, g in pairs],
                retain_graph=True, allow_unused=True)
    for (s, t), r in zip(leaves, res):
        if r is not None:
            prev = grads[s]
            grads[s] = r.data if prev is None else _add(prev, r.data)


# --- building a plan from a recording -------------------------------------------------------

def _flatten(obj, tensors):
    """A hashable description of call arguments; appends their Tensors to `tensors`."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        d = obj.data
        return (d.shape, d.dtype.str, obj.requires_grad)
    if obj is None or isinstance(obj, (bool, int, float, str, complex)):
        return (type(obj), obj)
    if isinstance(obj, (tuple, list)):
        return (type(obj), tuple(_flatten(o, tensors) for o in obj))
    if isinstance(obj, dict):
        return (dict, tuple((k, _flatten(v, tensors)) for k, v in obj.items()))
    raise _Unsupported(f"an argument of type {type(obj).__name__} (only Tensors, numbers, "
                       "strings, None, and tuples, lists and dicts of them)")


def _out_struct(obj, slot_of):
    """Output structure with each Tensor replaced by its slot."""
    if isinstance(obj, Tensor):
        s = slot_of.get(id(obj))
        if s is None:
            raise _Unsupported("the output is a tensor that no recorded op made and that is "
                               "not an input or parameter")
        return ("t", s)
    if isinstance(obj, (tuple, list)):
        return (type(obj), tuple(_out_struct(o, slot_of) for o in obj))
    if isinstance(obj, dict):
        return (dict, tuple((k, _out_struct(v, slot_of)) for k, v in obj.items()))
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ("c", obj)
    raise _Unsupported(f"an output of type {type(obj).__name__}")


def _owner_id(a):
    while a.base is not None and isinstance(a.base, _ndarray):
        a = a.base
    return id(a)


def _build(calls, inputs, out, modules):
    """A plan from one recording (raises _Unsupported with the reason it cannot be)."""
    from .nn.module import Module  # noqa: PLC0415
    plan = _Plan()
    tpl = plan.template
    slot_of, arr_of = {}, {}
    producer = {}        # slot -> step index
    ext_tensors = []     # (slot, Tensor)
    live_owners = set()  # memory of inputs and op outputs: raw views of it cannot be constants
    owned = {id(t) for _, _, params, buffers in modules for t in params + buffers
             if t is not None}

    def new_slot(value=None):
        tpl.append(value)
        return len(tpl) - 1

    for t in inputs:
        s = new_slot()
        if id(t) not in slot_of:
            slot_of[id(t)] = s
            arr_of[id(t.data)] = s
        live_owners.add(_owner_id(t.data))
    plan.n_in = len(inputs)

    def tensor_slot(t):
        s = slot_of.get(id(t))
        if s is None:
            s = new_slot()
            slot_of[id(t)] = s
            arr_of.setdefault(id(t.data), s)
            ext_tensors.append((s, t))
        return s

    def value_slot(a):
        if isinstance(a, Tensor):
            return tensor_slot(a)
        if isinstance(a, _ndarray):
            s = arr_of.get(id(a))
            if s is not None:
                return s
            if _owner_id(a) in live_owners:
                raise _Unsupported("an op got a raw array that views an input or an earlier "
                                   "op's output (from .data or .numpy() in the forward)")
        return new_slot(a)

    for call in calls:
        op = call.op
        if op is _ALIAS:  # the edited tensor now names the edit's result
            t, s = call.args[0], slot_of[id(call.out)]
            slot_of[id(t)] = s
            arr_of[id(t.data)] = s
            continue
        st = _Step()
        st.call = call
        outs = call.out if type(call.out) is tuple else (call.out,)
        st.multi = type(call.out) is tuple
        if type(op) is _Segment:
            st.kind, st.fn, st.grad_mode = _SEG, op.fn, op.grad_mode
            st.name = getattr(op.fn, "__qualname__", type(op.fn).__name__)
            st.seg_leaves = []
            st.seg_args = [_seg_spec(a, tensor_slot, owned, st.seg_leaves, Module)
                           for a in call.args]
            st.seg_kw = {k: _seg_spec(v, tensor_slot, owned, st.seg_leaves, Module)
                         for k, v in call.attrs.items()}
            st.seg_struct = st.multi
            st.tracked = any(isinstance(o, Tensor) and o.requires_grad for o in outs)
            st.args = tuple(spec[1] for spec in st.seg_args if spec[0] == "w") + tuple(
                spec[1] for spec in st.seg_kw.values() if spec[0] == "w")
            st.needs = ()
            st.grad_edges = ()
            st.dts = ()
        elif isinstance(op, Op):
            st.kind, st.cls, st.attrs = _OP, type(op), dict(call.attrs)
            st.name = type(op).__name__
            st.args = tuple(value_slot(a) for a in call.args)
            st.tracked = "needs_grad" in op.__dict__
            st.needs = getattr(op, "needs_grad", ())
            st.grad_edges = tuple((j, st.args[j], meta[0], meta[1])
                                  for j, meta in enumerate(getattr(op, "in_meta", ()))
                                  if meta is not None) if st.tracked else ()
            st.dts = tuple(o.data.dtype for o in outs)
        else:
            raise _Unsupported(f"a recorded call of {type(op).__name__}, which is not an Op")
        st.outs = []
        for o in outs:
            s = new_slot()
            if isinstance(o, Tensor):
                slot_of[id(o)] = s
                arr_of[id(o.data)] = s
                live_owners.add(_owner_id(o.data))
            else:
                tpl[s] = o
            producer[s] = len(plan.steps)
            st.outs.append(s)
        st.outs = tuple(st.outs)
        plan.steps.append(st)

    plan.out_struct = plan.raw_out = _out_struct(out, slot_of)
    plan.ext = ext_tensors
    _prune(plan, producer)
    _fuse(plan, calls, producer)
    for st in plan.steps:
        st.call = None  # the recording's arrays must not stay alive with the plan
    plan.producer = producer
    plan.modules = modules
    _finalize(plan)
    return plan


def _finalize(plan):
    """Guards, backward order and output kinds (again after `_agree` made constants)."""
    owned = {}
    for m, _, _, _ in plan.modules:
        d = m.__dict__
        for store in (d["_parameters"], d["_buffers"]):
            for name, t in store.items():
                if t is not None:
                    owned.setdefault(id(t), (store, name, t))
    plan.mod_flags = [(m.__dict__, training) for m, training, _, _ in plan.modules]
    plan.owned = [owned[id(t)] for _, t in plan.ext if id(t) in owned]
    plan.ext_flags = [(t, t.requires_grad, t.data.shape, t.data.dtype) for _, t in plan.ext]
    # arrays computed outside ops (batch norm's eval-mode scale from running_var) go stale
    # when a buffer changes, so a plan holding any is guarded by the buffers' versions;
    # tensors the plan reads (parameters, buffers passed to ops) are read afresh each call
    watch = {}
    if any(_holds_array(v) for v in plan.template[plan.n_in:]):
        for m, _, _, buffers in plan.modules:
            watch.update((id(b), b) for b in buffers if b is not None)
    plan.versions = [(t, t._vc[0]) for t in watch.values()]
    _backward_order(plan, plan.producer)
    ext = dict(plan.ext)
    plan.leaf_src = [(s, ext.get(s)) for s in plan.leaves]
    plan.out_struct = _out_kinds(plan, plan.out_struct, ext)


def _holds_array(v):
    if isinstance(v, _ndarray):
        return True
    return isinstance(v, (tuple, list)) and any(_holds_array(x) for x in v)


def _out_kinds(plan, struct, ext):
    """Output leaves become ("in", slot), ("ext", Tensor, slot) or ("op", slot, diff)."""
    kind = struct[0]
    if kind in _LEAF_KINDS:
        s = _leaf_slot(struct)
        if s < plan.n_in:
            return ("in", s)
        if s in ext:
            return ("ext", ext[s], s)
        p = plan.producer.get(s)
        diff = False
        if p is not None and plan.steps[p].tracked and plan.steps[p].kind != _SEG:
            st = plan.steps[p]
            diff = st.dts[st.outs.index(s)].kind == "f"
        elif p is not None and plan.steps[p].tracked:
            diff = True
        return ("op", s, diff)
    if kind == "c":
        return struct
    if kind is dict:
        return (dict, tuple((k, _out_kinds(plan, x, ext)) for k, x in struct[1]))
    return (kind, tuple(_out_kinds(plan, x, ext) for x in struct[1]))


_LEAF_KINDS = ("t", "in", "ext", "op")


def _leaf_slot(struct):
    return struct[2] if struct[0] == "ext" else struct[1]


def _seg_spec(a, tensor_slot, owned, leaves, Module):
    """How a segment argument is rebuilt at replay: ("c", value), the value itself (a
    module's parameter or buffer is passed as the real object, so that in-place updates
    of running statistics reach it), or ("w", slot, needs): a fresh Tensor over the slot's
    array."""
    if isinstance(a, Tensor):
        s = tensor_slot(a)
        if id(a) not in owned:
            return ("w", s, a.requires_grad)
        if a.requires_grad:
            leaves.append((s, a))
        return ("c", a, False)
    if isinstance(a, Module):
        for p in a.parameters():
            if p.requires_grad:
                leaves.append((tensor_slot(p), p))
    return ("c", a, False)


def _prune(plan, producer):
    """Drop steps whose outputs reach no output (segments always run: they have effects)."""
    live = set()
    _collect_slots(plan.out_struct, live)
    keep = []
    for i in range(len(plan.steps) - 1, -1, -1):
        st = plan.steps[i]
        if st.kind == _SEG or any(s in live for s in st.outs):
            keep.append(i)
            live.update(st.args)
            if st.kind == _SEG:
                live.update(s for s, _ in st.seg_leaves)
    keep.reverse()
    remap = {old: new for new, old in enumerate(keep)}
    plan.steps = [plan.steps[i] for i in keep]
    for s in list(producer):
        if producer[s] in remap:
            producer[s] = remap[producer[s]]
        else:
            del producer[s]
    plan.ext = [(s, t) for s, t in plan.ext if s in live]
    plan.live = live


def _collect_slots(struct, acc):
    out = []
    _out_slots(struct, out)
    acc.update(out)


def _fuse(plan, calls, producer):
    """Elementwise ops write into an input array that nothing else reads afterwards.

    So linear or conv + bias + activation, batch norm's scale + shift + relu, or a
    residual add + relu evaluate into one array: in the chain, each op's output memory is
    the previous op's. Candidates: relu, tanh and exp (whose backward reads only their
    output) and add and sub (whose backward reads nothing), on arrays of one dtype.
    """
    kinds = _fusible()
    readers = {}
    for st in plan.steps:
        for s in st.args:
            readers[s] = readers.get(s, 0) + 1
    outputs = set()
    _collect_slots(plan.out_struct, outputs)
    refs = None
    for st in plan.steps:
        how = kinds.get(st.cls) if st.kind == _OP and not st.attrs else None
        if how is None or len(st.args) != how[0]:
            continue
        call = st.call
        saved = call.op.__dict__.get("saved", ())
        if saved != () and not (len(saved) == 1 and saved[0] is call.out.data):
            continue  # its backward needs more than its output
        out = call.out.data
        for k, src in enumerate(st.args):
            p = producer.get(src)
            if p is None or readers.get(src) != 1 or src in outputs:
                continue
            prev = plan.steps[p]
            if prev.kind not in (_OP, _FUSED) or prev.multi or prev.cls.is_view:
                continue
            arr = prev.call.out.data
            if arr.shape != out.shape or arr.dtype != out.dtype or out.dtype.kind != "f" or \
                    not arr.flags.writeable or not _plain_operands(call.args, out.dtype):
                continue
            if refs is None:
                refs = _memory_refs(calls)
            # the producer's output and this op's input are the only users of the memory
            if refs.get(_owner_id(arr), 0) != 2:
                continue
            st.kind, st.fn, st.saves_out = _FUSED, how[1][k], saved != ()
            break


def _plain_operands(args, dt):
    """Arrays of dtype dt or Python numbers: no promotion, so out= gives the same values."""
    for a in args:
        d = a.data if isinstance(a, Tensor) else a
        if isinstance(d, _ndarray):
            if d.dtype != dt:
                return False
        elif type(d) not in (int, float):
            return False
    return True


_FUSIBLE = {}


def _fusible():
    """Op class -> (number of arguments, [fn writing into argument k for each k])."""
    if not _FUSIBLE:
        from .ops import elementwise as ew  # noqa: PLC0415
        np = _np
        _FUSIBLE.update({
            ew.Relu: (1, [lambda x: np.maximum(x, 0, out=x)]),
            ew.Tanh: (1, [lambda x: np.tanh(x, out=x)]),
            ew.Exp: (1, [lambda x: np.exp(x, out=x)]),
            ew.Add: (2, [lambda a, b: np.add(a, b, out=a), lambda a, b: np.add(a, b, out=b)]),
            ew.Sub: (2, [lambda a, b: np.subtract(a, b, out=a),
                         lambda a, b: np.subtract(a, b, out=b)]),
        })
    return _FUSIBLE


def _memory_refs(calls):
    """id(owning array) -> how many places of the recording hold an array of that memory."""
    counts = {}

    def add(a):
        if isinstance(a, Tensor):
            a = a.data
        if isinstance(a, _ndarray):
            k = _owner_id(a)
            counts[k] = counts.get(k, 0) + 1

    for call in calls:
        if call.op is _ALIAS:  # names a value, holds no memory in the replay
            continue
        for a in call.args:
            add(a)
        for o in (call.out if type(call.out) is tuple else (call.out,)):
            add(o)
        op = call.op
        for k, v in vars(op).items():
            if k in ("next_edges", "in_meta", "needs_grad", "xp", "F"):
                continue
            for a in (v if isinstance(v, (tuple, list)) else (v,)):
                add(a)
    return counts


def _backward_order(plan, producer):
    """The engine's order over the plan's tracked steps (same order, same sums)."""
    steps = plan.steps
    edges = {}
    leaves = []
    ext_slots = {s for s, _ in plan.ext}
    for i, st in enumerate(steps):
        if st.kind == _SEG:
            srcs = [s for s, _ in st.seg_leaves]
            srcs += [spec[1] for spec in list(st.seg_args) + list(st.seg_kw.values())
                     if spec[0] == "w" and spec[2]]
        else:
            srcs = [e[1] for e in st.grad_edges]
        if not st.tracked:
            continue
        nodes = []
        for s in srcs:
            if s in producer:
                if steps[producer[s]].tracked:
                    nodes.append(("op", producer[s]))
            elif s < plan.n_in or s in ext_slots:
                nodes.append(("leaf", s))
                if s not in leaves:
                    leaves.append(s)
        edges[("op", i)] = nodes
    outs = []
    _out_slots(plan.out_struct, outs)
    roots = []
    for s in outs:
        if s in producer and steps[producer[s]].tracked and ("op", producer[s]) not in roots:
            roots.append(("op", producer[s]))
    # engine: count the edges into each node, pop ready nodes from a stack
    deps = {}
    seen, stack = set(roots), list(roots)
    while stack:
        n = stack.pop()
        for e in edges.get(n, ()):
            deps[e] = deps.get(e, 0) + 1
            if e not in seen:
                seen.add(e)
                stack.append(e)
    ready = [n for n in roots if deps.get(n, 0) == 0]
    order = []
    while ready:
        n = ready.pop()
        if n[0] == "op":
            order.append(n[1])
        for e in edges.get(n, ()):
            deps[e] -= 1
            if deps[e] == 0:
                ready.append(e)
    plan.order = order
    reached = set()
    for i in order:
        for n in edges[("op", i)]:
            if n[0] == "leaf":
                reached.add(n[1])
    plan.leaves = [s for s in leaves if s in reached]
    plan.grad = bool(order)


def _out_slots(struct, acc):
    kind = struct[0]
    if kind in _LEAF_KINDS:
        acc.append(_leaf_slot(struct))
    elif kind != "c":
        for item in struct[1]:
            _out_slots(item[1] if kind is dict else item, acc)


def _same(a, b):
    """Deep equality for recorded constants (arrays compared by value, dtype and shape)."""
    if a is b:
        return True
    if isinstance(a, _ndarray) or isinstance(b, _ndarray):
        return isinstance(a, _ndarray) and isinstance(b, _ndarray) and a.dtype == b.dtype \
            and a.shape == b.shape and bool(_np.array_equal(a, b, equal_nan=True))
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return False
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # noqa: BLE001 - objects without a usable ==
        return False


def _agree(p1, p2):
    """None if two recordings of one signature give the same plan, else where they differ.

    Tensors made fresh in the forward (zeros for a state, a mask) are different objects in
    the two recordings; equal values make them constants of the plan.
    """
    if len(p1.steps) != len(p2.steps):
        return f"{len(p1.steps)} ops the first time, {len(p2.steps)} the second"
    for k, (a, b) in enumerate(zip(p1.steps, p2.steps)):
        same = a.kind == b.kind and a.name == b.name and a.args == b.args and \
            a.outs == b.outs and a.tracked == b.tracked
        if same and a.kind != _SEG:
            same = a.cls is b.cls and _same(a.attrs, b.attrs)
        if same and a.kind == _SEG:
            same = a.fn == b.fn and _same(a.seg_args, b.seg_args) and \
                _same(a.seg_kw, b.seg_kw)
        if not same:
            return f"op {k} is {a.name} the first time and {b.name} the second"
    if len(p1.template) != len(p2.template) or not _same(p1.raw_out, p2.raw_out):
        return "the outputs differ"
    ext1 = dict(p1.ext)
    fresh = []
    for s, t2 in p2.ext:
        t1 = ext1.get(s)
        if t1 is t2:
            continue
        if t1 is None or t1.requires_grad or t2.requires_grad or not _same(t1.data, t2.data):
            return f"a tensor of shape {tuple(t2.shape)} made in the forward changes between calls"
        fresh.append(s)
    consts = [s for s, v in enumerate(p1.template) if v is not None and s >= p1.n_in]
    for s in consts:
        if not _same(p1.template[s], p2.template[s]):
            return "a value computed outside ops (from .data, .numpy() or NumPy) changes " \
                   "between calls"
    if fresh:  # constants from now on
        ext2 = dict(p2.ext)
        for s in fresh:
            p2.template[s] = ext2[s].data
        p2.ext = [(x, y) for x, y in p2.ext if x not in fresh]
        _finalize(p2)
    return None


# --- the compiled callable ------------------------------------------------------------------

class _CompiledNode(Op):
    """The one graph node of a replayed forward: backward replays the recorded backwards."""

    differentiable_twice = False

    def name(self):
        return "CompiledGraphBackward"

    def backward(ctx, *gs):
        plan, ctxs, out_slots = ctx.saved
        return plan.backward(ctxs, out_slots, gs)


class _Entry:
    """A cache slot for one signature: pending (one recording), ready, or eager."""

    __slots__ = ("state", "plan", "reason", "replays", "eager_calls", "records", "desc")

    def __init__(self, desc):
        self.state, self.plan, self.reason = "new", None, None
        self.replays = self.eager_calls = self.records = 0
        self.desc = desc


class _Capture:
    """What compiled modules and functions share: the cache and the call path."""

    def _setup(self, fn, model, fullgraph, enabled, cache_size_limit):
        self._fn, self._model = fn, model
        self._fullgraph, self._enabled = fullgraph, enabled
        self._limit = cache_size_limit
        self._cache = OrderedDict()
        self._history = []   # (signature, what happened) of evicted or superseded plans

    def _call(self, args, kwargs):
        if not self._enabled or _mode.anomaly or _mode.recorder is not None:
            # someone records the ops (an enclosing compile, an ONNX export): a replay would
            # hide them, so run the real code
            return self._fn(*args, **kwargs)
        model = self._model
        training = model.__dict__["training"] if model is not None else None
        try:
            if not kwargs and len(args) == 1 and type(args[0]) is Tensor:  # model(x)
                x = args[0]
                tensors = [x]
                key = (_mode.enabled, training, x.data.shape, x.data.dtype, x.requires_grad)
            else:
                tensors = []
                key = (_mode.enabled, training, _flatten(args, tensors),
                       _flatten(kwargs, tensors) if kwargs else ())
        except _Unsupported as e:
            self._fail(str(e))
            return self._fn(*args, **kwargs)
        entry = self._cache.get(key)
        if entry is not None:
            self._cache.move_to_end(key)
            if entry.state == "ready":
                if entry.plan.valid():
                    entry.replays += 1
                    return self._replay(entry.plan, tensors)
                entry.state, entry.plan = "new", None   # guards failed: record again
            elif entry.state == "eager":
                entry.eager_calls += 1
                return self._fn(*args, **kwargs)
        else:
            entry = self._cache[key] = _Entry(_describe(key))
            while len(self._cache) > self._limit:
                old_key, old = self._cache.popitem(last=False)
                self._history.append((old.desc, "evicted (cache_size_limit)"))
        return self._record(entry, args, kwargs, tensors)

    def _fail(self, reason):
        if self._fullgraph:
            raise CaptureError(f"fathom.compile(fullgraph=True): cannot capture this forward: "
                               f"{reason}")

    def _record(self, entry, args, kwargs, tensors):
        watched = list(tensors)
        modules = []
        if self._model is not None:
            for m in self._model.modules():
                d = m.__dict__
                modules.append((m, d["training"], tuple(d["_parameters"].values()),
                                tuple(d["_buffers"].values())))
                watched.extend(v for v in d["_parameters"].values() if v is not None)
                watched.extend(v for v in d["_buffers"].values() if v is not None)
        out, tr = _record(self._fn, args, kwargs, watched)
        entry.records += 1
        if self._model is None:  # a function: guard the modules it called
            for m in tr.modules.values():
                d = m.__dict__
                modules.append((m, d["training"], tuple(d["_parameters"].values()),
                                tuple(d["_buffers"].values())))
        reason = tr.reasons[0] if tr.reasons else None
        if reason is None and any(m[0].__dict__["_forward_hooks"] or
                                  m[0].__dict__["_forward_pre_hooks"] for m in modules):
            reason = "a module has forward hooks (their Python code would not run)"
        plan = None
        if reason is None:
            try:
                plan = _build(tr.calls, tensors, out, modules)
            except _Unsupported as e:
                reason = str(e)
        if reason is None and entry.state == "pending" and not entry.plan.valid():
            entry.plan = None  # the first recording went stale (e.g. buffers changed since)
            entry.state = "new"
        if reason is None and entry.state == "pending":
            reason = _agree(entry.plan, plan)
            if reason is not None:
                reason = "the recorded ops differ between two calls with the same signature " \
                         f"(control flow or values that depend on the data): {reason}"
        if reason is not None:
            entry.state, entry.plan, entry.reason = "eager", None, reason
            self._fail(reason)
        elif entry.state == "pending":
            entry.state, entry.plan = "ready", plan
            plan.refresh_versions()
        else:
            entry.state, entry.plan = "pending", plan
        return out

    def _replay(self, plan, tensors):
        grad = plan.grad and _mode.enabled
        vals, ctxs = plan.run([t.data for t in tensors], grad)
        if plan.versions:
            plan.refresh_versions()
        node = None
        if grad:
            node = _new(_CompiledNode)
            node.xp, node.F = _np, _F
            edges, meta = [], []
            for s, t in plan.leaf_src:
                if t is None:
                    t = tensors[s]
                edges.append(t._edge())
                meta.append((t.data.shape, t.data.dtype))
            node.next_edges = tuple(edges)
            node.in_meta = tuple(meta)
            node.needs_grad = (True,) * len(edges)
            out_slots = []
            node.saved = (plan, ctxs, out_slots)
            return _materialize(plan.out_struct, vals, tensors, node, out_slots)
        return _materialize(plan.out_struct, vals, tensors, None, None)

    def explain(self) -> str:
        """Which signatures replay and which run eagerly, and why; with call counts."""
        lines = [f"fathom.compile of {self._name()}: {len(self._cache)} signature(s) cached"]
        for e in self._cache.values():
            status = {"ready": "replayed", "pending": "recorded once (replays from the "
                      "next call)", "eager": "eager", "new": "not yet recorded"}[e.state]
            lines.append(f"- {e.desc}: {status}; {e.records} recording(s), {e.replays} "
                         f"replay(s), {e.eager_calls} eager call(s)")
            if e.reason:
                lines.append(f"    why eager: {e.reason}")
            if e.state == "ready":
                p = e.plan
                fused = sum(st.kind == _FUSED for st in p.steps)
                segs = sum(st.kind == _SEG for st in p.steps)
                lines.append(f"    {len(p.steps)} ops ({fused} fused in place, {segs} eager "
                             f"segments: dropout, batch norm, Functions)")
        for desc, what in self._history[-5:]:
            lines.append(f"- {desc}: {what}")
        return "\n".join(lines)

    @property
    def stats(self) -> dict:
        """Counts: {"records", "replays", "eager_calls", "eager_signatures"}."""
        es = list(self._cache.values())
        return {"records": sum(e.records for e in es), "replays": sum(e.replays for e in es),
                "eager_calls": sum(e.eager_calls for e in es),
                "eager_signatures": sum(e.state == "eager" for e in es)}

    def reset(self) -> None:
        """Forget every plan (the next calls record again)."""
        self._cache.clear()


def _materialize(struct, vals, tensors, node, out_slots):
    kind = struct[0]
    if kind == "op":
        arr = vals[struct[1]]
        if node is not None and struct[2]:
            out_slots.append(struct[1])
            node.n_outputs = len(out_slots)
            return _make(arr, node, len(out_slots) - 1, None)
        return _make(arr, None, 0, None)
    if kind == "in":
        return tensors[struct[1]]
    if kind == "ext":
        return struct[1]
    if kind == "c":
        return struct[1]
    if kind is dict:
        return {k: _materialize(x, vals, tensors, node, out_slots) for k, x in struct[1]}
    items = [_materialize(x, vals, tensors, node, out_slots) for x in struct[1]]
    return tuple(items) if kind is tuple else items


def _describe(key):
    if len(key) == 5:  # the one-Tensor fast key
        key = key[:2] + (((key[2], key[3].str, key[4]),), ())
    grad, training, args, kwargs = key
    shapes = []

    def walk(x):
        if isinstance(x, tuple) and len(x) == 3 and isinstance(x[0], tuple):
            shapes.append(f"{tuple(x[0])} {_np.dtype(x[1]).name}" + (" rg" if x[2] else ""))
        elif isinstance(x, tuple):
            for y in x:
                walk(y)
    walk(args)
    walk(kwargs)
    mode = "train" if training else "eval" if training is not None else "-"
    return f"inputs [{', '.join(shapes)}], {mode}, grad {'on' if grad else 'off'}"


def _check_options(mode, backend_, dynamic, options):
    if mode not in MODES:
        raise ValueError(f"fathom.compile: unknown mode {mode!r}; expected one of "
                         f"{', '.join(repr(m) for m in MODES)}")
    if backend_ not in BACKENDS:
        what = "a callable backend" if callable(backend_) else repr(backend_)
        raise ValueError(f"fathom.compile: backend {what} is not supported; expected one of "
                         f"{', '.join(repr(b) for b in BACKENDS)}")
    if dynamic not in (None, True, False):
        raise ValueError(f"fathom.compile: dynamic must be None, True or False, got {dynamic!r}")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"fathom.compile: options must be a dict, got "
                        f"{type(options).__name__}")


def _compiled_module_class():
    from .nn.module import Module  # noqa: PLC0415

    class CompiledModule(_Capture, Module):
        """A Module that runs `_orig_mod` through recorded plans (see fathom.capture).

        Parameters, buffers, train()/eval() and state_dict are the original module's
        (state_dict keys get the `_orig_mod.` prefix, as PyTorch's OptimizedModule);
        other attributes are read through to it.
        """

        def __init__(self, mod, fullgraph, enabled, cache_size_limit):
            Module.__init__(self)
            self._orig_mod = mod
            self.__dict__["_capture_init"] = True
            self._setup(mod, mod, fullgraph, enabled, cache_size_limit)

        def __setattr__(self, name, value):
            if name.startswith("_") and self.__dict__.get("_capture_init") and \
                    name not in ("_orig_mod",):
                self.__dict__[name] = value
            else:
                Module.__setattr__(self, name, value)

        def forward(self, *args, **kwargs):
            return self._call(args, kwargs)

        def __getattr__(self, name):
            try:
                return Module.__getattr__(self, name)
            except AttributeError:
                return getattr(self.__dict__["_modules"]["_orig_mod"], name)

        def _name(self):
            return type(self._orig_mod).__name__

        def __repr__(self):
            return f"CompiledModule({self._orig_mod!r})"

    return CompiledModule


_MODULE_CLASS = []


class CompiledFunction(_Capture):
    """A plain function of Tensors run through recorded plans (see fathom.capture)."""

    def __init__(self, fn, fullgraph, enabled, cache_size_limit):
        self.__wrapped__ = fn
        self._setup(fn, None, fullgraph, enabled, cache_size_limit)

    def __call__(self, *args, **kwargs):
        return self._call(args, kwargs)

    def _name(self):
        return getattr(self._fn, "__qualname__", type(self._fn).__name__)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None,  # noqa: A001
            mode=None, options=None, disable: bool = False,
            cache_size_limit: int = CACHE_SIZE_LIMIT):
    """Record `model`'s forward once per input signature and replay it (torch.compile's face).

    Args:
        model: an nn.Module (returns a CompiledModule) or a function of Tensors (returns a
            CompiledFunction); None gives a decorator.
        fullgraph: raise CaptureError instead of running a signature eagerly.
        dynamic, mode, options: accepted for PyTorch compatibility; they change nothing
            (each new shape records its own plan).
        backend: None, "inductor" or "fathom" replay; "eager" runs the model as is.
        disable: True returns a wrapper that always runs eagerly.
        cache_size_limit: plans kept per compiled model (least recently used dropped).
    Returns:
        A callable with the model's signature, plus `.explain()`, `.stats` and `.reset()`.

        >>> net = fathom.nn.Linear(3, 2)
        >>> tuple(fathom.compile(net)(fathom.ones(4, 3)).shape)
        (4, 2)
    """
    _check_options(mode, backend, dynamic, options)
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                  mode=mode, options=options, disable=disable,
                                  cache_size_limit=cache_size_limit)
    if not callable(model):
        raise TypeError(f"fathom.compile: expected an nn.Module or a function, got "
                        f"{type(model).__name__}")
    if not isinstance(cache_size_limit, int) or cache_size_limit < 1:
        raise ValueError(f"fathom.compile: cache_size_limit must be a positive int, got "
                         f"{cache_size_limit!r}")
    enabled = not disable and backend != "eager"
    from .nn.module import Module  # noqa: PLC0415
    if isinstance(model, Module):
        if not _MODULE_CLASS:
            _MODULE_CLASS.append(_compiled_module_class())
        return _MODULE_CLASS[0](model, fullgraph, enabled, cache_size_limit)
    return CompiledFunction(model, fullgraph, enabled, cache_size_limit)


__all__ = ["compile", "CaptureError", "CompiledFunction"]
