"""Random numbers: seeding, generators, state round trips, distributions, dtypes and shapes."""
import numpy as np
import pytest

import fathom

DRAWS = {
    "rand": lambda g: fathom.rand(3, 4, generator=g),
    "randn": lambda g: fathom.randn(3, 4, generator=g),
    "randint": lambda g: fathom.randint(0, 10, (3, 4), generator=g),
    "randperm": lambda g: fathom.randperm(10, generator=g),
    "normal_": lambda g: fathom.zeros(3, 4).normal_(generator=g),
    "uniform_": lambda g: fathom.zeros(3, 4).uniform_(-1, 1, generator=g),
    "bernoulli": lambda g: fathom.bernoulli(fathom.full((3, 4), 0.5), generator=g),
    "bernoulli_": lambda g: fathom.zeros(3, 4).bernoulli_(0.3, generator=g),
    "normal": lambda g: fathom.normal(0.0, 1.0, (3, 4), generator=g),
    "multinomial": lambda g: fathom.multinomial(fathom.ones(2, 5), 3, generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_manual_seed_reproduces_the_default_stream(name):
    fathom.manual_seed(123)
    a = DRAWS[name](None)
    b = DRAWS[name](None)
    fathom.manual_seed(123)
    np.testing.assert_array_equal(DRAWS[name](None).numpy(), a.numpy())
    np.testing.assert_array_equal(DRAWS[name](None).numpy(), b.numpy())
    if name not in ("bernoulli", "bernoulli_"):
        assert not np.array_equal(a.numpy(), b.numpy())  # the stream moves on


@pytest.mark.parametrize("name", DRAWS)
def test_generator_objects_are_reproducible_and_independent(name):
    g1, g2 = fathom.Generator().manual_seed(7), fathom.Generator().manual_seed(7)
    fathom.manual_seed(0)
    first = DRAWS[name](g1)
    DRAWS[name](None)  # the default stream does not disturb g2
    np.testing.assert_array_equal(DRAWS[name](g2).numpy(), first.numpy())
    fathom.manual_seed(0)
    before = fathom.get_rng_state()
    DRAWS[name](g1)
    np.testing.assert_array_equal(fathom.get_rng_state().numpy(), before.numpy())


def test_different_seeds_differ():
    assert not np.array_equal(fathom.Generator().manual_seed(1).rng.random(4),
                              fathom.Generator().manual_seed(2).rng.random(4))
    g = fathom.Generator().manual_seed(5)
    assert g.initial_seed() == 5
    fathom.manual_seed(9)
    assert fathom.initial_seed() == 9


def test_rng_state_round_trip():
    fathom.manual_seed(3)
    fathom.randn(5)
    state = fathom.get_rng_state()
    assert state.dtype is fathom.uint8 and state.ndim == 1
    a = fathom.randn(5)
    fathom.randn(7)
    fathom.set_rng_state(state)
    np.testing.assert_array_equal(fathom.randn(5).numpy(), a.numpy())
    g = fathom.Generator().manual_seed(11)
    s = g.get_state()
    x = fathom.rand(4, generator=g)
    g.set_state(s)
    np.testing.assert_array_equal(fathom.rand(4, generator=g).numpy(), x.numpy())


def test_distributions_are_sane():
    fathom.manual_seed(0)
    n = 200_000
    u = fathom.rand(n).numpy()
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.std() - 12 ** -0.5) < 0.01
    z = fathom.randn(n).numpy()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    nz = fathom.normal(2.0, 3.0, (n,)).numpy()
    assert abs(nz.mean() - 2) < 0.05 and abs(nz.std() - 3) < 0.05
    t = fathom.empty(n).normal_(-1.0, 0.5).numpy()
    assert abs(t.mean() + 1) < 0.01 and abs(t.std() - 0.5) < 0.01
    v = fathom.empty(n).uniform_(2, 4).numpy()
    assert v.min() >= 2 and v.max() < 4 and abs(v.mean() - 3) < 0.01
    r = fathom.randint(3, 8, (n,)).numpy()
    assert r.min() == 3 and r.max() == 7 and abs(r.mean() - 5) < 0.02
    b = fathom.bernoulli(fathom.full((n,), 0.3)).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    p = fathom.randperm(1000).numpy()
    assert sorted(p.tolist()) == list(range(1000))
    m = fathom.multinomial(fathom.tensor([0.0, 1.0, 3.0]), 4000, replacement=True).numpy()
    assert (m != 0).all() and abs((m == 2).mean() - 0.75) < 0.03


def test_normal_with_tensor_arguments_broadcasts():
    mean = fathom.tensor([0.0, 100.0])
    out = fathom.normal(mean, 0.001)
    assert out.shape == (2,) and abs(out[1].item() - 100) < 0.1


def test_dtypes_and_shapes(torch):
    assert fathom.rand(2, 3).dtype is fathom.float32 and fathom.rand(2, 3).shape == (2, 3)
    assert fathom.rand((2, 3)).shape == (2, 3)
    assert fathom.randn(4, dtype=fathom.float64).dtype is fathom.float64
    assert fathom.randn(4, dtype=fathom.float16).dtype is fathom.float16
    assert fathom.randint(10, (5,)).dtype is fathom.int64
    assert fathom.randint(0, 10, (2, 2), dtype=fathom.int32).dtype is fathom.int32
    assert fathom.randperm(5).dtype is fathom.int64 and fathom.randperm(5).shape == (5,)
    assert fathom.rand(()).shape == () and fathom.randn(0).shape == (0,)
    x = fathom.zeros(3, dtype=fathom.float64)
    assert x.normal_() is x and x.dtype is fathom.float64 and x._version == 1
    assert fathom.bernoulli(fathom.full((2,), 0.5, dtype=fathom.float64)).dtype is fathom.float64
    assert fathom.rand_like(x).dtype is fathom.float64 and fathom.randn_like(x).shape == (3,)
    assert fathom.randint_like(x, 5).shape == (3,)
    assert fathom.rand(2, requires_grad=True).requires_grad
    for name in ("rand", "randn"):
        assert _same_dtype(getattr(fathom, name)(2), getattr(torch, name)(2))
    assert _same_dtype(fathom.randint(3, (2,)), torch.randint(3, (2,)))
    assert _same_dtype(fathom.randperm(3), torch.randperm(3))


def _same_dtype(a, b):
    return str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]


def test_random_argument_errors():
    with pytest.raises(ValueError, match="low < high"):
        fathom.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="floating"):
        fathom.rand(2, dtype=fathom.int64)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fathom.bernoulli(fathom.tensor([1.5]))
