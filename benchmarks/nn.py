"""Layer and optimizer speed: Fathom vs PyTorch on the same workloads, interleaved.

    python benchmarks/nn.py [--repeat 11] [--json out.json]

Rows come from the row_*.py files next to this one (each `rows(torch)` returns
(name, fathom_fn, torch_fn, goal) tuples). Ratio = Fathom time / PyTorch time, median
over interleaved repetitions, threads pinned equal.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys

import harness  # noqa: F401 - pins threads before NumPy/PyTorch load
import numpy as np

import fathom

ROW_MODULES = ["row_lstm", "row_adam", "row_transformer", "row_ops_extra"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--only", help="run only rows whose name contains this text")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare against "
              "(pip install torch==2.13.0)", file=sys.stderr)
        return 1
    torch.set_num_threads(harness.THREADS)
    print(f"Fathom {fathom.__version__} vs PyTorch {torch.__version__}, NumPy {np.__version__}, "
          f"Python {platform.python_version()}, {harness.THREADS} threads, "
          f"{platform.machine()}")
    results = []
    for mod_name in ROW_MODULES:
        for name, f_fn, t_fn, goal in importlib.import_module(mod_name).rows(torch):
            if args.only and args.only not in name:
                continue
            results.append((name, harness.compare(f_fn, t_fn, repeat=args.repeat), goal))
    print()
    harness.print_table(results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{"workload": n, "goal": g, **r} for n, r, g in results], fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
