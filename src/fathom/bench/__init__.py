"""`fathom bench`: the same workloads in Fathom and in PyTorch, side by side in one run.

    fathom bench [--workloads mlp,cnn,...] [--against torch] [--repeat 3] [--json out.json]

`workloads.WORKLOADS` names every workload; `harness` times them interleaved with threads
pinned equal; `report` prints the table. Ratios are Fathom/peer: below 1 Fathom is faster
(for GFLOP/s rows, above 1 it is).
"""
from .workloads import WORKLOADS, run  # noqa: F401
