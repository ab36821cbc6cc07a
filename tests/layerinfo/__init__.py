"""The layer table: one LayerCase per configuration, run by tests/test_layers.py.

A case builds its module with `make(nn)`, called once with `torch.nn` and once with
`fathom.nn`, so both frameworks get the same architecture from the same line. The
driver checks, in float64, train and eval mode: state-dict keys and shapes equal
PyTorch's; default initialization has PyTorch's scale; with PyTorch's weights loaded,
outputs, input gradients, parameter gradients and buffers (running statistics) after
the forward are equal. `errors` lists bad inputs and the words their message must hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class LayerCase:
    name: str
    make: Callable                      # make(nn) -> module, nn is torch.nn or fathom.nn
    inputs: Callable                    # inputs(rng) -> tuple of np arrays / None / numbers
    kwargs: Callable | None = None      # kwargs(rng) -> dict of forward keyword arguments
    modes: tuple = ("train", "eval")
    grad_inputs: tuple | None = None    # indices of inputs that get gradients (default: floats)
    rtol: float = 1e-7
    atol: float = 1e-9
    check_init: bool = True             # compare default-init scale with PyTorch's
    stochastic_train: bool = False      # train mode is random (dropout): check shapes only
    errors: list = field(default_factory=list)  # [(inputs(rng), kwargs or None, [words])]


def normal(*shape, scale=1.0):
    return lambda rng: rng.standard_normal(shape) * scale


def ints(high, *shape, low=0):
    return lambda rng: rng.integers(low, high, shape)


def all_layer_cases():
    from . import activation, attention, basic, conv, loss, norm, rnn  # noqa: PLC0415
    cases = []
    for mod in (basic, activation, conv, norm, rnn, attention, loss):
        cases += mod.CASES
    return cases


__all__ = ["LayerCase", "normal", "ints", "all_layer_cases", "np"]
