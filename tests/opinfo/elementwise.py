"""Op-table entries for fathom.ops.elementwise: every name in its `__all__`."""
import numpy as np

import fathom

from .core import OpInfo, SampleInput


def _r(rng, positive=False, away_from_zero=False):
    def r(*shape):
        x = np.asarray(rng.standard_normal(shape))  # shape () gives a 0-d array, not a float
        if positive:
            x = np.abs(x) + 0.5
        elif away_from_zero:  # keep kinks (|x|, relu) out of finite differences' reach
            x = np.where(x >= 0, x + 0.1, x - 0.1)
        return np.asarray(x)
    return r


def binary_samples(rng, positive=False):
    """Same shape, 0-d, size-1 dims and broadcast pairs, plus a Python scalar."""
    r = _r(rng, positive)
    return [
        SampleInput(r(2, 3), r(2, 3)),
        SampleInput(r(), r()),
        SampleInput(r(1), r(4)),
        SampleInput(r(3, 1), r(1, 4)),
        SampleInput(r(4), r(2, 3, 4)),
        SampleInput(r(), r(2, 3)),
        SampleInput(r(2, 3), 1.5),
        SampleInput(1.5 if not positive else 2.5, r(2, 3)),
    ]


def binary_int_samples(rng):
    """Integer operands (forward only), mixed with floats for promotion."""
    i = rng.integers(-5, 6, (2, 3))
    j = rng.integers(1, 4, (2, 3)) * rng.choice([-1, 1], (2, 3))
    return [SampleInput(i, j), SampleInput(i, 2), SampleInput(i.astype(np.int32), j),
            SampleInput(i, rng.standard_normal(3) + 3.0, grad_args=())]


def unary_samples(rng, positive=False, away_from_zero=False):
    r = _r(rng, positive, away_from_zero)
    return [SampleInput(r(2, 3)), SampleInput(r()), SampleInput(r(1)), SampleInput(r(3, 1, 4))]


def _with_ints(samples_fn, low=1, high=5):
    def samples(rng):
        return samples_fn(rng) + [SampleInput(rng.integers(low, high, (2, 3)))]
    return samples


def div_samples(rng):
    s = binary_samples(rng)
    # divisors bounded away from zero keep finite differences of 1/b accurate
    for x in s:
        if isinstance(x.args[1], np.ndarray):
            b = x.args[1]
            x.args = (x.args[0], np.where(b >= 0, b + 0.5, b - 0.5))
    return s + [SampleInput(np.array([1, 2, 7]), np.array([2, 4, 2]))]  # ints -> float


def rounded_div_samples(rng):
    s = div_samples(rng)[:-1]
    i = np.array([7, -7, 7, -7, 0])
    j = np.array([2, 2, -2, -2, 3])
    return s + [SampleInput(i, j), SampleInput(i, 2)]


def remainder_samples(rng):
    s = []
    for a, b in [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((), (2, 3))]:
        a = np.asarray(rng.uniform(-5, 5, a))
        b = rng.uniform(0.7, 2.0, b) * rng.choice([-1, 1], b)
        # keep a/b away from integers, where remainder jumps
        q = a / b
        a = np.where(np.abs(q - np.round(q)) < 0.1, a + 0.3 * b, a)
        s.append(SampleInput(a, b))
    s.append(SampleInput(rng.uniform(0.1, 0.9, (2, 3)) + 3.0, 1.5))
    return s + binary_int_samples(rng)[:3]


def pow_samples(rng):
    pos = _r(rng, positive=True)
    r = _r(rng)
    return [
        SampleInput(pos(2, 3), r(2, 3), name="tensor**tensor"),
        SampleInput(pos(3, 1), r(1, 4), name="broadcast"),
        SampleInput(pos(), r(2, 3), name="0-d base"),
        SampleInput(r(2, 3), 2, name="square"),
        SampleInput(r(2, 3), 3, name="cube"),
        SampleInput(pos(2, 3), 0.5, name="sqrt"),
        SampleInput(pos(2, 3), -1.5, name="negative"),
        SampleInput(r(2, 3), 0, name="zero exponent"),
        SampleInput(2.0, r(2, 3), name="scalar base"),
        SampleInput(np.zeros((2, 3)), pos(2, 3), grad_args=(1,), name="zero base"),
        SampleInput(rng.integers(-3, 4, (2, 3)), 2, name="int"),
        SampleInput(rng.integers(0, 4, (2, 3)), np.array([0, 1, 2]), name="int**int"),
    ]


def maximum_samples(rng):
    return binary_samples(rng)[:6] + [
        SampleInput(rng.integers(-3, 3, (4,)), rng.integers(-3, 3, (4,)))]


def tie_samples(rng):
    """Ties: each input gets half the gradient, as in PyTorch (no second derivative there)."""
    r = _r(rng)
    a = r(2, 3)
    b = a.copy()
    b[0] = r(3)
    return [SampleInput(a, b), SampleInput(np.array(1.5), np.array([1.5, 2.0, 1.0]))]


def clamp_samples(rng):
    r = _r(rng)
    x = r(2, 3)
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x + 0.1, x)  # not at the bounds
    lo = -np.abs(r(2, 3)) - 0.1
    hi = np.abs(r(3)) + 0.1
    xi = rng.integers(-5, 6, (2, 3))
    return [
        SampleInput(x, -0.5, 0.5, name="scalar bounds"),
        SampleInput(x, -0.5, name="min only"),
        SampleInput(x, None, 0.5, name="max only"),
        SampleInput(x, min=-0.5, name="min keyword"),
        SampleInput(x, max=0.5, name="max keyword"),
        SampleInput(r(), -0.5, 0.5, name="0-d"),
        SampleInput(x * 2, lo, hi, name="tensor bounds"),
        SampleInput(x * 2, lo, name="tensor min only"),
        SampleInput(xi, -2, 3, name="int"),
    ]


def where_samples(rng):
    r = _r(rng)
    c = rng.random((2, 3)) > 0.5
    return [
        SampleInput(c, r(2, 3), r(2, 3)),
        SampleInput(c, r(3), r(2, 1)),
        SampleInput(rng.random(3) > 0.5, r(2, 3), r()),
        SampleInput(np.array(True), r(2), r(2)),
        SampleInput(c, r(2, 3), 0.0),
        SampleInput(c, rng.integers(0, 5, (2, 3)), rng.integers(0, 5, (3,))),
    ]


def lerp_samples(rng):
    r = _r(rng)
    return [SampleInput(r(2, 3), r(2, 3), 0.3), SampleInput(r(2, 3), r(3), r(2, 3)),
            SampleInput(r(), r(2, 3), r(2, 1)), SampleInput(r(2, 3), r(2, 3), r())]


def addc_samples(rng, div=False):
    r = _r(rng)
    d = (lambda *s: np.abs(r(*s)) + 0.5) if div else r
    return [SampleInput(r(2, 3), r(2, 3), d(2, 3)),
            SampleInput(r(3), r(2, 1), d(1, 3), value=0.5),
            SampleInput(r(), r(2, 3), np.asarray(d()), value=-2),
            SampleInput(r(2, 3), r(3), d(2, 3), value=3.0)]


def rounding_samples(rng):
    x = rng.uniform(-5, 5, (2, 3))
    x = np.where(np.abs(x - np.round(x)) < 0.05, x + 0.2, x)
    half = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5])  # round half to even, as PyTorch
    return [SampleInput(x), SampleInput(np.array(x[0, 0])), SampleInput(half, grad_args=()),
            SampleInput(rng.integers(-5, 6, (4,)))]


def round_samples(rng):
    x = rng.uniform(-5, 5, (2, 3))
    return rounding_samples(rng) + [SampleInput(np.round(x, 3) + 1e-4, decimals=2)]


def compare_samples(rng):
    a = rng.integers(-2, 3, (2, 3)).astype(np.float64)
    b = rng.integers(-2, 3, (2, 3)).astype(np.float64)
    return [
        SampleInput(a, b),
        SampleInput(a, b[0]),
        SampleInput(a, 1.0),
        SampleInput(np.array(a[0, 0]), b),
        SampleInput(rng.integers(-2, 3, (2, 3)), a),  # int vs float: promoted first
        SampleInput(rng.integers(-2, 3, (4,)), 1),
        SampleInput(np.array([np.nan, 1.0, np.inf]), np.array([np.nan, 1.0, np.inf])),
    ]


def logical_samples(rng):
    a = rng.random((2, 3)) > 0.5
    b = rng.random((2, 3)) > 0.5
    return [SampleInput(a, b), SampleInput(a, b[1]),
            SampleInput(rng.integers(-1, 2, (2, 3)).astype(np.float64), b),
            SampleInput(rng.integers(-1, 2, (4,)), rng.integers(-1, 2, (4,)))]


def logical_unary_samples(rng):
    return [SampleInput(rng.random((2, 3)) > 0.5), SampleInput(np.array([0.0, 1.5, -2.0])),
            SampleInput(rng.integers(-1, 2, (4,)))]


def bitwise_samples(rng):
    a = rng.integers(-8, 8, (2, 3))
    b = rng.integers(-8, 8, (2, 3))
    return [SampleInput(a, b), SampleInput(a, b[0]), SampleInput(a, 5),
            SampleInput(a.astype(np.uint8) & 7, b.astype(np.uint8) & 7),
            SampleInput(rng.random((2, 3)) > 0.5, rng.random((2, 3)) > 0.5)]


def bitwise_unary_samples(rng):
    return [SampleInput(rng.integers(-8, 8, (2, 3))), SampleInput(rng.random((2, 3)) > 0.5),
            SampleInput(rng.integers(0, 255, (4,)).astype(np.uint8))]


def special_samples(rng):
    return [SampleInput(np.array([np.nan, np.inf, -np.inf, 0.0, 1.5, -2.0]), grad_args=()),
            SampleInput(rng.standard_normal((2, 3))), SampleInput(np.array(np.inf)),
            SampleInput(rng.integers(-3, 3, (4,)))]


def cast_samples(rng):
    r = _r(rng)
    return [SampleInput(r(2, 3), "float64"), SampleInput(r(), "float64"),
            SampleInput(r(2, 3), "float32", grad_args=()),  # float32 output: no gradcheck
            SampleInput(r(2, 3) * 4, "int64"), SampleInput(r(2, 3), "bool"),
            SampleInput(rng.integers(-3, 3, (4,)), "float64")]


def _dt(name):
    return getattr(fathom, name)


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # the stable form: no overflow at x = -800
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _fmod_grad_free(a, b):
    return np.fmod(a, b)


def _trunc_div(a, b):
    return np.trunc(np.true_divide(a, b)) if np.result_type(a, b).kind == "f" else \
        np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))


def _erf_ref(x):
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _clamp_ref(x, min=None, max=None):  # noqa: A002
    if min is not None:
        x = np.maximum(x, min)
    if max is not None:
        x = np.minimum(x, max)
    return x


def _lerp_ref(a, b, w):
    return a + w * (b - a)


def _addcmul_ref(a, t1, t2, value=1):
    return a + value * t1 * t2


def _addcdiv_ref(a, t1, t2, value=1):
    return a + value * t1 / t2


def _bool_result(fn):
    return lambda *a: np.array(fn(*a))


OPS = [
    # --- arithmetic ---------------------------------------------------------------------
    OpInfo("add", fathom.add, lambda rng: binary_samples(rng) + binary_int_samples(rng),
           ref=np.add),
    OpInfo("add_alpha", lambda a, b: fathom.add(a, b, alpha=2.5), binary_samples,
           ref=lambda a, b: a + 2.5 * b, torch_op=lambda a, b: __import__("torch").add(
               a, b, alpha=2.5)),
    OpInfo("sub", fathom.sub, lambda rng: binary_samples(rng) + binary_int_samples(rng),
           ref=np.subtract, aliases=("subtract",)),
    OpInfo("sub_alpha", lambda a, b: fathom.sub(a, b, alpha=-2), binary_samples,
           ref=lambda a, b: a + 2 * b,
           torch_op=lambda a, b: __import__("torch").sub(a, b, alpha=-2)),
    OpInfo("rsub", fathom.rsub, lambda rng: binary_samples(rng)[:-1],  # torch.rsub: tensor 1st
           ref=lambda a, b: b - a),
    OpInfo("mul", fathom.mul, lambda rng: binary_samples(rng) + binary_int_samples(rng),
           ref=np.multiply, aliases=("multiply",)),
    OpInfo("div", fathom.div, div_samples, ref=np.true_divide,
           aliases=("divide", "true_divide")),
    OpInfo("div_trunc", lambda a, b: fathom.div(a, b, rounding_mode="trunc"),
           rounded_div_samples, ref=_trunc_div,
           torch_op=lambda a, b: __import__("torch").div(a, b, rounding_mode="trunc"),
           gradgrad=False, notes="zero gradient (a step function), as in PyTorch"),
    OpInfo("div_floor", lambda a, b: fathom.div(a, b, rounding_mode="floor"),
           rounded_div_samples, ref=np.floor_divide,
           torch_op=lambda a, b: __import__("torch").div(a, b, rounding_mode="floor"),
           gradgrad=False),
    OpInfo("floor_divide", fathom.floor_divide, rounded_div_samples, ref=np.floor_divide,
           differentiable=False, notes="PyTorch marks floor_divide not differentiable"),
    OpInfo("remainder", fathom.remainder, remainder_samples, ref=np.remainder),
    OpInfo("fmod", fathom.fmod, remainder_samples, ref=_fmod_grad_free, atol=1e-12),
    OpInfo("neg", fathom.neg, _with_ints(unary_samples, -5, 5), ref=np.negative,
           aliases=("negative",)),
    OpInfo("pow", fathom.pow, pow_samples, ref=np.power, rtol=1e-12),
    OpInfo("square", fathom.square, _with_ints(unary_samples, -5, 5), ref=np.square),
    OpInfo("reciprocal", fathom.reciprocal, lambda rng: [
        SampleInput(np.where(x.args[0] >= 0, x.args[0] + 0.5, x.args[0] - 0.5))
        for x in unary_samples(rng)] + [SampleInput(np.array([1, 2, 4]))],
        ref=lambda x: 1.0 / x),
    OpInfo("maximum", fathom.maximum, maximum_samples, ref=np.maximum),
    OpInfo("maximum_ties", fathom.maximum, tie_samples, ref=np.maximum,
           torch_op=lambda a, b: __import__("torch").maximum(a, b), gradgrad=False),
    OpInfo("minimum", fathom.minimum, maximum_samples, ref=np.minimum),
    OpInfo("minimum_ties", fathom.minimum, tie_samples, ref=np.minimum,
           torch_op=lambda a, b: __import__("torch").minimum(a, b), gradgrad=False),
    OpInfo("clamp", fathom.clamp, clamp_samples, ref=_clamp_ref, aliases=("clip",)),
    OpInfo("where", fathom.where, where_samples, ref=np.where),
    # --- unary math ---------------------------------------------------------------------
    OpInfo("exp", fathom.exp, _with_ints(unary_samples), ref=np.exp, rtol=1e-7),
    OpInfo("log", fathom.log, _with_ints(lambda rng: unary_samples(rng, positive=True)),
           ref=np.log),
    OpInfo("log1p", fathom.log1p, _with_ints(lambda rng: unary_samples(rng, positive=True)),
           ref=np.log1p),
    OpInfo("expm1", fathom.expm1, _with_ints(unary_samples), ref=np.expm1),
    OpInfo("log2", fathom.log2, _with_ints(lambda rng: unary_samples(rng, positive=True)),
           ref=np.log2),
    OpInfo("log10", fathom.log10, _with_ints(lambda rng: unary_samples(rng, positive=True)),
           ref=np.log10),
    OpInfo("sqrt", fathom.sqrt, _with_ints(lambda rng: unary_samples(rng, positive=True)),
           ref=np.sqrt),
    OpInfo("rsqrt", fathom.rsqrt, _with_ints(lambda rng: unary_samples(rng, positive=True)),
           ref=lambda x: 1 / np.sqrt(x)),
    OpInfo("abs", fathom.abs, _with_ints(lambda rng: unary_samples(rng, away_from_zero=True),
                                         -5, 5), ref=np.abs, aliases=("absolute",)),
    OpInfo("sign", fathom.sign, _with_ints(special_samples, -3, 3),
           ref=lambda x: np.nan_to_num(np.sign(x)),
           notes="zero gradient and sign(nan) = 0, as in PyTorch"),
    OpInfo("sin", fathom.sin, _with_ints(unary_samples), ref=np.sin),
    OpInfo("cos", fathom.cos, _with_ints(unary_samples), ref=np.cos),
    OpInfo("tan", fathom.tan, unary_samples, ref=np.tan, rtol=1e-12),
    OpInfo("tanh", fathom.tanh, _with_ints(unary_samples), ref=np.tanh),
    OpInfo("sigmoid", fathom.sigmoid, lambda rng: unary_samples(rng) + [
        SampleInput(np.array([-800.0, -30.0, 0.0, 30.0, 800.0]))], ref=_sigmoid),
    OpInfo("relu", fathom.relu, _with_ints(lambda rng: unary_samples(rng, away_from_zero=True),
                                           -3, 3), ref=lambda x: np.maximum(x, 0)),
    OpInfo("erf", fathom.erf, lambda rng: unary_samples(rng) + [
        SampleInput(np.array([-6.0, -2.5, -2.0, -1e-3, 0.0, 1.9999, 2.0, 2.5, 3.7, 30.0]))],
        ref=_erf_ref, atol=1e-14, rtol=1e-14),
    OpInfo("floor", fathom.floor, rounding_samples, ref=np.floor, gradgrad=False),
    OpInfo("ceil", fathom.ceil, rounding_samples, ref=np.ceil, gradgrad=False),
    OpInfo("trunc", fathom.trunc, rounding_samples, ref=np.trunc, gradgrad=False),
    OpInfo("round", fathom.round, round_samples, ref=np.round, gradgrad=False),
    OpInfo("lerp", fathom.lerp, lerp_samples, ref=_lerp_ref),
    OpInfo("addcmul", fathom.addcmul, addc_samples, ref=_addcmul_ref),
    OpInfo("addcdiv", fathom.addcdiv, lambda rng: addc_samples(rng, div=True),
           ref=_addcdiv_ref),
    # --- comparisons and logic (no gradient) ----------------------------------------------
    OpInfo("eq", fathom.eq, compare_samples, ref=np.equal, differentiable=False),
    OpInfo("ne", fathom.ne, compare_samples, ref=np.not_equal, differentiable=False,
           aliases=("not_equal",)),
    OpInfo("lt", fathom.lt, compare_samples, ref=np.less, differentiable=False,
           aliases=("less",)),
    OpInfo("le", fathom.le, compare_samples, ref=np.less_equal, differentiable=False,
           aliases=("less_equal",)),
    OpInfo("gt", fathom.gt, compare_samples, ref=np.greater, differentiable=False,
           aliases=("greater",)),
    OpInfo("ge", fathom.ge, compare_samples, ref=np.greater_equal, differentiable=False,
           aliases=("greater_equal",)),
    OpInfo("equal", lambda a, b: fathom.tensor(fathom.equal(a, b)),
           lambda rng: [SampleInput(x, x.copy()) for x in (rng.standard_normal((2, 3)),)] + [
               SampleInput(np.ones(3), np.array([1.0, 1.0, 2.0])),
               SampleInput(np.ones(3), np.ones((1, 3)))],
           ref=_bool_result(np.array_equal), differentiable=False,
           torch_op=lambda a, b: __import__("torch").tensor(__import__("torch").equal(a, b))),
    OpInfo("allclose", lambda a, b: fathom.tensor(fathom.allclose(a, b)),
           lambda rng: [SampleInput(np.ones(3), np.ones(3) + 1e-9),
                        SampleInput(np.ones(3), np.ones(3) + 1e-3),
                        SampleInput(np.ones((2, 3)), np.ones(3))],
           ref=_bool_result(np.allclose), differentiable=False,
           torch_op=lambda a, b: __import__("torch").tensor(
               __import__("torch").allclose(a, b))),
    OpInfo("isclose", fathom.isclose,
           lambda rng: [SampleInput(np.array([1.0, 1.0, np.nan]),
                                    np.array([1.0 + 1e-9, 1.1, np.nan])),
                        SampleInput(np.ones((2, 3)), np.ones(3) + 1e-6, atol=1e-5),
                        SampleInput(np.array([1.0, np.nan]), np.array([1.0, np.nan]),
                                    equal_nan=True)],
           ref=np.isclose, differentiable=False),
    OpInfo("logical_and", fathom.logical_and, logical_samples, ref=np.logical_and,
           differentiable=False),
    OpInfo("logical_or", fathom.logical_or, logical_samples, ref=np.logical_or,
           differentiable=False),
    OpInfo("logical_xor", fathom.logical_xor, logical_samples, ref=np.logical_xor,
           differentiable=False),
    OpInfo("logical_not", fathom.logical_not, logical_unary_samples, ref=np.logical_not,
           differentiable=False),
    OpInfo("bitwise_and", fathom.bitwise_and, bitwise_samples, ref=np.bitwise_and,
           differentiable=False),
    OpInfo("bitwise_or", fathom.bitwise_or, bitwise_samples, ref=np.bitwise_or,
           differentiable=False),
    OpInfo("bitwise_xor", fathom.bitwise_xor, bitwise_samples, ref=np.bitwise_xor,
           differentiable=False),
    OpInfo("bitwise_not", fathom.bitwise_not, bitwise_unary_samples, ref=np.invert,
           differentiable=False),
    OpInfo("isnan", fathom.isnan, special_samples, ref=np.isnan, differentiable=False),
    OpInfo("isinf", fathom.isinf, special_samples, ref=np.isinf, differentiable=False),
    OpInfo("isfinite", fathom.isfinite, special_samples, ref=np.isfinite,
           differentiable=False),
    # --- dtype and copies -------------------------------------------------------------------
    OpInfo("cast", lambda x, dt: fathom.cast(x, _dt(dt)), cast_samples,
           ref=lambda x, dt: x.astype(dt),
           torch_op=lambda x, dt: x.to(getattr(__import__("torch"), dt))),
    OpInfo("clone", fathom.clone, _with_ints(unary_samples), ref=np.copy),
]
