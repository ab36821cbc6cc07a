"""Dynamic batching: requests for one model version share a forward pass.

    batcher = Batcher(package.predict, max_batch_size=32, max_batch_delay_ms=2.0)
    outputs, queue_s = await batcher.submit([x])     # x: (rows, ...) for each input

A bounded queue (`max_queue` requests) feeds one worker thread. The worker takes the
first waiting request, then adds the next ones while the rows fit in `max_batch_size`;
when the batch is not full and more requests are on their way (`busy()`), it waits up
to `max_batch_delay_ms` for them. A request's rows are never split across batches. One
eval-mode forward runs on the concatenated inputs, and each request gets its own rows
back through its asyncio future (resolved on its loop with `call_soon_threadsafe`).

`submit` raises `QueueFull` at once when `max_queue` requests wait (the app answers 503
with Retry-After), and `BatcherClosed` after `close`.
"""
from __future__ import annotations

import asyncio
import collections
import threading
import time

import numpy as np

__all__ = ["Batcher", "QueueFull", "BatcherClosed"]


class QueueFull(RuntimeError):
    """The batcher's queue holds `max_queue` requests."""


class BatcherClosed(RuntimeError):
    """The batcher was closed (its model version was retired or the server stops)."""


class _Item:
    __slots__ = ("inputs", "rows", "future", "loop", "t0")

    def __init__(self, inputs, rows, future, loop):
        self.inputs, self.rows, self.future, self.loop = inputs, rows, future, loop
        self.t0 = time.perf_counter()


def _resolve(future, value) -> None:
    if not future.done():  # the request may have timed out and cancelled it
        future.set_result(value)


def _reject(future, exc) -> None:
    if not future.done():
        future.set_exception(exc)


def _deliver(item, fn, value) -> None:
    try:
        item.loop.call_soon_threadsafe(fn, item.future, value)
    except RuntimeError:  # the loop is closed (server gone): nobody waits for this one
        pass


class Batcher:
    """Queue + worker thread around `fn(list of arrays (B, ...)) -> list of arrays (B, ...)`.

    Args:
        max_batch_size: most rows per call of `fn`.
        max_batch_delay_ms: longest wait for more requests once one is taken.
        max_queue: most requests waiting; more raise QueueFull.
        busy: () -> bool, whether more requests are on their way (default: always). The
            app passes "requests are being read", so a lone client never waits the delay.
        on_batch: called after each batch with (inputs, rows, compute_s) on the worker
            thread (metrics, drift), after the requests got their results.
        name: the worker thread's name.
    """

    def __init__(self, fn, *, max_batch_size: int = 32, max_batch_delay_ms: float = 2.0,
                 max_queue: int = 256, busy=None, on_batch=None, name: str = "model"):
        if max_batch_size < 1 or max_queue < 1 or max_batch_delay_ms < 0:
            raise ValueError(f"Batcher: need max_batch_size >= 1, max_queue >= 1, "
                             f"max_batch_delay_ms >= 0; got {max_batch_size}, {max_queue}, "
                             f"{max_batch_delay_ms}")
        self.fn = fn
        self.max_batch_size = int(max_batch_size)
        self.max_delay_s = float(max_batch_delay_ms) / 1000.0
        self.max_queue = int(max_queue)
        self.busy = busy or (lambda: True)
        self.on_batch = on_batch
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"fathom-batcher-{name}",
                                        daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        """Requests waiting in the queue."""
        return len(self._queue)

    def submit(self, inputs: list, loop=None) -> asyncio.Future:
        """Queue one request (arrays with the same number of rows); returns a future of
        (outputs, queue_s). Call from the event loop's thread."""
        loop = loop or asyncio.get_running_loop()
        rows = int(inputs[0].shape[0])
        if rows > self.max_batch_size:
            raise ValueError(f"batch of {rows} rows is above max_batch_size "
                             f"{self.max_batch_size}")
        future = loop.create_future()
        with self._cond:
            if self._closed:
                raise BatcherClosed("the model version is being unloaded")
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"queue full ({self.max_queue} requests waiting)")
            self._queue.append(_Item(inputs, rows, future, loop))
            self._cond.notify()
        return future

    def poke(self) -> None:
        """Wake the worker (the app calls it when `busy()` may have turned false)."""
        with self._cond:
            self._cond.notify()

    def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop taking requests; with `drain` the queued ones are still run, otherwise
        they fail with BatcherClosed. Waits for the worker to finish."""
        with self._cond:
            self._closed = True
            if not drain:
                while self._queue:
                    it = self._queue.popleft()
                    _deliver(it, _reject, BatcherClosed("the server is stopping"))
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # --- the worker ----------------------------------------------------------------------
    def _take(self) -> list | None:
        """The next batch of requests (None when closed and empty)."""
        q, cond = self._queue, self._cond
        with cond:
            while not q:
                if self._closed:
                    return None
                cond.wait()
            batch = [q.popleft()]
            rows = batch[0].rows
            deadline = time.perf_counter() + self.max_delay_s
            while rows < self.max_batch_size:
                while q and rows + q[0].rows <= self.max_batch_size:
                    it = q.popleft()
                    batch.append(it)
                    rows += it.rows
                if q or rows >= self.max_batch_size or self._closed:
                    break  # the next request would not fit: run this batch now
                remaining = deadline - time.perf_counter()
                if remaining <= 0 or not self.busy():
                    break
                cond.wait(remaining)
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            self._run(batch)

    def _run(self, batch: list) -> None:
        start = time.perf_counter()
        try:
            if len(batch) == 1:
                xs = batch[0].inputs
            else:
                xs = [np.concatenate([it.inputs[j] for it in batch])
                      for j in range(len(batch[0].inputs))]
            total = sum(it.rows for it in batch)
            outs = self.fn(xs)
            for o in outs:
                if o.shape[:1] != (total,):
                    raise RuntimeError(f"the model returned {o.shape[0] if o.ndim else 0} "
                                       f"rows for a batch of {total}")
        except Exception as e:  # every request of the batch gets the error
            for it in batch:
                _deliver(it, _reject, e)
            return
        compute_s = time.perf_counter() - start
        offset = 0
        for it in batch:
            end = offset + it.rows
            result = [o[offset:end] for o in outs] if len(batch) > 1 else outs
            _deliver(it, _resolve, (result, start - it.t0))
            offset = end
        if self.on_batch is not None:
            try:
                self.on_batch(xs, total, compute_s)
            except Exception:  # metrics must never take the worker down
                import logging
                logging.getLogger("fathom.serve").exception("batch metrics failed")
