"""The backward engine: one pass over the graph in dependency order, no recursion.

Gradients travel as raw arrays (no Tensor objects, no graph) unless
`create_graph=True`, when they travel as Tensors through Fathom's own ops and
can be differentiated again. The engine is the one place that sums a gradient
over broadcast dims and casts it to its input's dtype.
"""
from __future__ import annotations

from .. import backend
from ..errors import GradShapeError, fmt_shape
from .function import (AccumulateGrad, FunctionCtx, Op, check_versions, run_function_backward,
                       saved_as_tensors)
from .. import tensor as _tensor  # circular: attributes are read at call time only
from . import array_ns
from .grad_mode import state as _mode

_np = backend.np
_ndarray = _np.ndarray


def sum_to(F, g, shape, node=None, i=0):
    """Sum `g` over the dims that broadcasting added, so it has `shape`."""
    gshape = g.shape
    if tuple(gshape) == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    ok = lead >= 0 and all(s == 1 or s == gs for s, gs in zip(shape, gshape[lead:]))
    if not ok:
        who = node.name() if node is not None else "backward"
        raise GradShapeError(f"backward of {who}: gradient for input {i} has shape "
                             f"{fmt_shape(gshape)}, not compatible with input shape "
                             f"{fmt_shape(shape)}")
    axes = tuple(range(lead)) + tuple(lead + k for k, s in enumerate(shape)
                                      if s == 1 and gshape[lead + k] != 1)
    if axes:
        g = F.sum(g, axis=axes, keepdims=True)
    return F.reshape(g, shape) if lead else g


def _tensor_ns():
    from . import tensor_ns  # noqa: PLC0415 - needs fathom.ops, which needs this module
    return tensor_ns


def _owner(a):
    return a if a.base is None else a.base


def run_backward(roots, retain_graph=False, create_graph=False, capture=None,
                 accumulate=True):
    """Propagate gradients from `roots`, a list of ((node, out_idx), grad).

    capture: {(node, idx): None} edges whose gradient to return instead of (or as well
    as) accumulating; with `accumulate=False` only the nodes that lead to them run.
    """
    Tensor, _make = _tensor.Tensor, _tensor._make

    # 1. Find the nodes to run and count, for each, the edges that will feed it.
    order, seen, stack = [], set(), []
    for (node, _), _g in roots:
        if node not in seen:
            seen.add(node)
            stack.append(node)
    while stack:
        node = stack.pop()
        order.append(node)
        for e in node.next_edges:
            if e is not None and e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])
    if capture is not None and not accumulate:
        needed = _nodes_leading_to({e[0] for e in capture}, order, seen)
    else:
        needed = seen
    deps = dict.fromkeys(needed, 0)
    for node in needed:
        for e in node.next_edges:
            if e is not None and e[0] in needed:
                deps[e[0]] += 1

    # 2. Seed the root gradients.
    grads = {}
    given = set()  # arrays already handed to a .grad, so no two leaves share one buffer
    for (node, idx), g in roots:
        if create_graph and not isinstance(g, Tensor):
            g = _make(g, None, 0, None)
        if not create_graph and not isinstance(g, Tensor):
            given.add(id(_owner(g)))
        slot = grads.setdefault(node, [None] * node.n_outputs)
        slot[idx] = g if slot[idx] is None else _add(slot[idx], g)
    ready = [n for (n, _), _g in roots if deps.get(n, 0) == 0 and n in needed]
    ready = list(dict.fromkeys(ready))

    F = _tensor_ns() if create_graph else None
    prev_mode = _mode.enabled
    _mode.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            gs = grads.pop(node, None)
            if gs is None:
                # no gradient reached this node (every consumer returned None), but its
                # inputs may still get gradients along other paths: release them
                for e in node.next_edges:
                    if e is not None and e[0] in needed:
                        deps[e[0]] -= 1
                        if deps[e[0]] == 0:
                            ready.append(e[0])
                continue
            if node.hooks:
                gs = _run_hooks(node, gs, create_graph, Tensor, _make)
            if capture is not None:
                for k, g in enumerate(gs):
                    if (node, k) in capture:
                        capture[(node, k)] = g if capture[(node, k)] is None \
                            else _add(capture[(node, k)], g)
            if type(node) is AccumulateGrad:
                if accumulate:
                    _accumulate_leaf(node, gs[0], create_graph, given, Tensor, _make)
                continue
            in_grads = _call_backward(node, gs, retain_graph, create_graph)
            xpF = F or node.F
            for i, e in enumerate(node.next_edges):
                if e is None or e[0] not in needed:
                    continue
                ga = in_grads[i] if i < len(in_grads) else None
                if ga is not None:
                    shape, dt = node.in_meta[i]
                    if not create_graph:
                        if type(ga) is not _ndarray:
                            ga = node.xp.asarray(ga)  # NumPy returns scalars for 0-d math
                    elif not isinstance(ga, Tensor):
                        ga = _make(node.xp.asarray(ga), None, 0, None)
                    arr = ga.data if create_graph else ga
                    if arr.shape != shape:
                        ga = sum_to(xpF, ga, shape, node, i)
                    if arr.dtype != dt:
                        ga = ga.to(dt) if create_graph else ga.astype(dt)
                    if _mode.anomaly:
                        _check_finite(node, i, ga.data if create_graph else ga)
                    nxt, k = e
                    slot = grads.get(nxt)
                    if slot is None:
                        slot = grads[nxt] = [None] * nxt.n_outputs
                    slot[k] = ga if slot[k] is None else _add(slot[k], ga)
                deps[e[0]] -= 1
                if deps[e[0]] == 0:
                    ready.append(e[0])
    finally:
        _mode.enabled = prev_mode


def _add(a, b):
    """a + b, kept an array: the sum of two 0-d NumPy arrays is a NumPy scalar."""
    s = a + b
    return _np.asarray(s) if isinstance(s, _np.generic) else s


def _nodes_leading_to(targets, order, seen):
    """The nodes of `order` from which some target is reachable.

    Walks the edges backwards from the targets (a DFS visiting order is not a
    topological order, so one reversed pass over it can miss a path).
    """
    parents = {}
    for node in order:
        for e in node.next_edges:
            if e is not None:
                parents.setdefault(e[0], []).append(node)
    needed = {t for t in targets if t in seen}
    stack = list(needed)
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def _call_backward(node, gs, retain_graph, create_graph):
    if node.saved is None or (type(node) is FunctionCtx and node.to_save is None):
        raise RuntimeError(
            f"Trying to backward through the graph a second time (or directly access saved "
            f"tensors after they have already been freed): {node.name()}'s saved values were "
            f"freed by the first backward. Specify retain_graph=True on the first backward "
            f"(or autograd.grad) call if you need to backward through the graph twice.")
    check_versions(node)
    if type(node) is FunctionCtx:
        res = run_function_backward(node, gs, create_graph)
        if not retain_graph:
            node.to_save = None
        return res
    if create_graph:
        if not node.differentiable_twice:
            raise RuntimeError(f"{node.name()}: double backward (create_graph=True) is not "
                               f"supported through this op")
        tensor_ns = _tensor_ns()
        saved, node.saved = node.saved, saved_as_tensors(node)
        node.F = tensor_ns
        try:
            res = node.backward(*gs) if node.n_outputs > 1 else node.backward(gs[0])
        finally:
            node.saved, node.F = saved, array_ns.for_xp(node.xp)
    else:
        res = node.backward(*gs) if node.n_outputs > 1 else node.backward(gs[0])
    if not retain_graph and node.saved:
        node.saved = None  # free memory; a second backward now raises the error above
    return res if type(res) is tuple else (res,)


def _run_hooks(node, gs, create_graph, Tensor, _make):
    gs = list(gs)
    for k, fns in node.hooks.items():
        if gs[k] is None:
            continue
        for fn in fns:
            g = gs[k] if create_graph else _make(gs[k], None, 0, None)
            r = fn(g)
            if r is not None:
                gs[k] = r if create_graph else r.data
    return gs


def _accumulate_leaf(node, g, create_graph, given, Tensor, _make):
    t = node.tensor_ref()
    if t is None:
        return
    for fn in t._hooks or ():
        r = fn(g if create_graph else _make(g, None, 0, None))
        if r is not None:
            g = r if create_graph else r.data
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
        return
    if t.grad is None:
        owner = id(_owner(g))
        if owner in given or not g.flags.writeable:
            g = g.copy()
        else:
            given.add(owner)
        t.grad = _make(g, None, 0, None)
    elif t.grad.requires_grad:  # a grad built with create_graph: keep it a graph value
        t.grad = t.grad + _make(g, None, 0, None)
    else:
        t.grad.data += g
        t.grad._vc[0] += 1


def _check_finite(node, i, ga):
    xp = backend.namespace(ga)
    if not bool(xp.isfinite(ga).all()):
        what = "nan" if bool(xp.isnan(ga).any()) else "inf"
        where = f"\nThe forward op was created at:\n{node.trace}" if node.trace else ""
        raise RuntimeError(f"detect_anomaly: function '{node.name()}' returned {what} values "
                           f"in its gradient for input {i}.{where}")


__all__ = ["run_backward", "sum_to", "Op"]
