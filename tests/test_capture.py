"""fathom.compile: recorded plans replay with results equal to eager, or fall back to eager."""
import copy

import numpy as np
import pytest

import fathom
from fathom import nn
from fathom.autograd.function import Function
from fathom.capture import CaptureError


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 10))


class _LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(out[:, -1])


def _bn_dropout():
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(16, 3))


def _resblock():
    class Block(nn.Module):  # batch norm, an in-place ReLU and a residual add
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)
            self.relu = nn.ReLU(inplace=True)
            self.head = nn.Linear(2 * 5 * 5, 3)

        def forward(self, x):
            y = self.relu(self.bn(self.conv(x)) + x)
            return self.head(y.flatten(1))
    return Block()


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(),
                                  nn.Linear(8, 3)), (4, 6)),
    "cnn": (_cnn, (4, 1, 8, 8)),
    "lstm": (_LSTMNet, (4, 7, 5)),
    "bn_dropout": (_bn_dropout, (4, 6)),
    "resblock": (_resblock, (4, 2, 5, 5)),
}


def _pair(name):
    make, shape = MODELS[name]
    eager = make()
    return eager, copy.deepcopy(eager), shape


def _same_step(eager, compiled, x, y, opts=None, exact=True):
    """One forward (same random draws), backward and optimizer step; compare everything."""
    state = fathom.get_rng_state()
    out_e = eager(x)
    fathom.set_rng_state(state)
    out_c = compiled(x)
    check = np.testing.assert_array_equal if exact else \
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6))
    check(out_c.detach().numpy(), out_e.detach().numpy())
    if not fathom.is_grad_enabled():
        return
    for out, opt in zip((out_e, out_c), opts or (None, None)):
        if opt is not None:
            opt.zero_grad()
        nn.functional.cross_entropy(out, y).backward()
        if opt is not None:
            opt.step()
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        check(q.grad.numpy(), p.grad.numpy())
        check(q.detach().numpy(), p.detach().numpy())
    for b, c in zip(eager.buffers(), compiled.buffers()):
        check(c.numpy(), b.numpy())


@pytest.mark.parametrize("name", list(MODELS))
def test_training_steps_equal_eager_and_replay(name):
    eager, twin, shape = _pair(name)
    compiled = fathom.compile(twin)
    opts = (fathom.optim.Adam(eager.parameters(), lr=1e-2),
            fathom.optim.Adam(compiled.parameters(), lr=1e-2))
    for _ in range(5):
        x, y = fathom.randn(*shape), fathom.randint(0, 3, (shape[0],))
        _same_step(eager, compiled, x, y, opts)
    stats = compiled.stats
    assert stats == {"records": 2, "replays": 3, "eager_calls": 0, "eager_signatures": 0}, \
        compiled.explain()


def test_mlp_fuses_activations_in_place_and_keeps_earlier_outputs():
    eager, twin, shape = _pair("mlp")
    compiled = fathom.compile(twin)
    xs = [fathom.randn(*shape) for _ in range(4)]
    outs = [compiled(x) for x in xs]  # outputs of earlier calls must stay valid
    for x, out in zip(xs, outs):
        np.testing.assert_array_equal(out.detach().numpy(), eager(x).detach().numpy())
    assert "2 fused in place" in compiled.explain()


def test_new_shape_records_a_new_plan_like_a_last_partial_batch():
    eager, twin, shape = _pair("cnn")
    compiled = fathom.compile(twin)
    for batch in (4, 4, 4, 3, 4, 3, 3):
        x = fathom.randn(batch, *shape[1:])
        _same_step(eager, compiled, x, fathom.randint(0, 10, (batch,)))
    stats = compiled.stats
    assert stats["records"] == 4 and stats["replays"] == 3, compiled.explain()
    assert "(3, 1, 8, 8)" in compiled.explain()


def test_no_grad_inference_path_returns_plain_tensors():
    eager, twin, shape = _pair("mlp")
    compiled = fathom.compile(twin)
    with fathom.no_grad():
        for _ in range(3):
            x = fathom.randn(1, shape[1])
            out = compiled(x)
            assert not out.requires_grad and out.grad_fn is None
            np.testing.assert_array_equal(out.numpy(), eager(x).numpy())
    assert compiled.stats["replays"] == 1


def test_eval_and_train_switches_keep_batch_norm_statistics_in_step():
    eager, twin, shape = _pair("bn_dropout")
    compiled = fathom.compile(twin)
    opts = (fathom.optim.SGD(eager.parameters(), lr=0.1),
            fathom.optim.SGD(compiled.parameters(), lr=0.1))
    for round_ in range(3):
        for m in (eager, compiled):
            m.train()
        for _ in range(3):
            _same_step(eager, compiled, fathom.randn(*shape),
                       fathom.randint(0, 3, (shape[0],)), opts)
        for m in (eager, compiled):
            m.eval()
        with fathom.no_grad():
            for _ in range(3):  # eval uses the running statistics the training just moved
                x = fathom.randn(*shape)
                np.testing.assert_array_equal(compiled(x).numpy(), eager(x).numpy())
    assert compiled.stats["replays"] > 0
    assert compiled.training is False and twin.training is False


def test_dropout_draws_fresh_masks_on_every_replay():
    model = nn.Sequential(nn.Linear(8, 64), nn.Dropout(0.5))
    compiled = fathom.compile(model)
    x = fathom.randn(2, 8)
    outs = [compiled(x).detach().numpy() for _ in range(4)]
    assert compiled.stats["replays"] == 2
    assert not np.array_equal(outs[2], outs[3])
    assert ((outs[3] == 0).mean() > 0.2) and ((outs[3] == 0).mean() < 0.8)


def test_data_dependent_control_flow_runs_eagerly():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            y = self.fc(x)
            return y.relu() if y.sum() > 0 else -y

    eager = Branchy()
    compiled = fathom.compile(copy.deepcopy(eager))
    for sign in (1, -1, 1, -1, 1):
        x = fathom.randn(2, 3) * sign
        np.testing.assert_array_equal(compiled(x).detach().numpy(),
                                      eager(x).detach().numpy())
    stats = compiled.stats
    assert stats["replays"] == 0 and stats["eager_signatures"] == 1
    assert "Tensor.__bool__" in compiled.explain()
    # the recording hooks are gone afterwards
    assert fathom.Tensor.__bool__.__module__ == "fathom.tensor"


def test_random_draws_outside_dropout_run_eagerly():
    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x + fathom.randn(*x.shape))

    compiled = fathom.compile(Noisy())
    x = fathom.randn(2, 3)
    a, b, c = (compiled(x).detach().numpy() for _ in range(3))
    assert not np.array_equal(b, c)
    assert "random" in compiled.explain() and compiled.stats["replays"] == 0


def test_fullgraph_raises_a_clear_error():
    class Sync(nn.Module):
        def forward(self, x):
            return x * float(x.mean())

    compiled = fathom.compile(Sync(), fullgraph=True)
    with pytest.raises(CaptureError, match="fullgraph=True.*Tensor.__float__"):
        compiled(fathom.randn(3))


class _ScaledSquare(Function):
    """y = x^2 with a deliberately different backward (3x instead of 2x), so the test
    sees that the Function's own backward is used, not the ops inside its forward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * g


def test_custom_function_inside_uses_its_own_backward():
    class WithFn(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            return _ScaledSquare.apply(self.fc(x)).sum(1)

    eager = WithFn()
    compiled = fathom.compile(copy.deepcopy(eager))
    for _ in range(4):
        x = fathom.randn(5, 3)
        e, c = eager(x), compiled(x)
        np.testing.assert_array_equal(c.detach().numpy(), e.detach().numpy())
        eager.zero_grad()
        compiled.zero_grad()
        e.sum().backward()
        c.sum().backward()
        for p, q in zip(eager.parameters(), compiled.parameters()):
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-6)
    assert compiled.stats["replays"] == 2
    assert "1 eager segments" in compiled.explain()


def test_input_gradients_and_autograd_grad_work_through_the_node():
    eager, twin, shape = _pair("mlp")
    compiled = fathom.compile(twin)
    for i in range(3):
        x = fathom.randn(*shape, requires_grad=True)
        x2 = x.detach().clone().requires_grad_()
        ge, = fathom.autograd.grad(eager(x).pow(2).sum(), [x])
        out = compiled(x2)
        if i == 2:  # calls 1 and 2 record (eagerly), call 3 replays
            assert out.grad_fn.name() == "CompiledGraphBackward"
        gc, = fathom.autograd.grad(out.pow(2).sum(), [x2])
        np.testing.assert_array_equal(gc.numpy(), ge.numpy())


def test_create_graph_and_second_backward_raise_clearly():
    compiled = fathom.compile(nn.Linear(3, 2))
    x = fathom.randn(4, 3)
    for _ in range(2):
        compiled(x)
    out = compiled(x).sum()
    with pytest.raises(RuntimeError, match="CompiledGraphBackward.*double backward"):
        fathom.autograd.grad(out, list(compiled.parameters()), create_graph=True)
    out = compiled(x).sum()
    out.backward()
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


def test_replaced_parameter_and_new_hook_record_again():
    model = nn.Linear(3, 2)
    compiled = fathom.compile(model)
    x = fathom.randn(4, 3)
    for _ in range(3):
        compiled(x)
    model.weight = nn.Parameter(fathom.ones(2, 3))
    np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(1))
    compiled(x)
    compiled(x)
    assert len(seen) == 2 and compiled.stats["eager_signatures"] == 1
    assert "forward hooks" in compiled.explain()


def test_compiled_module_face_matches_pytorch():
    model = nn.Linear(3, 2)
    compiled = fathom.compile(model, mode="reduce-overhead", dynamic=False)
    assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert compiled.in_features == 3 and compiled._orig_mod is model
    assert [p is q for p, q in zip(compiled.parameters(), model.parameters())] == [True, True]
    compiled.eval()
    assert model.training is False


def test_plain_function_and_decorator():
    w = fathom.randn(3, 2, requires_grad=True)

    @fathom.compile
    def f(x):
        return (x @ w).relu().sum()

    x = fathom.randn(4, 3)
    grads = []
    for _ in range(3):
        w.grad = None
        f(x).backward()
        grads.append(w.grad.numpy().copy())
    assert f.stats["replays"] == 1
    np.testing.assert_array_equal(grads[2], grads[0])


def test_backend_eager_and_disable_run_the_model_as_is():
    model = nn.Linear(3, 2)
    for compiled in (fathom.compile(model, backend="eager"), fathom.compile(model,
                                                                            disable=True)):
        for _ in range(3):
            compiled(fathom.randn(1, 3))
        assert compiled.stats["records"] == 0


@pytest.mark.parametrize("kwargs, err, match", [
    ({"mode": "fastest"}, ValueError, "unknown mode 'fastest'"),
    ({"backend": "cudagraphs"}, ValueError, "backend 'cudagraphs' is not supported"),
    ({"dynamic": "yes"}, ValueError, "dynamic must be None, True or False"),
    ({"cache_size_limit": 0}, ValueError, "cache_size_limit must be a positive int"),
])
def test_bad_options_are_named(kwargs, err, match):
    with pytest.raises(err, match=match):
        fathom.compile(nn.Linear(2, 2), **kwargs)


def test_bad_model_and_bad_arguments_are_named():
    with pytest.raises(TypeError, match="expected an nn.Module or a function, got int"):
        fathom.compile(3)
    compiled = fathom.compile(nn.Linear(3, 2), fullgraph=True)
    with pytest.raises(CaptureError, match="argument of type object"):
        compiled(object())


def test_shape_errors_inside_the_model_are_the_eager_errors():
    compiled = fathom.compile(nn.Linear(3, 2))
    with pytest.raises(fathom.errors.ShapeError, match="last dimension 3, got shape \\(4, 5\\)"):
        compiled(fathom.randn(4, 5))
    assert fathom.Tensor.item.__module__ == "fathom.tensor"  # recording hooks removed
    out = compiled(fathom.randn(4, 3))  # and the compiled model still works
    assert tuple(out.shape) == (4, 2)


def test_cache_size_limit_evicts_the_oldest_plan():
    compiled = fathom.compile(nn.Linear(3, 2), cache_size_limit=2)
    for n in (1, 2, 3):
        compiled(fathom.randn(n, 3))
    assert len(compiled._cache) == 2 and "evicted" in compiled.explain()


def test_compiled_function_guards_the_training_flag_of_modules_it_calls():
    model = nn.Sequential(nn.Linear(4, 32), nn.Dropout(0.5))
    f = fathom.compile(lambda x: model(x) * 2)
    x = fathom.randn(3, 4)
    model.eval()
    for _ in range(3):
        np.testing.assert_array_equal(f(x).detach().numpy(), (model(x) * 2).detach().numpy())
    model.train()  # dropout is now active: the eval plan must not be replayed
    outs = [f(x).detach().numpy() for _ in range(4)]
    assert all((o == 0).any() for o in outs) and not np.array_equal(outs[2], outs[3])


def test_a_recorder_sees_the_real_ops_of_a_compiled_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    inner = fathom.compile(model)
    x = fathom.randn(2, 3)
    for _ in range(3):
        inner(x)
    with fathom.autograd.trace.record() as calls:  # as ONNX export and an outer compile do
        inner(x)
    assert [type(c.op).__name__ for c in calls] == ["Linear", "Relu"]
    outer = fathom.compile(lambda x: inner(x) * 2)
    for _ in range(3):
        np.testing.assert_array_equal(outer(x).detach().numpy(),
                                      (model(x) * 2).detach().numpy())
    assert outer.stats["replays"] == 1


def test_changing_the_model_dtype_records_again():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    compiled = fathom.compile(model)
    x = fathom.randn(2, 3)
    for _ in range(3):
        compiled(x)
    compiled.double()
    out = compiled(x.double())
    assert out.dtype == fathom.float64
    np.testing.assert_array_equal(out.detach().numpy(), model(x.double()).detach().numpy())


def test_elementwise_chains_fuse_into_one_array_and_match_eager():
    eager, twin, shape = _pair("resblock")
    eager.eval()
    twin.eval()
    compiled = fathom.compile(twin)
    for grad in (False, True):
        with fathom.set_grad_enabled(grad):
            for _ in range(3):
                x = fathom.randn(*shape)
                _same_step(eager, compiled, x, fathom.randint(0, 3, (shape[0],)))
    # batch norm's shift, the residual add and the relu write into the scale's output
    fused = [line for line in compiled.explain().splitlines() if "fused in place" in line]
    assert len(fused) == 2 and all(int(f.split("(")[1].split()[0]) >= 3 for f in fused), \
        compiled.explain()


def test_docstring_examples_run():
    import doctest

    import fathom.capture as capture
    result = doctest.testmod(capture, extraglobs={"fathom": fathom})
    assert result.attempted >= 1 and result.failed == 0


def test_a_partial_batch_does_not_invalidate_the_full_batch_plan():
    eager, twin, shape = _pair("bn_dropout")
    compiled = fathom.compile(twin)
    opts = (fathom.optim.SGD(eager.parameters(), lr=0.1),
            fathom.optim.SGD(compiled.parameters(), lr=0.1))
    for epoch in range(4):  # batch norm's statistics move on every batch of both sizes
        for batch in (4, 4, 3):
            _same_step(eager, compiled, fathom.randn(batch, shape[1]),
                       fathom.randint(0, 3, (batch,)), opts)
    records = [e.records for e in compiled._cache.values()]
    assert records == [2, 2], compiled.explain()


def test_functional_batch_norm_updates_the_real_buffers():
    class FBN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 6)
            self.register_buffer("mean", fathom.zeros(6))
            self.register_buffer("var", fathom.ones(6))
            self.w = nn.Parameter(fathom.ones(6))

        def forward(self, x):
            return nn.functional.batch_norm(self.fc(x), self.mean, self.var, self.w, None,
                                            self.training)

    eager = FBN()
    compiled = fathom.compile(copy.deepcopy(eager))
    for _ in range(4):
        _same_step(eager, compiled, fathom.randn(5, 4), fathom.randint(0, 6, (5,)))
    assert compiled.stats["replays"] == 2 and compiled.mean.version == eager.mean.version
    for m in (eager, compiled):
        m.eval()
    with fathom.no_grad():
        x = fathom.randn(5, 4)
        np.testing.assert_array_equal(compiled(x).numpy(), eager(x).numpy())
