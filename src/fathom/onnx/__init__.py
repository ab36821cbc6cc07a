"""ONNX interchange: `export` a Fathom module to an ONNX model by tracing, `load` one back
as a Fathom module, and `Backend` (Fathom as an `onnx.backend` for conformance tests).

    model = fathom.onnx.export(net, fathom.randn(1, 784), "mlp.onnx",
                               dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    net2 = fathom.onnx.load("mlp.onnx")
"""
from .backend import Backend
from .export import ExportError, export
from .importer import load

__all__ = ["export", "load", "Backend", "ExportError"]
