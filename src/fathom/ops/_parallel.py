"""Split big memory-bound array steps over a few threads (NumPy releases the GIL in its loops).

BLAS already runs the GEMMs of a layer on every core; the copies and elementwise passes
around them (im2col/col2im, pooling, ReLU, NCHW transposes) ran on one, and PyTorch splits
those too. `parallel_chunks(fn, n, size)` calls `fn(start, stop)` over contiguous chunks
of range(n), side by side when the work is big enough. Callers split only independent
axes (the batch, or the elements of an elementwise op) and each chunk runs the serial
code on its slice, so results are bitwise those of one thread.

Threads: FATHOM_NUM_THREADS, else OMP_NUM_THREADS (which also sizes BLAS's pool and
PyTorch's), else the CPUs this process may run on; at most MAX_THREADS; 1 turns it off.
The pool starts on the first big call (never at import), a forked child drops its parent's
(the threads did not survive the fork) and starts its own, and CuPy arrays never come here
(callers check for NumPy arrays).
"""
from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..backend import ndarray as _ndarray

MAX_THREADS = 4
# Elements touched below which splitting does not pay. Measured A/B on the shared 2-core
# machines (other processes busy): passes of under about 1M float32 elements ran 1.3-2.5x
# slower split (waking a worker, each chunk's Python), 2.7M-4.5M-element ones broke even
# or gained up to 1.2x. Chunks hold MIN_SIZE/2 elements or more.
MIN_SIZE = 1 << 21
CHUNKS_PER_THREAD = 4

_threads = None   # resolved lazily: the environment may be set after import
_pool = None
_lock = threading.Lock()
_local = threading.local()  # .worker is True in the pool's own threads


def _default_threads(environ=os.environ) -> int:
    value = environ.get("FATHOM_NUM_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"FATHOM_NUM_THREADS must be a positive integer; got {value!r}")
        return min(MAX_THREADS, int(value))
    value = environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()  # "4,2": the outer level
    if value.isdigit() and int(value) >= 1:  # else ignored, as OpenBLAS does
        return min(MAX_THREADS, int(value))
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cpus))


def num_threads() -> int:
    """Threads the ops split their big elementwise and copy passes over (1: none)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int | None) -> None:
    """Use n threads from now on (1 disables; None re-reads the environment)."""
    global _threads, _pool
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"set_num_threads: expected a positive int or None; got {n!r}")
    n = None if n is None else min(MAX_THREADS, n)
    with _lock:
        if n is not None and n == _threads:
            return  # keep the running pool
        old, _pool = _pool, None
        _threads = n
    if old is not None:
        old.shutdown(wait=False)


def _mark_worker():
    _local.worker = True


def _get_pool(workers):
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fathom-ops",
                                       initializer=_mark_worker)
        return _pool


def _forget_pool():
    """In a forked child: the parent's workers do not exist here; start afresh if needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


class _Job:
    """One parallel_chunks call: threads take chunk numbers until none are left."""

    __slots__ = ("fn", "bounds", "next", "left", "lock", "done", "error")

    def __init__(self, fn, bounds):
        self.fn, self.bounds = fn, bounds
        self.next = itertools.count()  # next() is atomic under the GIL
        self.left = len(bounds) - 1
        self.lock, self.done, self.error = threading.Lock(), threading.Event(), None

    def drain(self):
        k = len(self.bounds) - 1
        while (i := next(self.next)) < k:
            try:
                self.fn(self.bounds[i], self.bounds[i + 1])
            except BaseException as e:  # noqa: BLE001 - raised in the caller, first one wins
                self.error = self.error or e
            with self.lock:
                self.left -= 1
                if not self.left:
                    self.done.set()


def parallel_chunks(fn, n: int, size: int) -> None:
    """fn(start, stop) over contiguous chunks covering range(n), in parallel when `size`
    (elements touched) is at least MIN_SIZE and threads are on; else fn(0, n).

    Chunks must be independent (disjoint outputs, no shared reduction). There are a few
    chunks per thread and the caller takes them too, so a worker that the OS schedules
    late (a busy machine) leaves its share to the caller instead of stalling it. An error
    in any chunk is raised after every started chunk has finished.
    """
    t = _threads if _threads is not None else num_threads()
    if t < 2 or n < 2 or size < MIN_SIZE or getattr(_local, "worker", False):
        fn(0, n)  # nested calls from a worker run inline: a worker never waits on the pool
        return
    k = min(n, CHUNKS_PER_THREAD * t, max(t, 2 * size // MIN_SIZE))
    job = _Job(fn, [n * i // k for i in range(k + 1)])
    pool = _get_pool(t - 1)
    try:
        for _ in range(t - 1):
            pool.submit(job.drain)
    except RuntimeError:  # the pool is shut down (interpreter exit): the caller does it all
        pass
    job.drain()
    job.done.wait()
    if job.error is not None:
        raise job.error


_BLOCK = 4096  # flat chunks start on whole blocks: threads never share a cache line


def map_flat(fn, out, *arrays) -> None:
    """fn(*chunks, out=out_chunk) over matching flat chunks: `out` and `arrays` are
    C-contiguous NumPy arrays of out's size (an elementwise op split over the threads)."""
    o = out.reshape(-1)
    flats = [a.reshape(-1) for a in arrays]
    size = o.size

    def run(i, j):
        s, e = i * _BLOCK, min(j * _BLOCK, size)
        fn(*(f[s:e] for f in flats), out=o[s:e])
    parallel_chunks(run, -(-size // _BLOCK), size)


def contiguous(*arrays) -> bool:
    """True when every array is a C-contiguous NumPy ndarray of the same shape (the arrays
    map_flat takes); CuPy arrays and views fall back to the caller's serial code."""
    shape = arrays[0].shape
    return all(type(a) is _ndarray and a.flags.c_contiguous and a.shape == shape
               for a in arrays)
