"""Dynamic batching (fathom.serve.batching): results split back exactly, batch limits,
the bounded queue (QueueFull, and 503 with Retry-After through the server), close/drain."""
import asyncio
import threading

import httpx
import numpy as np
import pytest
from serve_fixtures import eager, infer_body, running_server, save_slow, tiny_model

from fathom.serve.batching import Batcher, BatcherClosed, QueueFull


def _model_fn(model):
    def fn(xs):
        return [eager(model, xs[0])]
    return fn


def test_results_split_back_equal_per_request_outputs():
    model = tiny_model()
    batches = []
    gate = threading.Event()  # hold the first batch so the rest queue up behind it

    def fn(xs):
        gate.wait(10)
        return _model_fn(model)(xs)

    b = Batcher(fn, max_batch_size=8, max_batch_delay_ms=50, max_queue=100,
                on_batch=lambda xs, rows, s: batches.append(rows))
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(int(n), 4)).astype(np.float32)
          for n in rng.integers(1, 5, size=30)]

    async def main():
        futures = [b.submit([x]) for x in xs]
        gate.set()
        return await asyncio.gather(*futures)

    try:
        results = asyncio.run(main())
    finally:
        b.close()
    for x, (outs, queue_s) in zip(xs, results):
        assert queue_s >= 0
        np.testing.assert_allclose(outs[0], eager(model, x), rtol=1e-6, atol=1e-6)
    assert sum(batches) == sum(len(x) for x in xs)
    assert max(batches) <= 8 and len(batches) < len(xs)  # requests were batched together


def test_two_inputs_and_outputs_are_split_together():
    def fn(xs):
        a, c = xs
        return [a + c, (a * c).sum(axis=1)]

    b = Batcher(fn, max_batch_size=16, max_batch_delay_ms=20)
    rng = np.random.default_rng(1)
    pairs = [(rng.normal(size=(n, 3)), rng.normal(size=(n, 3))) for n in (1, 3, 2, 5)]

    async def main():
        return await asyncio.gather(*[b.submit([a, c]) for a, c in pairs])

    try:
        results = asyncio.run(main())
    finally:
        b.close()
    for (a, c), (outs, _) in zip(pairs, results):
        np.testing.assert_array_equal(outs[0], a + c)
        np.testing.assert_array_equal(outs[1], (a * c).sum(axis=1))


def test_lone_request_does_not_wait_for_the_delay_when_nothing_else_comes():
    b = Batcher(lambda xs: [xs[0] * 2], max_batch_size=8, max_batch_delay_ms=60_000,
                busy=lambda: False)

    async def main():
        return await asyncio.wait_for(b.submit([np.ones((1, 2))]), timeout=20)

    try:
        outs, _ = asyncio.run(main())  # a 60 s delay would time out here
    finally:
        b.close()
    np.testing.assert_array_equal(outs[0], 2.0)


def test_queue_full_raises_at_once_and_errors_reach_every_request():
    gate = threading.Event()
    calls = []

    def fn(xs):
        calls.append(len(xs[0]))
        gate.wait(10)
        raise RuntimeError("boom")

    b = Batcher(fn, max_batch_size=1, max_batch_delay_ms=0, max_queue=2)

    async def main():
        first = b.submit([np.ones((1, 2))])
        while not calls:  # the worker took the first request; the queue is empty
            await asyncio.sleep(0.001)
        queued = [b.submit([np.ones((1, 2))]) for _ in range(2)]
        with pytest.raises(QueueFull, match="queue full"):
            b.submit([np.ones((1, 2))])
        with pytest.raises(ValueError, match="above max_batch_size"):
            b.submit([np.ones((2, 2))])
        gate.set()
        return await asyncio.gather(first, *queued, return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        b.close()
    assert [str(r) for r in results] == ["boom"] * 3


def test_close_drains_or_rejects():
    gate = threading.Event()

    def fn(xs):
        gate.wait(10)
        return [xs[0] + 1]

    async def run(drain):
        b = Batcher(fn, max_batch_size=1, max_batch_delay_ms=0)
        futures = [b.submit([np.zeros((1, 1))]) for _ in range(3)]
        await asyncio.sleep(0.01)
        closer = threading.Thread(target=b.close, kwargs={"drain": drain})
        closer.start()
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*futures, return_exceptions=True)
        closer.join()
        with pytest.raises(BatcherClosed):
            b.submit([np.zeros((1, 1))])
        gate.clear()
        return results

    drained = asyncio.run(run(True))
    assert all(r[0][0][0, 0] == 1 for r in drained)
    rejected = asyncio.run(run(False))
    assert sum(isinstance(r, BatcherClosed) for r in rejected) >= 2  # one may be running


def test_bad_settings():
    with pytest.raises(ValueError, match="max_batch_size >= 1"):
        Batcher(lambda xs: xs, max_batch_size=0)


def test_full_queue_answers_503_with_retry_after(tmp_path):
    registry = save_slow(tmp_path / "slow" / "1", delay_s=0.3)
    n = 8
    with running_server(tmp_path, registry=registry, max_batch_size=1, max_queue=1) as server:
        results = [None] * n

        def one(i):
            r = httpx.post(server.url + "/v2/models/slow/infer", json=infer_body(),
                           timeout=60)
            results[i] = (r.status_code, r.headers.get("retry-after"), r.json())

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    codes = sorted(r[0] for r in results)
    assert set(codes) == {200, 503}, results
    assert codes.count(200) >= 2  # one running and one queued at least
    for code, retry, body in results:
        if code == 503:
            assert retry == "1" and "queue" in body["error"]
        else:
            assert body["outputs"][0]["shape"] == [1, 3]


def test_inference_past_the_deadline_answers_504(tmp_path):
    registry = save_slow(tmp_path / "slow" / "1", delay_s=0.5)
    with running_server(tmp_path, registry=registry, request_timeout_s=0.1) as server:
        r = httpx.post(server.url + "/v2/models/slow/infer", json=infer_body(), timeout=30)
        assert r.status_code == 504 and "did not finish within 0.1 s" in r.json()["error"]
        assert httpx.get(server.url + "/v2/health/live").status_code == 200
