"""Loss modules: what the layer table (tests/layerinfo/loss.py) cannot express.

Constructor signatures, the legacy size_average/reduce flags, buffers and state dicts,
when bad options are caught, float32, double backward of the composed losses, and
their numerical edges.
"""
from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

import fathom
import fathom.nn as nn
import fathom.nn.functional as F
from fathom.autograd import gradcheck, gradgradcheck

LOSSES = nn.loss.__all__


def test_all_losses_exported():
    assert set(LOSSES) <= set(dir(nn))
    for name in ["L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
                 "BCEWithLogitsLoss", "KLDivLoss", "SmoothL1Loss", "HuberLoss", "PoissonNLLLoss",
                 "GaussianNLLLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
                 "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
                 "MultiLabelMarginLoss", "MultiMarginLoss", "TripletMarginLoss"]:
        assert name in LOSSES


@pytest.mark.parametrize("name", LOSSES)
def test_signature_matches_torch(name, torch):
    """Same argument names, order, defaults and keyword-only markers, in __init__ and
    forward."""
    for method in ("__init__", "forward"):
        f = inspect.signature(getattr(getattr(nn, name), method))
        t = inspect.signature(getattr(getattr(torch.nn, name), method))
        f_params = [(p.name, p.kind, p.default) for p in f.parameters.values()]
        t_params = [(p.name, p.kind, p.default) for p in t.parameters.values()]
        assert f_params == t_params, f"{name}.{method}"


@pytest.mark.parametrize("fname", ["poisson_nll_loss", "gaussian_nll_loss",
                                   "cosine_embedding_loss", "margin_ranking_loss",
                                   "hinge_embedding_loss", "soft_margin_loss",
                                   "multilabel_soft_margin_loss", "multilabel_margin_loss",
                                   "multi_margin_loss", "triplet_margin_loss",
                                   "triplet_margin_with_distance_loss", "ctc_loss"])
def test_functional_signature_matches_torch(fname, torch):
    f = inspect.signature(getattr(F, fname))
    t = inspect.signature(getattr(torch.nn.functional, fname))
    assert [(p.name, p.kind) for p in f.parameters.values()] == \
        [(p.name, p.kind) for p in t.parameters.values()]
    for p in f.parameters.values():
        d = t.parameters[p.name].default
        assert p.default == d or (p.default is inspect.Parameter.empty) == (d is
                                                                             inspect.Parameter.empty)


LEGACY = [(None, None), (True, None), (False, None), (None, True), (None, False),
          (True, True), (True, False), (False, True), (False, False)]


@pytest.mark.parametrize("size_average,reduce", LEGACY)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss",
                                  "BCELoss", "KLDivLoss", "SmoothL1Loss", "PoissonNLLLoss",
                                  "SoftMarginLoss", "MultiMarginLoss", "TripletMarginLoss",
                                  "CosineEmbeddingLoss"])
def test_legacy_flags_give_torch_reduction(name, size_average, reduce, torch):
    kw = {"size_average": size_average, "reduce": reduce}
    with warnings.catch_warnings(record=True) as f_w:
        warnings.simplefilter("always")
        f = getattr(nn, name)(**kw)
    with warnings.catch_warnings(record=True) as t_w:
        warnings.simplefilter("always")
        t = getattr(torch.nn, name)(**kw)
    assert f.reduction == t.reduction
    assert bool(f_w) == bool(t_w)  # a deprecation warning exactly when PyTorch gives one


def test_weight_buffers_and_state_dict(torch):
    w = [1.0, 2.0, 0.5]
    cases = [
        ("CrossEntropyLoss", {"weight": w}, ["weight"]),
        ("NLLLoss", {"weight": w}, ["weight"]),
        ("BCELoss", {"weight": w}, ["weight"]),
        ("MultiLabelSoftMarginLoss", {"weight": w}, ["weight"]),
        ("MultiMarginLoss", {"weight": w}, ["weight"]),
        ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w}, ["weight", "pos_weight"]),
        ("BCEWithLogitsLoss", {"pos_weight": w}, ["pos_weight"]),
        ("CrossEntropyLoss", {}, []),
        ("BCEWithLogitsLoss", {}, []),
        ("MSELoss", {}, []),
    ]
    for name, kw, keys in cases:
        f = getattr(nn, name)(**{k: fathom.tensor(v) for k, v in kw.items()})
        t = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kw.items()})
        assert list(f.state_dict()) == list(t.state_dict()) == keys, name
        assert [n for n, _ in f.named_buffers()] == [n for n, _ in t.named_buffers()]
        assert list(f.parameters()) == []
        if keys:
            f.load_state_dict({k: v * 3 for k, v in t.state_dict().items()})
            np.testing.assert_allclose(f.weight.numpy() if "weight" in keys else
                                       f.pos_weight.numpy(), np.array(w, np.float32) * 3)
    # buffers follow .double() and .to()
    f = nn.BCEWithLogitsLoss(fathom.tensor(w), pos_weight=fathom.tensor(w)).double()
    assert f.weight.dtype == f.pos_weight.dtype == fathom.float64
    assert nn.CrossEntropyLoss().weight is None


def test_bad_reduction_is_caught_when_called_as_pytorch():
    loss = nn.MSELoss(reduction="avg")  # PyTorch builds it too
    with pytest.raises(ValueError) as err:
        loss(fathom.zeros(3), fathom.zeros(3))
    assert "MSELoss()" in str(err.value) and "'avg'" in str(err.value)
    assert isinstance(nn.KLDivLoss(reduction="batchmean")(fathom.zeros(2, 3), fathom.ones(2, 3)),
                      fathom.Tensor)


def test_constructor_checks_as_torch(torch):
    for make in (lambda nn: nn.HuberLoss(delta="1"), lambda nn: nn.MultiMarginLoss(p=3),
                 lambda nn: nn.TripletMarginLoss(margin=0.0)):
        with pytest.raises((TypeError, ValueError)) as t_err:
            make(torch.nn)
        with pytest.raises(type(t_err.value)) as f_err:
            make(nn)
        assert str(f_err.value) == str(t_err.value)
    with pytest.raises(ValueError, match="1D"):
        nn.MultiMarginLoss(weight=fathom.ones(2, 2))
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)  # keyword-only, as PyTorch


def test_nllloss2d_deprecated():
    with pytest.warns(FutureWarning, match="NLLLoss"):
        loss = nn.NLLLoss2d(ignore_index=1)
    assert loss.ignore_index == 1 and isinstance(loss, nn.NLLLoss)


def test_errors_name_module_and_keep_type():
    with pytest.raises(IndexError) as err:
        nn.NLLLoss()(fathom.zeros(2, 3), fathom.tensor([0, 5]))
    assert str(err.value).startswith("NLLLoss(): nll_loss: target 5")
    with pytest.raises(fathom.errors.DTypeError) as err:
        nn.MultiMarginLoss()(fathom.zeros(2, 3), fathom.tensor([0.0, 1.0]))
    assert "MultiMarginLoss()" in str(err.value)
    with pytest.raises(TypeError) as err:  # a wrong call is not rewritten
        nn.MSELoss()(fathom.zeros(3))
    assert "MSELoss()" not in str(err.value)


# --- float32, and the composed losses against torch beyond the table -------------------

FLOAT32 = [
    ("L1Loss", {}, lambda r: (r.standard_normal((4, 3)), r.standard_normal((4, 3)))),
    ("CrossEntropyLoss", {"label_smoothing": 0.1},
     lambda r: (r.standard_normal((4, 3)), r.integers(0, 3, 4))),
    ("PoissonNLLLoss", {"full": True}, lambda r: (r.standard_normal(4), r.poisson(2, 4) * 1.0)),
    ("GaussianNLLLoss", {}, lambda r: (r.standard_normal((4, 2)), r.standard_normal((4, 2)),
                                       r.uniform(0.5, 1, (4, 1)))),
    ("CosineEmbeddingLoss", {"margin": 0.2},
     lambda r: (r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.choice([-1, 1], 4))),
    ("MarginRankingLoss", {}, lambda r: (r.standard_normal(4), r.standard_normal(4),
                                         r.choice([-1.0, 1.0], 4))),
    ("HingeEmbeddingLoss", {}, lambda r: (r.standard_normal(4), r.choice([-1.0, 1.0], 4))),
    ("SoftMarginLoss", {}, lambda r: (r.standard_normal(4), r.choice([-1.0, 1.0], 4))),
    ("MultiLabelSoftMarginLoss", {}, lambda r: (r.standard_normal((4, 3)),
                                                r.integers(0, 2, (4, 3)) * 1.0)),
    ("MultiLabelMarginLoss", {}, lambda r: (r.standard_normal((2, 3)),
                                            np.array([[2, -1, 0], [0, 1, -1]]))),
    ("MultiMarginLoss", {"p": 2}, lambda r: (r.standard_normal((4, 3)), r.integers(0, 3, 4))),
    ("TripletMarginLoss", {"swap": True},
     lambda r: tuple(r.standard_normal((4, 3)) for _ in range(3))),
]


@pytest.mark.parametrize("name,kw,inputs", FLOAT32, ids=[c[0] for c in FLOAT32])
def test_float32_matches_torch(name, kw, inputs, torch):
    raw = inputs(np.random.default_rng(0))
    cast = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in raw]
    f = getattr(nn, name)(**kw)(*[fathom.from_numpy(a) for a in cast])
    t = getattr(torch.nn, name)(**kw)(*[torch.from_numpy(a) for a in cast])
    assert f.dtype == fathom.float32
    np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=2e-6, atol=1e-6)


def test_soft_margin_and_multilabel_soft_margin_finite_at_1000(torch):
    x = fathom.tensor([1000.0, -1000.0, 30.0], requires_grad=True)
    y = fathom.tensor([-1.0, 1.0, 1.0])
    out = F.soft_margin_loss(x, y, reduction="none")
    np.testing.assert_allclose(out.detach().numpy(), [1000.0, 1000.0, math.log1p(math.exp(-30))],
                               rtol=1e-6)
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    m = F.multilabel_soft_margin_loss(fathom.tensor([[1000.0, -1000.0]]),
                                      fathom.tensor([[0.0, 1.0]]))
    assert float(m) == pytest.approx(1000.0)


def test_gaussian_nll_clamps_forward_only(torch):
    """var below eps is raised to eps in the value; its gradient is taken as if unclamped,
    as PyTorch does (a clamp under no_grad)."""
    x = np.array([0.5, -1.0, 2.0])
    v = np.array([1e-9, 0.5, 1e-12])
    fv = fathom.tensor(v, requires_grad=True)
    tv = torch.tensor(v, requires_grad=True)
    fo = F.gaussian_nll_loss(fathom.tensor(x), fathom.zeros(3, dtype=fathom.float64), fv,
                             eps=1e-3, reduction="sum")
    to = torch.nn.functional.gaussian_nll_loss(torch.tensor(x), torch.zeros(3, dtype=torch.float64),
                                               tv, eps=1e-3, reduction="sum")
    fo.backward()
    to.backward()
    np.testing.assert_allclose(float(fo), float(to.detach()), rtol=1e-12)
    np.testing.assert_allclose(fv.grad.numpy(), tv.grad.numpy(), rtol=1e-12)
    assert not np.any(v - fv.detach().numpy())  # var itself untouched


def test_triplet_margin_with_distance_loss_matches_torch(torch):
    rng = np.random.default_rng(4)
    a, p, n = (rng.standard_normal((5, 3)) for _ in range(3))

    def dist(nn_f):
        return lambda x1, x2: 1.0 - nn_f.cosine_similarity(x1, x2)

    for kw in [{}, {"swap": True, "margin": 0.3}]:
        for f_dist, t_dist in [(None, None), (dist(F), dist(torch.nn.functional))]:
            fo = F.triplet_margin_with_distance_loss(
                *(fathom.from_numpy(z) for z in (a, p, n)), distance_function=f_dist, **kw)
            to = torch.nn.functional.triplet_margin_with_distance_loss(
                *(torch.from_numpy(z) for z in (a, p, n)), distance_function=t_dist, **kw)
            np.testing.assert_allclose(float(fo), float(to), rtol=1e-12)


def _t(a, grad=True):
    return fathom.tensor(a, dtype=fathom.float64, requires_grad=grad)


def _composed_cases():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    s = rng.choice([-1.0, 1.0], 3)
    return [
        ("poisson", lambda a, b: F.poisson_nll_loss(a, b, full=True),
         (_t(x), _t(rng.uniform(1.5, 3, (3, 4))))),
        ("gaussian", lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True),
         (_t(x), _t(y), _t(rng.uniform(0.5, 2, (3, 1))))),
        ("cosine", lambda a, b: F.cosine_embedding_loss(a, b, fathom.tensor(s), margin=-0.5),
         (_t(x), _t(y))),
        ("ranking", lambda a, b: F.margin_ranking_loss(a, b, fathom.tensor(s), margin=0.5),
         (_t(x[:, 0]), _t(y[:, 0]))),
        ("hinge", lambda a: F.hinge_embedding_loss(a, fathom.tensor(np.sign(y)), margin=3.0),
         (_t(x),)),
        ("soft", lambda a: F.soft_margin_loss(a, fathom.tensor(np.sign(y))), (_t(x),)),
        ("mlsoft", lambda a, b: F.multilabel_soft_margin_loss(a, b), (_t(x), _t(y))),
        ("mlmargin", lambda a: F.multilabel_margin_loss(
            a, fathom.tensor([[3, 0, -1, 1], [1, -1, 2, 2], [0, 1, 2, -1]])), (_t(x),)),
        ("multimargin", lambda a: F.multi_margin_loss(a, fathom.tensor([0, 3, 1]), p=2,
                                                      margin=2.0), (_t(x),)),
        ("triplet", lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=3.0, p=3, swap=True),
         (_t(x), _t(y), _t(rng.standard_normal((3, 4))))),
    ]


@pytest.mark.parametrize("name,fn,inputs", _composed_cases(), ids=[c[0] for c in _composed_cases()])
def test_composed_losses_gradcheck_and_double_backward(name, fn, inputs):
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_multilabel_margin_counts_repeated_targets_like_torch(torch):
    x = np.array([[0.3, -0.2, 0.9, 0.1]])
    t = np.array([[2, 2, 0, -1]])
    fo = F.multilabel_margin_loss(fathom.tensor(x), fathom.tensor(t))
    to = torch.nn.functional.multilabel_margin_loss(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(float(fo), float(to), rtol=1e-12)


# --- CTCLoss ----------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("joined", [False, True])
def test_ctc_gradient_through_log_softmax_matches_torch(reduction, joined, torch):
    """Through log_softmax (how CTC is used) the logits' gradient equals PyTorch's."""
    rng = np.random.default_rng(5)
    T, N, C = 9, 4, 6
    logits = rng.standard_normal((T, N, C))
    tl = np.array([3, 0, 5, 2])
    il = np.array([9, 4, 9, 5])
    tg = rng.integers(1, C, (N, 5))
    tg[0, :3] = [2, 2, 3]  # a repeat needs a blank between
    if joined:
        tg = np.concatenate([tg[i, :k] for i, k in enumerate(tl)])
    fl = fathom.tensor(logits, requires_grad=True)
    tlg = torch.tensor(logits, requires_grad=True)
    fo = nn.CTCLoss(reduction=reduction)(F.log_softmax(fl, 2), fathom.tensor(tg),
                                         fathom.tensor(il), fathom.tensor(tl))
    to = torch.nn.CTCLoss(reduction=reduction)(torch.log_softmax(tlg, 2), torch.tensor(tg),
                                               torch.tensor(il), torch.tensor(tl))
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    w = rng.standard_normal(tuple(to.shape))
    (fo * fathom.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(fl.grad.numpy(), tlg.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_ctc_float32_lists_and_gradcheck(torch):
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((6, 2, 4)).astype(np.float32)
    tg = np.array([[1, 3, 1], [2, 0, 0]])
    fo = F.ctc_loss(F.log_softmax(fathom.from_numpy(logits), 2), fathom.tensor(tg), [6, 5],
                    [3, 1], blank=0)
    to = torch.nn.functional.ctc_loss(torch.log_softmax(torch.from_numpy(logits), 2),
                                      torch.tensor(tg), [6, 5], [3, 1], blank=0)
    assert fo.dtype == fathom.float32
    np.testing.assert_allclose(float(fo), float(to), rtol=1e-5)
    x = fathom.tensor(rng.standard_normal((5, 2, 3)), dtype=fathom.float64, requires_grad=True)

    def fn(x):
        return F.ctc_loss(F.log_softmax(x, 2), fathom.tensor([[1, 2], [2, 2]]), [5, 5], [2, 2],
                          reduction="sum")
    assert gradcheck(fn, (x,))


def test_ctc_impossible_alignment():
    lp = F.log_softmax(fathom.randn(3, 1, 3, dtype=fathom.float64, requires_grad=True), 2)
    tg = fathom.tensor([[1, 1]])  # 1, blank, 1 needs 3 frames; 2 given
    out = F.ctc_loss(lp, tg, [2], [2], reduction="none")
    assert math.isinf(float(out[0]))
    z = F.ctc_loss(lp, tg, [2], [2], reduction="sum", zero_infinity=True)
    assert float(z) == 0.0


def test_docstring_examples():
    import doctest
    result = doctest.testmod(nn.loss, extraglobs={"fathom": fathom, "nn": nn})
    assert result.failed == 0 and result.attempted > 0
