"""Automatic differentiation: backward, grad, custom Functions, gradient checks, grad mode."""
from __future__ import annotations

from .function import Function, FunctionCtx  # noqa: F401
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: F401
                        set_grad_enabled)
from .engine import run_backward
from .. import tensor as _tensor  # circular: attributes are read at call time only


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(outputs, grad_outputs, create_graph, who):
    Tensor = _tensor.Tensor
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{who}: got {len(outputs)} outputs but {len(grad_outputs)} "
                           "grad_outputs")
    roots = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{who}: output {i} is a {type(out).__name__}, not a Tensor")
        if not out.requires_grad:
            raise RuntimeError(f"{who}: element {i} of tensors does not require grad and does "
                               "not have a grad_fn (was it computed under no_grad, or from "
                               "tensors without requires_grad=True?)")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"{who}: grad can be implicitly created only for scalar "
                                   f"outputs; output {i} has shape {tuple(out.shape)} (pass "
                                   "gradient=, e.g. ones_like(output))")
            xp = out._node.xp if out._node is not None else __import__("numpy")
            g = xp.ones(out.data.shape, dtype=out.data.dtype)
        else:
            if isinstance(g, Tensor):
                g = g if create_graph else g.data
            if tuple(g.shape) != tuple(out.data.shape):
                raise RuntimeError(f"{who}: gradient of shape {tuple(g.shape)} does not match "
                                   f"output {i} of shape {tuple(out.data.shape)}")
        roots.append((out._edge(), g))
    return roots


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of `tensors` into the `.grad` of the leaves they depend on."""
    tensors = _as_list(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(tensors, grad_tensors, create_graph, "backward")
    if inputs is None:
        run_backward(roots, retain_graph, create_graph)
        return
    inputs = _as_list(inputs)
    grads = grad(tensors, inputs, grad_tensors, retain_graph, create_graph, allow_unused=True)
    for t, g in zip(inputs, grads):
        if g is not None:
            if not create_graph:
                g = g.detach()
            t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    With create_graph=True the results are part of the graph, so they can be
    differentiated again (gradient penalties, Hessian-vector products).
    """
    Tensor, _make = _tensor.Tensor, _tensor._make
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    roots = _root_grads(outputs, grad_outputs, create_graph, "grad")
    capture = {t._edge(): None for t in inputs}
    run_backward(roots, retain_graph, create_graph, capture=capture, accumulate=False)
    result = []
    for i, t in enumerate(inputs):
        g = capture[t._edge()]
        if g is None:
            if materialize_grads:
                g = t.data * 0
            elif not allow_unused:
                raise RuntimeError(f"grad: one of the differentiated tensors (input {i}, shape "
                                   f"{tuple(t.shape)}) appears to not have been used in the "
                                   "graph; set allow_unused=True if this is intended")
        if g is not None and not isinstance(g, Tensor):
            g = _make(g, None, 0, None)
        result.append(g)
    return tuple(result)


from .gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402,F401
from . import trace  # noqa: E402,F401
