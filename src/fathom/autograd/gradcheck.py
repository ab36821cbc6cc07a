"""gradcheck / gradgradcheck: compare analytic gradients with central differences.

For each input that requires grad, the Jacobian-vector product along a random
output weighting `w` (the gradient of `(f(x) * w).sum()`) is compared with the
central difference of that same scalar. Up to 64 elements every coordinate is
perturbed (a full check); above that, a few random directions are (chainer's
`check_backward`, PyTorch's fast mode). Use float64 inputs.
"""
from __future__ import annotations

import numpy as _np


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    from ..tensor import Tensor  # noqa: PLC0415
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.data.dtype.kind == "f"]


def _scalar(fn, inputs, weights):
    from ..autograd.grad_mode import no_grad  # noqa: PLC0415
    with no_grad():
        outs = _outputs(fn, inputs)
    return sum(float((o.data.astype(_np.float64) * w).sum()) for o, w in zip(outs, weights))


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              n_directions=3, seed=0, full_max_numel=64) -> bool:
    """True if `func`'s analytic gradients match finite differences at `inputs`.

    inputs: a Tensor or tuple of them (and other arguments); those with
    requires_grad=True are checked. Raises GradcheckError with both values
    (unless raise_exception=False, then returns False).
    """
    from ..tensor import Tensor  # noqa: PLC0415
    from . import grad  # noqa: PLC0415

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in diff:
        if inputs[i].data.dtype != _np.float64:
            import warnings  # noqa: PLC0415
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check "
                          "may fail from rounding alone", stacklevel=2)
    rng = _np.random.default_rng(seed)
    outs = _outputs(func, inputs)
    if not outs:
        return True  # nothing differentiable came out (e.g. a gradient that is constant)
    weights = [rng.standard_normal(o.data.shape) for o in outs]
    total = sum((o * _as(o, w)).sum() for o, w in zip(outs, weights) if o.requires_grad)
    if not isinstance(total, Tensor):
        analytic = [_np.zeros(inputs[i].data.shape) for i in diff]
    else:
        gs = grad(total, [inputs[i] for i in diff], allow_unused=True)
        analytic = [_np.zeros(inputs[i].data.shape) if g is None else g.data.astype(_np.float64)
                    for i, g in zip(diff, gs)]
    for i, a in zip(diff, analytic):
        x = inputs[i].data
        n = x.size
        if n <= full_max_numel:
            directions = [_np.eye(n)[k].reshape(x.shape) for k in range(n)]
        else:
            directions = [rng.standard_normal(x.shape) for _ in range(n_directions)]
        for k, d in enumerate(directions):
            orig = x.copy()
            x[...] = orig + eps * d
            plus = _scalar(func, inputs, weights)
            x[...] = orig - eps * d
            minus = _scalar(func, inputs, weights)
            x[...] = orig
            numeric = (plus - minus) / (2 * eps)
            analytic_d = float((a * d).sum())
            if not abs(numeric - analytic_d) <= atol + rtol * abs(numeric):
                where = f"element {k}" if n <= full_max_numel else f"random direction {k}"
                msg = (f"gradcheck: gradient of input {i} (shape {tuple(x.shape)}) differs "
                       f"along {where}: numerical {numeric:.8g} vs analytical "
                       f"{analytic_d:.8g} (atol={atol}, rtol={rtol})")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def _as(o, w):
    from ..tensor import _make  # noqa: PLC0415
    return _make(w.astype(o.data.dtype), None, 0, None)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0) -> bool:
    """gradcheck of the gradient itself: checks the second derivatives of `func`."""
    from ..tensor import Tensor, _make  # noqa: PLC0415
    from . import grad  # noqa: PLC0415
    from .grad_mode import enable_grad  # noqa: PLC0415

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    rng = _np.random.default_rng(seed + 1)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = [_make(rng.standard_normal(o.data.shape).astype(o.data.dtype), None, 0,
                              None) for o in outs]

    def first_grads(*args):
        with enable_grad():  # gradcheck evaluates func under no_grad for its differences
            outs = _outputs(func, args)
            total = sum((o * w).sum() for o, w in zip(outs, grad_outputs) if o.requires_grad)
            if not isinstance(total, Tensor):
                return ()
            gs = grad(total, [args[i] for i in diff], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)
