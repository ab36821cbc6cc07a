"""Shared helpers for the serving tests: a tiny MLP package, a repository of them, a server
started in-process on a free loopback port or as ``python -m fathom serve`` in a
subprocess, and a wait-until-ready helper. Imported by tests/test_serve_*.py."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import fathom
from fathom.serve.drift import input_statistics
from fathom.serve.package import save_package
from fathom.vision import models

HOST = "127.0.0.1"
IN_FEATURES, CLASSES = 4, 3
ARCH = {"registry": "fathom.vision.models", "name": "mlp",
        "kwargs": {"num_classes": CLASSES, "in_features": IN_FEATURES, "hidden": [8]}}
INPUTS = [{"name": "input", "datatype": "FP32", "shape": [-1, IN_FEATURES]}]
OUTPUTS = [{"name": "output", "datatype": "FP32", "shape": [-1, CLASSES]}]
SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)


def tiny_model(seed: int = 0):
    """The 4 -> 8 -> 3 MLP of `fathom.vision.models.mlp`, eval mode, seeded weights."""
    fathom.manual_seed(seed)
    return models.get("mlp", **ARCH["kwargs"]).eval()


def save_tiny(path, *, name: str = "tiny", version: int = 1, seed: int = 0, stats: bool = True,
              labels=None):
    """Writes a tiny MLP package at ``path``; returns the model (to compute eager outputs)."""
    model = tiny_model(seed)
    training = np.random.default_rng(seed).normal(size=(256, IN_FEATURES))
    save_package(model, path, name=name, version=version, architecture=ARCH, inputs=INPUTS,
                 outputs=OUTPUTS, labels=labels,
                 training_stats={"input": input_statistics(training)} if stats else None)
    return model


def tiny_repository(root, versions=None) -> dict:
    """REPO/<name>/<version> tiny packages (default {"tiny": [1]}); returns
    {(name, version): model}. Each version has its own weights (seed = version)."""
    out = {}
    for name, vs in (versions or {"tiny": [1]}).items():
        for v in vs:
            out[name, v] = save_tiny(Path(root) / name / str(v), name=name, version=v, seed=v)
    return out


class SlowMLP(fathom.nn.Module):
    """Linear(4, 3) that sleeps ``delay_s`` per call: a model slow enough to fill a queue."""

    def __init__(self, delay_s: float = 0.05):
        super().__init__()
        self.delay_s = delay_s
        self.fc = fathom.nn.Linear(IN_FEATURES, CLASSES)

    def forward(self, x):
        time.sleep(self.delay_s)  # releases the GIL, like a long BLAS call
        return self.fc(x)


def save_slow(path, delay_s: float) -> dict:
    """Writes a `SlowMLP` package (registered architecture "slow") at ``path``; returns
    the registry that loads it."""
    registry = {"slow": SlowMLP}
    save_package(SlowMLP(delay_s), path, name="slow", registry=registry,
                 architecture={"registry": "registered", "name": "slow",
                               "kwargs": {"delay_s": delay_s}},
                 inputs=INPUTS, outputs=OUTPUTS)
    return registry


def infer_body(shape=(1, IN_FEATURES), data=None, datatype="FP32", **extra) -> dict:
    """An OIP v2 JSON infer body for the tiny models' input."""
    if data is None:
        data = [0.5] * int(np.prod(shape))
    return {"inputs": [{"name": "input", "shape": list(shape), "datatype": datatype,
                        "data": data, **extra}]}


def eager(model, x) -> np.ndarray:
    """The model's own output for ``x`` (no server), as float32 NumPy."""
    with fathom.no_grad():
        return model(fathom.tensor(np.asarray(x, np.float32))).numpy()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60.0, proc=None) -> None:
    """Polls ``url``/v2/health/ready until it answers 200; raises if ``proc`` exits or the
    time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}: "
                               f"{_output(proc)}")
        try:
            if httpx.get(url + "/v2/health/ready", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready after {timeout} s")
        time.sleep(0.05)


def _output(proc) -> str:
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return ""
    return (out or b"").decode(errors="replace")[-2000:]


@contextlib.contextmanager
def running_server(path, *, registry=None, **app_kwargs):
    """An in-process server (background thread) for the repository or package at
    ``path``, on a free loopback port; yields the `Server` (``.url``). ``app_kwargs`` go
    to `create_app` (max_batch_size, max_queue, request_timeout_s, token, ...)."""
    from fathom.serve.app import create_app
    from fathom.serve.metrics import ServeMetrics
    from fathom.serve.server import Server

    app_kwargs.setdefault("metrics", ServeMetrics())
    app = create_app(path, registry=registry, **app_kwargs)
    server = Server(app, host=HOST, port=0)
    server.start()
    try:
        wait_ready(server.url)
        yield server
    finally:
        server.stop()  # the app's shutdown closes the repository


def start_cli(path, *args: str, env=None):
    """``python -m fathom serve PATH --port P ARGS...`` as a subprocess, waited until ready;
    returns (process, url). Its output (JSON logs) goes to a pipe read by `stop_cli`."""
    port = free_port()
    environ = dict(os.environ, **(env or {}))
    # src for fathom, tests for `--register serve_fixtures:SlowMLP`
    environ["PYTHONPATH"] = os.pathsep.join([SRC, TESTS, environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "fathom", "serve", str(path), "--port",
                             str(port), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=environ)
    url = f"http://{HOST}:{port}"
    try:
        wait_ready(url, proc=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url


def stop_cli(proc, sig=signal.SIGTERM, timeout: float = 60.0) -> tuple[int, str]:
    """Sends ``sig`` and waits; returns (exit code, output). Kills it after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return None, (out or b"").decode(errors="replace")
    return proc.returncode, (out or b"").decode(errors="replace")
