"""Time the same workloads in Fathom and in PyTorch, side by side, and print the ratios.

Every workload runs in both frameworks from the same weights and data, interleaved
(Fathom, PyTorch, Fathom, ...) with BLAS/OpenMP threads pinned equal. Ratios are
Fathom/PyTorch, so below 1 Fathom is faster; GEMM rows compare against NumPy's sgemm.
Peers that are not installed are skipped, and the table says so.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

from ._common import CLIError

HELP = "benchmark Fathom against PyTorch on the same workloads"
PEERS = {"torch": "torch", "jax": "jax", "tf": "tensorflow"}
TWINS = {"jax": "jax_twins", "tf": "tf_twins"}  # modules of fathom.bench


def EPILOG():
    from ..bench import WORKLOADS
    return "workloads: " + ", ".join(WORKLOADS)


def add_arguments(p) -> None:
    p.add_argument("--workloads", default="all",
                   help="comma-separated workload names, or 'all' (default)")
    p.add_argument("--against", default="torch",
                   help="peers to compare with: torch, jax, tf (default: torch)")
    p.add_argument("--repeat", type=int, default=3,
                   help="rounds per workload; quick rows take 5x as many samples (default: 3)")
    p.add_argument("--threads", type=int, default=2,
                   help="BLAS/OpenMP threads for every framework (default: 2)")
    p.add_argument("--limit", type=int, default=60000,
                   help="training images per epoch in the epoch rows (default: 60000)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")


def _pin_threads(args) -> None:
    """Re-execute with the thread variables set: BLAS reads them once, when NumPy loads."""
    want = str(args.threads)
    if os.environ.get("FATHOM_BENCH_THREADS") == want and \
            os.environ.get("OPENBLAS_NUM_THREADS") == want:
        return
    for var in ("FATHOM_BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS"):
        os.environ[var] = want
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "fathom", *args.argv])


def run(args) -> int:
    from ..bench import WORKLOADS
    names = list(WORKLOADS) if args.workloads == "all" else \
        [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise CLIError(f"unknown workload {', '.join(unknown)}; choose from "
                       f"{', '.join(WORKLOADS)}")
    peers = [p.strip() for p in args.against.split(",") if p.strip()]
    bad = [p for p in peers if p not in PEERS]
    if bad:
        raise CLIError(f"unknown peer {', '.join(bad)}; choose from {', '.join(PEERS)}")
    if args.repeat < 1 or args.threads < 1 or args.limit < 1:
        raise CLIError("--repeat, --threads and --limit must be at least 1")
    if hasattr(args, "argv"):
        _pin_threads(args)

    from ..bench import report, run as run_workloads
    torch, twins = None, {}
    for peer in peers:
        if importlib.util.find_spec(PEERS[peer]) is None:
            print(f"{peer}: not installed, skipped", flush=True)
        elif peer == "torch":
            import torch
            torch.set_num_threads(args.threads)
        else:
            module = importlib.import_module(f"..bench.{TWINS[peer]}", __package__)
            module.set_threads(args.threads)
            twins[peer] = module
            print(f"{peer}: {module.COVERAGE}", flush=True)
    if torch is None:
        print("no PyTorch to compare with: its columns stay empty", flush=True)

    info = report.machine(([] if torch is None else ["torch"]) + list(twins))
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    rows = run_workloads(names, torch, args.repeat, args.limit, peers=twins,
                         progress=lambda m: print(m, file=sys.stderr, flush=True))
    print()
    print(report.table(rows))
    if args.json:
        from ..io.atomic import atomic_path
        with atomic_path(args.json) as tmp, open(tmp, "w") as fh:
            json.dump({"machine": info, "command": "fathom " + " ".join(args.argv),
                       "rows": rows}, fh, indent=2)
        print(f"\nwrote {args.json}")
    return 0
