"""Layer and optimizer speed: Fathom vs PyTorch on the same workloads, interleaved.

    python benchmarks/nn.py [--repeat 11] [--json out.json]

Rows come from the row_*.py files next to this one (each `rows(torch)` returns
(name, fathom_fn, torch_fn, goal) tuples). Ratio = Fathom time / PyTorch time, median
over interleaved repetitions, threads pinned equal.
"""
from __future__ import annotations

import importlib
import sys

import harness  # noqa: F401 - pins threads before NumPy/PyTorch load


ROW_MODULES = ["row_lstm", "row_adam", "row_transformer", "row_ops_extra", "row_conv"]


def workloads(torch):
    return [row for mod_name in ROW_MODULES
            for row in importlib.import_module(mod_name).rows(torch)]


if __name__ == "__main__":
    sys.exit(harness.main(__doc__.split("\n")[0], workloads, repeat=11))
