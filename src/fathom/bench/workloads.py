"""The workloads of `fathom bench`: each the same computation in Fathom and in PyTorch.

A workload is a function `(ctx) -> list of rows`; `WORKLOADS` names them in the order
they run. A row is a dict: group, name, unit, better ("lower" or "higher"), goal (on the
Fathom/peer ratio) or None, values {framework: number}, spread {framework: IQR/median},
ratio (Fathom/peer) and peer. Both frameworks start from the same weights and data, and
threads are pinned equal (the command re-executes itself to set them before NumPy loads).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import fathom
from fathom.vision import models

from . import harness
from .twins import copy_weights, epoch_fn, twin


class Context:
    """What every workload needs: the torch module (or None), the other peers' twin modules
    ({"jax": fathom.bench.jax_twins, "tf": fathom.bench.tf_twins}, those installed and
    asked for), repetitions, data, a scratch folder.

    A twin module names what it covers in SUPPORTS (model names for epochs and inference,
    "transformer", "resnet18", "add") and builds each from the Fathom model, so every peer
    starts from the same weights: epoch_fn(name, model, x, y, batch, order),
    steps_fn(name, model, x, y, steps), inference_fn(name, model, x), add_fn(x, y). Each
    returns a no-argument function that blocks until its work is done.
    """

    def __init__(self, torch, repeat: int, limit: int, tmp: str, peers=None):
        self.torch, self.repeat, self.limit, self.tmp = torch, repeat, limit, tmp
        self.peers = dict(peers or {})
        self._fashion = None

    def peer_fns(self, what: str, name: str, *args, warm: bool = False) -> dict:
        """{peer: fn} from every twin module that supports `name`; warm=True runs each once
        here, so compilation (jit, tf.function tracing) stays out of the timed rounds."""
        fns = {}
        for key, twins in self.peers.items():
            if name in twins.SUPPORTS:
                fns[key] = getattr(twins, what)(name, *args)
                if warm:
                    fns[key]()
        return fns

    def fashion(self):
        """Normalized Fashion-MNIST training images (N, 1, 28, 28) float32 and labels int64."""
        if self._fashion is None:
            from fathom.vision import datasets
            ds = datasets.FashionMNIST(None, train=True)
            x = (ds.data[:self.limit].astype(np.float32) / 255 - 0.2860) / 0.3530
            self._fashion = (np.ascontiguousarray(x[:, None]),
                             ds.targets[:self.limit].astype(np.int64))
        return self._fashion


def row(group, name, values, *, unit="s", better="lower", goal=None, spread=None,
        peer="PyTorch", peer_key="torch", note=""):
    ratios = {k: values["fathom"] / v for k, v in values.items()
              if k != "fathom" and "fathom" in values and v}
    return {"group": group, "name": name, "unit": unit, "better": better, "goal": goal,
            "values": values, "spread": spread or {}, "ratio": ratios.get(peer_key),
            "ratios": ratios, "peer": peer, "note": note}


def timed(ctx, group, name, fathom_fn, torch_fn, goal=None, whole=False, note="",
          peer_fns=None):
    """Interleaved timing of one workload; whole=True runs each once per round (epochs);
    peer_fns: {peer: fn} for the peers other than PyTorch."""
    fns = {"fathom": fathom_fn}
    if ctx.torch is not None:
        fns["torch"] = torch_fn
    fns.update(peer_fns or {})
    # quick rows take five times as many samples: each costs well under a second
    r = harness.compare_many(fns, ctx.repeat if whole else 5 * ctx.repeat,
                             None if whole else 0.05)
    return row(group, name, {k: v["s"] for k, v in r.items()},
               spread={k: v["spread"] for k, v in r.items()}, goal=goal, note=note)


# --- training epochs on Fashion-MNIST ---------------------------------------------------------

def _epoch(name, batch, goal, title):
    def workload(ctx):
        x, y = ctx.fashion()
        order = np.random.default_rng(0).permutation(len(x))
        fathom.manual_seed(0)
        fm = models.get(name)
        f_run = epoch_fn(fathom, fm, x, y, batch, order)
        t_run = None
        if ctx.torch is not None:
            t_run = epoch_fn(ctx.torch, twin(ctx.torch, name, fm), x, y, batch, order)
        peers = ctx.peer_fns("epoch_fn", name, fm, x, y, batch, order, warm=True)
        return [timed(ctx, "epoch", f"{title}, batch {batch}: one epoch ({len(x)} images)",
                      f_run, t_run, goal, whole=True, peer_fns=peers)]
    return workload


# --- training steps on synthetic data ----------------------------------------------------------

def _steps(lib, model, x, y, steps=3):
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    xs, ys = lib.from_numpy(x), lib.from_numpy(y)

    def run():
        model.train()
        for _ in range(steps):
            loss = loss_fn(model(xs), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run


def transformer_model(lib):
    """TransformerEncoder, 4 layers, d_model 128, 4 heads, feed-forward 512 (ReLU, post-norm),
    dropout 0 (so every framework does the same arithmetic), mean-pooled into a 10-class
    head. lib: fathom or torch. (batch, 64, 128) -> (batch, 10)."""
    nn = lib.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.encoder(x).mean(1))
    return Encoder()


def transformer(ctx):
    """transformer_model() on synthetic data, sequence 64, batch 32; Adam."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 128)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    fathom.manual_seed(0)
    fm = transformer_model(fathom)
    t_run = None
    if ctx.torch is not None:
        tm = copy_weights(ctx.torch, fm, transformer_model(ctx.torch))
        t_run = _steps(ctx.torch, tm, x, y)
    peers = ctx.peer_fns("steps_fn", "transformer", fm, x, y, 3, warm=True)
    return [timed(ctx, "step", "TransformerEncoder 4x(d128, 4 heads, ff512), seq 64, batch 32:"
                  " 3 Adam steps", _steps(fathom, fm, x, y), t_run, 1.5, whole=True,
                  peer_fns=peers)]


def resnet18(ctx):
    """ResNet-18, CIFAR stem, synthetic 32x32x3 batch 32, Adam."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    fathom.manual_seed(0)
    fm = models.resnet18()
    t_run = None
    if ctx.torch is not None:
        t_run = _steps(ctx.torch, twin(ctx.torch, "resnet18", fm), x, y)
    peers = ctx.peer_fns("steps_fn", "resnet18", fm, x, y, 3, warm=True)
    return [timed(ctx, "step", "ResNet-18 (CIFAR stem), 32x3x32x32, batch 32: 3 Adam steps",
                  _steps(fathom, fm, x, y), t_run, 1.5, whole=True, peer_fns=peers)]


# --- inference latency and per-op overhead ----------------------------------------------------

def inference(ctx):
    """Eval mode, no grad: the MLP and the CNN at batch 1 and batch 256."""
    rows = []
    rng = np.random.default_rng(0)
    for name in ("mlp", "cnn"):
        fathom.manual_seed(0)
        fm = models.get(name).eval()
        tm = twin(ctx.torch, name, fm).eval() if ctx.torch is not None else None
        for batch in (1, 256):
            x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
            fx = fathom.from_numpy(x)

            def f_fn(fm=fm, fx=fx):
                with fathom.no_grad():
                    fm(fx)
            t_fn = None
            if tm is not None:
                tx = ctx.torch.from_numpy(x)

                def t_fn(tm=tm, tx=tx):
                    with ctx.torch.no_grad():
                        tm(tx)
            peers = ctx.peer_fns("inference_fn", name, fm, x)
            rows.append(timed(ctx, "inference", f"{name.upper()} inference, batch {batch}",
                              f_fn, t_fn, 0.7 if batch == 1 else None, peer_fns=peers))
    return rows


def overhead(ctx):
    """Per-op cost: an elementwise add on 64x128, and a tiny forward and backward."""
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal((64, 128)).astype(np.float32) for _ in range(2))
    w = (rng.standard_normal((128, 64)) * 0.1).astype(np.float32)
    fx, fy = fathom.from_numpy(x), fathom.from_numpy(y)
    fw = fathom.from_numpy(w.copy()).requires_grad_()

    def f_tiny():
        fw.grad = None
        (fx @ fw).relu().sum().backward()
    t_add = t_tiny = None
    if ctx.torch is not None:
        tx, ty = ctx.torch.from_numpy(x), ctx.torch.from_numpy(y)
        tw = ctx.torch.from_numpy(w.copy()).requires_grad_()

        def t_add():
            tx + ty

        def t_tiny():
            tw.grad = None
            (tx @ tw).relu().sum().backward()
    peers = {k: twins.add_fn(x, y) for k, twins in ctx.peers.items() if "add" in twins.SUPPORTS}
    return [timed(ctx, "overhead", "x + y, 64x128", lambda: fx + fy, t_add, peer_fns=peers),
            timed(ctx, "overhead", "(x @ w).relu().sum().backward(), 64x128 @ 128x64",
                  f_tiny, t_tiny)]


# --- graph capture: fathom.compile's gain ------------------------------------------------------

def capture(ctx):
    """fathom.compile against eager Fathom and PyTorch: the MLP and CNN at batch 1 (eval, no
    grad), and an MLP training step at batch 128. The compiled model records during warm-up
    and replays while timed; the row's note gives eager/compiled (above 1: capture wins)."""
    rng = np.random.default_rng(0)
    rows = []
    cases = [("mlp", 1, False), ("cnn", 1, False), ("mlp", 128, True)]
    for name, batch, train in cases:
        fathom.manual_seed(0)
        fm = models.get(name).train(train)
        x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        compiled = fathom.compile(fm)
        tm = twin(ctx.torch, name, fm).train(train) if ctx.torch is not None else None
        if train:
            order = np.arange(batch)  # one batch: one Adam step per call
            fns = {"fathom": epoch_fn(fathom, compiled, x, y, batch, order),
                   "eager": epoch_fn(fathom, fm, x, y, batch, order)}
            if tm is not None:
                fns["torch"] = epoch_fn(ctx.torch, tm, x, y, batch, order)
            title = f"{name.upper()} train step, batch {batch}, fathom.compile"
        else:
            fx = fathom.from_numpy(x)

            def infer(model, fx=fx):
                with fathom.no_grad():
                    model(fx)
            fns = {"fathom": lambda c=compiled: infer(c), "eager": lambda m=fm: infer(m)}
            if tm is not None:
                tx = ctx.torch.from_numpy(x)

                def t_infer(tm=tm, tx=tx):
                    with ctx.torch.no_grad():
                        tm(tx)
                fns["torch"] = t_infer
            title = f"{name.upper()} inference, batch {batch}, fathom.compile"
        r = harness.compare_many(fns, 5 * ctx.repeat)
        gain = r["eager"]["s"] / r["fathom"]["s"]
        values = {k: r[k]["s"] for k in ("fathom", "torch") if k in r}
        rows.append(row("capture", title, values, spread={k: r[k]["spread"] for k in values},
                        goal=0.7 if batch == 1 else None,
                        note=f"eager/compiled {gain:.2f}"))
    return rows


# --- GEMM throughput: NumPy's sgemm is the machine's limit ---------------------------------------

def _gflops(flops, fn, repeat):
    r = harness.compare_many({"x": fn}, repeat)["x"]
    return flops / r["s"] / 1e9, r["spread"]


def gemm(ctx):
    """NumPy sgemm GFLOP/s at 512, 1024, 2048, and what Fathom's Linear and Conv2d forward
    reach on the same multiply-adds (the layer's whole forward, bias and im2col included)."""
    rng = np.random.default_rng(0)
    rows, repeat = [], 3 * ctx.repeat
    for n in (512, 1024, 2048):
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        g, s = _gflops(2 * n ** 3, lambda: a @ b, repeat)
        rows.append(row("gemm", f"NumPy sgemm {n}x{n}x{n}", {"numpy": g}, unit="GFLOP/s",
                        better="higher", spread={"numpy": s}, peer="NumPy sgemm",
                        peer_key="numpy"))
    # Linear: (1024, 1024) @ (1024, 1024)^T + bias, against sgemm of the same shapes
    x = fathom.randn(1024, 1024)
    lin = fathom.nn.Linear(1024, 1024)
    xa, wa = x.numpy(), lin.weight.detach().numpy()
    flops = 2 * 1024 ** 3
    with fathom.no_grad():
        f, fs = _gflops(flops, lambda: lin(x), repeat)
    g, gs = _gflops(flops, lambda: xa @ wa.T, repeat)
    rows.append(row("gemm", "Linear(1024, 1024) forward, batch 1024", {"fathom": f, "numpy": g},
                    unit="GFLOP/s", better="higher", goal=0.8, spread={"fathom": fs, "numpy": gs},
                    peer="NumPy sgemm", peer_key="numpy"))
    # Conv2d: (32, 64, 32, 32) * 64 filters 3x3, padding 1, as the GEMM (32*32*32, 576) @ (576, 64)
    xc = fathom.randn(32, 64, 32, 32)
    conv = fathom.nn.Conv2d(64, 64, 3, padding=1)
    m, k, n = 32 * 32 * 32, 64 * 9, 64
    flops = 2 * m * k * n
    cols = rng.standard_normal((m, k)).astype(np.float32)
    wk = conv.weight.detach().numpy().reshape(n, k)
    with fathom.no_grad():
        f, fs = _gflops(flops, lambda: conv(xc), repeat)
    g, gs = _gflops(flops, lambda: cols @ wk.T, repeat)
    rows.append(row("gemm", "Conv2d(64, 64, 3, padding=1) forward, 32x64x32x32, whole layer",
                    {"fathom": f, "numpy": g}, unit="GFLOP/s", better="higher",
                    spread={"fathom": fs, "numpy": gs}, peer="NumPy sgemm", peer_key="numpy",
                    note="im2col included; peer: the same multiply-adds as one sgemm"))
    # the matrix-multiply part alone: the GEMM ops/conv.py issues for this layer (weights
    # (O, C*kh*kw) @ batch-last columns (C*kh*kw, N*Ho*Wo)), against square sgemm at 1024
    cols_t = np.ascontiguousarray(cols.T)
    f, fs = _gflops(flops, lambda: wk @ cols_t, repeat)
    sq = rng.standard_normal((1024, 1024)).astype(np.float32)
    g, gs = _gflops(2 * 1024 ** 3, lambda: sq @ sq, repeat)
    rows.append(row("gemm", "Conv2d forward's GEMM part, (64, 576) @ (576, 32768)",
                    {"fathom": f, "numpy": g}, unit="GFLOP/s", better="higher", goal=0.8,
                    spread={"fathom": fs, "numpy": gs}, peer="NumPy sgemm", peer_key="numpy",
                    note="peer: sgemm 1024x1024x1024"))
    return rows


# --- import time and peak memory, each in a fresh process -------------------------------------

def _python(*args) -> str:
    """stdout of `python -c args...` in a fresh process (same environment, threads pinned)."""
    return subprocess.run([sys.executable, "-c", *args], check=True, capture_output=True,
                          text=True).stdout


def import_time(ctx):
    """Wall time of `python -c "import X"` minus that of `python -c pass`, median of runs."""
    code = ("import time, sys; t = time.perf_counter(); import {m}; "
            "print(time.perf_counter() - t)")
    values = {}
    for key, module in (("fathom", "fathom"), ("torch", "torch")):
        if key == "torch" and ctx.torch is None:
            continue
        times = [float(_python(code.format(m=module))) for _ in range(2 * ctx.repeat + 1)]
        values[key] = float(np.median(times))
    return [row("startup", "import time", values)]


_MEMORY_SCRIPT = """
import importlib.util, json, sys
import numpy as np


def peak_mib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across execve
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024



lib_name, model_name, data_path, batch, threads, twins_path = sys.argv[1:]
lib = __import__(lib_name)
# twins.py by path: importing the fathom package would add its memory to PyTorch's
spec = importlib.util.spec_from_file_location("twins", twins_path)
twins = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twins)
x, y = np.load(data_path + ".x.npy"), np.load(data_path + ".y.npy")
if lib_name == "fathom":
    from fathom.vision import models
    model = models.get(model_name)
else:
    lib.set_num_threads(int(threads))
    model = twins.torch_models(lib)[model_name]()
before = peak_mib()
twins.epoch_fn(lib, model, x, y, int(batch), np.random.default_rng(0).permutation(len(x)))()
print(json.dumps({"peak_mib": peak_mib(), "setup_mib": before}))
"""


def memory(ctx):
    """Peak resident memory of one training epoch (MLP, CNN), each framework in a fresh
    process that reads the same .npy data; also the growth over the process after setup."""
    x, y = ctx.fashion()
    path = os.path.join(ctx.tmp, "fashion")
    np.save(path + ".x.npy", x)
    np.save(path + ".y.npy", y)
    twins_file = os.path.join(os.path.dirname(__file__), "twins.py")
    rows = []
    for name in ("mlp", "cnn"):
        peak, growth = {}, {}
        for key in ("fathom", "torch"):
            if key == "torch" and ctx.torch is None:
                continue
            out = json.loads(_python(_MEMORY_SCRIPT, key, name, path, "128",
                                     str(harness.THREADS), twins_file))
            peak[key], growth[key] = out["peak_mib"], out["peak_mib"] - out["setup_mib"]
        rows.append(row("memory", f"{name.upper()} epoch, batch 128: peak RSS", peak, unit="MiB",
                        goal=1.0))
        rows.append(row("memory", f"{name.upper()} epoch, batch 128: growth during the epoch",
                        growth, unit="MiB"))
    return rows


# name -> workload, in the order `fathom bench` runs them (quick ones first)
WORKLOADS = {
    "overhead": overhead,
    "inference": inference,
    "compile": capture,
    "gemm": gemm,
    "import": import_time,
    "mlp": _epoch("mlp", 128, 1.0, "MLP 784-256-128-10"),
    "cnn": _epoch("cnn", 128, 1.0, "CNN conv32-conv64-fc128"),
    "lenet5": _epoch("lenet5", 64, 1.0, "LeNet-5"),
    "lstm": _epoch("lstm", 128, 1.5, "LSTM (28 steps, hidden 128)"),
    "transformer": transformer,
    "resnet18": resnet18,
    "memory": memory,
}


def run(names, torch, repeat: int, limit: int, progress=print, peers=None) -> list:
    """Run the named workloads and return their rows (peers: {name: twin module})."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(torch, repeat, limit, tmp, peers)
        for name in names:
            progress(f"running {name} ...")
            rows += WORKLOADS[name](ctx)
    return rows
