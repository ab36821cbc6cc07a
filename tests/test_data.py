"""fathom.utils.data: datasets, samplers, collate, the single-process DataLoader,
resuming, and k-fold splits (worker processes: test_data_workers.py)."""
import collections
import json

import numpy as np
import pytest

import fathom
from fathom.errors import ShapeError
from fathom.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                               IterableDataset, KFold, RandomSampler, SequentialSampler,
                               StratifiedKFold, Subset, SubsetRandomSampler, TensorDataset,
                               WeightedRandomSampler, default_collate, default_convert,
                               get_worker_info, random_split)


def arr(t):
    return np.asarray(t.numpy())


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


class Noisy(Dataset):
    """Samples with a random 'transform' drawn from fathom's and NumPy's global RNGs."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.float64(i + fathom.rand(()).item()), np.float64(np.random.random())


class Stream(IterableDataset):
    def __init__(self, n, length=True):
        self.n = n
        self.length = length

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.length:
            raise TypeError("no len")
        return self.n


def batches_equal(a, b):
    if isinstance(a, fathom.Tensor):
        return a.dtype == b.dtype and np.array_equal(arr(a), arr(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(batches_equal(x, y) for x, y in zip(a, b))
    return a == b


# --- datasets --------------------------------------------------------------------------------

def test_tensor_dataset_items_and_len():
    x, y = fathom.randn(6, 3), fathom.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[2]
    assert xi.shape == (3,) and yi.shape == () and yi.item() == 2 and yi.dtype == fathom.int64
    np.testing.assert_array_equal(arr(xi), arr(x)[2])
    rows = ds.__getitems__([4, 1])
    assert len(rows) == 2 and rows[1][1].item() == 1
    assert [int(b) for _, b in rows] == [4, 1]
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(fathom.zeros(3), fathom.zeros(4))


def test_tensor_dataset_keeps_autograd_for_grad_tensors():
    x = fathom.randn(4, 2, requires_grad=True)
    xi, = TensorDataset(x)[1]
    xi.sum().backward()
    assert arr(x.grad)[1].tolist() == [1.0, 1.0] and arr(x.grad)[0].tolist() == [0.0, 0.0]


def test_subset_concat_chain_add():
    ds = Squares(5)
    sub = Subset(ds, [4, 0, 2])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [16, 0, 4]
    assert sub.__getitems__([0, 2]) == [16, 4]
    cat = ds + Squares(3)
    assert isinstance(cat, ConcatDataset) and len(cat) == 8
    assert [cat[i] for i in range(8)] == [0, 1, 4, 9, 16, 0, 1, 4]
    assert cat[-1] == 4 and cat.cumulative_sizes == [5, 8]
    with pytest.raises(ValueError, match="absolute value"):
        cat[-9]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Stream(3)])
    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5


def test_subset_of_tensor_dataset_uses_fast_path():
    x = fathom.arange(10).float()
    sub = Subset(TensorDataset(x), [9, 8, 7])
    batch = default_collate(sub.__getitems__([2, 0]))
    assert arr(batch[0]).tolist() == [7.0, 9.0]


def test_random_split_lengths_and_fractions():
    g = fathom.Generator().manual_seed(1)
    a, b = random_split(range(10), [3, 7], generator=g)
    assert len(a) == 3 and len(b) == 7
    assert sorted(list(a.indices) + list(b.indices)) == list(range(10))
    # torch's rule: floor each share, then hand the remainder out round robin
    assert [len(s) for s in random_split(range(10), [0.33, 0.33, 0.34])] == [4, 3, 3]
    assert [len(s) for s in random_split(range(11), [0.5, 0.5])] == [6, 5]
    g1, g2 = fathom.Generator().manual_seed(3), fathom.Generator().manual_seed(3)
    assert random_split(range(30), [0.3, 0.7], generator=g1)[0].indices == \
        random_split(range(30), [0.3, 0.7], generator=g2)[0].indices
    fathom.manual_seed(5)
    first = random_split(range(30), [10, 20])[0].indices
    fathom.manual_seed(5)
    assert random_split(range(30), [10, 20])[0].indices == first


def test_random_split_errors_and_warning():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        random_split(range(10), [0.5, 1.5, -1.0])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])


# --- samplers --------------------------------------------------------------------------------

def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    bs = BatchSampler(SequentialSampler(range(5)), 2, drop_last=False)
    assert list(bs) == [[0, 1], [2, 3], [4]] and len(bs) == 3
    bs = BatchSampler(SequentialSampler(range(5)), 2, drop_last=True)
    assert list(bs) == [[0, 1], [2, 3]] and len(bs) == 2
    assert list(BatchSampler(range(4), 3, False)) == [[0, 1, 2], [3]]
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), True, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, 1)


def test_random_sampler_permutation_and_seeding():
    s = RandomSampler(range(20))
    fathom.manual_seed(3)
    a = list(s)
    b = list(s)
    assert sorted(a) == list(range(20)) and a != b and len(s) == 20
    fathom.manual_seed(3)
    assert list(s) == a  # the global RNG decides every pass
    g = fathom.Generator().manual_seed(0)
    s1 = list(RandomSampler(range(20), generator=g))
    g.manual_seed(0)
    assert list(RandomSampler(range(20), generator=g)) == s1


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(5), num_samples=12)
    out = list(s)
    assert len(out) == 12 == len(s)
    assert sorted(out[:5]) == list(range(5)) and sorted(out[5:10]) == list(range(5))
    r = list(RandomSampler(range(3), replacement=True, num_samples=100))
    assert len(r) == 100 and set(r) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler([])
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30])
    assert sorted(s) == [10, 20, 30] and len(s) == 3


def test_weighted_random_sampler_distribution():
    w = [0.1, 0.2, 0.7, 0.0]
    s = WeightedRandomSampler(w, 20000, replacement=True, generator=fathom.Generator())
    counts = np.bincount(list(s), minlength=4) / 20000
    np.testing.assert_allclose(counts, w, atol=0.02)
    assert counts[3] == 0 and len(s) == 20000
    s = WeightedRandomSampler(fathom.tensor([1.0, 1.0, 5.0, 0.0]), 3, replacement=False)
    for _ in range(20):
        out = list(s)
        assert sorted(out) == [0, 1, 2]
    # without replacement the heavy item comes first most of the time
    firsts = [list(WeightedRandomSampler([1.0, 1.0, 8.0], 3, False))[0] for _ in range(400)]
    assert 0.7 < np.mean(np.array(firsts) == 2) < 0.9


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="replacement should be a boolean value"):
        WeightedRandomSampler([1.0], 1, replacement=0)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)


# --- default_collate -------------------------------------------------------------------------

def test_collate_numbers_dtypes():
    assert default_collate([1, 2]).dtype == fathom.int64
    assert default_collate([1.0, 2.5]).dtype == fathom.float64
    b = default_collate([True, False])
    assert b.dtype == fathom.bool and arr(b).tolist() == [True, False]
    assert default_collate([np.float32(1), np.float32(2)]).dtype == fathom.float32
    assert default_collate([np.int32(1), np.int32(2)]).dtype == fathom.int32


def test_collate_arrays_and_tensors_stack():
    imgs = [np.full((28, 28), i, np.float32) for i in range(4)]
    b = default_collate(imgs)
    assert isinstance(b, fathom.Tensor) and b.shape == (4, 28, 28) and b.dtype == fathom.float32
    assert arr(b)[3, 0, 0] == 3
    t = default_collate([fathom.ones(2), fathom.zeros(2)])
    assert t.shape == (2, 2) and arr(t).tolist() == [[1, 1], [0, 0]]
    with pytest.raises(ShapeError, match=r"\(3,\) at index 0 and shape \(4,\) at index 2"):
        default_collate([np.zeros(3), np.zeros(3), np.zeros(4)])
    with pytest.raises(ShapeError, match=r"\(2,\) at index 0 and shape \(3,\) at index 1"):
        default_collate([fathom.zeros(2), fathom.zeros(3)])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])


def test_collate_requires_grad_tensors_stack_with_autograd():
    a = fathom.ones(2, requires_grad=True)
    out = default_collate([a, a * 2])
    out.sum().backward()
    assert arr(a.grad).tolist() == [3.0, 3.0]


Point = collections.namedtuple("Point", "x y")


def test_collate_containers():
    # tuples give lists (PyTorch's backward-compatible rule), strings stay as they are
    out = default_collate([(1, "a", 0.5), (2, "b", 1.5)])
    assert isinstance(out, list) and arr(out[0]).tolist() == [1, 2] and out[1] == ("a", "b")
    assert out[2].dtype == fathom.float64
    assert default_collate(["x", "y"]) == ["x", "y"]
    d = default_collate([{"a": 1, "b": np.zeros(2)}, {"a": 2, "b": np.ones(2)}])
    assert set(d) == {"a", "b"} and d["b"].shape == (2, 2)
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and arr(p.x).tolist() == [1, 3] and p.y.dtype == fathom.float64
    lst = default_collate([[1, 2], [3, 4]])
    assert isinstance(lst, list) and arr(lst[0]).tolist() == [1, 3]
    nested = default_collate([{"k": (np.zeros(1), [1, 2])}] * 3)
    assert nested["k"][0].shape == (3, 1) and arr(nested["k"][1][1]).tolist() == [2, 2, 2]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])


def test_default_convert():
    assert isinstance(default_convert(np.zeros(3)), fathom.Tensor)
    out = default_convert({"a": np.int64(3), "b": "s", "c": (np.zeros(1), 2)})
    assert out["a"].dtype == fathom.int64 and out["b"] == "s"
    assert isinstance(out["c"], list) and out["c"][1] == 2
    assert default_convert(5) == 5


def test_collate_speed_is_one_stack():
    imgs = [np.random.rand(28, 28).astype(np.float32) for _ in range(128)]
    b = default_collate(imgs)
    np.testing.assert_array_equal(arr(b), np.stack(imgs))


# --- DataLoader in the main process ------------------------------------------------------------

def test_loader_batches_drop_last_len():
    ds = TensorDataset(fathom.arange(10).float(), fathom.arange(10))
    loader = DataLoader(ds, batch_size=4)
    out = list(loader)
    assert len(loader) == 3 and len(out) == 3
    assert isinstance(out[0], list) and arr(out[0][1]).tolist() == [0, 1, 2, 3]
    assert arr(out[2][0]).tolist() == [8.0, 9.0]
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 and len(list(loader)) == 2


def test_loader_with_and_without_getitems_agree():
    x, y = fathom.randn(50, 3), fathom.arange(50)

    class Plain(Dataset):
        def __len__(self):
            return 50

        def __getitem__(self, i):
            return x[i], y[i]

    fathom.manual_seed(1)
    a = list(DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True))
    fathom.manual_seed(1)
    b = list(DataLoader(Plain(), batch_size=8, shuffle=True))
    assert batches_equal(a, b)


def test_loader_calls_getitems_once_per_batch():
    calls = []

    class Batched(Squares):
        def __getitems__(self, indices):
            calls.append(list(indices))
            return [i * i for i in indices]

    out = [arr(b).tolist() for b in DataLoader(Batched(5), batch_size=2)]
    assert out == [[0, 1], [4, 9], [16]] and calls == [[0, 1], [2, 3], [4]]


def test_custom_collate_sees_a_sequence_of_samples():
    ds = TensorDataset(fathom.arange(4), fathom.arange(4) * 10)

    def collate(batch):
        assert len(batch) == 2
        return [(int(a), int(b)) for a, b in batch]

    assert list(DataLoader(ds, batch_size=2, collate_fn=collate)) == [[(0, 0), (1, 10)],
                                                                      [(2, 20), (3, 30)]]


def test_loader_shuffle_is_seeded_by_global_rng_and_generator():
    ds = Squares(30)
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    fathom.manual_seed(7)
    a = [arr(b).tolist() for b in loader]
    b = [arr(b).tolist() for b in loader]
    assert a != b
    fathom.manual_seed(7)
    assert [arr(b).tolist() for b in loader] == a
    assert sorted(sum(a, [])) == sorted(i * i for i in range(30))
    g = fathom.Generator().manual_seed(2)
    first = [arr(b).tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=g)]
    g.manual_seed(2)
    assert [arr(b).tolist() for b in DataLoader(ds, 5, True, generator=g)] == first


def test_loader_random_transforms_reproducible():
    loader = DataLoader(Noisy(12), batch_size=4, shuffle=True)
    fathom.manual_seed(11)
    a = list(loader)
    fathom.manual_seed(11)
    assert batches_equal(a, list(loader))


def test_loader_sampler_batch_sampler_and_no_batching():
    ds = Squares(6)
    out = list(DataLoader(ds, batch_size=2, sampler=[5, 4, 3]))
    assert [arr(b).tolist() for b in out] == [[25, 16], [9]]
    out = list(DataLoader(ds, batch_sampler=[[0, 1, 2], [5]]))
    assert [arr(b).tolist() for b in out] == [[0, 1, 4], [25]]
    out = list(DataLoader(ds, batch_size=None))
    assert out == [0, 1, 4, 9, 16, 25]  # default_convert leaves ints alone
    out = list(DataLoader(ds, batch_size=3, collate_fn=lambda b: sum(b)))
    assert out == [5, 50]


def test_loader_argument_errors():
    ds = Squares(4)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    msg = "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and"
    for kw in ({"batch_size": 2}, {"shuffle": True}, {"sampler": [0]}, {"drop_last": True}):
        with pytest.raises(ValueError, match=msg):
            DataLoader(ds, batch_sampler=[[0]], **kw)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got "
                                         "shuffle=True"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0])
    with pytest.raises(ValueError, match="expected unspecified batch_sampler option"):
        DataLoader(Stream(3), batch_sampler=[[0]])
    with pytest.raises(ValueError, match="multiprocessing_context can only be used"):
        DataLoader(ds, multiprocessing_context="fork")
    with pytest.raises(ValueError, match="should specify a valid start method"):
        DataLoader(ds, num_workers=1, multiprocessing_context="nope")
    with pytest.raises(ValueError, match="timeout=1 needs num_workers > 0"):
        iter(DataLoader(ds, timeout=1))
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 3
    loader.num_workers = 0  # other attributes may change


def test_iterable_dataset_len_and_batches():
    loader = DataLoader(Stream(10), batch_size=4)
    assert len(loader) == 3
    assert [arr(b).tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = DataLoader(Stream(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and len(list(loader)) == 2
    assert len(DataLoader(Stream(10), batch_size=None)) == 10
    with pytest.raises(TypeError):
        len(DataLoader(Stream(10, length=False)))
    assert get_worker_info() is None


def test_iterable_dataset_len_warning():
    class Liar(Stream):
        def __len__(self):
            return 2

    loader = DataLoader(Liar(5), batch_size=1)
    len(loader)
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)


def test_pin_memory_warns_without_accelerator():
    if fathom.accelerator.is_available():
        pytest.skip("an accelerator is present")
    with pytest.warns(UserWarning, match="pin_memory"):
        list(DataLoader(Squares(2), pin_memory=True))


# --- resuming --------------------------------------------------------------------------------

def run_resume(make_loader, k, epochs=2):
    """Uninterrupted batches of `epochs` epochs vs. stopping after k batches of epoch 1,
    saving state (loader + global RNG), and continuing on a fresh loader."""
    fathom.manual_seed(123)
    np.random.seed(123)
    loader = make_loader()
    full = [list(loader) for _ in range(epochs)]

    fathom.manual_seed(123)
    np.random.seed(123)
    loader = make_loader()
    it = iter(loader)
    head = [next(it) for _ in range(k)]
    fathom.rand(5)  # the model draws too (dropout, ...) between batches
    sd = json.loads(json.dumps(loader.state_dict()))  # JSON-able
    rng = fathom.get_rng_state()
    del it
    fathom.rand(3)  # whatever happens before the restart
    fathom.set_rng_state(rng)
    fresh = make_loader()
    fresh.load_state_dict(sd)
    rest = [list(fresh)] + [list(fresh) for _ in range(epochs - 1)]

    fathom.manual_seed(123)  # the reference run has the same model draws
    np.random.seed(123)
    loader = make_loader()
    ref = []
    it = iter(loader)
    for i in range(len(full[0])):
        if i == k:
            fathom.rand(5)
        ref.append(next(it))
    ref = [ref] + [list(loader) for _ in range(epochs - 1)]
    assert batches_equal(ref[0][:k], head)
    assert batches_equal(ref[0][k:], rest[0])
    for e in range(1, epochs):
        assert batches_equal(ref[e], rest[e])
    return full, sd


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_resume_shuffled_tensor_dataset(k):
    ds = TensorDataset(fathom.randn(21, 2), fathom.arange(21))
    full, sd = run_resume(lambda: DataLoader(ds, batch_size=4, shuffle=True), k)
    assert sd["in_epoch"] and sd["batches"] == k


def test_resume_with_generator_and_random_transform():
    g = fathom.Generator().manual_seed(5)
    state = g.get_state()

    def make():
        g.set_state(state)
        return DataLoader(Noisy(13), batch_size=3, shuffle=True, generator=g)
    run_resume(make, 2, epochs=3)


def test_resume_weighted_sampler_and_iterable():
    ds = Squares(20)
    run_resume(lambda: DataLoader(ds, batch_size=3, sampler=WeightedRandomSampler(
        [1.0] * 20, 20)), 4)
    run_resume(lambda: DataLoader(Stream(11), batch_size=3), 2)


def test_resume_does_not_load_skipped_samples():
    class Counting(Squares):
        loaded = 0

        def __getitem__(self, i):
            Counting.loaded += 1
            return super().__getitem__(i)

    ds = Counting(20)
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    it = iter(loader)
    next(it), next(it)
    sd = loader.state_dict()
    fresh = DataLoader(ds, batch_size=4, shuffle=True)
    fresh.load_state_dict(sd)
    Counting.loaded = 0
    assert len(list(fresh)) == 3 and Counting.loaded == 12


def test_state_dict_between_epochs_and_errors():
    loader = DataLoader(Squares(8), batch_size=4, shuffle=True)
    assert loader.state_dict() == {"version": 1, "in_epoch": False, "batches": 0}
    list(loader)
    assert loader.state_dict()["in_epoch"] is False
    it = iter(loader)
    next(it)
    sd = loader.state_dict()
    other = DataLoader(Squares(9), batch_size=4, shuffle=True)
    with pytest.raises(ValueError, match="dataset of length 8"):
        other.load_state_dict(sd)
    with pytest.raises(ValueError, match="unknown state version"):
        other.load_state_dict({"version": 99})


# --- k-fold ----------------------------------------------------------------------------------

def test_kfold_sizes_and_cover():
    folds = list(KFold(3).split(range(10)))
    assert [len(v) for _, v in folds] == [4, 3, 3]
    assert [v.indices for _, v in folds][0] == [0, 1, 2, 3]
    for tr, va in folds:
        assert isinstance(tr, Subset) and sorted(tr.indices + va.indices) == list(range(10))
    assert KFold(4).get_n_splits() == 4


@pytest.mark.parametrize("shuffle,seed", [(False, None), (True, 0), (True, 42)])
def test_kfold_matches_sklearn(shuffle, seed):
    sk = pytest.importorskip("sklearn.model_selection")
    y = np.random.RandomState(1).randint(0, 3, 37)
    ds = TensorDataset(fathom.zeros(37), fathom.tensor(y))
    ds.targets = y
    pairs = [(KFold(5, shuffle=shuffle, random_state=seed).split(ds),
              sk.KFold(5, shuffle=shuffle, random_state=seed).split(np.zeros(37))),
             (StratifiedKFold(5, shuffle=shuffle, random_state=seed).split(ds),
              sk.StratifiedKFold(5, shuffle=shuffle, random_state=seed).split(np.zeros(37), y))]
    for ours, theirs in pairs:
        for (tr, va), (str_, sva) in zip(ours, theirs, strict=True):
            assert tr.indices == str_.tolist() and va.indices == sva.tolist()


def test_stratified_kfold_keeps_class_shares_and_errors():
    y = np.array([0] * 30 + [1] * 10)
    for tr, va in StratifiedKFold(5).split(range(40), y):
        assert np.bincount(y[va.indices]).tolist() == [6, 2]
    with pytest.raises(ValueError, match="targets"):
        next(StratifiedKFold(2).split(range(4)))
    with pytest.raises(ValueError, match="continuous"):
        next(StratifiedKFold(2).split(range(4), [0.5, 1.5, 0.2, 0.1]))
    with pytest.raises(ValueError, match="cannot be greater than the number of members"):
        next(StratifiedKFold(3).split(range(4), [0, 0, 1, 1]))
    with pytest.warns(UserWarning, match="least populated class"):
        next(StratifiedKFold(3).split(range(7), [0, 0, 0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="n_splits=2 or more"):
        KFold(1)
    with pytest.raises(ValueError, match="no effect since shuffle is False"):
        KFold(3, random_state=0)
    with pytest.raises(ValueError, match="greater than the number of samples"):
        next(KFold(5).split(range(3)))


def test_kfold_with_tensor_targets_feeds_a_loader():
    y = fathom.tensor([0, 1] * 10)
    tr, va = next(StratifiedKFold(4, shuffle=True, random_state=0).split(
        TensorDataset(fathom.randn(20, 2), y), y))
    xb, yb = next(iter(DataLoader(va, batch_size=len(va))))
    assert xb.shape == (5, 2) and sorted(arr(yb).tolist()) in ([0, 0, 1, 1, 1], [0, 0, 0, 1, 1])
