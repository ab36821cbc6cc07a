"""fathom.metrics: functional forms against scikit-learn (skipped without it), streaming
forms against the functional ones on random batch splits, inputs, names and errors."""
import doctest
import warnings

import numpy as np
import pytest

import fathom
from fathom import metrics as M
from fathom.errors import ShapeError
from fathom.metrics import functional as F

# Our metrics never warn (zero division gives 0 silently), so any warning is a failure;
# scikit-learn's own warnings (single label, undefined scores) are silenced in `sk`.
pytestmark = pytest.mark.filterwarnings("error")

SEEDS = range(40)


class _Quiet:
    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        fn = getattr(self._module, name)

        def call(*args, **kwargs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*args, **kwargs)
        return call


@pytest.fixture
def sk():
    return _Quiet(pytest.importorskip("sklearn.metrics"))


def softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def classification_case(seed):
    """Random labels, often with classes missing from target or preds, and logits whose
    argmax are the predictions (right about half the time)."""
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 7))
    n = int(rng.integers(1, 40))
    present = rng.choice(c, size=int(rng.integers(1, c + 1)), replace=False)
    target = rng.choice(present, n)
    logits = rng.normal(size=(n, c))
    right = rng.random(n) < 0.5
    logits[right, target[right]] += 5.0
    return c, logits, logits.argmax(1), target


def split(rng, n, parts=4):
    """Random cut points (empty batches included) for streaming tests."""
    cuts = np.sort(rng.integers(0, n + 1, size=parts - 1))
    return list(zip(np.r_[0, cuts], np.r_[cuts, n]))


# --- classification vs scikit-learn ---------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_classification_matches_sklearn(sk, seed):
    c, logits, preds, target = classification_case(seed)
    scores = logits if c >= 2 else preds  # (N, 1) would read as binary scores
    assert M.accuracy(scores, target) == sk.accuracy_score(target, preds)
    assert M.accuracy(preds, target) == sk.accuracy_score(target, preds)
    labels = np.union1d(target, preds)
    for name, ours, ref in (("precision", M.precision, sk.precision_score),
                            ("recall", M.recall, sk.recall_score),
                            ("f1", M.f1_score, sk.f1_score)):
        for average in ("macro", "micro", "weighted"):
            want = ref(target, preds, average=average, zero_division=0)
            got = ours(scores, target, average=average)
            assert isinstance(got, float)
            assert got == pytest.approx(want, abs=1e-12), (name, average)
            # num_classes given: every class counts, as sklearn's labels=range(c)
            want = ref(target, preds, average=average, labels=range(c), zero_division=0)
            got = ours(scores, target, average=average, num_classes=c)
            assert got == pytest.approx(want, abs=1e-12), (name, average, "num_classes")
        per_class = ours(scores, target, average=None)
        np.testing.assert_allclose(per_class[labels],
                                   ref(target, preds, average=None, zero_division=0))
        if labels.max() <= 1:
            for pos_label in (0, 1):
                want = ref(target, preds, average="binary", pos_label=pos_label,
                           zero_division=0)
                got = ours(scores, target, pos_label=pos_label)
                assert got == pytest.approx(want, abs=1e-12), (name, "binary", pos_label)
    np.testing.assert_array_equal(M.confusion_matrix(scores, target, num_classes=c),
                                  sk.confusion_matrix(target, preds, labels=range(c)))
    assert M.classification_report(scores, target) == \
        sk.classification_report(target, preds, zero_division=0)
    names = [f"class {i}" for i in range(c)]
    assert M.classification_report(preds, target, class_names=names, digits=3) == \
        sk.classification_report(target, preds, labels=range(c), target_names=names,
                                 digits=3, zero_division=0)


@pytest.mark.parametrize("seed", range(20))
def test_top_k_accuracy_matches_sklearn(sk, seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(3, 9))
    n = int(rng.integers(1, 50))
    scores, target = rng.normal(size=(n, c)), rng.integers(0, c, n)
    for k in range(1, c + 1):
        if k == c:
            assert M.accuracy(scores, target, top_k=k) == 1.0  # sklearn warns here
            continue
        want = sk.top_k_accuracy_score(target, scores, k=k, labels=range(c))
        assert M.accuracy(scores, target, top_k=k) == pytest.approx(want)


def test_top_k_ties_break_toward_lower_index_like_argmax():
    scores = np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 2.0]])
    assert M.accuracy(scores, [0, 2], top_k=1) == M.accuracy(scores.argmax(1), [0, 2]) == 0.5
    assert M.accuracy(scores, [2, 2], top_k=2) == 0.5  # row 0: index 2 is third among ties


def test_binary_scores_forms_agree(sk):
    rng = np.random.default_rng(1)
    target = rng.integers(0, 2, 100)
    p1 = rng.random(100)
    logits = rng.normal(size=(100, 2))
    want = sk.f1_score(target, (p1 > 0.5).astype(int))
    assert M.f1_score(p1, target) == pytest.approx(want)  # probabilities of class 1
    assert M.f1_score(np.stack([1 - p1, p1], 1), target) == pytest.approx(want)  # (N, 2)
    assert M.f1_score(p1[:, None], target) == pytest.approx(want)  # (N, 1)
    z = logits[:, 1] - logits[:, 0]  # logits (N,) are thresholded at 0
    assert M.accuracy(z, target) == M.accuracy(logits, target) == \
        sk.top_k_accuracy_score(target, z, k=1)


def test_single_class_and_absent_classes_give_zero_silently():
    assert M.precision([0, 0, 0], [0, 0, 0]) == 0.0  # class 1 never appears
    assert M.precision([0, 0, 0], [0, 0, 0], pos_label=0) == 1.0
    assert M.f1_score([0, 0], [1, 1], average="macro") == 0.0
    np.testing.assert_array_equal(M.recall([2, 2], [0, 0], average=None), [0, 0, 0])
    assert M.f1_score([1], [1], average="weighted") == 1.0
    report = M.classification_report([0, 0], [0, 0])
    assert "accuracy" in report and report.count("\n") == 7


# --- ROC --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(40))
def test_roc_curve_and_auc_match_sklearn(sk, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    target = rng.integers(0, 2, n)
    target[:2] = [0, 1]  # both classes present
    scores = rng.random(n) + 0.3 * target
    if seed % 2:  # many ties
        scores = np.round(scores, 1)
    fpr, tpr, thr = M.roc_curve(scores, target)
    want = sk.roc_curve(target, scores)
    for got, ref in zip((fpr, tpr, thr), want):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert thr[0] == np.inf
    assert M.roc_auc(scores, target) == pytest.approx(sk.roc_auc_score(target, scores),
                                                      abs=1e-12)
    # the same from (N, 2) probabilities, from logits, and for pos_label=0
    p1 = (scores + 0.1) / 1.5  # in (0, 1), same order
    two = np.stack([1 - p1, p1], 1)
    assert M.roc_auc(two, target) == pytest.approx(sk.roc_auc_score(target, scores))
    assert M.roc_auc(np.log(two), target) == pytest.approx(sk.roc_auc_score(target, scores))
    for got, ref in zip(M.roc_curve(-scores, target, pos_label=0),
                        sk.roc_curve(target, -scores, pos_label=0)):
        np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_multiclass_roc_auc_matches_sklearn(sk, seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(3, 7))
    n = int(rng.integers(c, 80))
    target = np.r_[np.arange(c), rng.integers(0, c, n - c)]  # every class present
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), target] += rng.random()
    if seed % 2:
        logits = np.round(logits, 1)
    probs = softmax(logits)
    for average in ("macro", "weighted", "micro", None):
        want = sk.roc_auc_score(target, probs, multi_class="ovr", average=average)
        np.testing.assert_allclose(M.roc_auc(probs, target, average=average), want,
                                   atol=1e-12)
        # logits are turned into probabilities first
        np.testing.assert_allclose(M.roc_auc(logits, target, average=average), want,
                                   atol=1e-9)


def test_roc_edge_cases():
    # a class absent from target is left out of the macro average (sklearn refuses)
    probs = softmax(np.random.default_rng(0).normal(size=(6, 3)))
    per_class = M.roc_auc(probs, [0, 1, 0, 1, 0, 1], average=None)
    assert np.isnan(per_class[2]) and M.roc_auc(probs, [0, 1, 0, 1, 0, 1]) == \
        pytest.approx(per_class[:2].mean())
    # only one class in target: no negatives, fpr is NaN as in sklearn, and no warning
    fpr, tpr, thr = M.roc_curve([0.2, 0.4], [1, 1])
    assert np.isnan(fpr).all() and tpr.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match=r"roc_auc: target holds only class \[1\]"):
        M.roc_auc([0.2, 0.4], [1, 1])
    assert M.roc_auc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5  # all tied
    with pytest.raises(ValueError, match="NaN or infinity"):
        M.roc_auc([0.5, np.nan], [0, 1])
    with pytest.raises(ValueError, match="multi_class must be 'ovr'"):
        M.roc_auc(probs, [0, 1, 2, 0, 1, 2], multi_class="ovo")


# --- regression -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(30))
def test_regression_matches_sklearn(sk, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 50))
    shape = (n,) if seed % 3 == 0 else (n, int(rng.integers(1, 4)))
    target = rng.normal(size=shape) * rng.integers(1, 100)
    preds = target + rng.normal(size=shape)
    if seed % 5 == 1 and len(shape) == 2:  # constant target columns: one perfect, one not
        target[:, 0] = 3.0
        preds[:, 0] = 3.0 if seed % 2 else preds[:, 0]
    for multioutput in ("uniform_average", "raw_values"):
        np.testing.assert_allclose(M.mean_squared_error(preds, target, multioutput),
                                   sk.mean_squared_error(target, preds,
                                                         multioutput=multioutput), rtol=1e-12)
        np.testing.assert_allclose(M.mean_absolute_error(preds, target, multioutput),
                                   sk.mean_absolute_error(target, preds,
                                                          multioutput=multioutput),
                                   rtol=1e-12)
    for multioutput in ("uniform_average", "raw_values", "variance_weighted"):
        np.testing.assert_allclose(M.r2_score(preds, target, multioutput),
                                   sk.r2_score(target, preds, multioutput=multioutput),
                                   rtol=1e-12, atol=1e-12)
    assert isinstance(M.r2_score(preds, target), float)


def test_regression_shapes_and_small_inputs():
    assert M.mean_squared_error([[1.0], [2.0]], [1.0, 4.0]) == 2.0  # (N, 1) with (N,)
    assert np.isnan(M.r2_score([1.0], [2.0]))  # undefined for one sample, as sklearn
    assert M.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    with pytest.raises(ShapeError, match=r"got preds shape \(3, 2\) and target shape \(3,\)"):
        M.mean_absolute_error(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="got no samples"):
        M.mean_squared_error([], [])


# --- streaming == functional on the concatenation ---------------------------------------
def _stream(metric, preds, target, rng, as_tensor=True):
    for a, b in split(rng, len(target)):
        p, t = preds[a:b], target[a:b]
        if as_tensor:
            p = fathom.tensor(p, requires_grad=p.dtype.kind == "f")
            t = fathom.tensor(t)
        metric.update(p, t)
    return metric.compute()


@pytest.mark.parametrize("seed", range(25))
def test_streaming_classification_equals_functional(seed):
    rng = np.random.default_rng(seed)
    c, logits, preds, target = classification_case(seed + 1000)
    scores = logits if c >= 2 else preds
    assert _stream(M.Accuracy(), scores, target, rng) == M.accuracy(scores, target)
    if c >= 2:
        k = int(rng.integers(1, c + 1))
        assert _stream(M.Accuracy(top_k=k), scores, target, rng) == \
            M.accuracy(scores, target, top_k=k)
    np.testing.assert_array_equal(_stream(M.ConfusionMatrix(), preds, target, rng),
                                  M.confusion_matrix(preds, target))
    averages = ["macro", "micro", "weighted"] + (["binary"] if c <= 2 else [])
    for cls, fn in ((M.Precision, M.precision), (M.Recall, M.recall), (M.F1Score, M.f1_score)):
        for average in averages:
            for num_classes in (None, c):
                got = _stream(cls(average, num_classes), scores, target, rng)
                assert got == fn(scores, target, average, num_classes)
        np.testing.assert_array_equal(_stream(cls(None), preds, target, rng),
                                      fn(preds, target, None))


@pytest.mark.parametrize("seed", range(10))
def test_streaming_auc_equals_functional(seed):
    rng = np.random.default_rng(seed)
    n = 60
    target = np.r_[0, 1, 2, rng.integers(0, 3, n - 3)]
    probs = softmax(rng.normal(size=(n, 3)))
    for average in ("macro", "weighted", "micro"):
        assert _stream(M.ROCAUC(average), probs, target, rng) == \
            pytest.approx(M.roc_auc(probs, target, average), abs=1e-15)
    binary = (target == 1).astype(int)
    m = M.ROCAUC()
    assert _stream(m, probs[:, 1], binary, rng, as_tensor=False) == \
        M.roc_auc(probs[:, 1], binary)
    assert m.compute() == M.roc_auc(probs[:, 1], binary)  # compute twice: same answer


@pytest.mark.parametrize("seed", range(15))
def test_streaming_regression_equals_functional(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    shape = (n,) if seed % 2 else (n, 3)
    # a large offset: a naive sum-of-squares formula for SS_tot would lose digits here
    target = 1e6 + rng.normal(size=shape).astype(np.float32)
    preds = target + rng.normal(size=shape)
    for cls, fn in ((M.MeanSquaredError, M.mean_squared_error),
                    (M.MeanAbsoluteError, M.mean_absolute_error), (M.R2Score, M.r2_score)):
        got = _stream(cls(), preds, target, rng)
        assert got == pytest.approx(fn(preds, target), rel=1e-9)
    got = _stream(M.R2Score("raw_values"), preds, target, rng)
    np.testing.assert_allclose(got, M.r2_score(preds, target, "raw_values"), rtol=1e-9)


def test_mean_and_reset():
    m = M.Mean("loss")
    m.update(fathom.tensor(2.0, requires_grad=True))
    m.update(np.array([4.0, 6.0]), weight=2)
    assert m.compute() == pytest.approx((2 + 8 + 12) / 5) and m.name == "loss"
    m.reset()
    with pytest.raises(RuntimeError, match=r"Mean\(name='loss'\)\.compute\(\): no samples"):
        m.compute()


@pytest.mark.parametrize("make", [lambda: M.Accuracy(top_k=2), lambda: M.F1Score("macro"),
                                  lambda: M.ConfusionMatrix(), lambda: M.ROCAUC(),
                                  lambda: M.MeanSquaredError(), lambda: M.R2Score(),
                                  lambda: M.Mean()])
def test_state_dict_resumes_mid_epoch(make, tmp_path):
    rng = np.random.default_rng(0)
    scores, target = softmax(rng.normal(size=(40, 3))), np.r_[0, 1, 2, rng.integers(0, 3, 37)]
    if isinstance(make(), (M.MeanSquaredError, M.R2Score, M.Mean)):
        scores, target = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    args = (lambda a, b: (scores[a:b],)) if isinstance(make(), M.Mean) else \
        (lambda a, b: (scores[a:b], target[a:b]))
    whole = make()
    whole.update(*args(0, 40))
    first = make()
    first.update(*args(0, 25))
    fathom.save(first.state_dict(), tmp_path / "m.safetensors")
    second = make()
    second.load_state_dict(fathom.load(tmp_path / "m.safetensors"))
    second.update(*args(25, 40))
    np.testing.assert_allclose(second.compute(), whole.compute(), rtol=1e-12)
    assert type(second.compute()) is type(whole.compute())
    with pytest.raises(KeyError, match="missing keys"):
        make().load_state_dict({})


def test_streaming_keeps_small_state():
    m = M.F1Score("macro")
    for _ in range(5):
        m.update(np.random.default_rng(0).normal(size=(1000, 4)), np.zeros(1000, int))
    assert m.matrix.shape == (4, 4) and m.total == 5000
    r = M.R2Score()
    r.update(np.zeros((1000, 2)), np.ones((1000, 2)))
    assert all(s.shape == (2,) for s in r.state)


# --- inputs, names, reprs ---------------------------------------------------------------
def test_tensor_inputs_without_graph():
    logits = fathom.randn(20, 4, requires_grad=True)
    target = fathom.randint(0, 4, (20,))
    value = M.f1_score(logits, target, average="macro")
    assert type(value) is float
    assert value == M.f1_score(logits.detach().numpy(), target.numpy(), average="macro")
    assert M.accuracy(logits.tolist(), target.tolist()) == M.accuracy(logits, target)
    assert M.mean_squared_error(logits, logits * 2) == \
        pytest.approx(float((logits.detach() ** 2).mean()))


def test_names_and_reprs():
    expected = {"accuracy": "Accuracy(top_k=1)", "top5_accuracy": "Accuracy(top_k=5)",
                "precision": "Precision(average='macro', num_classes=None, pos_label=1)",
                "recall": "Recall(average='macro', num_classes=None, pos_label=1)",
                "f1": "F1Score(average='macro', num_classes=None, pos_label=1)",
                "auc": "ROCAUC(average='macro', multi_class='ovr')",
                "mse": "MeanSquaredError()", "mae": "MeanAbsoluteError()", "r2": "R2Score()"}
    for name, rep in expected.items():
        m = M.get(name)
        assert m.name == name and repr(m) == rep
    assert M.Accuracy(top_k=5).name == "top5_accuracy"
    assert M.get("acc").name == "accuracy" and M.get("top3_acc").top_k == 3
    assert M.get("binary_f1").average == "binary" and M.get("binary_f1").name == "binary_f1"
    assert M.get("F1_SCORE").name == "f1"
    assert M.F1Score().average == "binary"  # the class keeps the functional default
    m = M.Accuracy()
    assert M.get(m) is m and isinstance(M.get(M.Recall), M.Recall)
    assert M.get("mse") is not M.get("mse")  # fresh each time
    assert repr(M.ConfusionMatrix(3)) == "ConfusionMatrix(num_classes=3)"
    assert repr(M.R2Score("raw_values")) == "R2Score(multioutput='raw_values')"
    for name in M.names():
        assert isinstance(M.get(name), M.Metric)


def test_docstring_examples():
    for module in (F, M):
        assert doctest.testmod(module).failed == 0


# --- errors -----------------------------------------------------------------------------
def test_errors_teach():
    with pytest.raises(ShapeError, match=r"preds shape \(5, 3\) and target shape \(4,\)"):
        M.accuracy(np.zeros((5, 3)), np.zeros(4, int))
    with pytest.raises(ShapeError, match=r"preds shape \(3,\) and target shape \(2,\)"):
        M.f1_score([0, 1, 1], [0, 1])
    with pytest.raises(ShapeError, match=r"preds shape \(3,\) and target shape \(2,\)"):
        M.roc_curve([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match=r"top_k=5 is larger than the number of classes "
                                         r"\(3\) in preds of shape \(2, 3\)"):
        M.accuracy(np.zeros((2, 3)), [0, 1], top_k=5)
    with pytest.raises(ShapeError, match=r"top_k=2 needs scores of shape \(N, C\)"):
        M.accuracy([0, 1], [0, 1], top_k=2)
    with pytest.raises(ValueError, match=r"average='binary' needs two classes, got 3 "
                                         r"\(classes seen in preds and target: \[0, 1, 2\]\)"
                                         r".*average='macro'"):
        M.precision([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="average must be one of"):
        M.recall([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match=r"target has class 4, but num_classes=3"):
        M.confusion_matrix([0, 1], [0, 4], num_classes=3)
    with pytest.raises(ValueError, match=r"target has class 3 but preds of shape \(2, 3\)"):
        M.accuracy(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ShapeError, match=r"num_classes=4 but preds of shape \(2, 3\)"):
        M.f1_score(np.zeros((2, 3)), [0, 1], average="macro", num_classes=4)
    with pytest.raises(ShapeError, match=r"target class labels of shape \(N,\), got shape "
                                         r"\(2, 3\).*argmax"):
        M.accuracy([0, 1], np.eye(3)[:2])
    with pytest.raises(ValueError, match=r"integer class labels 0..C-1; got the value 0.5 "
                                         r"in shape \(2,\)"):
        M.accuracy([0, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match=r"labels must be >= 0, got -1"):
        M.accuracy([0, 1], [-1, 1])
    with pytest.raises(ValueError, match=r"unknown metric 'acuracy'; known names: "
                                         r"accuracy, acc, .*f1.*mse"):
        M.get("acuracy")
    with pytest.raises(TypeError, match="expected a metric name or a Metric, got int"):
        M.get(3)


def test_streaming_errors_lose_nothing():
    m = M.F1Score()  # binary
    with pytest.raises(RuntimeError, match=r"F1Score\(average='binary', num_classes=None, "
                                           r"pos_label=1\)\.compute\(\): no samples seen"):
        m.compute()
    m.update([0, 1, 1], [0, 1, 0])
    before = m.compute()
    with pytest.raises(ValueError, match=r"F1Score\(.*\): average='binary' needs two classes"
                                         r".*\[0, 1, 2\]"):
        m.update([2], [0])
    assert m.compute() == before and m.total == 3
    r = M.MeanSquaredError()
    r.update(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"2 outputs per sample, earlier batches had 3"):
        r.update(np.zeros((2, 2)), np.zeros((2, 2)))
    a = M.ROCAUC()
    a.update(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ShapeError, match=r"scores of shape \(2, 4\) do not match"):
        a.update(np.zeros((2, 4)), [0, 1])
    with pytest.raises(RuntimeError, match="no samples seen yet"):
        M.Accuracy().compute()
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        M.Accuracy(top_k=0)
