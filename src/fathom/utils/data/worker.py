"""What runs inside a DataLoader worker process, and the messages it sends back.

Each worker seeds Python's, NumPy's and fathom's global RNGs with
`base_seed + worker_id` (as PyTorch does; `fathom.manual_seed` seeds NumPy's
too), runs `worker_init_fn`, then serves batches: it receives
`(task, indices)` on its own pipe and puts `(task, batch, rng_state)` on its
own result queue, pickled here so a batch that cannot be pickled becomes a
clear error instead of a lost message. `rng_state` lets the main process save
where every worker's random streams stood after the last batch it consumed
(DataLoader.state_dict).
"""
from __future__ import annotations

import json
import os
import pickle
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ... import random as _random

POLL_S = 1.0  # how often an idle worker checks that its parent is still alive

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: its id, the number of
    workers, its seed (`base_seed + id`) and its own copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info() -> WorkerInfo | None:
    """Information about the current DataLoader worker; None in the main process."""
    return _worker_info


@dataclass(frozen=True)
class IterableEnd:
    """A worker's IterableDataset copy is exhausted for this epoch."""

    worker_id: int


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process as text."""

    def __init__(self, where: str):
        exc_type, exc, tb = sys.exc_info()
        try:
            pickle.dumps(exc_type)
            self.exc_type = exc_type
        except Exception:  # a class defined in a function: fall back to RuntimeError
            self.exc_type = RuntimeError
        self.type_name = exc_type.__name__
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:
            raise KeyError(_KeyErrorMessage(msg))
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    """KeyError shows repr() of its argument; this keeps the traceback readable."""

    def __repr__(self):
        return str(self)


# --- fetching (shared by the main process and the workers) ----------------------------------

class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if getitems else None

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.getitems is not None:
            return self.collate_fn(self.getitems(index))
        ds = self.dataset
        return self.collate_fn([ds[i] for i in index])


class IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        """The next batch (len(index) samples) or sample; StopIteration when exhausted."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        data = []
        for _ in index:
            try:
                data.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


# --- RNG states --------------------------------------------------------------------------

def rng_state():
    """The raw states of fathom's, NumPy's and Python's global RNGs (cheap to pickle)."""
    g = _random.default_generator
    return ((g._seed, g.rng.bit_generator.state), np.random.get_state(), random.getstate())


def rng_state_to_json(state):
    """rng_state() as plain lists and strings (for DataLoader.state_dict)."""
    (seed, bitgen), np_state, py_state = state
    return {"fathom": json.dumps({"seed": seed, "bit_generator": bitgen}),
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                      float(np_state[4])],
            "python": [py_state[0], list(py_state[1]), py_state[2]]}


def set_rng_state(state) -> None:
    """Restore a `rng_state_to_json` dict into this process's global RNGs."""
    f = json.loads(state["fathom"])
    g = _random.default_generator
    g._seed = f["seed"]
    g.rng.bit_generator.state = f["bit_generator"]
    n = state["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


# --- the worker loop ---------------------------------------------------------------------

def worker_loop(dataset, iterable, auto_collation, collate_fn, drop_last, base_seed,
                saved_rng, init_fn, worker_id, num_workers, conn, results, parent_pid):
    """The body of worker process `worker_id` (see the module docstring)."""
    global _worker_info
    try:
        seed = base_seed + worker_id
        random.seed(seed)
        _random.manual_seed(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        make = IterableFetcher if iterable else MapFetcher
        where = f"in DataLoader worker process {worker_id}"
        init_error = fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            if saved_rng is not None:  # resuming: continue the streams where they stood
                set_rng_state(saved_rng)
            fetcher = make(dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where)
        ended = False
        while True:
            if not conn.poll(POLL_S):
                if os.getppid() != parent_pid:
                    break  # the main process died without telling us
                continue
            msg = conn.recv()
            if msg is None:
                break
            if msg == "reset":  # next epoch of persistent workers: a fresh pass
                ended = False
                try:
                    fetcher = make(dataset, auto_collation, collate_fn, drop_last)
                except Exception:
                    init_error = ExceptionWrapper(where)
                continue
            if ended:
                continue  # the main process skips tasks sent after our IterableEnd
            task, index = msg
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data, ended = IterableEnd(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where)
            try:
                blob = pickle.dumps((task, data, rng_state()), pickle.HIGHEST_PROTOCOL)
            except Exception:
                try:
                    raise RuntimeError("the batch could not be pickled to send it to the main "
                                       "process (hint: return tensors, arrays, numbers, str "
                                       "or containers of them from the dataset and collate_fn)")
                except RuntimeError:
                    blob = pickle.dumps((task, ExceptionWrapper(where), rng_state()))
            results.put(blob)
            del data, msg
    except KeyboardInterrupt:
        pass
    # Exit without waiting for unread results to be flushed: nobody will read them.
    results.cancel_join_thread()
