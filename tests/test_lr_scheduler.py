"""fathom.optim.lr_scheduler against torch.optim.lr_scheduler: the same learning-rate (and
momentum) sequences, to the bit, over 50 steps; state-dict round trips; warnings; errors."""
import copy
import inspect
import pickle
import warnings

import pytest

import fathom
from fathom.optim import lr_scheduler as F_LR

STEPS = 50


def _optimizers(torch, lrs=(0.1,), kind="sgd"):
    """The same optimizer in torch and fathom: one param group per entry of `lrs`."""
    pairs = []
    for lib, mod in ((torch, torch.optim), (fathom, fathom.optim)):
        groups = [{"params": [lib.nn.Parameter(lib.zeros(2))], "lr": lr} for lr in lrs]
        if kind == "sgd":
            opt = mod.SGD(groups, lr=lrs[0], momentum=0.9)
        elif kind == "sgd0":
            opt = mod.SGD(groups, lr=lrs[0])
        elif kind == "adam":
            opt = mod.Adam(groups, lr=lrs[0], betas=(0.9, 0.99))
        else:  # a bare Optimizer: no momentum, no betas
            opt = mod.Optimizer(groups, {"lr": lrs[0]})
        pairs.append(opt)
    return pairs


def _snapshot(opt):
    """Everything a scheduler may set, per group."""
    out = []
    for g in opt.param_groups:
        row = [g["lr"]]
        if "momentum" in g:
            row.append(g["momentum"])
        if "betas" in g:
            row.append(tuple(g["betas"]))
        out.append(tuple(row))
    return out


def _run(opt, sched, steps=STEPS):
    seq = [(_snapshot(opt), list(sched.get_last_lr()))]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append((_snapshot(opt), list(sched.get_last_lr())))
    return seq


# name -> (make(lr_scheduler_module, optimizer), group lrs, optimizer kind)
CASES = {
    "LambdaLR": (lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e), (0.1,), "sgd"),
    "LambdaLR-2groups": (lambda L, o: L.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (e + 1)]),
                         (0.1, 0.03), "sgd"),
    "MultiplicativeLR": (lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97), (0.1, 0.5), "sgd"),
    "StepLR": (lambda L, o: L.StepLR(o, step_size=7, gamma=0.5), (0.1, 0.02), "sgd"),
    "StepLR-default-gamma": (lambda L, o: L.StepLR(o, 3), (0.1,), "sgd"),
    "MultiStepLR": (lambda L, o: L.MultiStepLR(o, [5, 12, 12, 30], gamma=0.3), (0.1,), "sgd"),
    # PyTorch does not require sorted milestones (a Counter): neither does Fathom.
    "MultiStepLR-unsorted": (lambda L, o: L.MultiStepLR(o, [30, 5, 12]), (0.1, 1.0), "sgd"),
    "ConstantLR": (lambda L, o: L.ConstantLR(o), (0.1,), "sgd"),
    "ConstantLR-opts": (lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=10), (0.1, 0.3),
                        "sgd"),
    "LinearLR": (lambda L, o: L.LinearLR(o), (0.1,), "sgd"),
    "LinearLR-opts": (lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=0.9,
                                              total_iters=20), (0.1, 0.7), "sgd"),
    "LinearLR-decay": (lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                               total_iters=30), (0.1,), "sgd"),
    "ExponentialLR": (lambda L, o: L.ExponentialLR(o, 0.93), (0.1, 0.01), "sgd"),
    "PolynomialLR": (lambda L, o: L.PolynomialLR(o), (0.1,), "sgd"),
    "PolynomialLR-opts": (lambda L, o: L.PolynomialLR(o, total_iters=30, power=2.0),
                          (0.1, 0.05), "sgd"),
    "CosineAnnealingLR": (lambda L, o: L.CosineAnnealingLR(o, T_max=50), (0.1,), "sgd"),
    # Past T_max the recursive form climbs back up; eta_min and two groups.
    "CosineAnnealingLR-restart": (lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                                  (0.1, 0.05), "sgd"),
    "CosineAnnealingWarmRestarts": (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5),
                                    (0.1,), "sgd"),
    "CosineAnnealingWarmRestarts-mult": (
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
        (0.1, 0.2), "sgd"),
    "CyclicLR-triangular": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4), (0.1,), "sgd"),
    "CyclicLR-triangular2": (lambda L, o: L.CyclicLR(o, [0.01, 0.001], [0.1, 0.05],
                                                     step_size_up=3, step_size_down=5,
                                                     mode="triangular2",
                                                     base_momentum=[0.8, 0.7],
                                                     max_momentum=0.95),
                             (0.1, 0.1), "sgd"),
    "CyclicLR-exp_range": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                   mode="exp_range", gamma=0.97), (0.1,), "sgd"),
    "CyclicLR-scale_fn": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                  scale_fn=lambda x: 1 / (1 + 0.1 * x),
                                                  scale_mode="iterations"), (0.1,), "sgd"),
    "CyclicLR-no-momentum": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=6,
                                                     cycle_momentum=False), (0.1,), "sgd0"),
    "CyclicLR-adam": (lambda L, o: L.CyclicLR(o, 0.001, 0.01, step_size_up=4), (0.1,), "adam"),
    "OneCycleLR": (lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=STEPS), (0.1,), "sgd"),
    "OneCycleLR-linear": (lambda L, o: L.OneCycleLR(o, max_lr=[0.1, 0.3], epochs=5,
                                                    steps_per_epoch=10, pct_start=0.25,
                                                    anneal_strategy="linear"),
                          (0.1, 0.1), "sgd"),
    "OneCycleLR-three_phase": (lambda L, o: L.OneCycleLR(o, max_lr=0.2, total_steps=60,
                                                         three_phase=True, div_factor=10.0,
                                                         final_div_factor=100.0,
                                                         base_momentum=0.8,
                                                         max_momentum=[0.9, 0.99]),
                               (0.1, 0.1), "sgd"),
    "OneCycleLR-no-momentum": (lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=STEPS,
                                                         cycle_momentum=False), (0.1,), "sgd0"),
    "OneCycleLR-adam": (lambda L, o: L.OneCycleLR(o, max_lr=0.01, total_steps=STEPS),
                        (0.1,), "adam"),
    "SequentialLR-warmup": (lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.CosineAnnealingLR(o, T_max=45)],
        milestones=[5]), (0.1, 0.02), "sgd"),
    "SequentialLR-three": (lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.5, total_iters=2), L.ExponentialLR(o, 0.9),
            L.LambdaLR(o, lambda e: 1 / (1 + e))], milestones=[3, 20]), (0.1,), "sgd"),
    "ChainedScheduler": (lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.5, total_iters=4), L.ExponentialLR(o, 0.9)]), (0.1, 1.0),
        "sgd"),
    "ChainedScheduler-warmup-step": (lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, start_factor=0.2, total_iters=8), L.StepLR(o, 10, 0.5)], optimizer=o),
        (0.1,), "sgd"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sequence_matches_torch(torch, name):
    make, lrs, kind = CASES[name]
    t_opt, f_opt = _optimizers(torch, lrs, kind)
    t_seq = _run(t_opt, make(torch.optim.lr_scheduler, t_opt))
    f_seq = _run(f_opt, make(F_LR, f_opt))
    assert f_seq == t_seq  # exact: the same float operations in the same order


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_resume(torch, name):
    """Save at step 20, load into a fresh optimizer + scheduler: the rest is identical."""
    make, lrs, kind = CASES[name]
    _, f_opt = _optimizers(torch, lrs, kind)
    sched = make(F_LR, f_opt)
    head = _run(f_opt, sched, 20)
    opt_state = copy.deepcopy(f_opt.state_dict())
    sched_state = copy.deepcopy(sched.state_dict())
    assert "optimizer" not in sched_state
    tail = _run(f_opt, sched, STEPS - 20)

    _, f_opt2 = _optimizers(torch, lrs, kind)
    sched2 = make(F_LR, f_opt2)  # build the scheduler first, then load (PyTorch's advice)
    f_opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert sched2.get_last_lr() == head[-1][1]
    assert _run(f_opt2, sched2, STEPS - 20) == tail


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "CosineAnnealingLR-restart",
                                  "CyclicLR-triangular2", "OneCycleLR-three_phase",
                                  "CosineAnnealingWarmRestarts-mult", "PolynomialLR-opts"])
def test_loads_torch_state_dict(torch, name):
    """A torch scheduler's state dict, loaded into Fathom's, continues as torch does."""
    make, lrs, kind = CASES[name]
    t_opt, f_opt = _optimizers(torch, lrs, kind)
    t_sched, f_sched = make(torch.optim.lr_scheduler, t_opt), make(F_LR, f_opt)
    _run(t_opt, t_sched, 17)
    for fg, tg in zip(f_opt.param_groups, t_opt.param_groups):
        fg.update({k: v for k, v in tg.items() if k != "params"})
    f_sched.load_state_dict(t_sched.state_dict())
    assert _run(f_opt, f_sched, 25) == _run(t_opt, t_sched, 25)


def test_lambda_state_dict_skips_functions_keeps_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.9

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1)), ], lr=1.0)
    opt.add_param_group({"params": [fathom.nn.Parameter(fathom.zeros(1))]})
    obj = Decay()
    sched = F_LR.LambdaLR(opt, [lambda e: 1.0, obj])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.9}]
    obj2 = Decay()
    obj2.rate = 0.5
    sched2 = F_LR.LambdaLR(opt, [lambda e: 1.0, obj2])
    sched2.load_state_dict(state)
    assert obj2.rate == 0.9
    assert "lr_lambdas" in state  # load_state_dict does not consume its argument


def _plateau_metrics():
    # Improvements, flat stretches, tiny (below-threshold) improvements and bumps.
    seq = [1.0, 0.9, 0.9, 0.9, 0.9, 0.89995, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.70001,
           0.7, 0.7, 0.7, 0.69, 0.69, 0.69, 0.69, 0.69, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
           0.5, 0.49999, 0.5, 0.5]
    return seq + [0.4] * 15 + [0.3] + [0.3] * 12


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("kw", [
    {},
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "threshold_mode": "abs", "threshold": 0.01},
    {"patience": 2, "cooldown": 3, "factor": 0.3},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001]},
    {"patience": 1, "factor": 0.5, "min_lr": 0.01, "eps": 0.005},
])
def test_reduce_lr_on_plateau_matches_torch(torch, mode, kw):
    t_opt, f_opt = _optimizers(torch, (0.1, 0.05))
    t_s = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, mode=mode, **kw)
    f_s = F_LR.ReduceLROnPlateau(f_opt, mode=mode, **kw)
    for m in _plateau_metrics():
        m = m if mode == "min" else 2 - m  # rising, with the same plateaus
        t_opt.step()
        f_opt.step()
        t_s.step(m)
        f_s.step(fathom.tensor(m, dtype=fathom.float64))  # a 0-d tensor works too
        assert f_s.get_last_lr() == t_s.get_last_lr()
        assert (f_s.best, f_s.num_bad_epochs, f_s.cooldown_counter, f_s.last_epoch) == \
            (t_s.best, t_s.num_bad_epochs, t_s.cooldown_counter, t_s.last_epoch)
    assert f_s.get_last_lr() != [0.1, 0.05]  # the sequence did reduce


def test_reduce_lr_on_plateau_state_dict(torch):
    t_opt, f_opt = _optimizers(torch, (0.1,))
    t_s = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, patience=1, cooldown=1)
    f_s = F_LR.ReduceLROnPlateau(f_opt, patience=1, cooldown=1)
    metrics = _plateau_metrics()
    for m in metrics[:20]:
        t_s.step(m)
        f_s.step(m)
    _, f_opt2 = _optimizers(torch, (0.1,))
    f_s2 = F_LR.ReduceLROnPlateau(f_opt2, mode="max")
    f_opt2.load_state_dict(f_opt.state_dict())
    f_s2.load_state_dict(t_s.state_dict())  # torch's own state dict
    assert f_s2.mode == "min" and f_s2.mode_worse == float("inf")
    for m in metrics[20:]:
        t_s.step(m)
        f_s2.step(m)
        assert f_s2.get_last_lr() == t_s.get_last_lr()


def test_step_with_epoch_uses_closed_form(torch):
    for make in (lambda L, o: L.StepLR(o, 3, 0.5), lambda L, o: L.CosineAnnealingLR(o, 10),
                 lambda L, o: L.MultiStepLR(o, [2, 6]), lambda L, o: L.ExponentialLR(o, 0.9),
                 lambda L, o: L.LinearLR(o), lambda L, o: L.ConstantLR(o),
                 lambda L, o: L.PolynomialLR(o, 8, 2.0), lambda L, o: L.LambdaLR(o, abs)):
        t_opt, f_opt = _optimizers(torch, (0.1, 0.2))
        t_s, f_s = make(torch.optim.lr_scheduler, t_opt), make(F_LR, f_opt)
        for epoch in (4, 7, 2, 9):
            t_opt.step()
            f_opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_s.step(epoch)
            with pytest.warns(UserWarning, match="epoch parameter"):
                f_s.step(epoch)
            assert f_s.get_last_lr() == t_s.get_last_lr()


def test_warm_restarts_fractional_epochs(torch):
    t_opt, f_opt = _optimizers(torch, (0.1,))
    t_s = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=4, T_mult=2)
    f_s = F_LR.CosineAnnealingWarmRestarts(f_opt, T_0=4, T_mult=2)
    for i in range(40):
        epoch = i * 0.37
        t_s.step(epoch)
        f_s.step(epoch)
        assert f_s.get_last_lr() == t_s.get_last_lr()
        assert (f_s.T_cur, f_s.T_i, f_s.last_epoch) == (t_s.T_cur, t_s.T_i, t_s.last_epoch)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        f_s.step(-1)


def test_custom_subclass_matches_torch(torch):
    def subclass(base):
        class Halving(base):
            def get_lr(self):
                return [lr * 0.5 ** (self.last_epoch // 4) for lr in self.base_lrs]
        return Halving

    t_opt, f_opt = _optimizers(torch, (0.1, 0.3))
    t_s = subclass(torch.optim.lr_scheduler.LRScheduler)(t_opt)
    f_s = subclass(F_LR.LRScheduler)(f_opt)
    assert _run(f_opt, f_s) == _run(t_opt, t_s)
    assert issubclass(F_LR._LRScheduler, F_LR.LRScheduler)


def test_constructor_sets_initial_lr_and_last_epoch():
    opt = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1))], lr=0.5)
    sched = F_LR.ExponentialLR(opt, 0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.5
    assert sched.last_epoch == 0 and sched.base_lrs == [0.5] and sched.get_last_lr() == [0.5]
    # Resuming with last_epoch >= 0 requires initial_lr in every group.
    opt2 = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1))], lr=0.5)
    with pytest.raises(KeyError, match="initial_lr"):
        F_LR.StepLR(opt2, 2, last_epoch=3)


def test_warning_scheduler_before_optimizer():
    opt = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1))], lr=0.1)
    sched = F_LR.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before "
                                         r"`optimizer.step\(\)`"):
        sched.step()


def test_no_warning_in_the_right_order_and_optimizer_still_pickles():
    p = fathom.nn.Parameter(fathom.ones(2))
    opt = fathom.optim.SGD([p], lr=0.1)
    sched = F_LR.StepLR(opt, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            p.grad = fathom.ones(2)
            opt.step()
            sched.step()
    assert p.data.tolist() == pytest.approx([0.79, 0.79])
    # The step tracker neither breaks pickling nor ties a copy to the original.
    clone = copy.deepcopy(opt)
    clone.param_groups[0]["params"][0].grad = fathom.ones(2)
    clone.step()
    assert p.data.tolist() == pytest.approx([0.79, 0.79])
    pickle.loads(pickle.dumps(opt))


def test_warning_optimizer_step_overridden():
    opt = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1))], lr=0.1)
    sched = F_LR.StepLR(opt, 2)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="has been overridden after learning rate scheduler"):
        sched.step()


def test_get_lr_outside_step_warns():
    opt = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1))], lr=0.1)
    sched = F_LR.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_one_cycle_past_total_steps_raises():
    opt = fathom.optim.SGD([fathom.nn.Parameter(fathom.zeros(1))], lr=0.1, momentum=0.9)
    sched = F_LR.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total "
                                         "steps is 3"):
        sched.step()


# Bad arguments: Fathom raises what torch raises, with the same message.
ERRORS = [
    ("ConstantLR factor>1", lambda L, o: L.ConstantLR(o, factor=1.5)),
    ("LinearLR start 0", lambda L, o: L.LinearLR(o, start_factor=0)),
    ("LinearLR end>1", lambda L, o: L.LinearLR(o, end_factor=1.2)),
    ("LambdaLR count", lambda L, o: L.LambdaLR(o, [abs, abs, abs])),
    ("MultiplicativeLR not callable", lambda L, o: L.MultiplicativeLR(o, 0.9)),
    ("not an optimizer", lambda L, o: L.StepLR([1, 2], 3)),
    ("plateau factor", lambda L, o: L.ReduceLROnPlateau(o, factor=1.0)),
    ("plateau mode", lambda L, o: L.ReduceLROnPlateau(o, mode="avg")),
    ("plateau threshold_mode", lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="pct")),
    ("plateau min_lr count", lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1, 0.2, 0.3])),
    ("cyclic mode", lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="sawtooth")),
    ("cyclic base_lr count", lambda L, o: L.CyclicLR(o, [0.01, 0.01, 0.01], 0.1)),
    ("cyclic momentum count", lambda L, o: L.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8] * 5)),
    ("warm T_0", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0)),
    ("warm T_0 float", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.5)),
    ("warm T_mult", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=0)),
    ("one-cycle no length", lambda L, o: L.OneCycleLR(o, 0.1)),
    ("one-cycle total_steps", lambda L, o: L.OneCycleLR(o, 0.1, total_steps=0)),
    ("one-cycle epochs", lambda L, o: L.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3)),
    ("one-cycle steps_per_epoch", lambda L, o: L.OneCycleLR(o, 0.1, epochs=2,
                                                            steps_per_epoch=-1)),
    ("one-cycle pct_start", lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1)),
    ("one-cycle pct_start>1", lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10,
                                                        pct_start=1.5)),
    ("one-cycle anneal", lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10,
                                                   anneal_strategy="exp")),
    ("one-cycle max_lr count", lambda L, o: L.OneCycleLR(o, [0.1, 0.2, 0.3], total_steps=10)),
    ("sequential empty", lambda L, o: L.SequentialLR(o, [], [])),
    ("sequential milestones", lambda L, o: L.SequentialLR(
        o, [L.StepLR(o, 2), L.StepLR(o, 3)], milestones=[2, 5])),
    ("sequential plateau", lambda L, o: L.SequentialLR(
        o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], milestones=[2])),
    ("sequential no optimizer", lambda L, o: L.SequentialLR(o, [object()], [])),
    ("chained empty", lambda L, o: L.ChainedScheduler([])),
    ("chained plateau", lambda L, o: L.ChainedScheduler([L.ReduceLROnPlateau(o)])),
]


@pytest.mark.parametrize("name", [e[0] for e in ERRORS])
def test_errors_match_torch(torch, name):
    make = dict(ERRORS)[name]
    t_opt, f_opt = _optimizers(torch, (0.1, 0.2))
    with pytest.raises(Exception) as t_err:
        make(torch.optim.lr_scheduler, t_opt)
    with pytest.raises(type(t_err.value)) as f_err:
        make(F_LR, f_opt)
    assert str(f_err.value) == str(t_err.value)


def test_cycle_momentum_needs_momentum(torch):
    t_opt, f_opt = _optimizers(torch, (0.1,), kind="bare")
    for L, o in ((torch.optim.lr_scheduler, t_opt), (F_LR, f_opt)):
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with "
                                             "`cycle_momentum` option enabled"):
            L.CyclicLR(o, 0.01, 0.1)
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            L.OneCycleLR(o, 0.1, total_steps=10)


def test_children_must_share_the_optimizer(torch):
    _, f_opt = _optimizers(torch, (0.1,))
    _, other = _optimizers(torch, (0.1,))
    a, b = F_LR.StepLR(f_opt, 2), F_LR.StepLR(other, 2)
    for make in (lambda: F_LR.SequentialLR(f_opt, [a, b], [3]),
                 lambda: F_LR.ChainedScheduler([a, b])):
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same "
                                             "optimizer, but got scheduler StepLR at index 1"):
            make()


def test_signatures_match_torch(torch):
    for name in torch.optim.lr_scheduler.__all__:
        t_sig = inspect.signature(getattr(torch.optim.lr_scheduler, name))
        f_sig = inspect.signature(getattr(F_LR, name))
        strip = [(p.name, p.kind, p.default) for p in t_sig.parameters.values()]
        assert [(p.name, p.kind, p.default) for p in f_sig.parameters.values()] == strip, name
        for meth in ("step", "get_last_lr", "state_dict", "load_state_dict"):
            t_m = inspect.signature(getattr(getattr(torch.optim.lr_scheduler, name), meth))
            f_m = inspect.signature(getattr(getattr(F_LR, name), meth))
            assert list(f_m.parameters) == list(t_m.parameters), (name, meth)
