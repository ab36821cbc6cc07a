"""The optimizer table (the idea of optax's alias_test): every optimizer in each of its option
combinations follows torch.optim's trajectory, resumes exactly from a saved state dict (its
own or PyTorch's), converges on a quadratic and on Rosenbrock's function, keeps float32, and
rejects bad input with PyTorch's messages."""
import copy
import doctest
import importlib
import inspect
import pickle
import threading

import numpy as np
import pytest

import fathom
import fathom.optim as optim

# (optimizer class name, constructor kwargs): the same name in fathom.optim and torch.optim.
TABLE = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, maximize=True, foreach=False)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.05, maximize=True, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, betas=(0.5, 0.9), maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("LBFGS", dict()),
    ("LBFGS", dict(lr=0.3, max_iter=2)),
    ("LBFGS", dict(lr=0.5, max_iter=3, history_size=2)),
    ("LBFGS", dict(line_search_fn="strong_wolfe")),
    ("LBFGS", dict(max_iter=1, line_search_fn="strong_wolfe")),
    ("LBFGS", dict(max_iter=3, max_eval=4, line_search_fn="strong_wolfe", history_size=2)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for name, kw in TABLE]
NAMES = sorted({name for name, _ in TABLE})

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 20
_rng = np.random.default_rng(1234)
START = [_rng.standard_normal(s) for s in SHAPES]
CURV = [_rng.uniform(0.5, 2.0, s) for s in SHAPES]  # a in the objective below
NOISE = [[_rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]  # b, per step


def objective(arrays, step, quartic):
    """Loss and gradients of sum(a p**2 / 2 + b_step p [+ p**4 / 10]) at the given arrays:
    a different gradient at every step, which depends on where the optimizer has got to."""
    loss, grads = 0.0, []
    for x, a, b in zip(arrays, CURV, NOISE[step]):
        loss += float((0.5 * a * x * x + b * x + (0.1 * x ** 4 if quartic else 0)).sum())
        grads.append(a * x + b + (0.4 * x ** 3 if quartic else 0))
    return loss, grads


class Run:
    """One optimizer (Fathom's or PyTorch's) over its own copies of START, in two param
    groups (the second with half the learning rate) except for LBFGS, which allows one."""

    def __init__(self, lib, name, kwargs, start=START, device="cpu"):
        self.lib, self.name, self.device = lib, name, device
        self.params = [lib.tensor(a.copy(), device=device, requires_grad=True) for a in start]
        if name == "LBFGS":
            groups = self.params
        else:
            lr = kwargs.get("lr", _default(name, "lr"))
            groups = [{"params": self.params[:2]}, {"params": self.params[2:], "lr": lr / 2}]
        self.opt = getattr(lib.optim, name)(groups, **kwargs)
        self.t = 0

    def arrays(self):
        return [p.detach().cpu().numpy().copy() for p in self.params]

    def closure(self):
        # LBFGS, a deterministic method, minimizes one fixed (quartic) objective: its
        # curvature pairs mixed across changing objectives would amplify rounding chaotically.
        lbfgs = self.name == "LBFGS"
        arrays = self.arrays()
        loss, grads = objective(arrays, 0 if lbfgs else self.t, quartic=lbfgs)
        for p, g, x in zip(self.params, grads, arrays):
            p.grad = self.lib.tensor(g.astype(x.dtype), device=self.device)
        return self.lib.tensor(loss)

    def step(self):
        if self.name == "LBFGS":
            self.opt.step(self.closure)
        else:
            self.closure()
            self.opt.step()
        self.t += 1


def _default(name, arg):
    return inspect.signature(getattr(optim, name)).parameters[arg].default


def _close(a_arrays, b_arrays, rtol=1e-6):
    for a, b in zip(a_arrays, b_arrays):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def _state_arrays(opt, params):
    """Every state value of every parameter, as comparable numbers."""
    out = {}
    for i, p in enumerate(params):
        for k, v in opt.state.get(p, {}).items():
            out[i, k] = v
    return out


def _as_numpy(v):
    if isinstance(v, list):
        return [_as_numpy(x) for x in v]
    if hasattr(v, "detach"):
        v = v.detach().numpy()
    return np.asarray(v, dtype=float) if v is not None else None


# --- trajectory against torch.optim -----------------------------------------------------
@pytest.mark.parametrize("name,kwargs", TABLE, ids=IDS)
def test_follows_torch_trajectory(torch, name, kwargs):
    mine, ref = Run(fathom, name, kwargs), Run(torch, name, kwargs)
    for _ in range(STEPS):
        mine.step()
        ref.step()
        _close(mine.arrays(), ref.arrays())
    # The same per-parameter state, under PyTorch's names.
    ms, ts = _state_arrays(mine.opt, mine.params), _state_arrays(ref.opt, ref.params)
    assert set(ms) == set(ts)
    for key in ms:
        a, b = _as_numpy(ms[key]), _as_numpy(ts[key])
        if isinstance(a, list):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                assert (x is None) == (y is None)
                if x is not None:
                    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-12, err_msg=str(key))
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, err_msg=str(key))
    assert isinstance(ms.get((0, "step"), 0.0), float)  # Fathom's step is a Python float


@pytest.mark.parametrize("name,kwargs", TABLE, ids=IDS)
def test_state_dict_layout_and_repr_match_torch(torch, name, kwargs):
    mine, ref = Run(fathom, name, kwargs), Run(torch, name, kwargs)
    for _ in range(2):
        mine.step()
        ref.step()
    msd, tsd = mine.opt.state_dict(), ref.opt.state_dict()
    assert msd["param_groups"] == tsd["param_groups"]
    assert sorted(msd["state"]) == sorted(tsd["state"])
    for i in msd["state"]:
        assert list(msd["state"][i]) == list(tsd["state"][i])
    assert repr(mine.opt) == repr(ref.opt)


# --- saving and resuming ----------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", TABLE, ids=IDS)
def test_resume_from_state_dict_mid_run(name, kwargs):
    run = Run(fathom, name, kwargs)
    for _ in range(STEPS // 2):
        run.step()
    # A snapshot as fathom.save/pickle would take it, loaded into a fresh optimizer over
    # fresh parameter copies, continues exactly as the original does.
    saved = pickle.loads(pickle.dumps(copy.deepcopy(run.opt.state_dict())))
    resumed = Run(fathom, name, kwargs, start=run.arrays())
    resumed.opt.load_state_dict(saved)
    resumed.t = run.t
    for _ in range(STEPS // 2):
        run.step()
        resumed.step()
        _close(resumed.arrays(), run.arrays(), rtol=0)


@pytest.mark.parametrize("name,kwargs", TABLE, ids=IDS)
def test_load_torch_state_dict_continues_torch_trajectory(torch, name, kwargs):
    ref = Run(torch, name, kwargs)
    for _ in range(STEPS // 2):
        ref.step()
    mine = Run(fathom, name, kwargs, start=ref.arrays())
    mine.opt.load_state_dict(copy.deepcopy(ref.opt.state_dict()))
    mine.t = ref.t
    for _ in range(STEPS // 2):
        ref.step()
        mine.step()
        _close(mine.arrays(), ref.arrays())


def test_state_dict_shares_memory_until_copied():
    p = fathom.ones(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = fathom.ones(3)
    opt.step()
    sd = opt.state_dict()
    snapshot = copy.deepcopy(sd)
    opt.step()
    assert sd["state"][0]["momentum_buffer"].tolist() == pytest.approx([1.9] * 3)
    assert snapshot["state"][0]["momentum_buffer"].tolist() == [1.0] * 3


# --- convergence --------------------------------------------------------------------------
def quadratic(v):
    """0.5 * sum(k * (v - 1)**2) with k from 1 to 4: minimum 0 at v = 1. (loss, grad)"""
    k = np.arange(1.0, 5.0)
    return 0.5 * float((k * (v - 1) ** 2).sum()), k * (v - 1)


def rosenbrock(v):
    """(1 - x)**2 + 100 (y - x**2)**2: minimum 0 at (1, 1), down a curved valley."""
    x, y = v
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, \
        np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


# name: ((kwargs, steps) on the quadratic from 0, (kwargs, steps) on Rosenbrock from (-1.5, 2))
CONVERGENCE = {
    "SGD": ((dict(lr=0.1, momentum=0.5), 100), (dict(lr=1e-3, momentum=0.9), 3000)),
    "Adam": ((dict(lr=0.1), 300), (dict(lr=0.02), 3000)),
    "AdamW": ((dict(lr=0.1, weight_decay=1e-4), 300), (dict(lr=0.02, weight_decay=0), 3000)),
    "Adamax": ((dict(lr=0.1), 300), (dict(lr=0.02), 4000)),
    "Adagrad": ((dict(lr=0.5), 300), (dict(lr=1.5), 5000)),
    "RMSprop": ((dict(lr=0.01), 300), (dict(lr=1e-3, momentum=0.9, centered=True), 3000)),
    # Adadelta crawls along Rosenbrock's valley unless its running averages are very long.
    "Adadelta": ((dict(lr=10.0), 300), (dict(lr=2.0, rho=0.9999, eps=1e-5), 4000)),
    "LBFGS": ((dict(), 2), (dict(line_search_fn="strong_wolfe"), 5)),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("problem", ["quadratic", "rosenbrock"])
def test_converges(name, problem):
    (kwargs, steps) = CONVERGENCE[name][problem == "rosenbrock"]
    fn, start, tol = (quadratic, [0.0] * 4, 1e-6) if problem == "quadratic" else \
        (rosenbrock, [-1.5, 2.0], 1e-3)
    x = fathom.tensor(start, dtype=fathom.float64, requires_grad=True)
    opt = getattr(optim, name)([x], **kwargs)

    def closure():
        loss, grad = fn(x.detach().numpy())
        x.grad = fathom.tensor(grad)
        return loss

    for _ in range(steps):
        opt.step(closure)
    assert fn(x.detach().numpy())[0] < tol, (name, problem, x.tolist())


def test_converges_with_autograd_closure():
    """The usual loop: the closure zeroes the grads, runs the model and backward."""
    x = fathom.tensor([-1.5, 2.0], dtype=fathom.float64, requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    assert x.tolist() == pytest.approx([1.0, 1.0], abs=1e-4)


# --- dtypes -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", TABLE, ids=IDS)
def test_float32_stays_float32(name, kwargs):
    run = Run(fathom, name, kwargs, start=[a.astype(np.float32) for a in START])
    for _ in range(3):
        run.step()
    for p in run.params:
        assert p.dtype == fathom.float32
    for s in run.opt.state.values():
        for k, v in s.items():
            for a in (v if isinstance(v, list) else [v]):
                assert getattr(a, "dtype", np.float32) == np.float32, (k, a)


def test_loading_float64_state_into_float32_params_casts():
    run = Run(fathom, "Adam", {})
    run.step()
    run32 = Run(fathom, "Adam", {}, start=[a.astype(np.float32) for a in START])
    run32.opt.load_state_dict(run.opt.state_dict())
    assert all(s["exp_avg"].dtype == np.float32 for s in run32.opt.state.values())
    run32.step()
    assert all(p.dtype == fathom.float32 for p in run32.params)


# --- the base class -------------------------------------------------------------------------
def test_param_groups_options_and_lr_changes_take_effect():
    a, b = fathom.ones(2, requires_grad=True), fathom.ones(2, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0
    a.grad, b.grad = fathom.ones(2), fathom.ones(2)
    opt.step()
    assert a.tolist() == pytest.approx([0.9, 0.9]) and b.tolist() == [0.5, 0.5]
    opt.param_groups[0]["lr"] = 1.0  # what an lr scheduler does
    opt.step()
    assert a.tolist() == pytest.approx([-0.1, -0.1])


def test_add_param_group_and_skipped_params():
    a, b, c = (fathom.ones(2, requires_grad=True) for _ in range(3))
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    b.grad = fathom.ones(2)
    opt.step()  # a has no gradient: untouched, no state
    assert a.tolist() == [1.0, 1.0] and a not in opt.state
    assert b.tolist() == pytest.approx([0.99, 0.99])
    opt.add_param_group({"params": c})
    c.grad = fathom.ones(2)
    opt.step()
    assert c.tolist() == pytest.approx([0.9, 0.9])


def test_named_parameters_are_accepted(torch):
    mine = optim.SGD([("w", fathom.ones(2, requires_grad=True))], lr=0.1)
    ref = torch.optim.SGD([("w", torch.ones(2, requires_grad=True))], lr=0.1)
    assert mine.param_groups[0]["param_names"] == ["w"]
    assert mine.state_dict()["param_groups"] == ref.state_dict()["param_groups"]


def test_zero_grad():
    p = fathom.ones(2, requires_grad=True)
    opt = optim.SGD([p])
    p.grad = fathom.ones(2)
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_step_returns_closure_loss_and_runs_it_with_grad():
    p = fathom.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with fathom.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 2.0 and p.tolist() == pytest.approx([0.8, 0.8])


def test_step_bumps_the_version_so_saved_tensors_notice():
    p = fathom.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    v = p._version
    p.grad = fathom.ones(2)
    opt.step()
    assert p._version > v


@pytest.mark.parametrize("module", ["sgd", "adam", "adamw", "adamax", "adagrad", "rmsprop",
                                    "adadelta", "lbfgs"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"fathom.optim.{module}")
    result = doctest.testmod(mod, extraglobs={"fathom": fathom})
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_parallel_update_equals_sequential(monkeypatch, name):
    """Many elements: parameters update on worker threads, with the same result."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(n).astype(np.float32) for n in (150_000, 90_000, 60_000, 7)]
    grads = [rng.standard_normal(a.shape).astype(np.float32) for a in start]
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        params = [fathom.tensor(a.copy(), requires_grad=True) for a in start]
        opt = getattr(optim, name)(params, lr=0.01, weight_decay=0.1)
        for _ in range(3):
            for p, g in zip(params, grads):
                p.grad = fathom.tensor(g)
            opt.step()
        results.append([p.detach().numpy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_parallel_update_raises_a_worker_failure(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")

    threads = set()

    class Broken(optim.SGD):
        def _update(self, p, g, state, group):
            threads.add(threading.current_thread().name.split("_")[0])
            if p.size == 200_000:
                raise RuntimeError("boom")
            super()._update(p, g, state, group)

    params = [fathom.zeros(200_000, requires_grad=True), fathom.zeros(200_000 - 1,
                                                                     requires_grad=True)]
    for p in params:
        p.grad = fathom.ones(p.shape)
    with pytest.raises(RuntimeError, match="boom"):
        Broken(params, lr=1.0).step()
    assert params[1].detach().numpy().min() == -1.0  # the other share still ran
    assert threads == {"MainThread", "fathom-optim"}


# --- errors ---------------------------------------------------------------------------------
BAD_HYPERPARAMETERS = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1.0)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-0.1)), ("Adam", dict(eps=-1.0)), ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-0.1)),
    ("Adam", dict(betas=(0, 0.999))),
    ("AdamW", dict(lr=-1e-3)), ("AdamW", dict(weight_decay=-1.0)),
    ("Adamax", dict(lr=-1.0)), ("Adamax", dict(eps=-1.0)), ("Adamax", dict(betas=(0.9, 1.5))),
    ("Adamax", dict(weight_decay=-1.0)),
    ("Adagrad", dict(lr=-1.0)), ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(weight_decay=-1.0)), ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1.0)),
    ("RMSprop", dict(lr=-1.0)), ("RMSprop", dict(eps=-1.0)), ("RMSprop", dict(momentum=-1.0)),
    ("RMSprop", dict(weight_decay=-1.0)), ("RMSprop", dict(alpha=-1.0)),
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-1.0)),
    ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kwargs", BAD_HYPERPARAMETERS,
                         ids=[f"{n}-{kw}" for n, kw in BAD_HYPERPARAMETERS])
def test_invalid_hyperparameters_raise_torchs_error(torch, name, kwargs):
    with pytest.raises(ValueError) as expected:
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as got:
        getattr(optim, name)([fathom.ones(2, requires_grad=True)], **kwargs)
    assert str(got.value) == str(expected.value)


def test_invalid_learning_rate_message():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0.1$"):
        optim.SGD([fathom.ones(2, requires_grad=True)], lr=-0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero "
                                         "dampening"):
        optim.SGD([fathom.ones(2, requires_grad=True)], nesterov=True)


@pytest.mark.parametrize("name", NAMES)
def test_bad_params(name):
    cls = getattr(optim, name)
    p = fathom.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        cls([])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        cls([p * 2])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        cls(p)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the "
                                        "params is ndarray"):
        cls([np.ones(2)])
    with pytest.raises(TypeError, match="ordering of tensors in sets will change"):
        cls([{"params": {p}}])
    if name == "LBFGS":
        with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
            cls([{"params": [p]}, {"params": [fathom.ones(1, requires_grad=True)]}])
    else:
        with pytest.raises(ValueError, match="some parameters appear in more than one "
                                             "parameter group"):
            cls([{"params": [p]}, {"params": [p]}])


def test_duplicate_param_within_a_group_warns_like_torch():
    p = fathom.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p])


def test_load_state_dict_size_mismatch():
    a, b = fathom.ones(2, requires_grad=True), fathom.ones(2, requires_grad=True)
    one_group = optim.Adam([a, b]).state_dict()
    two_groups = optim.Adam([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match=r"loaded state dict has a different number of "
                                         r"parameter groups \(1\) than the optimizer \(2\)"):
        two_groups.load_state_dict(one_group)
    one = optim.Adam([a])
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that "
                                         "doesn't match the size of optimizer's group: group "
                                         "0 has 2 parameters in the state dict, 1 in the "
                                         "optimizer"):
        one.load_state_dict(one_group)


def test_lbfgs_requires_a_closure():
    opt = optim.LBFGS([fathom.ones(2, requires_grad=True)])
    with pytest.raises(TypeError):
        opt.step()


# --- CuPy ---------------------------------------------------------------------------------
@pytest.mark.skipif(not fathom.accelerator.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name,kwargs", TABLE, ids=IDS)
def test_runs_on_cupy_arrays(name, kwargs):
    cpu, gpu = Run(fathom, name, kwargs), Run(fathom, name, kwargs, device="cuda")
    for _ in range(5):
        cpu.step()
        gpu.step()
    _close(gpu.arrays(), cpu.arrays(), rtol=1e-9)
    assert all(type(p.data).__module__.startswith("cupy") for p in gpu.params)
