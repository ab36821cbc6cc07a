"""The op threads (fathom.ops._parallel): every op path split over threads gives bitwise
the serial result (outputs and gradients), the pool starts lazily, FATHOM_NUM_THREADS=1
turns it off, errors and nested calls are safe, and a forked child (a DataLoader worker)
runs the split ops on threads of its own."""
from __future__ import annotations

import os
import select
import subprocess
import sys
import threading

import numpy as np
import pytest

import fathom
import fathom.nn.functional as F
from fathom.ops import _parallel


@pytest.fixture
def dispatches(monkeypatch):
    """Split even small arrays (MIN_SIZE 1) and count the calls that used the pool."""
    count = []
    get_pool = _parallel._get_pool

    def counting(workers):
        count.append(workers)
        return get_pool(workers)
    monkeypatch.setattr(_parallel, "MIN_SIZE", 1)
    monkeypatch.setattr(_parallel, "_get_pool", counting)
    yield count
    _parallel.set_num_threads(None)


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.dtype, a.shape, a.tobytes()


def _run(fn, args, threads):
    """fn(*tensors) with threads op threads: its output and every input's gradient."""
    _parallel.set_num_threads(threads)
    ts = [fathom.tensor(a, requires_grad=a.dtype.kind == "f") if a is not None else None
          for a in args]
    out = fn(*ts)
    rng = np.random.default_rng(7)
    w = rng.standard_normal(tuple(out.shape)).astype(out.data.dtype)
    (out * fathom.tensor(w)).sum().backward()
    grads = [t.grad.numpy() if t is not None and t.grad is not None else None for t in ts]
    return [out.detach().numpy()] + grads


def _check_same(fn, args, dispatches, threads=2):
    dispatches.clear()
    serial = _run(fn, args, 1)
    assert not dispatches
    split = _run(fn, args, threads)
    assert dispatches, "the parallel path did not run"
    for s, p in zip(serial, split):
        assert (s is None) == (p is None)
        if s is not None:
            assert _bits(s) == _bits(p)


def _randn(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


CONVS = [  # (x shape, w shape, kwargs): batch-last GEMMs, and the per-sample path (K <= 32)
    ((5, 8, 9, 9), (6, 8, 3, 3), {}),
    ((5, 8, 9, 9), (6, 8, 3, 3), {"padding": 1, "stride": 2}),
    ((4, 6, 10, 8), (6, 3, 3, 2), {"groups": 2, "dilation": 2, "padding": (2, 1)}),
    ((7, 1, 12, 12), (4, 1, 3, 3), {}),                       # per sample
    ((7, 2, 12, 12), (4, 1, 3, 3), {"groups": 2, "padding": 1}),  # per sample, grouped
    ((3, 4, 6, 6), (5, 4, 1, 1), {}),                         # 1x1: columns are a copy
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONVS)
def test_conv2d_split_equals_serial(xs, ws, kw, bias, dispatches, rng):
    b = _randn(rng, ws[0]) if bias else None
    _check_same(lambda x, w, b=None: F.conv2d(x, w, b, **kw),
                [_randn(rng, *xs), _randn(rng, *ws), b], dispatches)


@pytest.mark.parametrize("threads", [2, 3])
def test_conv_family_split_equals_serial(threads, dispatches, rng):
    x1 = _randn(rng, 5, 4, 20)
    _check_same(lambda x, w: F.conv1d(x, w, padding=2), [x1, _randn(rng, 3, 4, 5)],
                dispatches, threads)
    x = _randn(rng, 5, 4, 7, 7)
    _check_same(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
                [x, _randn(rng, 4, 3, 3, 3)], dispatches, threads)
    _check_same(lambda x: F.unfold(x, 3, padding=1, stride=2), [x], dispatches, threads)
    cols = _randn(rng, 5, 4 * 9, 16)
    _check_same(lambda c: F.fold(c, (7, 7), 3, padding=1, stride=2), [cols], dispatches,
                threads)


def test_conv2d_float64_and_non_contiguous_input_split_equals_serial(dispatches, rng):
    x = _randn(rng, 6, 3, 9, 11, dtype=np.float64).transpose(0, 1, 3, 2)
    _check_same(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                [x, _randn(rng, 4, 3, 3, 3, dtype=np.float64), _randn(rng, 4, dtype=np.float64)],
                dispatches)


@pytest.mark.parametrize("shape,kernel", [((6, 3, 8, 8), 2), ((6, 3, 9, 7), 2),
                                          ((5, 2, 9, 9), 3)])
def test_tiling_max_pool_split_equals_serial(shape, kernel, dispatches, rng):
    x = rng.integers(0, 3, shape).astype(np.float32)  # mostly ties: first-hit order matters
    _check_same(lambda t: F.max_pool2d(t, kernel), [x], dispatches)


def test_tiling_max_pool_with_nan_split_equals_serial(dispatches, rng):
    x = rng.integers(0, 3, (4, 2, 6, 6)).astype(np.float32)
    x[1, 0, 2, 3] = x[3, 1, 0, 0] = x[3, 1, 0, 1] = np.nan
    _check_same(lambda t: F.max_pool2d(t, 2), [x], dispatches)


def test_tiling_max_pool_without_grad_split_equals_serial(dispatches, rng):
    x = _randn(rng, 6, 3, 8, 8)
    _parallel.set_num_threads(1)
    with fathom.no_grad():
        serial = F.max_pool2d(fathom.tensor(x), 2).numpy()
    _parallel.set_num_threads(2)
    with fathom.no_grad():
        split = F.max_pool2d(fathom.tensor(x), 2).numpy()
    assert dispatches and _bits(serial) == _bits(split)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_relu_split_equals_serial(dtype, dispatches, rng):
    x = _randn(rng, 3, 5000, dtype=dtype)  # several 4096-element blocks, a ragged last one
    x[0, :4] = [np.nan, -0.0, 0.0, np.inf]
    _check_same(F.relu, [x], dispatches)


def test_relu_on_a_view_and_on_ints_keeps_the_serial_path(dispatches, rng):
    x = fathom.tensor(_randn(rng, 40, 30).T)  # not C-contiguous
    np.testing.assert_array_equal(F.relu(x).numpy(), np.maximum(x.numpy(), 0))
    i = fathom.tensor(np.arange(-5, 5))
    assert F.relu(i).tolist() == [0] * 5 + [0, 1, 2, 3, 4]
    assert not dispatches


def test_cnn_training_step_split_equals_serial(dispatches, rng):
    from fathom.vision import models
    x, y = _randn(rng, 6, 1, 28, 28), rng.integers(0, 10, 6)

    def step(threads):
        _parallel.set_num_threads(threads)
        fathom.manual_seed(0)
        model = models.get("cnn")
        loss = F.cross_entropy(model(fathom.tensor(x)), fathom.tensor(y))
        loss.backward()
        return [_bits(p.grad.numpy()) for p in model.parameters()] + [_bits(loss.detach().numpy())]
    assert step(1) == step(2)
    assert dispatches


# --- the pool itself -------------------------------------------------------------------------

def _covers(pairs, n):
    """The (start, stop) pairs tile range(n): contiguous, disjoint, none empty."""
    pairs = sorted(pairs)
    return pairs[0][0] == 0 and pairs[-1][1] == n and all(a < b for a, b in pairs) and \
        all(p[1] == q[0] for p, q in zip(pairs, pairs[1:]))


def test_chunks_cover_the_range_once_and_use_the_workers(dispatches):
    _parallel.set_num_threads(3)
    seen, names = [], set()
    other = threading.Event()
    caller = threading.current_thread()

    def fn(a, b):
        seen.append((a, b))
        names.add(threading.current_thread().name)
        if threading.current_thread() is caller and a == 0:
            assert other.wait(30), "no worker took a chunk"
        elif threading.current_thread() is not caller:
            other.set()
    _parallel.parallel_chunks(fn, 10, 100)
    assert _covers(seen, 10) and len(seen) > 3  # a few chunks per thread
    assert any(n.startswith("fathom-ops") for n in names)
    seen.clear()
    _parallel.parallel_chunks(lambda a, b: seen.append((a, b)), 2, 100)
    assert sorted(seen) == [(0, 1), (1, 2)]  # never more chunks than items


def test_small_work_and_one_thread_run_inline():
    _parallel.set_num_threads(2)
    calls = []
    _parallel.parallel_chunks(lambda a, b: calls.append((a, b)), 8, _parallel.MIN_SIZE - 1)
    _parallel.set_num_threads(1)
    _parallel.parallel_chunks(lambda a, b: calls.append((a, b)), 8, 10 ** 9)
    _parallel.set_num_threads(None)
    assert calls == [(0, 8), (0, 8)]


def test_an_error_in_any_chunk_is_raised_after_all_chunks_ran(dispatches):
    _parallel.set_num_threads(2)
    done = []

    def fn(a, b):
        if a == 2:
            raise ValueError(f"chunk {a}:{b} failed")
        done.append((a, b))
    with pytest.raises(ValueError, match="chunk 2:3 failed"):
        _parallel.parallel_chunks(fn, 4, 100)
    assert sorted(done) == [(0, 1), (1, 2), (3, 4)]


def test_nested_calls_from_a_worker_run_inline(dispatches):
    _parallel.set_num_threads(2)
    inner = {0: [], 1: []}

    def fn(a, b):
        _parallel.parallel_chunks(lambda c, d: inner[a].append((c, d)), 4, 100)
    _parallel.parallel_chunks(fn, 2, 100)  # a worker waiting on its own pool would hang
    assert _covers(inner[0], 4) and _covers(inner[1], 4)


def test_thread_count_from_the_environment():
    d = _parallel._default_threads
    assert d({"FATHOM_NUM_THREADS": "1", "OMP_NUM_THREADS": "4"}) == 1
    assert d({"OMP_NUM_THREADS": "3"}) == 3
    assert d({"OMP_NUM_THREADS": "3,2"}) == 3  # OpenMP's nested form: the outer level
    assert d({"FATHOM_NUM_THREADS": "64"}) == _parallel.MAX_THREADS
    assert 1 <= d({}) <= _parallel.MAX_THREADS
    assert d({"OMP_NUM_THREADS": "many"}) == d({})  # ignored, as OpenBLAS does
    for bad in ("two", "0", "-1"):
        with pytest.raises(ValueError, match="FATHOM_NUM_THREADS must be a positive integer"):
            d({"FATHOM_NUM_THREADS": bad})
    with pytest.raises(ValueError, match="set_num_threads"):
        _parallel.set_num_threads(0)


def test_fathom_num_threads_1_disables(monkeypatch, rng):
    monkeypatch.setenv("FATHOM_NUM_THREADS", "1")
    _parallel.set_num_threads(None)  # re-read the environment
    try:
        assert _parallel.num_threads() == 1
        x = fathom.tensor(_randn(rng, 2, _parallel.MIN_SIZE), requires_grad=True)
        F.relu(x).sum().backward()
        assert _parallel._pool is None
    finally:
        monkeypatch.delenv("FATHOM_NUM_THREADS")
        _parallel.set_num_threads(None)


def test_no_threads_at_import_nor_for_small_ops():
    code = ("import threading, fathom, fathom.nn.functional as F\n"
            "from fathom.ops import _parallel\n"
            "F.relu(fathom.randn(4, 4, requires_grad=True)).sum().backward()\n"
            "F.max_pool2d(fathom.randn(1, 2, 8, 8), 2)\n"
            "print(threading.active_count(), _parallel._pool is None)\n")
    env = dict(os.environ, FATHOM_NUM_THREADS="2", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    assert out.split() == ["1", "True"]


def _child_result(fn):
    """fn() in a forked child; its bytes come back through a pipe (None if it hung)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.write(w, fn())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 60)
        data = b""
        if ready:
            while chunk := os.read(r, 1 << 16):
                data += chunk
    finally:
        os.close(r)
        if not ready:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    return data if ready and os.waitstatus_to_exitcode(status) == 0 else None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_split_ops(dispatches, rng):
    x = _randn(rng, 6, 4, 10, 10)
    w = _randn(rng, 5, 4, 3, 3)

    def work():
        xt = fathom.tensor(x, requires_grad=True)
        y = F.max_pool2d(F.relu(F.conv2d(xt, fathom.tensor(w))), 2)
        y.sum().backward()
        return y.detach().numpy().tobytes() + xt.grad.numpy().tobytes()
    _parallel.set_num_threads(2)
    expected = work()  # the parent's pool now has a live worker thread
    assert _parallel._pool is not None and dispatches
    before = len(dispatches)
    # the child drops the parent's pool (its thread did not survive) and starts its own
    child = _child_result(lambda: work() + (b"P" if _parallel._pool is not None else b"S"))
    assert child == expected + b"P"
    assert work() == expected and len(dispatches) > before  # the parent's pool still works


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_dataloader_workers_run_split_ops(dispatches):
    from fathom.utils.data import DataLoader, Dataset

    class Relus(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return F.relu(fathom.arange(-3000.0, 3000.0) * (i + 1))

    _parallel.set_num_threads(2)
    F.relu(fathom.randn(4, 4096))  # start the parent's pool before the workers fork
    serial = [b.numpy() for b in DataLoader(Relus(), batch_size=2)]
    forked = [b.numpy() for b in DataLoader(Relus(), batch_size=2, num_workers=2)]
    assert all(_bits(s) == _bits(f) for s, f in zip(serial, forked))


@pytest.mark.parametrize("code, env, want", [
    ("import fathom, os", {}, "20"),                        # Fathom first: OpenBLAS yields
    ("import fathom, os", {"OPENBLAS_THREAD_TIMEOUT": "28"}, "28"),   # the user's value
    ("import numpy, fathom, os", {}, None),                 # NumPy first: too late, untouched
])
def test_openblas_thread_timeout_default(code, env, want):
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code + "; print(os.environ.get("
                          "'OPENBLAS_THREAD_TIMEOUT'))"], env={**base, **env},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(want)
