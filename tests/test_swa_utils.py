"""fathom.optim.swa_utils against torch.optim.swa_utils: AveragedModel (SWA, EMA, custom
averaging, buffers), SWALR's learning rates and update_bn's batch-norm statistics."""
import inspect

import numpy as np
import pytest

import fathom
from fathom.optim import swa_utils as F_SWA


def _net(nn, bn=True):
    layers = [nn.Linear(4, 5), nn.ReLU()]
    if bn:
        layers.append(nn.BatchNorm1d(5))
    layers.append(nn.Linear(5, 3))
    return nn.Sequential(*layers)


def _random_state(torch_model, rng, k):
    """Fresh random values for every parameter and buffer (variances positive)."""
    out = {}
    for name, v in torch_model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            out[name] = np.array(3 * k + 1, dtype=np.int64)
        elif name.endswith("running_var"):
            out[name] = rng.uniform(0.5, 2.0, v.shape).astype(np.float32)
        else:
            out[name] = rng.standard_normal(v.shape).astype(np.float32)
    return out


def _load(torch, t_model, f_model, state):
    t_model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    f_model.load_state_dict({k: fathom.tensor(v) for k, v in state.items()})


def _compare(t_avg, f_avg, exact=True):
    t_sd, f_sd = t_avg.state_dict(), f_avg.state_dict()
    assert list(f_sd) == list(t_sd)
    for k in t_sd:
        t, f = t_sd[k].detach().numpy(), f_sd[k].numpy(force=True)
        assert f.dtype == t.dtype, k
        if exact:
            np.testing.assert_array_equal(f, t, err_msg=k)
        else:
            np.testing.assert_allclose(f, t, rtol=1e-6, atol=1e-7, err_msg=k)


def _averaged(torch, factory, use_buffers=False, updates=6, bn=True, t_factory=None):
    """Run the same weight sequence through torch's and Fathom's AveragedModel."""
    rng = np.random.default_rng(0)
    t_model, f_model = _net(torch.nn, bn), _net(fathom.nn, bn)
    _load(torch, t_model, f_model, _random_state(t_model, rng, 0))
    t_avg = torch.optim.swa_utils.AveragedModel(t_model, use_buffers=use_buffers,
                                                **(t_factory or factory)(torch.optim.swa_utils))
    f_avg = F_SWA.AveragedModel(f_model, use_buffers=use_buffers, **factory(F_SWA))
    for k in range(updates):
        _load(torch, t_model, f_model, _random_state(t_model, rng, k))
        t_avg.update_parameters(t_model)
        f_avg.update_parameters(f_model)
    return t_avg, f_avg


def test_swa_running_mean_matches_torch_exactly(torch):
    t_avg, f_avg = _averaged(torch, lambda m: {})
    _compare(t_avg, f_avg, exact=True)
    assert int(f_avg.n_averaged) == 6 and f_avg.n_averaged.dtype == fathom.int64


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("name,factory,exact", [
    ("swa", lambda m: {}, True),
    ("ema-multi", lambda m: {"multi_avg_fn": m.get_ema_multi_avg_fn(0.9)}, False),
    ("ema-multi-default", lambda m: {"multi_avg_fn": m.get_ema_multi_avg_fn()}, False),
    ("swa-multi", lambda m: {"multi_avg_fn": m.get_swa_multi_avg_fn()}, False),
    ("ema-fn", lambda m: {"avg_fn": m.get_ema_avg_fn(0.75)}, True),
    ("swa-fn", lambda m: {"avg_fn": m.get_swa_avg_fn()}, True),
    ("custom-fn", lambda m: {"avg_fn": lambda a, p, n: 0.5 * a + 0.5 * p}, True),
])
def test_averaged_model_matches_torch(torch, name, factory, exact, use_buffers):
    # EMA through multi_avg_fn is torch's lerp, fused multiply-add inside: agree to 1 ulp.
    if name == "swa-multi" and use_buffers:
        # torch fails here on the integer buffer (addcdiv refuses integer division): compare
        # with torch's default averaging, which Fathom's integer path follows.
        t_avg, f_avg = _averaged(torch, factory, use_buffers=True, t_factory=lambda m: {})
    else:
        t_avg, f_avg = _averaged(torch, factory, use_buffers=use_buffers)
    _compare(t_avg, f_avg, exact=exact)


def test_buffers_copied_not_averaged_without_use_buffers(torch):
    t_avg, f_avg = _averaged(torch, lambda m: {}, use_buffers=False)
    assert int(f_avg.module[2].num_batches_tracked) == 3 * 5 + 1  # the last model's value


def test_averaged_model_without_buffers_and_forward(torch):
    t_avg, f_avg = _averaged(torch, lambda m: {"multi_avg_fn": m.get_ema_multi_avg_fn(0.5)},
                             bn=False, updates=3)
    _compare(t_avg, f_avg, exact=False)
    x = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    f_avg.eval()
    t_avg.eval()
    out = f_avg(fathom.tensor(x))
    np.testing.assert_array_equal(out.numpy(force=True), f_avg.module(fathom.tensor(x)).numpy(
        force=True))
    np.testing.assert_allclose(out.numpy(force=True),
                               t_avg(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_averaged_model_copies_the_model_and_state_dict_round_trip():
    net = _net(fathom.nn)
    avg = F_SWA.AveragedModel(net, device="cpu")
    assert avg.module is not net and avg.module[0].weight is not net[0].weight
    with fathom.no_grad():
        net[0].weight.fill_(1.0)
    assert not np.all(avg.module[0].weight.numpy(force=True) == 1.0)  # a deep copy
    avg.update_parameters(net)
    avg.update_parameters(net)
    other = F_SWA.AveragedModel(_net(fathom.nn))
    other.load_state_dict(avg.state_dict())
    assert int(other.n_averaged) == 2
    np.testing.assert_array_equal(other.module[0].weight.numpy(force=True), 1.0)


def test_averaged_model_errors(torch):
    net = _net(fathom.nn, bn=False)
    fn = F_SWA.get_swa_avg_fn()
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be "
                                             "provided"):
        F_SWA.AveragedModel(net, avg_fn=fn, multi_avg_fn=F_SWA.get_swa_multi_avg_fn())
    for make in ("get_ema_multi_avg_fn", "get_ema_avg_fn"):
        for decay in (-0.1, 1.5):
            with pytest.raises(ValueError) as t_err:
                getattr(torch.optim.swa_utils, make)(decay)
            with pytest.raises(ValueError) as f_err:
                getattr(F_SWA, make)(decay)
            assert str(f_err.value) == str(t_err.value)


def _optimizers(torch, lrs):
    out = []
    for lib, mod in ((torch, torch.optim), (fathom, fathom.optim)):
        groups = [{"params": [lib.nn.Parameter(lib.zeros(2))], "lr": lr} for lr in lrs]
        out.append(mod.SGD(groups, lr=lrs[0], momentum=0.9))
    return out


def _lr_run(opt, sched, steps=30):
    seq = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
    return seq


@pytest.mark.parametrize("kw,lrs", [
    ({"swa_lr": 0.05}, (0.1,)),
    ({"swa_lr": 0.01, "anneal_epochs": 5, "anneal_strategy": "linear"}, (0.1,)),
    ({"swa_lr": [0.02, 0.5], "anneal_epochs": 7}, (0.1, 0.2)),
    ({"swa_lr": 0.03, "anneal_epochs": 0}, (0.1, 0.05)),
    ({"swa_lr": 0.03, "anneal_epochs": 1, "anneal_strategy": "linear"}, (0.1,)),
])
def test_swalr_matches_torch(torch, kw, lrs):
    t_opt, f_opt = _optimizers(torch, lrs)
    t_s = torch.optim.swa_utils.SWALR(t_opt, **kw)
    f_s = F_SWA.SWALR(f_opt, **kw)
    assert _lr_run(f_opt, f_s) == _lr_run(t_opt, t_s)


def test_swalr_after_another_schedule_and_resume(torch):
    """The usual recipe: a cosine schedule, then SWALR from wherever it left the lr."""
    t_opt, f_opt = _optimizers(torch, (0.1,))
    seqs = []
    for L, S, opt in ((torch.optim.lr_scheduler, torch.optim.swa_utils, t_opt),
                      (fathom.optim.lr_scheduler, F_SWA, f_opt)):
        cos = L.CosineAnnealingLR(opt, T_max=20)
        seq = _lr_run(opt, cos, 10)
        swa = S.SWALR(opt, swa_lr=0.02, anneal_epochs=4)
        seqs.append(seq + _lr_run(opt, swa, 12))
    assert seqs[1] == seqs[0]

    _, f_opt = _optimizers(torch, (0.1, 0.3))
    sched = F_SWA.SWALR(f_opt, swa_lr=0.01, anneal_epochs=6, anneal_strategy="linear")
    _lr_run(f_opt, sched, 3)
    state = sched.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state
    opt_state = f_opt.state_dict()
    rest = _lr_run(f_opt, sched, 8)
    _, f_opt2 = _optimizers(torch, (0.1, 0.3))
    sched2 = F_SWA.SWALR(f_opt2, swa_lr=0.5, anneal_strategy="cos")
    f_opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    assert _lr_run(f_opt2, sched2, 8) == rest


@pytest.mark.parametrize("kw", [{"swa_lr": 0.1, "anneal_strategy": "exp"},
                                {"swa_lr": 0.1, "anneal_epochs": -1},
                                {"swa_lr": 0.1, "anneal_epochs": 2.5},
                                {"swa_lr": [0.1, 0.2, 0.3]}])
def test_swalr_errors_match_torch(torch, kw):
    t_opt, f_opt = _optimizers(torch, (0.1, 0.2))
    with pytest.raises(ValueError) as t_err:
        torch.optim.swa_utils.SWALR(t_opt, **kw)
    with pytest.raises(ValueError) as f_err:
        F_SWA.SWALR(f_opt, **kw)
    assert str(f_err.value) == str(t_err.value)


def _bn_nets(nn):
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6, momentum=0.3), nn.ReLU(),
                         nn.Linear(6, 3), nn.BatchNorm1d(3))


@pytest.mark.parametrize("tuples", [True, False])
def test_update_bn_matches_torch(torch, tuples):
    rng = np.random.default_rng(0)
    t_model, f_model = _bn_nets(torch.nn), _bn_nets(fathom.nn)
    state = _random_state(t_model, rng, 2)
    _load(torch, t_model, f_model, state)
    batches = [rng.standard_normal((n, 4)).astype(np.float32) * 3 + 1 for n in (8, 5, 11, 6)]
    if tuples:
        t_loader = [(torch.from_numpy(b), torch.zeros(len(b))) for b in batches]
        f_loader = [(fathom.tensor(b), fathom.zeros(len(b))) for b in batches]
    else:
        t_loader = [torch.from_numpy(b) for b in batches]
        f_loader = [fathom.tensor(b) for b in batches]
    t_model.eval()
    f_model.eval()
    torch.optim.swa_utils.update_bn(t_loader, t_model)
    F_SWA.update_bn(f_loader, f_model, device="cpu")
    assert not f_model.training and not f_model[1].training  # mode restored
    assert f_model[1].momentum == 0.3 and f_model[4].momentum == 0.1  # momenta restored
    for k, t in t_model.state_dict().items():
        f = f_model.state_dict()[k].numpy(force=True)
        np.testing.assert_allclose(f, t.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(f_model[1].num_batches_tracked) == len(batches)


def test_update_bn_is_cumulative_average():
    bn = fathom.nn.BatchNorm1d(3)
    batches = [np.random.default_rng(i).standard_normal((10, 3)).astype(np.float32) + i
               for i in range(4)]
    bn.train()
    F_SWA.update_bn([fathom.tensor(b) for b in batches], bn)
    np.testing.assert_allclose(bn.running_mean.numpy(force=True),
                               np.mean([b.mean(0) for b in batches], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(force=True),
                               np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-5)
    assert bn.training and bn.momentum == 0.1


def test_update_bn_without_batch_norm_is_a_no_op():
    net = _net(fathom.nn, bn=False)
    net.eval()
    calls = []
    F_SWA.update_bn(iter(calls), net)  # never iterated: nothing to update
    assert not net.training


def test_signatures_match_torch(torch):
    for name in ("AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn",
                 "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"):
        t_sig = inspect.signature(getattr(torch.optim.swa_utils, name))
        f_sig = inspect.signature(getattr(F_SWA, name))
        assert [(p.name, p.kind, p.default) for p in f_sig.parameters.values()] == \
            [(p.name, p.kind, p.default) for p in t_sig.parameters.values()], name
    assert set(F_SWA.__all__) == set(torch.optim.swa_utils.__all__)
