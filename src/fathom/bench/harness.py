"""Side-by-side timing: the same workload in Fathom and its peers, interleaved in one run.

Threads must be pinned before NumPy loads (OpenBLAS reads its environment once), so the
`fathom bench` command re-executes itself with OMP/OPENBLAS/MKL_NUM_THREADS set, and the
scripts in benchmarks/ import benchmarks/harness.py (which sets them) first.
"""
from __future__ import annotations

import os
import statistics
import time

THREADS = int(os.environ.get("FATHOM_BENCH_THREADS") or 2)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Idle BLAS/OpenMP threads spin after their last call (PyTorch's OpenMP pool, and
# OpenBLAS's for up to 2^20 cycles under Fathom's default, see fathom/backend.py). Back to
# back, one framework's spinning threads steal the other's cores (a torch step measured
# 65 ms right after a Fathom block, 28 ms alone), so the blocks are separated by a pause
# that lets them go idle, as they are for a user running one framework.
SETTLE_S = float(os.environ.get("FATHOM_BENCH_SETTLE", "0.15"))
NOISY = 0.2  # interquartile range / median above which a row is flagged


def time_call(fn, inner: int) -> float:
    """Seconds per call of fn, averaged over `inner` calls."""
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def calibrate(fn, target_s: float = 0.05) -> int:
    """How many calls make one sample of about target_s seconds (after one warm-up call)."""
    fn()
    one = time_call(fn, 1)
    return max(1, min(10_000, int(target_s / max(one, 1e-7))))


def compare_many(fns: dict, repeat: int = 15, target_s: float | None = 0.05) -> dict:
    """Time each of `fns` ({label: fn}) interleaved A B C A B C ..., `repeat` rounds.

    Returns {label: {"s": median seconds per call, "spread": IQR / median, "samples": [...]}}
    and, for every label but the first, "ratio": the median of first/label per round.
    target_s=None runs each fn once per round with no warm-up (whole epochs).
    """
    inner = {k: 1 if target_s is None else calibrate(fn, target_s) for k, fn in fns.items()}
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            time.sleep(SETTLE_S)
            samples[k].append(time_call(fn, inner[k]))
    first = next(iter(fns))
    out = {k: {"s": statistics.median(v), "spread": spread(v), "samples": v}
           for k, v in samples.items()}
    for k in list(fns)[1:]:
        out[k]["ratio"] = statistics.median(a / b for a, b in zip(samples[first], samples[k]))
    return out


def compare(fathom_fn, peer_fn, repeat: int = 15, target_s: float = 0.05) -> dict:
    """Fathom against one peer: medians, spreads and the median ratio Fathom/peer."""
    r = compare_many({"fathom": fathom_fn, "peer": peer_fn}, repeat, target_s)
    return {"fathom_s": r["fathom"]["s"], "peer_s": r["peer"]["s"], "ratio": r["peer"]["ratio"],
            "spread": r["fathom"]["spread"], "peer_spread": r["peer"]["spread"]}


def spread(xs) -> float:
    """Interquartile range relative to the median (0 for fewer than two samples)."""
    if len(xs) < 2:
        return 0.0
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return (q[2] - q[0]) / statistics.median(xs)


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def print_table(rows, peer="PyTorch") -> None:
    """rows: (name, compare() result, goal or None), for the scripts in benchmarks/."""
    head = f"{'workload':<46} {'Fathom':>11} {peer:>11} {'ratio':>7} {'goal':>6}  note"
    print(head)
    print("-" * len(head))
    noisy = False
    for name, r, goal in rows:
        note = ""
        if goal is not None:
            note = "met" if r["ratio"] <= goal else "NOT met"
        if max(r["spread"], r["peer_spread"]) > NOISY:
            note += " (noisy)"
            noisy = True
        g = f"{goal:.1f}" if goal is not None else "-"
        print(f"{name:<46} {fmt_time(r['fathom_s']):>11} {fmt_time(r['peer_s']):>11} "
              f"{r['ratio']:>7.2f} {g:>6}  {note}")
    if noisy:
        print("\nwarning: some rows varied by more than 20% between repetitions; the machine "
              "was busy. Re-run for firmer ratios.")


def main(description: str, workloads, argv=None, repeat: int = 15) -> int:
    """The command line of a script in benchmarks/: `workloads(torch)` gives (name, fathom_fn,
    torch_fn, goal) rows; they are timed side by side and printed (and written as JSON)."""
    import argparse
    import json
    import platform
    import sys

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--only", help="run only rows whose name contains this text")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare against "
              "(pip install torch==2.13.0)", file=sys.stderr)
        return 1
    import numpy as np

    import fathom
    torch.set_num_threads(THREADS)
    print(f"Fathom {fathom.__version__} vs PyTorch {torch.__version__}, NumPy {np.__version__}, "
          f"Python {platform.python_version()}, {THREADS} threads, {platform.machine()}")
    results = [(name, compare(f_fn, t_fn, repeat=args.repeat), goal)
               for name, f_fn, t_fn, goal in workloads(torch)
               if not args.only or args.only in name]
    print()
    print_table(results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{"workload": n, "goal": g, **r} for n, r, g in results], fh, indent=2)
    return 0
