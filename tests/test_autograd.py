"""The autograd engine: accumulation, graph shapes, retain/create_graph, grad(), grad mode,
hooks, in-place rules, deep graphs, custom Functions, anomaly detection, gradcheck."""
import threading

import numpy as np
import pytest

import fathom
from fathom.autograd import Function


def leaf(values, dtype=fathom.float64):
    return fathom.tensor(values, dtype=dtype, requires_grad=True)


# --- accumulation and graph shapes -------------------------------------------------------

def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_diamond_and_reused_tensors_match_torch(torch):
    def f(lib, x):
        a = x * 2
        b = a.exp()
        c = a.sin()
        d = b * c + a * a  # a feeds three paths
        return (d * x).sum() + (x * x * x).sum()

    x, tx = leaf([0.3, -0.7, 1.1]), torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64,
                                                  requires_grad=True)
    f(fathom, x).backward()
    f(torch, tx).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_broadcast_gradients_are_reduced_to_input_shape():
    a, b = leaf([[1.0], [2.0]]), leaf([10.0, 20.0, 30.0])
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1) and b.grad.shape == (3,)
    np.testing.assert_allclose(a.grad.numpy(), [[60.0], [60.0]])
    np.testing.assert_allclose(b.grad.numpy(), [3.0, 3.0, 3.0])


def test_zero_dim_gradients_are_tensors_of_arrays():
    x = leaf(2.0)
    y = x * x + x * 3  # two 0-d gradients are summed
    y.backward()
    assert isinstance(x.grad.data, np.ndarray) and x.grad.item() == 7.0
    (g,) = fathom.autograd.grad(x * x + x, x)
    assert isinstance(g.data, np.ndarray) and g.item() == 5.0


def test_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    x.grad = None
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_deep_chain_has_no_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-9)
    (g,) = fathom.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy(), x.grad.numpy())


def test_two_leaves_never_share_a_grad_buffer():
    a, b = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    (a + b).sum().backward()  # Add hands the same array to both inputs
    a.grad.mul_(0)  # a clip-like in-place edit of one .grad
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    seed = fathom.ones(2, dtype=fathom.float64)
    c = leaf([1.0, 2.0])
    c.backward(seed)  # the seed gradient must not become c.grad's buffer either
    c.grad.mul_(5)
    np.testing.assert_allclose(seed.numpy(), [1.0, 1.0])


def test_grad_dtype_equals_input_dtype_in_mixed_graphs(torch):
    a = leaf([1.0, 2.0], fathom.float32)
    b = leaf([3.0, 4.0], fathom.float64)
    out = a * b
    assert out.dtype is fathom.float64
    (out.sum() + a.sum()).backward()
    assert a.grad.dtype is fathom.float32 and b.grad.dtype is fathom.float64
    h = leaf([1.0], fathom.float16)
    (h.float() * 2).sum().backward()
    assert h.grad.dtype is fathom.float16


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        fathom.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        fathom.zeros(2, dtype=fathom.int32, requires_grad=True)


def test_integer_and_comparison_outputs_do_not_require_grad():
    x = leaf([1.0, -2.0])
    assert not (x > 0).requires_grad
    assert not x.long().requires_grad
    assert x.floor().requires_grad  # float step function: zero gradient, as torch


# --- create_graph: higher-order gradients vs torch -----------------------------------------

def _mlp_params(lib, rng):
    arrays = [rng.standard_normal((3, 5)) * 0.5, rng.standard_normal(5) * 0.1,
              rng.standard_normal((5, 1)) * 0.5, rng.standard_normal(1) * 0.1]
    if lib is fathom:
        return [fathom.tensor(a, requires_grad=True) for a in arrays]
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _mlp(x, w1, b1, w2, b2):
    return ((x @ w1 + b1).tanh() @ w2 + b2).sigmoid()


def test_gradient_penalty_matches_torch(torch):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((4, 3))
    results = []
    for lib in (fathom, torch):
        params = _mlp_params(lib, np.random.default_rng(1))
        x = lib.tensor(xa, requires_grad=True)
        out = _mlp(x, *params)
        (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
        penalty = ((gx * gx).sum(1) - 1).pow(2).mean()
        loss = out.mean() + 10 * penalty
        loss.backward()
        results.append([p.grad.numpy() for p in params] + [x.grad.numpy(), gx.detach().numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_matches_torch(torch):
    rng = np.random.default_rng(2)
    xa, va = rng.standard_normal(5), rng.standard_normal(5)

    def f(lib, x):
        return (x.sin() * x.exp()).sum() + (x @ x) ** 2 + (x / (1 + x * x)).sum()

    x = fathom.tensor(xa, requires_grad=True)
    (g,) = fathom.autograd.grad(f(fathom, x), x, create_graph=True)
    (hv,) = fathom.autograd.grad(g, x, grad_outputs=fathom.tensor(va))
    tx = torch.tensor(xa)
    _, thv = torch.autograd.functional.hvp(lambda t: f(torch, t), tx, torch.tensor(va))
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-10)


def test_third_derivative():
    x = leaf([0.5, -1.0])
    (g1,) = fathom.autograd.grad((x ** 4).sum(), x, create_graph=True)
    (g2,) = fathom.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = fathom.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), 24 * np.array([0.5, -1.0]))


def test_gradgradcheck_on_a_composite():
    x, w = leaf([[0.3, -0.2], [0.5, 0.9]]), leaf([[1.1, -0.4], [0.2, 0.7]])

    def f(x, w):
        h = (x @ w).tanh() * x.exp() - fathom.maximum(x, w) / (1 + w * w)
        return h.sigmoid() * h + (x * w).sum(-1, keepdim=True) ** 2

    assert fathom.autograd.gradcheck(f, (x, w))
    assert fathom.autograd.gradgradcheck(f, (x, w))


def test_create_graph_backward_accumulates_graph_connected_grads():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


# --- autograd.grad ------------------------------------------------------------------------

def test_grad_allow_unused_and_unused_error():
    x, z = leaf([1.0, 2.0]), leaf([3.0])
    with pytest.raises(RuntimeError, match="not have been used"):
        fathom.autograd.grad((x * x).sum(), [x, z])
    gx, gz = fathom.autograd.grad((x * x).sum(), [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    gx, gz = fathom.autograd.grad((x * x).sum(), [x, z], materialize_grads=True)
    np.testing.assert_allclose(gz.numpy(), [0.0])
    assert x.grad is None  # grad() returns gradients, it does not accumulate


def test_grad_non_leaf_inputs_and_grad_outputs(torch):
    x = leaf([1.0, 2.0])
    y = x * 3
    out = y * y
    (gy,) = fathom.autograd.grad(out.sum(), y, retain_graph=True)
    np.testing.assert_allclose(gy.numpy(), [6.0, 12.0])
    (gx,) = fathom.autograd.grad(out, x, grad_outputs=fathom.tensor([1.0, 10.0],
                                                                    dtype=fathom.float64),
                                 retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [18.0, 360.0])
    gy2, gx2 = fathom.autograd.grad((y * x).sum(), [y, x])
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tx * 3
    tgy, tgx = torch.autograd.grad((ty * tx).sum(), [ty, tx])
    np.testing.assert_allclose(gy2.numpy(), tgy.numpy())
    np.testing.assert_allclose(gx2.numpy(), tgx.numpy())  # x's total, also through y


def test_grad_follows_every_path_to_the_inputs():
    # a DFS visiting order is not topological: a path found late must still count
    x = leaf([0.5, 1.5])
    e = x.exp()
    y = (e * x).sum()
    (g,) = fathom.autograd.grad(y, x, create_graph=True)
    (h,) = fathom.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp([0.5, 1.5]) * (np.array([0.5, 1.5]) + 2))


def test_backward_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\(2,\\)"):
        (x * x).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        fathom.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match="gradient of shape \\(3,\\)"):
        (x * x).backward(fathom.ones(3))
    (x * x).backward(fathom.ones(2, dtype=fathom.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_backward_inputs_argument():
    a, b = leaf([1.0]), leaf([2.0])
    (a * b).sum().backward(inputs=[a])
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), [2.0])


# --- grad mode ------------------------------------------------------------------------------

def test_grad_mode_context_managers_nest():
    x = leaf([1.0])
    with fathom.no_grad():
        assert not fathom.is_grad_enabled() and not (x * 2).requires_grad
        with fathom.enable_grad():
            assert (x * 2).requires_grad
        with fathom.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not fathom.is_grad_enabled()
    with fathom.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with fathom.inference_mode():
        assert not (x * 2).requires_grad
    with fathom.inference_mode(False):
        assert (x * 2).requires_grad
    assert fathom.is_grad_enabled()


def test_grad_mode_decorators():
    x = leaf([1.0])

    @fathom.no_grad()
    def f1(t):
        return t * 2

    @fathom.no_grad
    def f2(t):
        return t * 2

    @fathom.enable_grad()
    def f3(t):
        return t * 2

    @fathom.set_grad_enabled(False)
    def f4(t):
        return t * 2

    @fathom.inference_mode()
    def f5(t):
        return t * 2

    @fathom.inference_mode
    def f6(t):
        return t * 2

    assert fathom.is_grad_enabled()  # decorating must not switch the mode
    assert not any(f(x).requires_grad for f in (f1, f2, f4, f5, f6))
    with fathom.no_grad():
        assert f3(x).requires_grad
    assert fathom.is_grad_enabled()
    assert f1.__name__ == "f1"


def test_set_grad_enabled_as_a_function():
    fathom.set_grad_enabled(False)
    try:
        assert not fathom.is_grad_enabled()
    finally:
        fathom.set_grad_enabled(True)
    assert fathom.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []
    with fathom.no_grad():
        t = threading.Thread(target=lambda: seen.append(fathom.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_detach_shares_data_and_version():
    x = leaf([1.0, 2.0])
    d = x.detach()
    d[0] = 9.0
    assert x.tolist() == [9.0, 2.0] and x._version == 1
    y = x * 2
    z = y.detach()
    assert not z.requires_grad and z.is_leaf


# --- hooks and retain_grad --------------------------------------------------------------------

def test_hooks_on_leaves_and_non_leaves(torch):
    x = leaf([1.0, 2.0])
    h = x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])

    seen = []
    x.grad = None
    y = x * 3
    hy = y.register_hook(lambda g: g * 10)
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.retain_grad()
    (y * y).sum().backward()
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ty = tx * 3
    ty.register_hook(lambda g: g * 10)
    ty.retain_grad()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    assert y.retains_grad and len(seen) == 1
    hy.remove()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fathom.ones(2).register_hook(lambda g: g)


def test_non_leaf_grad_is_none_without_retain_grad():
    x = leaf([1.0])
    y = x * 2
    (y * y).sum().backward()
    assert y.grad is None and x.grad is not None


# --- in-place semantics ---------------------------------------------------------------------

def test_modifying_a_saved_tensor_raises_at_backward():
    a = leaf([1.0, 2.0])
    x = a * 2
    y = x * x  # Mul saves x
    x.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: MulBackward.*"
                                           r"version 1; expected version 0"):
        y.sum().backward()
    a2 = leaf([1.0, 2.0])
    s = (a2 * 1).sigmoid()  # sigmoid saves its output
    s.mul_(2)
    with pytest.raises(RuntimeError, match="SigmoidBackward.*output 0"):
        s.sum().backward()


def test_inplace_on_non_leaf_rebases_history(torch):
    a = leaf([1.0, 2.0])
    x = a * 2
    x.mul_(3)
    x.add_(a)
    x.exp_()
    x.sum().backward()
    ta = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tx = ta * 2
    tx.mul_(3)
    tx.add_(ta)
    tx.exp_()
    tx.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    assert x.grad_fn is not None and not x.is_leaf


def test_inplace_setitem_on_non_leaf(torch):
    def run(lib):
        a = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor(5.0, dtype=lib.float64, requires_grad=True)
        x = a * 2
        x[1] = b
        x[2] *= 4
        (x * x).sum().backward()
        return a.grad.numpy(), b.grad.numpy()

    for got, want in zip(run(fathom), run(torch)):
        np.testing.assert_allclose(got, want)


def test_inplace_on_leaf_requiring_grad_raises():
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.mul_(2)
    with fathom.no_grad():
        w.mul_(2)
    assert w.item() == 2.0


# --- custom Functions --------------------------------------------------------------------------

class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g  # differentiable ops: double backward works


class MulAdd(Function):
    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        ctx.seen_needs = ctx.needs_input_grad
        return x * y * scale, x + y

    @staticmethod
    def backward(ctx, g_prod, g_sum):
        x, y = ctx.saved_tensors
        return g_prod * y * ctx.scale + g_sum, g_prod * x * ctx.scale + g_sum, None


def test_custom_function_basics():
    x = leaf([1.0, 2.0])
    y = Square.apply(x)
    assert y.grad_fn is not None and y.grad_fn.name() == "SquareBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with fathom.no_grad():
        assert not Square.apply(x).requires_grad


def test_custom_function_multiple_outputs_and_needs_input_grad():
    x, y = leaf([1.0, 2.0]), fathom.tensor([3.0, 4.0], dtype=fathom.float64)
    p, s = MulAdd.apply(x, y, 2.0)
    assert p.grad_fn is s.grad_fn
    assert p.grad_fn.seen_needs == (True, False, False)
    (p.sum() + 2 * s.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 10.0])
    x.grad = None
    p, s = MulAdd.apply(x, y, 2.0)
    p.sum().backward()  # s unused: its gradient is materialized as zeros
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])


def test_custom_function_wrong_number_of_grads_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="BadBackward: backward returned 1 gradients.*took 2"):
        Bad.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_custom_function_mark_non_differentiable_and_materialize_grads():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            mask = (x > 1).double()
            ctx.mark_non_differentiable(mask)
            return x * 2, mask

        @staticmethod
        def backward(ctx, g, g_mask):
            ctx.got = g_mask
            return g * 2

    class NoMaterialize(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.got = g2
            return g1 * 2

    x = leaf([1.0, 2.0])
    out, mask = SortLike.apply(x)
    assert out.requires_grad and not mask.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(out.grad_fn.got.numpy(), [0.0, 0.0])
    a, _ = NoMaterialize.apply(x)
    a.sum().backward()
    assert a.grad_fn.got is None


def test_custom_function_double_backward():
    x = leaf([1.0, -3.0])
    (g,) = fathom.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(force=True), [2.0, -6.0])
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    assert fathom.autograd.gradgradcheck(Square.apply, (leaf([0.3, 0.9]),))


def test_custom_function_saved_tensor_modified_raises():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_gradcheck_catches_a_wrong_function():
    class WrongExp(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.exp()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # wrong: should be g * exp(x)

    x = leaf([0.5, 1.5])
    with pytest.raises(RuntimeError, match="gradcheck: gradient of input 0.*numerical"):
        fathom.autograd.gradcheck(WrongExp.apply, (x,))
    assert fathom.autograd.gradcheck(WrongExp.apply, (x,), raise_exception=False) is False
    assert fathom.autograd.gradcheck(Square.apply, (x,))


# --- detect_anomaly -------------------------------------------------------------------------------

def test_detect_anomaly_names_the_op_and_the_users_line():
    x = leaf([0.0, 1.0])
    with fathom.autograd.detect_anomaly():
        y = x.sqrt()  # ANOMALY-SQRT
        with pytest.raises(RuntimeError) as info:
            (y * 0).sum().backward()
    msg = str(info.value)
    assert "SqrtBackward" in msg and "nan" in msg
    assert "test_autograd.py" in msg and "ANOMALY-SQRT" in msg

    z = leaf([0.0, 2.0])
    with fathom.autograd.detect_anomaly():
        w = fathom.ones(2, dtype=fathom.float64) / z  # ANOMALY-DIV
        with pytest.raises(RuntimeError, match="DivBackward") as info:
            (w * 0).sum().backward()
    assert "ANOMALY-DIV" in str(info.value)


def test_without_anomaly_mode_nan_gradients_pass_silently():
    x = leaf([0.0, 1.0])
    with np.errstate(all="ignore"):
        (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


def test_inplace_through_a_view_of_a_leaf_raises():
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    for edit in (lambda: w[0].add_(1), lambda: w.view(4).mul_(2), lambda: w.T.relu_()):
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            edit()
    assert w.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_inplace_through_a_view_of_a_non_leaf_when_only_the_view_is_used():
    a = leaf([1.0, -2.0])
    v = (a * 2).view(2, 1)
    v.relu_()
    v.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 0.0])


def test_inplace_through_a_view_updates_the_base_history(torch):
    a = leaf([1.0, 2.0])
    x = a * 2
    x[0:1].mul_(3)
    x.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 2.0])


def test_inplace_through_chained_views_matches_torch(torch):
    """CopySlices: edits through x.t()[0] and x.reshape(4)[1:3] rewrite x's history."""
    grads = []
    for lib in (fathom, torch):
        a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64, requires_grad=True)
        w = lib.tensor(5.0, dtype=lib.float64, requires_grad=True)
        x = a * 2
        v = x.t()[0]
        v.mul_(w)
        x.reshape(4)[1:3].add_(1)
        ((x * x).sum() + v.sum()).backward()
        grads.append((np.asarray(a.grad.detach().numpy()), float(w.grad)))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    assert grads[0][1] == pytest.approx(grads[1][1])


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "selu", "celu", "mish", "hardswish"])
def test_inplace_composite_activation_backward(name):
    """Regression: an in-place composite (leaky_relu is a where over a mul) must protect
    what its inner nodes saved, not only its last node."""
    import fathom.nn.functional as F
    x = fathom.randn(6, dtype=fathom.float64, requires_grad=True)
    getattr(F, name)(x * 1, inplace=True).sum().backward()
    expected = fathom.autograd.grad(getattr(F, name)(x * 1).sum(), x)[0]
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), rtol=1e-12)


def test_inplace_still_catches_edits_of_values_saved_before():
    x = fathom.randn(5, requires_grad=True)
    y = x.sin()
    y.mul_(y.sin())  # the inner sin saved y before the edit: backward must refuse
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_gradient_reaches_inputs_when_one_path_returns_no_gradient(torch):
    # floor's backward gives None for its input: the Mul before it gets no gradient, yet x
    # still gets one through the other path (the engine must still release x's node)
    x = fathom.tensor([0.3, -1.2, 2.5], requires_grad=True)
    ((x * 2).floor().sum() + (x * 3).sum()).backward()
    tx = torch.tensor([0.3, -1.2, 2.5], requires_grad=True)
    ((tx * 2).floor().sum() + (tx * 3).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    g, = fathom.autograd.grad((x * 2).floor().sum() + x.sum(), [x])
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0, 1.0])
