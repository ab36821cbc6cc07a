"""fathom.utils.data.DataLoader with worker processes: order, seeding, errors,
timeouts, shutdown, persistent workers, IterableDataset sharding, resuming."""
import json
import multiprocessing
import os
import sys
import time
import warnings

import numpy as np
import pytest

import fathom
from fathom.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                               get_worker_info)

from test_data import Noisy, Squares, Stream, arr, batches_equal, run_resume

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="worker tests use the fork start method")


class WhoLoads(Dataset):
    """Each sample says which worker loaded it, with what seed."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": info.id, "n": info.num_workers, "seed": info.seed,
                "same_ds": info.dataset is self, "pid": os.getpid()}


class Failing(Squares):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return super().__getitem__(i)


class Slow(Squares):
    def __getitem__(self, i):
        if i >= 2:
            time.sleep(3)
        return i


class Dies(Squares):
    def __getitem__(self, i):
        if i == 3:
            os._exit(3)
        return i


class ShardedStream(IterableDataset):
    """Splits range(n) between workers with get_worker_info(), as torch's docs show."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def children():
    return {p.pid for p in multiprocessing.active_children()}


def test_workers_same_batches_as_main_process():
    ds = TensorDataset(fathom.randn(37, 4), fathom.arange(37))
    fathom.manual_seed(3)
    a = list(DataLoader(ds, batch_size=5, shuffle=True))
    fathom.manual_seed(3)
    b = list(DataLoader(ds, batch_size=5, shuffle=True, num_workers=2))
    assert batches_equal(a, b) and isinstance(b[0][0], fathom.Tensor)


def test_round_robin_in_order_and_worker_info():
    out = list(DataLoader(WhoLoads(), batch_size=2, num_workers=2))
    assert [arr(b["i"]).tolist() for b in out] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert [arr(b["worker"]).tolist()[0] for b in out] == [0, 1, 0, 1]
    assert all(arr(b["n"]).tolist() == [2, 2] for b in out)
    seeds = {arr(b["worker"])[0]: arr(b["seed"])[0] for b in out}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    assert all(arr(b["same_ds"]).all() for b in out)
    assert len({arr(b["pid"])[0] for b in out} | {os.getpid()}) == 3


def test_seeded_random_transforms_reproducible_with_workers():
    loader = DataLoader(Noisy(20), batch_size=3, shuffle=True, num_workers=2)
    fathom.manual_seed(9)
    a = list(loader)
    fathom.manual_seed(9)
    b = list(loader)
    fathom.manual_seed(10)
    c = list(loader)
    assert batches_equal(a, b) and not batches_equal(a, c)
    # the two workers draw different numbers
    assert arr(a[0][0])[0] % 1 != arr(a[1][0])[0] % 1


def test_generator_fixes_worker_seeds():
    g = fathom.Generator()
    seeds = []
    for _ in range(2):
        g.manual_seed(4)
        seeds.append([arr(b["seed"]).tolist() for b in
                      DataLoader(WhoLoads(), batch_size=4, num_workers=2, generator=g)])
    assert seeds[0] == seeds[1]


def seed_numpy_offset(worker_id):
    np.random.seed(1000 + worker_id)


def test_worker_init_fn_runs_in_each_worker():
    class Draw(Squares):
        def __getitem__(self, i):
            return np.random.randint(10 ** 6)

    out = list(DataLoader(Draw(4), batch_size=2, num_workers=2, worker_init_fn=seed_numpy_offset))
    assert arr(out[0]).tolist() == np.random.RandomState(1000).randint(10 ** 6, size=2).tolist()
    assert arr(out[1]).tolist() == np.random.RandomState(1001).randint(10 ** 6, size=2).tolist()


def test_worker_exception_carries_worker_id_and_traceback():
    it = iter(DataLoader(Failing(8), batch_size=2, num_workers=2))
    assert arr(next(it)).tolist() == [0, 1]
    assert arr(next(it)).tolist() == [4, 9]
    with pytest.raises(ValueError) as exc:
        next(it)
    msg = str(exc.value)
    assert "Caught ValueError in DataLoader worker process 0" in msg
    assert "Original Traceback" in msg and "bad sample 5" in msg and "__getitem__" in msg
    assert arr(next(it)).tolist() == [36, 49]  # the loader goes on, like PyTorch's


def test_worker_init_fn_error_and_key_error():
    def boom(worker_id):
        raise KeyError("no such thing")

    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        list(DataLoader(Squares(4), num_workers=1, worker_init_fn=boom))


def test_unpicklable_batch_is_a_clear_error():
    with pytest.raises(RuntimeError, match="could not be pickled"):
        list(DataLoader(Squares(2), num_workers=1, collate_fn=lambda b: (lambda: 0)))


def test_timeout_raises():
    loader = DataLoader(Slow(6), batch_size=1, num_workers=1, timeout=0.3)
    it = iter(loader)
    assert arr(next(it)).tolist() == [0]
    t = time.monotonic()
    next(it)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(it)
    assert time.monotonic() - t < 2.5
    assert it._rcvd == 2  # the late batch stays pending: a retry would wait for it again
    pids = [p.pid for p in it._procs]
    del it
    assert not set(pids) & children()


def test_dead_worker_is_reported():
    it = iter(DataLoader(Dies(6), batch_size=1, num_workers=1))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly"):
        list(it)


def test_early_break_shuts_workers_down():
    before = children()
    loader = DataLoader(Squares(100), batch_size=2, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 1:
            it_pids = children() - before
            break
    assert len(it_pids) == 2
    assert not it_pids & children()  # joined: no zombies, nothing left running
    for pid in it_pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_exhausted_iterator_shuts_workers_down():
    before = children()
    it = iter(DataLoader(Squares(6), batch_size=2, num_workers=2))
    assert len(children() - before) == 2
    mine = children() - before
    assert len(list(it)) == 3
    assert not mine & children()


def test_persistent_workers_kept_across_epochs():
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, persistent_workers=True)
    pids = []
    for _ in range(3):
        out = list(loader)
        assert [arr(b["i"]).tolist() for b in out] == [[0, 1], [2, 3], [4, 5], [6, 7]]
        pids.append({int(arr(b["pid"])[0]) for b in out})
    assert pids[0] == pids[1] == pids[2] and pids[0] <= children()
    it = iter(loader)  # break mid-epoch; the next epoch still starts cleanly
    next(it)
    assert [arr(b["i"]).tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    loader._iterator._shutdown()
    assert not pids[0] & children()


def test_persistent_workers_end_with_their_loader():
    loader = DataLoader(Squares(4), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in loader:
        pass
    pids = {p.pid for p in loader._iterator._procs}
    assert pids <= children()
    del loader  # no reference cycle: the workers stop now, not at the next gc run
    assert not pids & children()


def test_iterator_outlives_its_loader():
    it = iter(DataLoader(Squares(6), batch_size=2, num_workers=1))
    assert len(it) == 3 and [arr(b).tolist() for b in it] == [[0, 1], [4, 9], [16, 25]]


def test_persistent_workers_reproducible():
    loader = DataLoader(Noisy(12), batch_size=4, shuffle=True, num_workers=2,
                        persistent_workers=True)
    fathom.manual_seed(2)
    a = [list(loader) for _ in range(2)]
    loader._iterator._shutdown()
    fathom.manual_seed(2)
    loader2 = DataLoader(Noisy(12), batch_size=4, shuffle=True, num_workers=2,
                         persistent_workers=True)
    b = [list(loader2) for _ in range(2)]
    loader2._iterator._shutdown()
    assert batches_equal(a, b) and not batches_equal(a[0], a[1])


def test_iterable_dataset_with_workers():
    # without sharding every worker yields the whole stream (PyTorch's behaviour)
    out = [arr(b).tolist() for b in DataLoader(Stream(3), batch_size=2, num_workers=2)]
    assert out == [[0, 1], [0, 1], [2], [2]]
    out = [arr(b).tolist() for b in DataLoader(ShardedStream(9), batch_size=2, num_workers=2)]
    assert out == [[0, 2], [1, 3], [4, 6], [5, 7], [8]]
    with warnings.catch_warnings():  # more workers than CPUs on small machines
        warnings.simplefilter("ignore")
        out = list(DataLoader(ShardedStream(9), batch_size=None, num_workers=3))
    assert out == [0, 1, 2, 3, 4, 5, 6, 7, 8]  # round robin over the workers' shards
    loader = DataLoader(ShardedStream(5), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert [arr(b).tolist() for b in loader] == [[0, 2], [1, 3], [4]]
    loader._iterator._shutdown()


def test_prefetch_bounds_tasks_in_flight():
    it = iter(DataLoader(Squares(40), batch_size=1, num_workers=2, prefetch_factor=3))
    assert it._sent == 6
    next(it)
    assert it._sent == 7


def test_spawn_like_context_object_accepted():
    ctx = multiprocessing.get_context("fork")
    out = list(DataLoader(Squares(4), batch_size=2, num_workers=1, multiprocessing_context=ctx))
    assert [arr(b).tolist() for b in out] == [[0, 1], [4, 9]]


# --- resuming with workers --------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, 3])
def test_resume_with_workers_and_random_transforms(k):
    def make():
        return DataLoader(Noisy(22), batch_size=3, shuffle=True, num_workers=2)
    full, sd = run_resume(make, k)
    assert len(sd["worker_rng"]) == 2 and sd["batches"] == k
    json.dumps(sd)


def test_resume_with_workers_tensor_dataset():
    ds = TensorDataset(fathom.randn(30, 2), fathom.arange(30))
    run_resume(lambda: DataLoader(ds, batch_size=4, shuffle=True, num_workers=2), 3)


def test_resume_with_persistent_workers():
    loaders = []

    def make():
        loaders.append(DataLoader(Noisy(14), batch_size=3, shuffle=True, num_workers=2,
                                  persistent_workers=True))
        return loaders[-1]
    run_resume(make, 2, epochs=3)
    for loader in loaders:
        if loader._iterator is not None:
            loader._iterator._shutdown()


def test_resume_persistent_workers_between_epochs():
    def make():
        return DataLoader(Noisy(9), batch_size=3, shuffle=True, num_workers=2,
                          persistent_workers=True)
    fathom.manual_seed(1)
    a = make()
    ref = [list(a) for _ in range(3)]
    a._iterator._shutdown()
    fathom.manual_seed(1)
    b = make()
    list(b)
    sd = json.loads(json.dumps(b.state_dict()))
    rng = fathom.get_rng_state()
    b._iterator._shutdown()
    assert sd["in_epoch"] is False and len(sd["worker_rng"]) == 2
    fathom.manual_seed(99)
    fathom.set_rng_state(rng)
    c = make()
    c.load_state_dict(sd)
    rest = [list(c) for _ in range(2)]
    c._iterator._shutdown()
    assert batches_equal(ref[1:], rest)


def test_resume_after_a_failed_batch():
    loader = DataLoader(Failing(8), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it), next(it)
    with pytest.raises(ValueError):
        next(it)
    sd = loader.state_dict()
    assert sd["batches"] == 3
    del it
    fresh = DataLoader(Failing(8), batch_size=2)
    with pytest.warns(UserWarning, match="num_workers=2"):
        fresh.load_state_dict(sd)
    assert [arr(b).tolist() for b in fresh] == [[36, 49]]


def test_resume_with_workers_iterable():
    run_resume(lambda: DataLoader(ShardedStream(13), batch_size=2, num_workers=2), 3)


def test_state_from_workers_loads_into_single_process_with_warning():
    ds = Squares(20)
    fathom.manual_seed(0)
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
    full = [arr(b).tolist() for b in loader]
    fathom.manual_seed(0)
    it = iter(loader)
    next(it)
    sd = loader.state_dict()
    del it
    single = DataLoader(ds, batch_size=4, shuffle=True)
    with pytest.warns(UserWarning, match="num_workers=2"):
        single.load_state_dict(sd)
    assert [arr(b).tolist() for b in single] == full[1:]
