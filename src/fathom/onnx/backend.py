"""`Backend`: Fathom as an `onnx.backend.base.Backend`, for ONNX's conformance suite.

`Backend.prepare(model)` imports the model with `fathom.onnx.load` (checked, never
executed) and returns a `FathomRep` whose `run(inputs)` feeds NumPy arrays through the
module without recording gradients and returns NumPy arrays. `run_node` runs one node.

    >>> rep = Backend.prepare(onnx.load("mlp.onnx"))
    >>> (y,) = rep.run([np.zeros((1, 784), np.float32)])
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend as _Base, BackendRep

from ..autograd.grad_mode import no_grad
from .importer import OnnxModule, load

__all__ = ["Backend", "FathomRep", "prepare", "run_model", "run_node", "supports_device"]


class FathomRep(BackendRep):
    """A prepared model: `run(inputs)` -> tuple of NumPy arrays, one per graph output.

    inputs: a list of arrays in graph-input order, a dict {input name: array}, or one
    array for a one-input model."""

    def __init__(self, module: OnnxModule):
        self.module = module.eval()

    def run(self, inputs, **kwargs) -> tuple:
        names = self.module.input_names
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise KeyError(f"FathomRep.run: missing input(s) {missing}; the model takes "
                               f"{names}")
            inputs = [inputs[n] for n in names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        with no_grad():  # arrays go in as they are: the module converts and names them
            out = self.module(*[np.asarray(x) for x in inputs])
        out = out if isinstance(out, tuple) else (out,)
        return tuple(o.numpy(force=True) for o in out)


class Backend(_Base):
    """Runs ONNX models on Fathom's NumPy engine (device 'CPU')."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> FathomRep:
        """Import `model` (a ModelProto or a path) for running on `device`."""
        if not cls.supports_device(device):
            raise ValueError(f"fathom.onnx.Backend: device {device!r} is not supported "
                             "(only 'CPU')")
        return FathomRep(load(model))

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs) -> tuple:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs, device: str = "CPU", outputs_info=None,
                 **kwargs) -> tuple:
        """Run one node on `inputs` (arrays, in the node's input order)."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info, **kwargs)
        arrays = [np.asarray(x) for x in inputs]
        names = [n for n in node.input if n]
        graph = helper.make_graph(
            [node], f"run_node_{node.op_type}",
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype),
                                           a.shape) for n, a in zip(names, arrays)],
            [helper.make_empty_tensor_value_info(n) for n in node.output if n])
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        return FathomRep(OnnxModule(model, f"<node {node.op_type}>")).run(arrays)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


prepare = Backend.prepare
run_model = Backend.run_model
run_node = Backend.run_node
supports_device = Backend.supports_device
