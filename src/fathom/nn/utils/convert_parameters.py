"""Parameters to one flat vector and back, as torch.nn.utils (for second-order methods,
evolution strategies, weight averaging by hand)."""
from __future__ import annotations

from ...errors import ShapeError
from ...ops.shape import cat, reshape
from ...tensor import Tensor


def _check_device(param, device):
    if device is not None and param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and joined, in order, into one 1-D tensor.

    Differentiable: gradients of the vector flow back to the parameters.

        >>> parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        fathom.Size([8])
    """
    device, flat = None, []
    for p in parameters:
        device = _check_device(p, device)
        flat.append(reshape(p, (-1,)))
    if not flat:
        raise ValueError("parameters_to_vector: got no parameters (an empty iterable, or a "
                         "generator that was already used up)")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Slice the 1-D `vec` into the parameters, in order: each parameter's `.data` becomes
    a view of its slice (so it takes vec's dtype, as in PyTorch).

    Deviation from PyTorch, which ignores trailing elements: vec must hold exactly as
    many elements as the parameters (a ShapeError names both counts).
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected fathom.Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ShapeError(f"vector_to_parameters: vec must be 1-D, got vec of shape "
                         f"{tuple(vec.shape)}")
    parameters = list(parameters)
    device = None
    for p in parameters:
        device = _check_device(p, device)
    total = sum(p.numel() for p in parameters)
    if total != vec.shape[0]:
        shapes = ", ".join(str(tuple(p.shape)) for p in parameters)
        raise ShapeError(f"vector_to_parameters: vec has {vec.shape[0]} elements but the "
                         f"parameters hold {total} in all (shapes {shapes})")
    flat, start = vec.data, 0
    for p in parameters:
        n = p.numel()
        p.data = flat[start:start + n].reshape(p.shape)
        start += n


__all__ = ["parameters_to_vector", "vector_to_parameters"]
