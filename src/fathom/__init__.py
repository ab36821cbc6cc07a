"""Fathom: a deep learning framework in Python on NumPy, in PyTorch's dialect.

    import fathom
    x = fathom.randn(3, requires_grad=True)
    (x * x).sum().backward()
    x.grad  # 2 * x
"""
from .tensor import Tensor, Size
from .dtypes import (dtype, float32, float64, float16, int64, int32, int16, int8, uint8, bool,
                     float, double, half, long, int, short, get_default_dtype,
                     set_default_dtype)
from .backend import device
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled,
                                 inference_mode)
from .creation import (tensor, as_tensor, from_numpy, zeros, ones, empty, full, zeros_like,
                       ones_like, empty_like, full_like, arange, linspace, logspace, eye,
                       scalar_tensor)
from .ops import *  # noqa: F403 - the op functions are fathom's top-level math
from .random import (manual_seed, seed, initial_seed, Generator, default_generator, rand,
                     randn, randint, randperm, rand_like, randn_like, randint_like, normal,
                     bernoulli, multinomial, get_rng_state, set_rng_state)
from . import autograd, random, accelerator  # noqa: F401
from . import nn, optim  # noqa: F401
from .io import save, load  # safetensors files, never pickle

__version__ = "0.1.0"


def is_tensor(obj) -> "bool":
    return isinstance(obj, Tensor)


def numel(input) -> "int":
    return input.numel()


# Subpackages beyond the core load on first use (`fathom.utils.data...`, `fathom.vision`),
# as `torch.utils` does, while `import fathom` stays fast.
_LAZY_SUBPACKAGES = ("utils", "vision", "metrics", "train", "io", "cli", "keras", "onnx",
                     "serve")


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    if name == "compile":  # graph capture lives in fathom.capture; PyTorch spells it this way
        from .capture import compile
        return compile
    raise AttributeError(f"module 'fathom' has no attribute {name!r}")
