"""DataLoader: batches from a dataset, in the main process or in worker processes.

PyTorch's semantics: a sampler picks indices (or an IterableDataset streams
samples), a batch sampler groups them, the dataset is read (through
`__getitems__` when it has one) and `collate_fn` builds the batch. With
`num_workers > 0`, batch i goes to worker i % num_workers (round robin over
the workers still running), each worker has its own index pipe and result
queue, at most `prefetch_factor * num_workers` batches are in flight, and
batches come back in order.

Seeding as PyTorch: every pass draws `base_seed` from `generator` (default:
fathom's global RNG); worker k seeds its global RNGs with `base_seed + k`.
The same seed gives the same batches for a given number of workers.

Resuming: `state_dict()` records the current pass (its seeds, the states its
generators had when it started, how many batches were consumed, and where
each worker's RNGs stood); `load_state_dict()` makes the next pass replay the
sampler, skip the consumed batches without loading them, and continue.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import sys
import time
import warnings
import weakref

from ... import random as _random
from ...random import Generator
from . import worker as _w
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _draw_seed

_STATE_VERSION = 1
_JOIN_S = 1.0  # how long shutdown waits for workers before terminating them


class _InfiniteConstantSampler(Sampler):
    """The 'sampler' of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


class DataLoader:
    """Iterate over `dataset` in batches.

    Args:
        dataset: a map-style `Dataset` (`__getitem__`, `__len__`) or an `IterableDataset`.
        batch_size: samples per batch; None turns off automatic batching.
        shuffle: a new random order every epoch (map-style datasets only).
        sampler / batch_sampler: custom index orders (exclusive with shuffle / batch options).
        num_workers: worker processes (0: load in the main process).
        collate_fn: list of samples -> batch (default: `default_collate`).
        pin_memory: accepted for compatibility; host memory is not pinned.
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a batch from a worker (0: forever).
        worker_init_fn: called as `worker_init_fn(worker_id)` in each worker after seeding.
        multiprocessing_context: start method name or context (default 'fork' on Linux).
        generator: the Generator for shuffling and worker seeds (default: the global one).
        prefetch_factor: batches in flight per worker (default 2 with workers).
        persistent_workers: keep the workers between epochs.
        in_order: accepted for compatibility; batches always come in order.

    >>> loader = DataLoader(TensorDataset(fathom.randn(10, 3)), batch_size=4, shuffle=True)
    >>> [len(xb) for (xb,) in loader]
    [4, 4, 2]
    """

    _initialized = False

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor <= 0:
            raise ValueError(f"prefetch_factor option should be positive, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None  # only the persistent-workers iterator is kept
        self._record = None  # progress of the current pass, for state_dict()
        self._resume = None  # a loaded state_dict, used by the next pass
        self._initialized = True
        if num_workers > (_cpu_count() or num_workers):
            warnings.warn(f"This DataLoader will create {num_workers} worker processes in "
                          f"total, more than the {_cpu_count()} CPUs this process may use; "
                          f"excessive workers may slow loading down or freeze it.",
                          stacklevel=2)

    # --- options --------------------------------------------------------------------------

    @property
    def multiprocessing_context(self):
        return self._mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if ctx is not None:
            import multiprocessing  # noqa: PLC0415 - only loaders with workers need it
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got num_workers=0")
            if isinstance(ctx, str):
                methods = multiprocessing.get_all_start_methods()
                if ctx not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={ctx!r}")
                ctx = multiprocessing.get_context(ctx)
            if not isinstance(ctx, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={ctx}")
        self._mp_context = ctx

    def __setattr__(self, attr, val):
        if self._initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                          "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _context(self):
        import multiprocessing  # noqa: PLC0415
        if self._mp_context is not None:
            return self._mp_context
        # fork is fast and needs nothing picklable; Python 3.14 made forkserver the default
        if sys.platform.startswith("linux"):
            return multiprocessing.get_context("fork")
        return multiprocessing.get_context()

    # --- iteration ------------------------------------------------------------------------

    def __iter__(self):
        resume, self._resume = self._resume, None
        if self.pin_memory:
            from ... import accelerator  # noqa: PLC0415
            if not accelerator.is_available():
                warnings.warn("'pin_memory' argument is set as true but no accelerator is "
                              "found, then device pinned memory won't be used.", stacklevel=2)
        if self.num_workers == 0:
            return _SingleProcessIter(self, resume)
        if self.persistent_workers:
            if self._iterator is None:
                self._iterator = _MultiProcessIter(self, resume)
            else:
                self._iterator._next_epoch(self)
            return self._iterator
        return _MultiProcessIter(self, resume)

    def __len__(self) -> int:
        if self._iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else \
                    math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    # --- resuming -------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Where the current pass stands (JSON-able: ints, lists, str, bool, None).

        Take it between batches. On a loader built the same way,
        `load_state_dict` makes the next `iter()` yield exactly the rest of
        that pass. Restore fathom's global RNG state too (`fathom.set_rng_state`)
        for later epochs and random transforms in the main process to match.
        """
        sd = {"version": _STATE_VERSION, "in_epoch": False, "batches": 0}
        rec = self._record
        if rec is None:
            return sd
        it = self._iterator
        pool = it is not None and not it._shut
        if not rec.done:
            sd.update(in_epoch=True, batches=rec.batches, base_seed=rec.base_seed,
                      drew_seed=rec.drew_seed, generators=dict(rec.generators),
                      dataset_len=rec.dataset_len)
        if rec.worker_rng is not None and (not rec.done or pool):
            sd["num_workers"] = len(rec.worker_rng)
            sd["base_seed"] = rec.base_seed
            # an IterableDataset pass is replayed from its start; map-style continues
            states = rec.worker_rng_start if self._iterable and not rec.done \
                else rec.worker_rng
            sd["worker_rng"] = [_rng_json(s) for s in states]
            sd["persistent"] = bool(self.persistent_workers)
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        """Make the next `iter()` continue the pass recorded in `state_dict` (see state_dict)."""
        sd = dict(state_dict)
        if sd.get("version") != _STATE_VERSION:
            raise ValueError(f"DataLoader.load_state_dict: unknown state version "
                             f"{sd.get('version')!r} (expected {_STATE_VERSION})")
        if sd["in_epoch"]:
            n = None if self._iterable else len(self.dataset)
            if sd.get("dataset_len") != n:
                raise ValueError(f"DataLoader.load_state_dict: the state was taken on a dataset "
                                 f"of length {sd.get('dataset_len')}, this loader's has {n}")
        if "worker_rng" in sd and sd["num_workers"] != self.num_workers:
            warnings.warn(f"DataLoader.load_state_dict: the state was taken with num_workers="
                          f"{sd['num_workers']}, this loader has {self.num_workers}; worker "
                          f"random streams start afresh", stacklevel=2)
            del sd["worker_rng"]
        if self._iterator is not None:  # persistent workers restart from the saved state
            self._iterator._shutdown()
            self._iterator = None
        self._record = None
        self._resume = sd if sd["in_epoch"] or "worker_rng" in sd else None


class _Record:
    """Progress of one pass, shared by the iterator and its loader (state_dict)."""

    __slots__ = ("batches", "done", "base_seed", "drew_seed", "generators", "dataset_len",
                 "worker_rng", "worker_rng_start")

    def __init__(self):
        self.batches = 0
        self.done = False
        self.worker_rng = self.worker_rng_start = None


def _generators(loader) -> dict:
    """The generators a pass may draw from, by name, each object once."""
    found = {"global": _random.default_generator}
    candidates = [("loader", loader.generator), ("sampler", getattr(loader.sampler, "generator",
                                                                      None))]
    bs = loader.batch_sampler
    if bs is not None:
        candidates.append(("batch_sampler", getattr(bs, "generator", None)))
        candidates.append(("batch_sampler.sampler",
                           getattr(getattr(bs, "sampler", None), "generator", None)))
    seen = {id(g) for g in found.values()}
    for name, g in candidates:
        if isinstance(g, Generator) and id(g) not in seen:
            found[name] = g
            seen.add(id(g))
    return found


def _gen_state(g) -> str:
    return json.dumps({"seed": g._seed, "bit_generator": g.rng.bit_generator.state})


def _set_gen_state(g, s: str) -> None:
    st = json.loads(s)
    g._seed = st["seed"]
    g.rng.bit_generator.state = st["bit_generator"]


class _BaseIter:
    """What both iterators share: starting a pass (seeds, sampler, resume) and bookkeeping."""

    def __iter__(self):
        return self

    def __len__(self):
        loader = self._loader_ref()
        return len(loader) if loader is not None else len(self._index_sampler)

    def _setup(self, loader):
        # A weak reference: a persistent-workers loader holds its iterator, and a cycle
        # would keep the worker processes alive until the garbage collector runs.
        self._loader_ref = weakref.ref(loader)
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._index_sampler = loader._index_sampler

    def _start_pass(self, loader, resume, draw_seed):
        """Draw this pass's seeds and make its index iterator; on resume, replay them.

        Returns the number of consumed batches still to skip. Resuming sets the
        pass's generators back to where they stood when it first started,
        redoes its draws, and puts fathom's global generator back where the
        caller had it, so resuming draws nothing from it.
        """
        rec = _Record()
        gens = _generators(loader)
        in_epoch = resume is not None and resume["in_epoch"]
        caller_global = _gen_state(_random.default_generator) if in_epoch else None
        if in_epoch:
            for name, s in resume["generators"].items():
                if name in gens:
                    _set_gen_state(gens[name], s)
        rec.generators = {name: _gen_state(g) for name, g in gens.items()}
        if in_epoch:
            draw_seed = resume["drew_seed"]
        rec.drew_seed = draw_seed
        if draw_seed:
            self._base_seed = _draw_seed(loader.generator)
        if resume is not None and "base_seed" in resume:
            self._base_seed = resume["base_seed"]
        rec.base_seed = self._base_seed
        rec.dataset_len = None if loader._iterable else len(loader.dataset)
        self._sampler_iter = iter(loader._index_sampler)
        skip = resume["batches"] if in_epoch else 0
        if skip and not loader._iterable:
            for _ in range(skip):
                next(self._sampler_iter, None)
        rec.batches = skip
        self._record = loader._record = rec
        self._len_called = loader._IterableDataset_len_called
        return skip, caller_global

    def _check_len(self):
        n = self._len_called
        if n is not None and self._record.batches > n:
            warnings.warn(f"Length of IterableDataset {self._dataset} was reported to be "
                          f"{n} (when accessing len(dataloader)), but {self._record.batches} "
                          f"samples have been fetched.", stacklevel=3)


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader, resume):
        if loader.timeout != 0:
            raise ValueError(f"DataLoader: timeout={loader.timeout} needs num_workers > 0 (it "
                             f"bounds the wait for a worker's batch); got num_workers=0")
        self._setup(loader)
        skip, caller_global = self._start_pass(loader, resume, draw_seed=True)
        make = _w.IterableFetcher if loader._iterable else _w.MapFetcher
        self._fetcher = make(loader.dataset, loader._auto_collation, loader.collate_fn,
                             loader.drop_last)
        if skip and loader._iterable:  # a stream cannot be skipped: replay it
            for _ in range(skip):
                try:
                    self._fetcher.fetch(next(self._sampler_iter))
                except StopIteration:
                    break
        if caller_global is not None:
            _set_gen_state(_random.default_generator, caller_global)

    def __next__(self):
        rec = self._record
        try:
            data = self._fetcher.fetch(next(self._sampler_iter))
        except StopIteration:
            rec.done = True
            raise
        except BaseException:
            rec.batches += 1  # a batch that failed is consumed, like its indices
            raise
        rec.batches += 1
        if self._len_called is not None:
            self._check_len()
        return data


class _MultiProcessIter(_BaseIter):
    def __init__(self, loader, resume):
        self._setup(loader)
        self._prefetch = loader.prefetch_factor
        self._shut = True  # until the workers exist
        n = self._n = loader.num_workers
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        # persistent workers resumed between epochs keep their seed, as they would have
        draw = resume is None or not resume.get("persistent")
        skip, caller_global = self._start_pass(loader, resume, draw_seed=draw)
        saved = resume.get("worker_rng") if resume is not None else None
        self._record.worker_rng = [None] * n
        self._record.worker_rng_start = [None] * n
        ctx = loader._context()
        self._conns, self._queues, self._procs = [], [], []
        try:
            for k in range(n):
                reader, writer = ctx.Pipe(duplex=False)
                q = ctx.Queue()
                p = ctx.Process(target=_w.worker_loop, daemon=True, args=(
                    loader.dataset, loader._iterable, loader._auto_collation, loader.collate_fn,
                    loader.drop_last, self._base_seed, None if saved is None else saved[k],
                    loader.worker_init_fn, k, n, reader, q, os.getpid()))
                p.start()
                reader.close()  # the worker holds its own end
                self._conns.append(writer)
                self._queues.append(q)
                self._procs.append(p)
        except BaseException:
            self._shut = False
            self._shutdown()
            raise
        self._shut = False
        if saved is not None:  # where the streams stood; kept until the workers send newer
            self._record.worker_rng = list(_SavedState(s) if s else None for s in saved)
            self._record.worker_rng_start = list(self._record.worker_rng)
        self._begin(skip)
        if caller_global is not None:
            _set_gen_state(_random.default_generator, caller_global)
        if skip and loader._iterable:  # workers replay the stream; drop what was consumed
            self._record.batches = 0
            for _ in range(skip):
                try:
                    self._next_batch()
                except StopIteration:
                    break

    def _begin(self, skip):
        n = self._n
        self._active = [True] * n
        self._outstanding = [0] * n
        self._task_worker = {}
        self._sent = self._rcvd = skip if not self._iterable else 0
        self._next_worker = self._sent % n  # batch i goes to worker i % n, as without resume
        for _ in range(self._prefetch * n):
            self._dispatch()

    def _next_epoch(self, loader):
        """Persistent workers: drain the last pass, then start a new one on the same workers."""
        if self._shut:
            raise RuntimeError("DataLoader: the persistent workers have been shut down")
        old = self._record
        for k in range(self._n):
            while self._outstanding[k] > 0:
                _, data, rng = self._receive(k)
                self._outstanding[k] -= 1
                if isinstance(data, _w.IterableEnd):
                    self._outstanding[k] = 0
                else:
                    old.worker_rng[k] = rng  # where the worker's streams now stand
        self._start_pass(loader, None, draw_seed=False)
        self._record.worker_rng = list(old.worker_rng)
        self._record.worker_rng_start = list(old.worker_rng)
        for conn in self._conns:
            conn.send("reset")
        self._begin(0)

    def _dispatch(self):
        """Send the next batch of indices to the next running worker, if any."""
        if self._sampler_iter is None:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            self._sampler_iter = None
            return
        n = self._n
        for _ in range(n):
            k = self._next_worker
            self._next_worker = (k + 1) % n
            if self._active[k]:
                break
        else:
            return
        try:
            self._conns[k].send((self._sent, index))
        except OSError:
            self._worker_died(k)
        self._task_worker[self._sent] = k
        self._outstanding[k] += 1
        self._sent += 1

    def _receive(self, k):
        """The next message from worker k (its results arrive in the order it got tasks)."""
        from multiprocessing.connection import wait  # noqa: PLC0415
        q, p = self._queues[k], self._procs[k]
        timeout = self._timeout if self._timeout > 0 else None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([q._reader, p.sentinel], left)
            if q._reader in ready:
                return pickle.loads(q.get())
            if p.sentinel in ready:
                self._worker_died(k)
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _worker_died(self, k):
        p = self._procs[k]
        p.join(_JOIN_S)
        self._shutdown()  # the pass cannot go on without it
        raise RuntimeError(f"DataLoader worker (pid(s) {p.pid}) exited unexpectedly with exit "
                           f"code {p.exitcode}")

    def _next_batch(self):
        while True:
            if self._rcvd == self._sent:
                self._record.done = True
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            task = self._rcvd
            k = self._task_worker[task]
            if self._active[k]:
                got, data, rng = self._receive(k)  # a timeout leaves the batch pending
            del self._task_worker[task]
            self._rcvd += 1
            if not self._active[k]:
                continue  # sent after that worker's stream ended: it will not answer
            self._outstanding[k] -= 1
            if got != task:
                raise RuntimeError(f"DataLoader: worker {k} answered task {got}, expected {task}")
            if isinstance(data, _w.IterableEnd):
                self._active[k] = False
                self._outstanding[k] = 0
                if not self._persistent:
                    self._stop_worker(k)
                self._dispatch()
                continue
            self._record.worker_rng[k] = rng
            self._record.batches += 1  # a batch that failed is consumed too
            self._dispatch()
            if isinstance(data, _w.ExceptionWrapper):
                data.reraise()
            return data

    def __next__(self):
        if self._shut:
            raise StopIteration
        data = self._next_batch()
        if self._len_called is not None:
            self._check_len()
        return data

    def _stop_worker(self, k):
        try:
            self._conns[k].send(None)
        except OSError:
            pass

    def _shutdown(self):
        """Stop the workers (ask, wait briefly, then terminate) and close the channels."""
        if self._shut:
            return
        self._shut = True
        for k in range(len(self._conns)):
            self._stop_worker(k)
        deadline = time.monotonic() + _JOIN_S
        for p in self._procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self._procs:
            if p.is_alive():
                p.terminate()
                p.join()
        for conn in self._conns:
            conn.close()
        for q in self._queues:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self._shutdown()
        except Exception:  # interpreter shutdown: the modules may be half gone
            pass


def _rng_json(s):
    if s is None:
        return None
    return s.json if isinstance(s, _SavedState) else _w.rng_state_to_json(s)


class _SavedState:
    """A worker RNG state loaded from a state_dict (already JSON), until a batch replaces it."""

    __slots__ = ("json",)

    def __init__(self, json_state):
        self.json = json_state
