"""Layer cases for the loss modules: each loss x each reduction x its options.

inputs(rng) returns (input, target) (three tensors for the pair and triplet losses).
Float targets get gradients and are compared with PyTorch's too, except where PyTorch
has no derivative for them (grad_inputs=(0,)). Class weights are built in `make`
from fixed numbers, so both frameworks get the same buffer.
"""
import importlib

from . import LayerCase, np

REDUCTIONS = ("mean", "sum", "none")
N, C = 5, 4


def _lib(nn):
    """torch for torch.nn, fathom for fathom.nn."""
    return importlib.import_module(nn.__name__.split(".")[0])


def _vec(nn, values):
    lib = _lib(nn)
    return lib.tensor(values, dtype=lib.float64)


W = [0.5, 2.0, 1.0, 1.5]          # per-class weights for C = 4


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis):
    return np.log(_softmax(x, axis))


def case(name, make, inputs, **kw):
    return LayerCase(name, make, inputs, modes=("train",), **kw)


def each_reduction(name, build, inputs, **kw):
    """One case per reduction: build(nn, reduction) -> module."""
    return [case(f"{name}-{r}", (lambda nn, r=r: build(nn, r)), inputs, **kw)
            for r in REDUCTIONS]


# --- inputs ----------------------------------------------------------------------------

def pair(*shape, target_shape=None):
    return lambda rng: (rng.standard_normal(shape),
                        rng.standard_normal(target_shape or shape))


def class_idx(*shape, ignore=None):
    """Logits (N, C, ...) and int64 class indices; `ignore` is written into every
    third target."""
    def f(rng):
        x = rng.standard_normal(shape)
        tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        t = rng.integers(0, shape[1] if len(shape) > 1 else shape[0], tshape)
        if ignore is not None:
            t.reshape(-1)[::3] = ignore
        return x, t
    return f


def class_probs(*shape):
    return lambda rng: (rng.standard_normal(shape), _softmax(rng.standard_normal(shape), 1))


def log_probs(*shape, ignore=None):
    def f(rng):
        x, t = class_idx(*shape, ignore=ignore)(rng)
        return _log_softmax(x, 1 if len(shape) > 1 else 0), t
    return f


def probs_and_targets(*shape, hard=False):
    def f(rng):
        x = rng.uniform(0.02, 0.98, shape)
        t = rng.integers(0, 2, shape).astype(float) if hard else rng.uniform(0, 1, shape)
        return x, t
    return f


def logits_and_targets(*shape):
    return lambda rng: (rng.standard_normal(shape) * 2, rng.uniform(0, 1, shape))


def signs(*shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape)


CASES = []

# --- L1, MSE, SmoothL1, Huber -----------------------------------------------------------

for shape in ((N, C), (), (2, 3, 4)):
    tag = "x".join(map(str, shape)) or "scalar"
    CASES += each_reduction(f"L1Loss-{tag}", lambda nn, r: nn.L1Loss(reduction=r), pair(*shape))
    CASES += each_reduction(f"MSELoss-{tag}", lambda nn, r: nn.MSELoss(reduction=r),
                            pair(*shape))
for beta in (1.0, 0.5, 0.0):
    CASES += each_reduction(f"SmoothL1Loss-beta{beta}",
                            lambda nn, r, b=beta: nn.SmoothL1Loss(reduction=r, beta=b),
                            pair(N, C))
for delta in (1.0, 0.3, 2.5):
    CASES += each_reduction(f"HuberLoss-delta{delta}",
                            lambda nn, r, d=delta: nn.HuberLoss(reduction=r, delta=d),
                            pair(N, C))
CASES += [
    case("MSELoss-legacy-size_average", lambda nn: nn.MSELoss(size_average=False), pair(N, C)),
    case("L1Loss-legacy-reduce", lambda nn: nn.L1Loss(reduce=False), pair(N, C)),
    case("MSELoss-errors", lambda nn: nn.MSELoss(), pair(N, C),
         errors=[(pair(3, target_shape=(4,)), None, ["MSELoss", "(3,)", "(4,)"])]),
    case("HuberLoss-errors", lambda nn: nn.HuberLoss(), pair(N, C),
         errors=[(pair(2, 3, target_shape=(2, 4)), None, ["HuberLoss", "(2, 3)", "(2, 4)"])]),
]

# --- CrossEntropyLoss --------------------------------------------------------------------

for r in REDUCTIONS:
    CASES += [
        case(f"CrossEntropyLoss-{r}", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r),
             class_idx(N, C)),
        case(f"CrossEntropyLoss-weight-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), reduction=r), class_idx(N, C)),
        case(f"CrossEntropyLoss-ignore_index-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(ignore_index=1, reduction=r),
             class_idx(N, C, ignore=1)),
        case(f"CrossEntropyLoss-ignore-100-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(reduction=r), class_idx(N, C, ignore=-100)),
        case(f"CrossEntropyLoss-weight-ignore-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), ignore_index=7, reduction=r),
             class_idx(N, C, ignore=7)),
        case(f"CrossEntropyLoss-smoothing-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
             class_idx(N, C)),
        case(f"CrossEntropyLoss-smoothing-weight-ignore-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), ignore_index=0, reduction=r,
                                                 label_smoothing=0.25),
             class_idx(N, C, ignore=0)),
        case(f"CrossEntropyLoss-probs-{r}", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r),
             class_probs(N, C)),
        case(f"CrossEntropyLoss-probs-weight-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), reduction=r), class_probs(N, C)),
        case(f"CrossEntropyLoss-probs-smoothing-weight-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), reduction=r,
                                                 label_smoothing=0.2),
             class_probs(N, C)),
        case(f"CrossEntropyLoss-NCHW-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), ignore_index=2, reduction=r),
             class_idx(2, C, 3, 2, ignore=2)),
        case(f"CrossEntropyLoss-NCL-probs-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
             class_probs(2, C, 3)),
        case(f"CrossEntropyLoss-unbatched-{r}",
             lambda nn, r=r: nn.CrossEntropyLoss(_vec(nn, W), reduction=r), class_idx(C)),
    ]
CASES += [
    case("CrossEntropyLoss-legacy", lambda nn: nn.CrossEntropyLoss(size_average=False),
         class_idx(N, C)),
    case("CrossEntropyLoss-errors", lambda nn: nn.CrossEntropyLoss(), class_idx(N, C),
         errors=[
             (lambda rng: (rng.standard_normal((4, 3)), np.array([0, 1, 2, 0, 1])), None,
              ["CrossEntropyLoss", "(4, 3)", "(5,)"]),
             (lambda rng: (rng.standard_normal((4, 3)), np.array([0, 1, 3, 0])), None,
              ["CrossEntropyLoss", "3", "out of bounds"]),
             (lambda rng: (rng.standard_normal((4, 3)), np.zeros((4, 3), np.int64)), None,
              ["CrossEntropyLoss", "(4, 3)", "int64"]),
             (lambda rng: (rng.standard_normal((2, 3, 4)), np.zeros((2, 5), np.int64)), None,
              ["CrossEntropyLoss", "(2, 3, 4)", "(2, 5)"]),
         ]),
    case("CrossEntropyLoss-weight-errors",
         lambda nn: nn.CrossEntropyLoss(_vec(nn, [1.0, 2.0, 3.0])), class_idx(N, 3),
         errors=[(class_idx(N, C), None, ["CrossEntropyLoss", "(4,)", "(3,)"])]),
]

# --- NLLLoss ----------------------------------------------------------------------------

for r in REDUCTIONS:
    CASES += [
        case(f"NLLLoss-{r}", lambda nn, r=r: nn.NLLLoss(reduction=r), log_probs(N, C)),
        case(f"NLLLoss-weight-ignore-{r}",
             lambda nn, r=r: nn.NLLLoss(_vec(nn, W), ignore_index=3, reduction=r),
             log_probs(N, C, ignore=3)),
        case(f"NLLLoss-NCHW-{r}", lambda nn, r=r: nn.NLLLoss(_vec(nn, W), reduction=r),
             log_probs(2, C, 3, 2, ignore=-100)),
        case(f"NLLLoss-unbatched-{r}", lambda nn, r=r: nn.NLLLoss(reduction=r), log_probs(C)),
    ]
CASES += [
    case("NLLLoss-legacy", lambda nn: nn.NLLLoss(None, True, -100, False), log_probs(N, C)),
    case("NLLLoss-errors", lambda nn: nn.NLLLoss(), log_probs(N, C),
         errors=[(lambda rng: (rng.standard_normal((4, 3)), np.zeros(6, np.int64)), None,
                  ["NLLLoss", "(4, 3)", "(6,)"]),
                 (lambda rng: (rng.standard_normal((4, 3)), np.full(4, -1)), None,
                  ["NLLLoss", "-1", "out of bounds"])]),
]

# --- BCELoss, BCEWithLogitsLoss ---------------------------------------------------------

for r in REDUCTIONS:
    CASES += [
        case(f"BCELoss-{r}", lambda nn, r=r: nn.BCELoss(reduction=r), probs_and_targets(N, C)),
        case(f"BCELoss-hard-{r}", lambda nn, r=r: nn.BCELoss(reduction=r),
             probs_and_targets(N, C, hard=True)),
        case(f"BCELoss-weight-{r}", lambda nn, r=r: nn.BCELoss(_vec(nn, W), reduction=r),
             probs_and_targets(N, C)),
        case(f"BCELoss-3d-{r}", lambda nn, r=r: nn.BCELoss(reduction=r),
             probs_and_targets(2, 3, 4)),
        case(f"BCEWithLogitsLoss-{r}", lambda nn, r=r: nn.BCEWithLogitsLoss(reduction=r),
             logits_and_targets(N, C)),
        case(f"BCEWithLogitsLoss-weight-{r}",
             lambda nn, r=r: nn.BCEWithLogitsLoss(_vec(nn, W), reduction=r),
             logits_and_targets(N, C)),
        case(f"BCEWithLogitsLoss-pos_weight-{r}",
             lambda nn, r=r: nn.BCEWithLogitsLoss(reduction=r, pos_weight=_vec(nn, W)),
             logits_and_targets(N, C)),
        case(f"BCEWithLogitsLoss-both-3d-{r}",
             lambda nn, r=r: nn.BCEWithLogitsLoss(_vec(nn, [[1.0], [0.5], [2.0]]),
                                                  reduction=r, pos_weight=_vec(nn, W)),
             logits_and_targets(2, 3, C)),
    ]
CASES += [
    case("BCELoss-errors", lambda nn: nn.BCELoss(), probs_and_targets(N, C),
         errors=[(lambda rng: (rng.uniform(0, 1, (4, 5)), rng.uniform(0, 1, (4, 6))), None,
                  ["BCELoss", "(4, 5)", "(4, 6)"]),
                 (lambda rng: (rng.standard_normal((4, 5)) + 3, rng.uniform(0, 1, (4, 5))),
                  None, ["BCELoss", "between 0 and 1"])]),
    case("BCEWithLogitsLoss-errors", lambda nn: nn.BCEWithLogitsLoss(), logits_and_targets(N, C),
         errors=[(lambda rng: (rng.standard_normal((4, 5)), rng.uniform(0, 1, (5, 4))), None,
                  ["BCEWithLogitsLoss", "(4, 5)", "(5, 4)"])]),
]

# --- KLDivLoss --------------------------------------------------------------------------


def kl_inputs(log_target, zeros=False):
    def f(rng):
        x = _log_softmax(rng.standard_normal((N, C)), 1)
        t = _softmax(rng.standard_normal((N, C)), 1)
        if zeros:
            t[::2, 1] = 0.0
        return x, (np.log(t) if log_target else t)
    return f


for r in REDUCTIONS + ("batchmean",):
    for lt in (False, True):
        CASES.append(case(f"KLDivLoss-log_target{lt}-{r}",
                          lambda nn, r=r, lt=lt: nn.KLDivLoss(reduction=r, log_target=lt),
                          kl_inputs(lt)))
# target zeros: 0 log 0 = 0; PyTorch's target gradient there is nan, so compare input only
CASES.append(case("KLDivLoss-zero-targets", lambda nn: nn.KLDivLoss(reduction="sum"),
                  kl_inputs(False, zeros=True), grad_inputs=(0,)))

# --- PoissonNLLLoss, GaussianNLLLoss ----------------------------------------------------


def poisson_inputs(log_input, low=0):
    def f(rng):
        x = rng.standard_normal((N, C)) if log_input else rng.uniform(0.1, 3.0, (N, C))
        return x, rng.poisson(2.0, (N, C)).astype(float) + low
    return f


for r in REDUCTIONS:
    for li in (True, False):
        for full in (False, True):
            # PyTorch's target gradient is nan at target 0 with full: keep targets >= 1 there
            CASES.append(case(
                f"PoissonNLLLoss-log{li}-full{full}-{r}",
                lambda nn, r=r, li=li, full=full: nn.PoissonNLLLoss(li, full, reduction=r),
                poisson_inputs(li, low=1 if full else 0)))
CASES += [
    case("PoissonNLLLoss-full-zero-targets", lambda nn: nn.PoissonNLLLoss(full=True),
         poisson_inputs(True), grad_inputs=(0,)),
    case("PoissonNLLLoss-eps", lambda nn: nn.PoissonNLLLoss(False, eps=0.5),
         poisson_inputs(False)),
]


def gauss(var_shape, tiny=False):
    def f(rng):
        x, t = rng.standard_normal((N, C)), rng.standard_normal((N, C))
        if isinstance(var_shape, float):
            return x, t, var_shape
        v = rng.uniform(0.2, 2.0, var_shape)
        if tiny:
            v.reshape(-1)[::3] = 1e-9  # below eps: clamped in the forward only
        return x, t, v
    return f


for r in REDUCTIONS:
    CASES += [
        case(f"GaussianNLLLoss-{r}", lambda nn, r=r: nn.GaussianNLLLoss(reduction=r),
             gauss((N, C))),
        case(f"GaussianNLLLoss-full-{r}",
             lambda nn, r=r: nn.GaussianNLLLoss(full=True, reduction=r), gauss((N,))),
        case(f"GaussianNLLLoss-shared-{r}", lambda nn, r=r: nn.GaussianNLLLoss(reduction=r),
             gauss((N, 1))),
        case(f"GaussianNLLLoss-float-var-{r}", lambda nn, r=r: nn.GaussianNLLLoss(reduction=r),
             gauss(0.7)),
        case(f"GaussianNLLLoss-clamped-{r}",
             lambda nn, r=r: nn.GaussianNLLLoss(eps=1e-3, reduction=r), gauss((N, C), tiny=True)),
    ]
CASES.append(case(
    "GaussianNLLLoss-errors", lambda nn: nn.GaussianNLLLoss(), gauss((N, C)),
    errors=[(lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                          rng.uniform(1, 2, (3, 4))), None,
             ["GaussianNLLLoss", "(3, 4)", "(4, 3)"]),
            (lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                          -rng.uniform(1, 2, (4, 3))), None, ["GaussianNLLLoss", "negative"])]))

# --- pair and margin losses -------------------------------------------------------------


def cos_inputs(batched=True, int_target=False):
    def f(rng):
        shape = (N, 3) if batched else (3,)
        t = rng.choice([-1, 1], shape[:-1])
        return (rng.standard_normal(shape), rng.standard_normal(shape),
                t if int_target else t.astype(float))
    return f


for r in REDUCTIONS:
    for margin in (0.0, 0.3, -0.2):
        CASES.append(case(
            f"CosineEmbeddingLoss-m{margin}-{r}",
            lambda nn, r=r, m=margin: nn.CosineEmbeddingLoss(m, reduction=r), cos_inputs()))
    CASES += [
        case(f"CosineEmbeddingLoss-int-target-{r}",
             lambda nn, r=r: nn.CosineEmbeddingLoss(0.1, reduction=r),
             cos_inputs(int_target=True)),
        case(f"CosineEmbeddingLoss-unbatched-{r}",
             lambda nn, r=r: nn.CosineEmbeddingLoss(reduction=r), cos_inputs(batched=False)),
    ]
    for margin in (0.0, 0.5):
        CASES.append(case(
            f"MarginRankingLoss-m{margin}-{r}",
            lambda nn, r=r, m=margin: nn.MarginRankingLoss(m, reduction=r),
            lambda rng: (rng.standard_normal(N), rng.standard_normal(N), signs(N)(rng))))
        CASES.append(case(
            f"HingeEmbeddingLoss-m{margin + 1}-{r}",
            lambda nn, r=r, m=margin + 1: nn.HingeEmbeddingLoss(m, reduction=r),
            lambda rng: (rng.standard_normal((N, C)), signs(N, C)(rng))))
    CASES += [
        case(f"SoftMarginLoss-{r}", lambda nn, r=r: nn.SoftMarginLoss(reduction=r),
             lambda rng: (rng.standard_normal((N, C)) * 3, signs(N, C)(rng)), grad_inputs=(0,)),
        case(f"MultiLabelSoftMarginLoss-{r}",
             lambda nn, r=r: nn.MultiLabelSoftMarginLoss(reduction=r),
             lambda rng: (rng.standard_normal((N, C)), rng.integers(0, 2, (N, C)) * 1.0)),
        case(f"MultiLabelSoftMarginLoss-weight-{r}",
             lambda nn, r=r: nn.MultiLabelSoftMarginLoss(_vec(nn, W), reduction=r),
             lambda rng: (rng.standard_normal((N, C)), rng.uniform(0, 1, (N, C)))),
    ]
CASES += [
    case("CosineEmbeddingLoss-errors", lambda nn: nn.CosineEmbeddingLoss(), cos_inputs(),
         errors=[(lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                               np.ones(5)), None, ["CosineEmbeddingLoss", "(4, 3)", "(5,)"]),
                 (lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                               np.ones((4, 1))), None, ["CosineEmbeddingLoss", "(4, 1)"])]),
    case("MarginRankingLoss-errors", lambda nn: nn.MarginRankingLoss(),
         lambda rng: (rng.standard_normal(N), rng.standard_normal(N), signs(N)(rng)),
         errors=[(lambda rng: (rng.standard_normal(4), rng.standard_normal(4), np.ones((4, 1))),
                  None, ["MarginRankingLoss", "(4,)", "(4, 1)"])]),
    case("SoftMarginLoss-errors", lambda nn: nn.SoftMarginLoss(),
         lambda rng: (rng.standard_normal(N), signs(N)(rng)), grad_inputs=(0,),
         errors=[(lambda rng: (rng.standard_normal(4), np.ones((3, 4))), None,
                  ["SoftMarginLoss", "(4,)", "(3, 4)"])]),
]


def multilabel_targets(shape):
    """Listed classes first, then -1, then junk that must be ignored; row 0 repeats a
    class (PyTorch counts it twice), the last row lists nothing."""
    def f(rng):
        x = rng.standard_normal(shape)
        rows = x.reshape(-1, shape[-1])
        t = rng.integers(0, shape[-1], rows.shape)
        for i in range(len(t)):
            k = rng.integers(1, shape[-1])
            t[i, :k] = rng.permutation(shape[-1])[:k]
            t[i, k] = -1
        t[0, :3] = [1, 1, -1]
        if len(t) > 1:
            t[-1, 0] = -1
        return x, t.reshape(shape)
    return f


for r in REDUCTIONS:
    CASES += [
        case(f"MultiLabelMarginLoss-{r}", lambda nn, r=r: nn.MultiLabelMarginLoss(reduction=r),
             multilabel_targets((N, C))),
        case(f"MultiLabelMarginLoss-unbatched-{r}",
             lambda nn, r=r: nn.MultiLabelMarginLoss(reduction=r), multilabel_targets((C,))),
    ]
    for p in (1, 2):
        for margin in (1.0, 0.5):
            CASES.append(case(f"MultiMarginLoss-p{p}-m{margin}-{r}",
                              lambda nn, r=r, p=p, m=margin: nn.MultiMarginLoss(p, m, reduction=r),
                              class_idx(N, C)))
        CASES.append(case(f"MultiMarginLoss-p{p}-weight-{r}",
                          lambda nn, r=r, p=p: nn.MultiMarginLoss(p, weight=_vec(nn, W),
                                                                  reduction=r),
                          class_idx(N, C)))
    CASES.append(case(f"MultiMarginLoss-unbatched-{r}",
                      lambda nn, r=r: nn.MultiMarginLoss(reduction=r), class_idx(C)))
CASES += [
    case("MultiLabelMarginLoss-errors", lambda nn: nn.MultiLabelMarginLoss(),
         multilabel_targets((N, C)),
         errors=[(lambda rng: (rng.standard_normal((4, 3)), np.zeros((4, 2), np.int64)), None,
                  ["MultiLabelMarginLoss", "(4, 3)", "(4, 2)"]),
                 (lambda rng: (rng.standard_normal((2, 3)), np.array([[0, 3, -1]] * 2)), None,
                  ["MultiLabelMarginLoss", "3", "out of bounds"])]),
    case("MultiMarginLoss-errors", lambda nn: nn.MultiMarginLoss(), class_idx(N, C),
         errors=[(lambda rng: (rng.standard_normal((4, 3)), np.zeros(5, np.int64)), None,
                  ["MultiMarginLoss", "(4, 3)", "(5,)"]),
                 (lambda rng: (rng.standard_normal((4, 3)), np.array([0, 1, 2, 3])), None,
                  ["MultiMarginLoss", "3", "out of bounds"])]),
]


def triplets(*shape):
    return lambda rng: tuple(rng.standard_normal(shape) for _ in range(3))


for r in REDUCTIONS:
    CASES += [
        case(f"TripletMarginLoss-{r}", lambda nn, r=r: nn.TripletMarginLoss(reduction=r),
             triplets(N, 3)),
        case(f"TripletMarginLoss-p1-swap-{r}",
             lambda nn, r=r: nn.TripletMarginLoss(0.5, p=1, swap=True, reduction=r),
             triplets(N, 3)),
        case(f"TripletMarginLoss-p3-m2-{r}",
             lambda nn, r=r: nn.TripletMarginLoss(2.0, p=3.0, eps=1e-3, reduction=r),
             triplets(N, 3)),
        case(f"TripletMarginLoss-unbatched-{r}",
             lambda nn, r=r: nn.TripletMarginLoss(swap=True, reduction=r), triplets(3)),
    ]
CASES.append(case("TripletMarginLoss-errors", lambda nn: nn.TripletMarginLoss(), triplets(N, 3),
                  errors=[(lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                                        rng.standard_normal(3)), None,
                           ["TripletMarginLoss", "(4, 3)", "(3,)"])]))

# --- CTCLoss ----------------------------------------------------------------------------
# Outputs only (grad_inputs=()): PyTorch's gradient on log_probs is exp(log_probs) minus
# the occupancy, Fathom's the true derivative; through log_softmax they agree, which
# tests/test_losses.py checks.


def ctc_inputs(joined=False, unbatched=False, blank=0, impossible=False):
    def f(rng):
        T, n, c = 7, 3, 5
        lp = _log_softmax(rng.standard_normal((T, n, c)), 2)
        labels = [k for k in range(c) if k != blank]
        tg = rng.choice(labels, (n, 4))
        tl = np.array([3, 0, 4])
        il = np.array([7, 5, 6])
        if impossible:
            tg[2] = labels[0]  # 4 repeats need 7 frames; only 6 given
        if unbatched:
            return lp[:, 0], tg[0, :3], np.array(7), np.array(3)
        if joined:
            tg = np.concatenate([tg[i, :k] for i, k in enumerate(tl)])
        return lp, tg, il, tl
    return f


for r in REDUCTIONS:
    CASES += [
        case(f"CTCLoss-{r}", lambda nn, r=r: nn.CTCLoss(reduction=r), ctc_inputs(),
             grad_inputs=()),
        case(f"CTCLoss-joined-{r}", lambda nn, r=r: nn.CTCLoss(reduction=r),
             ctc_inputs(joined=True), grad_inputs=()),
        case(f"CTCLoss-blank4-{r}", lambda nn, r=r: nn.CTCLoss(blank=4, reduction=r),
             ctc_inputs(blank=4), grad_inputs=()),
        case(f"CTCLoss-unbatched-{r}", lambda nn, r=r: nn.CTCLoss(reduction=r),
             ctc_inputs(unbatched=True), grad_inputs=()),
        case(f"CTCLoss-impossible-{r}", lambda nn, r=r: nn.CTCLoss(reduction=r),
             ctc_inputs(impossible=True), grad_inputs=()),
        case(f"CTCLoss-zero_infinity-{r}",
             lambda nn, r=r: nn.CTCLoss(reduction=r, zero_infinity=True),
             ctc_inputs(impossible=True), grad_inputs=()),
    ]
CASES.append(case(
    "CTCLoss-errors", lambda nn: nn.CTCLoss(), ctc_inputs(), grad_inputs=(),
    errors=[(lambda rng: (rng.standard_normal((7, 3, 5)), np.ones((2, 4), np.int64),
                          np.array([7, 7, 7]), np.array([2, 2, 2])), None,
             ["CTCLoss", "(2, 4)", "(7, 3, 5)"]),
            (lambda rng: (rng.standard_normal((7, 3, 5)), np.ones((3, 4), np.int64),
                          np.array([7, 8, 7]), np.array([2, 2, 2])), None,
             ["CTCLoss", "input_lengths", "7"]),
            (lambda rng: (rng.standard_normal((7, 3, 5)), np.zeros((3, 4), np.int64),
                          np.array([7, 7, 7]), np.array([2, 2, 2])), None,
             ["CTCLoss", "blank"])]))
