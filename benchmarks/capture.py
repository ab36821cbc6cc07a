"""Graph capture's gain: eager Fathom vs `fathom.compile` vs PyTorch, interleaved in one run.

    .venv/bin/python benchmarks/capture.py [--repeat 7] [--only MLP] [--json out.json]

Each row times the same workload three ways, A B C A B C ...: eager Fathom, the compiled
Fathom model (recorded during warm-up, replayed while timed) and PyTorch eager with the
same weights, all at the pinned thread count. Training rows are one full step (forward,
cross-entropy, zero_grad, backward, Adam step), so the optimizer's time, which capture does
not touch, is in all three. Printed: medians, eager/compiled (above 1 = capture wins) and
compiled/PyTorch (below 1 = Fathom compiled is faster), each the median of per-round
ratios. On a busy machine, `--clock cpu` with FATHOM_BENCH_THREADS=1 times by CPU time.
"""
from __future__ import annotations

import harness  # noqa: F401 - pins the thread count before NumPy and PyTorch load

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import fathom  # noqa: E402
from fathom.bench import harness as H  # noqa: E402
from fathom.bench.twins import copy_weights, twin  # noqa: E402
from fathom.vision import models  # noqa: E402


def _train_step(lib, model, x, y):
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def _loss_step(lib, model, x, y, compiled_loss):
    """A train step whose model + loss run as one compiled function."""
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = compiled_loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def _fwd_bwd(model, x):
    params = list(model.parameters())

    def run():
        for p in params:
            p.grad = None
        model(x).sum().backward()
    return run


def _infer(lib, model, x):
    def run():
        with lib.no_grad():
            model(x)
    return run


def _registry(name, shape, torch):
    fathom.manual_seed(0)
    fm = models.get(name)
    return fm, (twin(torch, name, fm) if torch is not None else None), shape


def _small_mlp(torch):
    """An overhead-bound model: 64-32-32-10 at batch 32 (tiny GEMMs, many ops per FLOP)."""
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                             nn.Linear(32, 10))
    fm = build(fathom)
    tm = None
    if torch is not None:
        tm = copy_weights(torch, fm, build(torch))
    return fm, tm, (32, 64)


def _encoder_layer(torch):
    """TransformerEncoderLayer d_model 128, 4 heads, ff 512, dropout 0, (32, 64, 128) input,
    mean-pooled into a 10-class head."""
    def build(lib):
        nn = lib.nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0,
                                                        batch_first=True)
                self.head = nn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.layer(x).mean(1))
        return Encoder()
    fm = build(fathom)
    tm = None
    if torch is not None:
        tm = copy_weights(torch, fm, build(torch))
    return fm, tm, (32, 64, 128)


def workloads(torch):
    """(name, maker, kind): kind "train" (one Adam step), "train+loss" (the same with the
    loss inside the compiled function), "fwdbwd" (model(x).sum().backward()) or "infer"."""
    return [
        ("small MLP 64-32-32-10, batch 32: forward + backward", lambda: _small_mlp(torch),
         "fwdbwd"),
        ("small MLP 64-32-32-10, batch 32: train step", lambda: _small_mlp(torch), "train"),
        ("small MLP, batch 32: train step, model + loss compiled",
         lambda: _small_mlp(torch), "train+loss"),
        ("MLP 784-256-128-10, batch 128: train step",
         lambda: _registry("mlp", (128, 1, 28, 28), torch), "train"),
        ("CNN (fathom.vision cnn), batch 128: train step",
         lambda: _registry("cnn", (128, 1, 28, 28), torch), "train"),
        ("LSTM 28 steps, hidden 128, batch 128: train step",
         lambda: _registry("lstm", (128, 1, 28, 28), torch), "train"),
        ("TransformerEncoderLayer d128 h4 ff512, 32x64: train step",
         lambda: _encoder_layer(torch), "train"),
        ("MLP inference, batch 1", lambda: _registry("mlp", (1, 1, 28, 28), torch), "infer"),
        ("CNN inference, batch 1", lambda: _registry("cnn", (1, 1, 28, 28), torch), "infer"),
        ("LSTM inference, batch 1", lambda: _registry("lstm", (1, 1, 28, 28), torch), "infer"),
    ]


def _compare_cpu(fns, repeat, target_s=0.05):
    """harness.compare_many's interleaved rounds, timed by this process's CPU time.

    On a machine shared with other jobs, wall time counts the time other processes hold
    the cores; CPU time counts only this process's work (with 1 BLAS thread it is the
    work of the one thread), so ratios stay firm under load. It misses time spent
    waiting, so use it with FATHOM_BENCH_THREADS=1.
    """
    def per_call(fn, n):
        start = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - start) / n

    inner = {}
    for k, fn in fns.items():
        fn()
        inner[k] = max(1, min(10_000, int(target_s / max(per_call(fn, 1), 1e-7))))
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            samples[k].append(per_call(fn, inner[k]))
    first = next(iter(fns))
    out = {k: {"s": statistics.median(v), "spread": H.spread(v), "samples": v}
           for k, v in samples.items()}
    for k in list(fns)[1:]:
        out[k]["ratio"] = statistics.median(a / b for a, b in zip(samples[first], samples[k]))
    return out


def measure(maker, kind, torch, repeat, clock="wall"):
    fm, tm, shape = maker()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, shape[0])
    eager = fm
    compiled = fathom.compile(_clone(fm))
    if kind == "infer":
        eager.eval()
        compiled.eval()
    fx, fy = fathom.from_numpy(x), fathom.from_numpy(y)
    if kind == "train":
        fns = {"eager": _train_step(fathom, eager, fx, fy),
               "compiled": _train_step(fathom, compiled, fx, fy)}
    elif kind == "train+loss":
        twin_model, loss_fn = compiled._orig_mod, fathom.nn.CrossEntropyLoss()
        compiled = fathom.compile(lambda a, b: loss_fn(twin_model(a), b))
        fns = {"eager": _train_step(fathom, eager, fx, fy),
               "compiled": _loss_step(fathom, twin_model, fx, fy, compiled)}
    elif kind == "fwdbwd":
        fns = {"eager": _fwd_bwd(eager, fx), "compiled": _fwd_bwd(compiled, fx)}
    else:
        fns = {"eager": _infer(fathom, eager, fx), "compiled": _infer(fathom, compiled, fx)}
    if tm is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        if kind in ("train", "train+loss"):
            fns["torch"] = _train_step(torch, tm, tx, ty)
        elif kind == "fwdbwd":
            fns["torch"] = _fwd_bwd(tm, tx)
        else:
            tm.eval()
            fns["torch"] = _infer(torch, tm, tx)
    for _ in range(3):  # two recordings, then replays
        fns["compiled"]()
    r = H.compare_many(fns, repeat=repeat) if clock == "wall" else _compare_cpu(fns, repeat)
    stats = compiled.stats
    if stats["replays"] == 0 or stats["eager_signatures"]:
        print(f"warning: the compiled model did not replay:\n{compiled.explain()}",
              file=sys.stderr)
    out = {"eager_s": r["eager"]["s"], "compiled_s": r["compiled"]["s"],
           "eager_over_compiled": r["compiled"]["ratio"],
           "spread": max(r["eager"]["spread"], r["compiled"]["spread"])}
    if "torch" in r:
        # median over rounds of compiled/torch = (eager/torch) / (eager/compiled)
        per_round = [c / t for c, t in zip(r["compiled"]["samples"], r["torch"]["samples"])]
        out.update(torch_s=r["torch"]["s"], compiled_over_torch=float(np.median(per_round)),
                   spread=max(out["spread"], r["torch"]["spread"]))
    return out


def _clone(model):
    import copy  # noqa: PLC0415
    return copy.deepcopy(model)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", help="run only rows whose name contains this text")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time by wall clock (default) or by this process's CPU time "
                             "(firmer on a busy machine; use with FATHOM_BENCH_THREADS=1)")
    args = parser.parse_args(argv)
    try:
        import torch
        torch.set_num_threads(H.THREADS)
        peer = f"PyTorch {torch.__version__}"
    except ImportError:
        torch, peer = None, "no PyTorch (install torch to compare)"
    print(f"Fathom {fathom.__version__}, {peer}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}, {H.THREADS} threads, {platform.machine()}; "
          f"{args.repeat} interleaved rounds per row, {args.clock} clock")
    head = (f"{'workload':<58} {'eager':>10} {'compiled':>10} {'PyTorch':>10} "
            f"{'eager/comp':>10} {'comp/torch':>10}")
    print(head)
    print("-" * len(head))
    results, noisy = [], False
    for name, maker, kind in workloads(torch):
        if args.only and args.only not in name:
            continue
        r = measure(maker, kind, torch, args.repeat, args.clock)
        results.append({"workload": name, **r})
        flag = ""
        if r["spread"] > H.NOISY:
            flag, noisy = " (noisy)", True
        t = H.fmt_time(r["torch_s"]) if "torch_s" in r else "-"
        ct = f"{r['compiled_over_torch']:.2f}" if "compiled_over_torch" in r else "-"
        print(f"{name:<58} {H.fmt_time(r['eager_s']):>10} {H.fmt_time(r['compiled_s']):>10} "
              f"{t:>10} {r['eager_over_compiled']:>10.2f} {ct:>10}{flag}", flush=True)
    if noisy:
        print("\nwarning: some rows varied by more than 20% between rounds; the machine was "
              "busy. Compare ratios from the same run only, and re-run for firmer ones.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
