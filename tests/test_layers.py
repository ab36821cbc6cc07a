"""Every layer in the table (tests/layerinfo/) against PyTorch, in float64, train and eval.

Same weights (PyTorch's state dict loaded into Fathom), same inputs: same outputs,
same gradients for every float input and every parameter, same buffers after the
forward; state-dict keys and shapes equal; default init at PyTorch's scale; bad
inputs raise errors that name the layer and the shapes.
"""
from __future__ import annotations

import numpy as np
import pytest

import fathom
from layerinfo import all_layer_cases

CASES = all_layer_cases()
IDS = [c.name for c in CASES]
MODE_CASES = [(c, m) for c in CASES for m in c.modes]
MODE_IDS = [f"{c.name}-{m}" for c, m in MODE_CASES]
ERROR_CASES = [(c, i) for c in CASES for i in range(len(c.errors))]
ERROR_IDS = [f"{c.name}-{i}" for c, i in ERROR_CASES]


def _convert(value, make, grad, leaves):
    if isinstance(value, np.ndarray):
        t = make(value)
        if grad and value.dtype.kind == "f":
            t.requires_grad_(True)
            leaves.append(t)
        return t
    if isinstance(value, (tuple, list)):
        return type(value)(_convert(v, make, grad, leaves) for v in value)
    return value


def _args(case, rng_seed, make):
    rng = np.random.default_rng(rng_seed)
    raw = case.inputs(rng)
    raw = raw if isinstance(raw, tuple) else (raw,)
    kw = case.kwargs(rng) if case.kwargs else {}
    leaves = []
    grad_idx = case.grad_inputs
    args = [_convert(a, make, grad_idx is None or i in grad_idx, leaves)
            for i, a in enumerate(raw)]
    kwargs = {k: _convert(v, make, False, leaves) for k, v in kw.items()}
    return args, kwargs, leaves


def _flat(out, cls):
    if isinstance(out, cls):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o, cls)]
    return []


def _pair(torch, case):
    torch.manual_seed(0)
    tm = case.make(torch.nn)
    fm = case.make(fathom.nn)
    tm = tm.double() if isinstance(tm, torch.nn.Module) else tm
    fm = fm.double() if isinstance(fm, fathom.nn.Module) else fm
    return tm, fm


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "cpu") else np.asarray(t.detach().data)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_layout(case, torch):
    tm, fm = _pair(torch, case)
    t_sd = {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    f_sd = {k: tuple(v.shape) for k, v in fm.state_dict().items()}
    assert list(f_sd) == list(t_sd)
    assert f_sd == t_sd
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]


@pytest.mark.parametrize("case", [c for c in CASES if c.check_init],
                         ids=[c.name for c in CASES if c.check_init])
def test_default_init(case, torch):
    """Fresh parameters and buffers have PyTorch's distribution: constants equal, random
    ones the same range and scale."""
    tm, fm = _pair(torch, case)
    f_sd = fm.state_dict()
    for k, tv in tm.state_dict().items():
        t, f = tv.detach().double().numpy(), np.asarray(f_sd[k].data, dtype=np.float64)
        if t.size == 0:
            continue
        if t.std() == 0:  # a constant init (zeros, ones): exactly PyTorch's
            np.testing.assert_allclose(f, t, err_msg=f"{case.name}: init of {k}")
            continue
        assert abs(f).max() <= abs(t).max() * 1.6 + 1e-12, f"{case.name}: range of {k}"
        if t.size >= 64:
            ratio = f.std() / t.std()
            assert 0.7 < ratio < 1.4, f"{case.name}: std of {k} is {ratio:.2f}x PyTorch's"


@pytest.mark.parametrize("case,mode", MODE_CASES, ids=MODE_IDS)
def test_matches_torch(case, mode, torch):
    tm, fm = _pair(torch, case)
    fm.load_state_dict(tm.state_dict())
    tm.train(mode == "train")
    fm.train(mode == "train")
    t_args, t_kw, t_leaves = _args(case, 1, lambda a: torch.from_numpy(a.copy()))
    f_args, f_kw, f_leaves = _args(case, 1, lambda a: fathom.from_numpy(a.copy()))
    t_out = _flat(tm(*t_args, **t_kw), torch.Tensor)
    f_out = _flat(fm(*f_args, **f_kw), fathom.Tensor)
    assert len(f_out) == len(t_out), f"{case.name}: number of outputs"
    stochastic = case.stochastic_train and mode == "train"
    for i, (f, t) in enumerate(zip(f_out, t_out)):
        assert tuple(f.shape) == tuple(t.shape), f"{case.name}: output {i} shape"
        assert f.dtype.name == str(t.dtype).replace("torch.", ""), f"{case.name}: dtype {i}"
        if not stochastic:
            np.testing.assert_allclose(_np(f), _np(t), rtol=case.rtol, atol=case.atol,
                                       err_msg=f"{case.name} ({mode}): output {i}")
    # buffers after the forward (running statistics, num_batches_tracked)
    f_sd = fm.state_dict()
    for k, v in tm.state_dict().items():
        if k not in dict(tm.named_parameters()):
            np.testing.assert_allclose(_np(f_sd[k]), _np(v), rtol=case.rtol, atol=case.atol,
                                       err_msg=f"{case.name} ({mode}): buffer {k}")
    if stochastic:
        return
    rng = np.random.default_rng(2)
    t_loss, f_loss = 0, 0
    for f, t in zip(f_out, t_out):
        if t.requires_grad and t.dtype.is_floating_point:
            w = rng.standard_normal(tuple(t.shape))
            t_loss = t_loss + (t * torch.from_numpy(w)).sum()
            f_loss = f_loss + (f * fathom.from_numpy(w)).sum()
    if not isinstance(t_loss, torch.Tensor):
        return
    t_loss.backward()
    f_loss.backward()
    for i, (f, t) in enumerate(zip(f_leaves, t_leaves)):
        if t.grad is None:
            assert f.grad is None or not np.any(_np(f.grad)), f"{case.name}: input grad {i}"
            continue
        np.testing.assert_allclose(_np(f.grad), _np(t.grad), rtol=case.rtol * 10,
                                   atol=case.atol * 10,
                                   err_msg=f"{case.name} ({mode}): input {i} gradient")
    f_params = dict(fm.named_parameters())
    for name, tp in tm.named_parameters():
        fp = f_params[name]
        if tp.grad is None:
            assert fp.grad is None or not np.any(_np(fp.grad)), f"{case.name}: grad of {name}"
            continue
        assert fp.grad is not None, f"{case.name} ({mode}): no gradient for {name}"
        np.testing.assert_allclose(_np(fp.grad), _np(tp.grad), rtol=case.rtol * 10,
                                   atol=case.atol * 10,
                                   err_msg=f"{case.name} ({mode}): gradient of {name}")


@pytest.mark.parametrize("case,index", ERROR_CASES, ids=ERROR_IDS)
def test_bad_input_message(case, index):
    fm = case.make(fathom.nn)
    inputs, kwargs, words = case.errors[index]
    rng = np.random.default_rng(0)
    raw = inputs(rng)
    raw = raw if isinstance(raw, tuple) else (raw,)
    # the module is float32 and inputs come as given (float64 inputs test dtype errors)
    args = [_convert(a, fathom.from_numpy, False, []) for a in raw]
    kw = {k: _convert(v, fathom.from_numpy, False, []) for k, v in (kwargs or {}).items()}
    with pytest.raises((ValueError, RuntimeError, TypeError, IndexError)) as info:
        fm(*args, **kw)
    for word in words:
        assert word in str(info.value), f"{case.name}: {word!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_repr_matches_torch(case, torch):
    tm, fm = _pair(torch, case)
    assert repr(fm) == repr(tm)
