"""Import this first in a benchmark script: it pins BLAS and OpenMP threads to the same
count for every framework (FATHOM_BENCH_THREADS, default 2) before NumPy or PyTorch load,
then re-exports the timing helpers of `fathom.bench.harness`."""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("FATHOM_BENCH_THREADS", "2"))

from fathom.bench.harness import *  # noqa: E402,F401,F403
from fathom.bench.harness import THREADS, SETTLE_S  # noqa: E402,F401
