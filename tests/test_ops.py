"""Every op in the table: forward vs NumPy, gradients vs finite differences (float64),
double backward where claimed, and forward + input gradients vs PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import fathom
from opinfo import all_opinfos

TABLE = all_opinfos()
CASES = [(info, s) for info in TABLE for s in info.samples(np.random.default_rng(0))]
IDS = [f"{info.name}-{i}" for i, (info, _) in enumerate(CASES)]
CASES_BY_ID = dict(zip(IDS, CASES))
# gradient checks run only where a gradient exists: a differentiable op and a float input
GRAD_IDS = [i for i, (info, s) in zip(IDS, CASES) if info.differentiable and s.grad_args]
GRADGRAD_IDS = [i for i in GRAD_IDS if CASES_BY_ID[i][0].gradgrad]


def _convert(value, make, grad, leaves):
    """Arrays -> tensors (recursing into lists/tuples); float ones join `leaves` if grad."""
    if isinstance(value, np.ndarray):
        t = make(value)
        if grad and value.dtype.kind == "f":
            t.requires_grad_(True)
            leaves.append(t)
        return t
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        return type(value)(_convert(v, make, grad, leaves) for v in value)
    return value


def _fathom_args(sample, noncontig=False, grad=True):
    leaves = []

    def make(a):
        a = a.astype(np.float64) if a.dtype.kind == "f" else a
        if noncontig and a.ndim >= 2:
            a = np.asfortranarray(a)  # same values, not C-contiguous
        else:
            a = a.copy()
        return fathom.from_numpy(a)

    args = [_convert(a, make, grad and i in sample.grad_args, leaves)
            for i, a in enumerate(sample.args)]
    kwargs = {k: _convert(v, make, False, leaves) for k, v in sample.kwargs.items()}
    return args, kwargs, leaves


def _outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, fathom.Tensor)]


def _np_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [np.asarray(o) for o in outs]


@pytest.mark.parametrize("case", IDS)
def test_forward_matches_numpy(case):
    info, sample = CASES_BY_ID[case]
    if info.ref is None:  # the torch comparison is then the only reference; say why
        assert info.notes, f"{info.name}: an entry without a NumPy reference must say why"
        return
    for noncontig in (False, True) if info.noncontiguous else (False,):
        args, kwargs, _ = _fathom_args(sample, noncontig=noncontig, grad=False)
        got = _outputs(info.op(*args, **kwargs))
        nargs = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                 else a for a in sample.args]
        want = _np_outputs(info.ref(*nargs, **sample.kwargs))
        assert len(got) == len(want), f"{info.name}: {len(got)} outputs, reference {len(want)}"
        for g, w in zip(got, want):
            assert tuple(g.shape) == w.shape, f"{info.name}: shape {tuple(g.shape)} vs {w.shape}"
            np.testing.assert_allclose(g.numpy(force=True), w, rtol=info.rtol, atol=info.atol,
                                       err_msg=f"{info.name} {sample}")


@pytest.mark.parametrize("case", GRAD_IDS)
def test_gradient_matches_finite_differences(case):
    info, sample = CASES_BY_ID[case]
    for noncontig in (False, True) if info.noncontiguous else (False,):
        args, kwargs, leaves = _fathom_args(sample, noncontig=noncontig)
        assert leaves, f"{info.name}: sample {sample} names grad_args but has no float input"
        assert fathom.autograd.gradcheck(lambda *_: info.op(*args, **kwargs), leaves,
                                         atol=info.grad_atol, rtol=info.grad_rtol)


@pytest.mark.parametrize("case", GRADGRAD_IDS)
def test_double_backward(case):
    info, sample = CASES_BY_ID[case]
    args, kwargs, leaves = _fathom_args(sample)
    assert leaves, f"{info.name}: sample {sample} names grad_args but has no float input"
    assert fathom.autograd.gradgradcheck(lambda *_: info.op(*args, **kwargs), leaves,
                                         atol=info.grad_atol, rtol=info.grad_rtol)


def _torch_fn(torch, info):
    if info.torch_op is not None:
        return info.torch_op
    obj = torch
    for part in info.name.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("case", IDS)
def test_matches_torch(case, torch):
    info, sample = CASES_BY_ID[case]
    args, kwargs, leaves = _fathom_args(sample, grad=info.differentiable)
    t_leaves = []

    def make_t(a):
        a = a.astype(np.float64) if a.dtype.kind == "f" else a
        return torch.from_numpy(a.copy())

    t_args = [_convert(a, make_t, info.differentiable and i in sample.grad_args, t_leaves)
              for i, a in enumerate(sample.args)]
    t_kwargs = {k: _convert(v, make_t, False, []) for k, v in sample.kwargs.items()}
    if info.torch_kwargs is not None:
        t_kwargs = info.torch_kwargs(torch, t_kwargs)
    outs = _outputs(info.op(*args, **kwargs))
    t_out = _torch_fn(torch, info)(*t_args, **t_kwargs)
    t_outs = [o for o in (t_out if isinstance(t_out, (tuple, list)) else (t_out,))
              if isinstance(o, torch.Tensor)]
    assert len(outs) == len(t_outs), f"{info.name}: {len(outs)} outputs, torch {len(t_outs)}"
    for o, to in zip(outs, t_outs):
        assert tuple(o.shape) == tuple(to.shape), f"{info.name}: {tuple(o.shape)} vs torch " \
                                                  f"{tuple(to.shape)}"
        np.testing.assert_allclose(o.numpy(force=True), to.detach().numpy(), rtol=info.rtol,
                                   atol=info.atol, err_msg=f"{info.name} forward vs torch")
    if not leaves:
        return
    rng = np.random.default_rng(1)
    pairs = [(o, to) for o, to in zip(outs, t_outs) if o.requires_grad]
    if not pairs:
        return
    ws = [rng.standard_normal(tuple(o.shape)) for o, _ in pairs]
    total = sum((o * fathom.from_numpy(w)).sum() for (o, _), w in zip(pairs, ws))
    t_total = sum((to * torch.from_numpy(w)).sum() for (_, to), w in zip(pairs, ws))
    grads = fathom.autograd.grad(total, leaves, allow_unused=True)
    t_grads = torch.autograd.grad(t_total, t_leaves, allow_unused=True)
    for k, (g, tg) in enumerate(zip(grads, t_grads)):
        g = np.zeros(leaves[k].shape) if g is None else g.numpy()
        tg = np.zeros(leaves[k].shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(g, tg, rtol=max(info.rtol, 1e-6), atol=max(info.atol, 1e-6),
                                   err_msg=f"{info.name}: gradient of input {k} vs torch")
