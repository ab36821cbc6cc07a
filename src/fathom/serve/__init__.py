"""The inference server: model packages, a model repository, and `fathom serve`.

    from fathom.serve import save_package, Server
    save_package(model, "models/mlp/1", name="mlp", architecture=..., inputs=..., outputs=...)
    with Server("models") as server:        # 127.0.0.1, a free port
        httpx.post(server.url + "/v2/models/mlp/infer", json={...})

Open Inference Protocol v2 and TF-Serving REST on Starlette + uvicorn, with dynamic
batching, Prometheus metrics (`metrics`), input drift (`drift`) and JSON logs (`logs`).
See docs/serving.md. Names load on first use, so `import fathom.serve` stays light.
"""
from __future__ import annotations

import importlib

__all__ = ["save_package", "load_package", "register", "Package", "PackageError",
           "Repository", "RepositoryError", "Batcher", "create_app", "Server", "serve"]

_WHERE = {"save_package": "package", "load_package": "package", "register": "package",
          "Package": "package", "PackageError": "package", "Repository": "repository",
          "RepositoryError": "repository", "Batcher": "batching", "create_app": "app",
          "Server": "server", "serve": "server"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'fathom.serve' has no attribute {name!r}")
