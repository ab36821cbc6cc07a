"""Property tests (hypothesis) for broadcasting and shape ops, plus regression checks for
the reduction/shape/index ops whose edge cases the op table cannot express (errors,
gradients at zeros, stability, in-place setitem on a graph)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fathom
from fathom.errors import ShapeError

SETTINGS = settings(derandomize=True, max_examples=50, deadline=None)

dims = st.integers(min_value=1, max_value=4)
shapes = st.lists(dims, min_size=0, max_size=4).map(tuple)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: each dim of the common shape is kept, set to 1 or dropped."""
    out = draw(st.lists(dims, min_size=0, max_size=4))
    def part():
        s = [draw(st.sampled_from([d, 1])) for d in out]
        return tuple(s[draw(st.integers(0, len(s))):])
    return part(), part()


def _leaf(shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return fathom.tensor(data, requires_grad=True), data


# --- broadcasting -----------------------------------------------------------------------

@SETTINGS
@given(broadcast_pair(), st.sampled_from(["add", "mul", "sub", "div"]))
def test_broadcast_result_and_gradient_shapes(pair, op):
    sa, sb = pair
    a, _ = _leaf(sa, 1)
    b, bd = _leaf(sb, 2)
    if op == "div":
        b = fathom.tensor(np.abs(bd) + 1, requires_grad=True)
    out = getattr(fathom, op)(a, b)
    assert tuple(out.shape) == np.broadcast_shapes(sa, sb)
    out.sum().backward()
    assert tuple(a.grad.shape) == sa and tuple(b.grad.shape) == sb
    # d(sum(a + b))/da counts how often each element of a was broadcast
    if op == "add":
        n = math.prod(out.shape) // max(math.prod(sa), 1)
        np.testing.assert_allclose(a.grad.numpy(), np.full(sa, n))


# --- round trips ------------------------------------------------------------------------

@SETTINGS
@given(shapes, st.randoms(use_true_random=False))
def test_reshape_round_trip(shape, rnd):
    x, data = _leaf(shape)
    flat = list(shape)
    rnd.shuffle(flat)
    y = fathom.reshape(fathom.reshape(x, tuple(flat)), shape)
    np.testing.assert_array_equal(y.detach().numpy(), data)
    assert tuple(fathom.flatten(x).shape) == (max(math.prod(shape), 1),)
    assert tuple(fathom.reshape(x, (-1,)).shape) == (math.prod(shape),)


@SETTINGS
@given(shapes, st.randoms(use_true_random=False))
def test_permute_backward_is_inverse_permute(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    x, data = _leaf(shape)
    y = fathom.permute(x, tuple(perm))
    np.testing.assert_array_equal(y.detach().numpy(), np.transpose(data, perm))
    w = np.random.default_rng(3).standard_normal(y.shape)
    (y * fathom.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.transpose(w, np.argsort(perm)))


@SETTINGS
@given(shapes.filter(lambda s: len(s) >= 1), st.data())
def test_transpose_and_movedim_are_adjoint(shape, data):
    d0 = data.draw(st.integers(-len(shape), len(shape) - 1))
    d1 = data.draw(st.integers(-len(shape), len(shape) - 1))
    x, arr = _leaf(shape)
    y = fathom.transpose(x, d0, d1)
    np.testing.assert_array_equal(y.detach().numpy(), np.swapaxes(arr, d0, d1))
    w = np.random.default_rng(4).standard_normal(y.shape)
    (y * fathom.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.swapaxes(w, d0, d1))
    z = fathom.movedim(x.detach(), d0, d1)
    np.testing.assert_array_equal(z.numpy(), np.moveaxis(arr, d0, d1))


@SETTINGS
@given(shapes, st.data())
def test_squeeze_unsqueeze_round_trip(shape, data):
    x, arr = _leaf(shape)
    d = data.draw(st.integers(-len(shape) - 1, len(shape)))
    y = fathom.unsqueeze(x, d)
    assert tuple(y.shape) == np.expand_dims(arr, d).shape
    np.testing.assert_array_equal(fathom.squeeze(y, d).detach().numpy(), arr)
    np.testing.assert_array_equal(fathom.squeeze(x).detach().numpy(), np.squeeze(arr))
    fathom.squeeze(y).sum().backward()
    assert tuple(x.grad.shape) == shape


@SETTINGS
@given(shapes.filter(lambda s: len(s) >= 1), st.data())
def test_split_then_cat_is_identity(shape, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, shape[d]))
    x, arr = _leaf(shape)
    parts = fathom.split(x, size, d)
    assert all(p.shape[d] <= size for p in parts)
    assert sum(p.shape[d] for p in parts) == shape[d]
    y = fathom.cat(parts, d)
    np.testing.assert_array_equal(y.detach().numpy(), arr)
    w = np.random.default_rng(5).standard_normal(shape)
    (y * fathom.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w)  # the adjoint of a split is a cat
    chunks = fathom.chunk(x.detach(), size, d)
    np.testing.assert_array_equal(fathom.cat(chunks, d).numpy(), arr)
    st_ = fathom.stack(fathom.unbind(x.detach(), d), d)
    np.testing.assert_array_equal(st_.numpy(), arr)


@SETTINGS
@given(shapes.filter(lambda s: len(s) >= 1), st.data())
def test_flip_roll_adjoints(shape, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(-5, 5))
    x, arr = _leaf(shape)
    w = np.random.default_rng(6).standard_normal(shape)
    (fathom.roll(x, k, d) * fathom.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.roll(w, -k, d))
    x.grad = None
    (fathom.flip(x, (d,)) * fathom.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.flip(w, d))


@SETTINGS
@given(broadcast_pair())
def test_expand_backward_sums(pair):
    small, big = pair
    target = np.broadcast_shapes(small, big)
    x, arr = _leaf(small)
    w = np.random.default_rng(7).standard_normal(target)
    (fathom.expand(x, target) * fathom.tensor(w)).sum().backward()
    lead = len(target) - len(small)
    want = w.sum(axis=tuple(range(lead))) if lead else w
    want = want.sum(axis=tuple(i for i, s in enumerate(small) if s == 1), keepdims=True) \
        if small else want
    np.testing.assert_allclose(x.grad.numpy(), want.reshape(small), rtol=1e-12, atol=1e-12)


# --- regressions the op table cannot express --------------------------------------------

def test_prod_gradient_with_zeros_matches_torch(torch):
    for data in ([2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.5, -2.0, 3.0]):
        x = fathom.tensor(data, dtype=fathom.float64, requires_grad=True)
        fathom.prod(x).backward()
        tx = torch.tensor(data, dtype=torch.float64, requires_grad=True)
        torch.prod(tx).backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_prod_and_cumprod_double_backward_with_zeros():
    x = fathom.tensor([[2.0, 0.0, 3.0, 0.5], [1.0, 2.0, 0.0, 0.0]], dtype=fathom.float64,
                      requires_grad=True)
    assert fathom.autograd.gradgradcheck(lambda t: fathom.prod(t, 1), [x])
    assert fathom.autograd.gradgradcheck(lambda t: fathom.cumprod(t, 1), [x])


def test_norm_gradient_at_zero_is_zero():
    for p in (2, "fro", 1, 3.0):
        x = fathom.zeros(4, requires_grad=True)
        fathom.norm(x, p).backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(4))


def test_logsumexp_is_stable():
    x = fathom.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], requires_grad=True)
    out = fathom.logsumexp(x, 1)
    np.testing.assert_allclose(out.detach().numpy(), [1000 + math.log(2), -1000 + math.log(2)],
                               rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 2), 0.5), rtol=1e-4)  # float32
    assert out.dtype == fathom.float32


def test_setitem_on_non_leaf_gives_gradients_to_history_and_value(torch):
    x = fathom.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    v = fathom.tensor([10.0, 20.0], requires_grad=True)
    y = x * 3
    y[:, 1] = v * 2
    (y * fathom.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[3, 0, 9], [12, 0, 18]])
    np.testing.assert_allclose(v.grad.numpy(), [4, 10])


def test_setitem_double_backward():
    x = fathom.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    v = fathom.tensor(np.random.default_rng(1).standard_normal(4), requires_grad=True)

    def f(a, b):
        y = a * a
        y[1] = b * b
        return y
    assert fathom.autograd.gradgradcheck(f, [x, v])


def test_getitem_repeated_indices_accumulate():
    x = fathom.zeros(4, requires_grad=True)
    x[fathom.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 1, 0])
    y = fathom.zeros(3, 2, requires_grad=True)
    fathom.gather(y, 0, fathom.tensor([[1, 1], [1, 0]])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 1], [2, 1], [0, 0]])


def test_setitem_without_grad_writes_in_place():
    x = fathom.zeros(2, 3)
    v0 = x._version
    x[0, 1:] = 5
    x[fathom.tensor([[True, False, False], [False, False, True]])] = fathom.tensor(-1.0)
    np.testing.assert_array_equal(x.numpy(), [[-1, 5, 5], [0, 0, -1]])
    assert x._version > v0


def test_bool_results_and_index_dtypes():
    x = fathom.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert fathom.all(x).dtype == fathom.bool and fathom.any(x, 1).dtype == fathom.bool
    assert fathom.argmax(x).dtype == fathom.int64 and fathom.argmax(x).item() == 3
    assert tuple(fathom.argmin(x, 1, keepdim=True).shape) == (2, 1)
    assert fathom.nonzero(x).dtype == fathom.int64
    assert len(fathom.nonzero(x, as_tuple=True)) == 2
    assert fathom.cumsum(fathom.tensor([1, 2, 3]), 0).dtype == fathom.int64


def test_masked_fill_tensor_value_gets_gradient():
    x = fathom.ones(2, 3, requires_grad=True)
    v = fathom.tensor(2.0, requires_grad=True)
    mask = fathom.tensor([True, False, True])
    fathom.masked_fill(x, mask, v).sum().backward()
    assert v.grad.item() == 4.0
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [0, 1, 0]])


# --- error messages: op name and every shape ---------------------------------------------

@pytest.mark.parametrize("fn, exc, parts", [
    (lambda: fathom.cat([fathom.zeros(2, 3), fathom.zeros(4, 5)], 1), ShapeError,
     ["cat: tensors must have the same shape except in dim 1", "tensor 0 shape (2, 3)",
      "tensor 1 shape (4, 5)"]),
    (lambda: fathom.stack([fathom.zeros(2, 3), fathom.zeros(3, 2)]), ShapeError,
     ["stack", "(2, 3)", "(3, 2)"]),
    (lambda: fathom.gather(fathom.zeros(3, 4), 1, fathom.tensor([0, 1])), ShapeError,
     ["gather", "same number of dims", "(3, 4)", "(2,)"]),
    (lambda: fathom.gather(fathom.zeros(3, 4), 1, fathom.tensor([[0, 7]])), IndexError,
     ["gather", "index 7", "dimension 1", "size 4"]),
    (lambda: fathom.zeros(3, 4)[5], IndexError, ["getitem", "index 5", "dimension 0",
                                                 "size 3", "(3, 4)"]),
    (lambda: fathom.zeros(3, 4)[:, fathom.tensor([1, 4])], IndexError,
     ["getitem", "index 4", "dimension 1", "size 4"]),
    (lambda: fathom.index_select(fathom.zeros(3, 4), 0, fathom.tensor([3])), IndexError,
     ["index_select", "index 3", "dimension 0", "size 3"]),
    (lambda: fathom.split(fathom.zeros(5, 2), [2, 2]), ShapeError, ["split", "[2, 2]", "5"]),
    (lambda: fathom.repeat(fathom.zeros(2, 3), (2,)), ShapeError, ["repeat", "(2, 3)"]),
    (lambda: fathom.tril(fathom.zeros(3)), ShapeError, ["tril", "(3,)"]),
    (lambda: fathom.einsum("ij,jk->ik", fathom.zeros(2, 3), fathom.zeros(4, 5)), ShapeError,
     ["einsum", "'j'", "(2, 3)", "(4, 5)"]),
    (lambda: fathom.einsum("ij->k", fathom.zeros(2, 3)), ValueError, ["einsum", "'k'"]),
    (lambda: fathom.masked_fill(fathom.zeros(3), fathom.tensor([1, 0, 1]), 1.0), TypeError,
     ["masked_fill", "bool"]),
    (lambda: fathom.norm(fathom.tensor([1, 2])), TypeError, ["norm", "int64"]),
    (lambda: fathom.sum(fathom.zeros(2, 3), 2), IndexError, ["sum", "dim 2", "(2, 3)"]),
    (lambda: fathom.narrow(fathom.zeros(4), 0, 3, 2), IndexError, ["narrow", "size 4"]),
])
def test_error_messages_name_op_and_shapes(fn, exc, parts):
    with pytest.raises(exc) as info:
        fn()
    for p in parts:
        assert p in str(info.value), f"{p!r} not in {str(info.value)!r}"


def test_setitem_shape_error():
    x = fathom.zeros(3, 4)
    with pytest.raises(ShapeError, match=r"setitem.*\(2,\).*\(4,\).*\(3, 4\)"):
        x[0] = fathom.zeros(2)
