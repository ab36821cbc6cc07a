"""OpInfo and SampleInput: what the op table holds for each op (PyTorch's OpInfo idea).

An OpInfo says how to call the op in Fathom, in NumPy (the reference) and in
PyTorch (the oracle), and which samples to call it on. Samples hold NumPy
arrays and plain Python values; the harness turns arrays into tensors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class SampleInput:
    """Positional args (NumPy arrays become tensors) and keyword args for one call.

    grad_args: indices of args that get requires_grad (default: every float array).
    """

    def __init__(self, *args, grad_args=None, name="", **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.name = name
        if grad_args is None:
            grad_args = tuple(i for i, a in enumerate(args)
                              if isinstance(a, np.ndarray) and a.dtype.kind == "f")
        self.grad_args = tuple(grad_args)

    def __repr__(self):
        shapes = [a.shape if isinstance(a, np.ndarray) else a for a in self.args]
        return f"SampleInput({self.name or ''}{shapes}, {self.kwargs})"


@dataclass
class OpInfo:
    """One public op.

    name:      public name, e.g. "add", "Tensor.add_", "nn.functional.conv2d".
    op:        calls Fathom: op(*tensors_and_values, **kwargs).
    ref:       NumPy reference: ref(*arrays_and_values, **kwargs); None when the torch
               comparison is the only reference (say why in `notes`).
    torch_op:  calls PyTorch the same way; None means resolve `name` in torch
               (torch.<name> or torch.nn.functional.<name>).
    samples:   samples(rng) -> list[SampleInput]; include 0-d, size-1 dims,
               broadcast pairs, negative dims, keepdim where they apply.
    """

    name: str
    op: Callable
    samples: Callable[[np.random.Generator], list]
    ref: Callable | None = None
    torch_op: Callable | None = None
    differentiable: bool = True
    gradgrad: bool = True           # double backward claimed (gradgradcheck runs)
    noncontiguous: bool = True      # also run on transposed (non-contiguous) inputs
    atol: float = 1e-7              # float64 forward tolerances vs NumPy and torch
    rtol: float = 1e-7
    grad_atol: float = 1e-5         # gradcheck tolerances
    grad_rtol: float = 1e-3
    torch_kwargs: Callable | None = None  # maps kwargs to torch's (e.g. dtype objects)
    aliases: tuple = ()             # other public names this entry also covers
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
