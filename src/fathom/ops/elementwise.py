"""Elementwise ops: arithmetic, math functions, comparisons, casts, in-place edits.

Binary ops promote dtypes by PyTorch's rules (`dtypes.result_type`) and
broadcast like NumPy; the engine sums gradients back over broadcast dims, so
no backward here does. Math functions on integer tensors compute in the
default float dtype, as PyTorch's do.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd.function import Op
from ..autograd.grad_mode import state as _mode
from ..dtypes import as_dtype, get_default_dtype, result_type
from ..dtypes import bool as _bool
from ..errors import DTypeError, ShapeError, broadcast_shapes, fmt_shape
from ..tensor import Tensor, _make
from . import _parallel
from ._parallel import contiguous, map_flat

_np = backend.np

__all__ = ['add', 'sub', 'subtract', 'rsub', 'mul', 'multiply', 'div', 'divide', 'true_divide',
    'floor_divide', 'remainder', 'fmod', 'neg', 'negative', 'pow', 'square', 'reciprocal',
    'maximum', 'minimum', 'clamp', 'clip', 'where', 'exp', 'log', 'log1p', 'expm1', 'log2',
    'log10', 'sqrt', 'rsqrt', 'abs', 'absolute', 'sign', 'sin', 'cos', 'tan', 'tanh', 'sigmoid',
    'relu', 'erf', 'floor', 'ceil', 'trunc', 'round', 'lerp', 'addcmul', 'addcdiv', 'eq', 'ne',
    'lt', 'le', 'gt', 'ge', 'greater', 'greater_equal', 'less', 'less_equal', 'not_equal',
    'equal', 'allclose', 'isclose', 'logical_and', 'logical_or', 'logical_xor', 'logical_not',
    'bitwise_and', 'bitwise_or', 'bitwise_xor', 'bitwise_not', 'isnan', 'isinf', 'isfinite',
    'cast', 'clone']

# also Tensor methods
METHODS = ['subtract', 'multiply', 'divide', 'true_divide', 'floor_divide', 'remainder', 'fmod',
    'neg', 'negative', 'pow', 'square', 'reciprocal', 'maximum', 'minimum', 'clamp', 'clip',
    'where', 'log1p', 'expm1', 'log2', 'log10', 'sqrt', 'rsqrt', 'abs', 'absolute', 'sign',
    'sin', 'cos', 'tan', 'tanh', 'sigmoid', 'erf', 'floor', 'ceil', 'trunc', 'round', 'lerp',
    'addcmul', 'addcdiv', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'greater', 'greater_equal', 'less',
    'less_equal', 'not_equal', 'equal', 'allclose', 'isclose', 'logical_and', 'logical_or',
    'logical_xor', 'logical_not', 'bitwise_and', 'bitwise_or', 'bitwise_xor', 'bitwise_not',
    'isnan', 'isinf', 'isfinite']
_ndarray = _np.ndarray


def _shape(x):
    return getattr(x, "shape", ())


def _binary(ctx, fn, a, b, dt=None):
    """fn(a, b) at PyTorch's result dtype, with a broadcast error that names the op."""
    if dt is None:
        if type(a) is _ndarray and type(b) is _ndarray and a.dtype is b.dtype:
            dt = a.dtype  # the common case: nothing to promote
        else:
            dt = result_type(a, b)
            if getattr(a, "dtype", dt) != dt:
                a = a.astype(dt)
            if getattr(b, "dtype", dt) != dt:
                b = b.astype(dt)
    else:
        if getattr(a, "dtype", dt) != dt:
            a = a.astype(dt)
        if getattr(b, "dtype", dt) != dt:
            b = b.astype(dt)
    try:
        return fn(a, b)
    except ValueError:
        broadcast_shapes(_snake(type(ctx).__name__), _shape(a), _shape(b))
        raise
    except OverflowError:  # uint8 + 300: NumPy 2 refuses, PyTorch wraps the Python int
        wrap = ctx.xp.asarray
        return fn(wrap(a).astype(dt) if type(a) is int else a,
                  wrap(b).astype(dt) if type(b) is int else b)


def _snake(name):
    """An Op class name as the public op's name in messages: LogicalAnd -> logical_and."""
    if name == "RoundedDiv":
        return "div"
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


def _to_float(x):
    """Integer and bool inputs of math functions compute in the default float dtype."""
    if x.dtype.kind != "f":
        return x.astype(get_default_dtype().np)
    return x


# --- arithmetic ---------------------------------------------------------------------

class Add(Op):
    def forward(ctx, a, b):
        return _binary(ctx, ctx.xp.add, a, b)

    def backward(ctx, g):
        return g, g


class Sub(Op):
    def forward(ctx, a, b):
        if getattr(a, "dtype", None) == _np.bool_ and getattr(b, "dtype", None) == _np.bool_:
            raise DTypeError("sub: subtraction of two bool tensors is not supported; "
                             "use logical_xor or ~ instead")
        return _binary(ctx, ctx.xp.subtract, a, b)

    def backward(ctx, g):
        return g, -g


class Mul(Op):
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _binary(ctx, ctx.xp.multiply, a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        return (g * b if ctx.needs_grad[0] else None,
                g * a if ctx.needs_grad[1] else None)


class Div(Op):
    def forward(ctx, a, b):
        dt = result_type(a, b)
        if dt.kind != "f":  # true division of integers gives the default float
            dt = get_default_dtype().np
        out = _binary(ctx, ctx.xp.true_divide, a, b, dt)
        ctx.save(b, out)
        return out

    def backward(ctx, g):
        b, out = ctx.saved
        ga = g / b if ctx.needs_grad[0] else None
        gb = -g * out / b if ctx.needs_grad[1] else None
        return ga, gb


class RoundedDiv(Op):
    """div(a, b, rounding_mode='trunc'|'floor') and floor_divide: a step function (zero grad)."""

    def forward(ctx, a, b, mode):
        dt = result_type(a, b)
        if mode == "floor":
            return _binary(ctx, ctx.xp.floor_divide, a, b, dt)
        if dt.kind == "f":
            return ctx.xp.trunc(_binary(ctx, ctx.xp.true_divide, a, b, dt))
        q = _binary(ctx, ctx.xp.floor_divide, a, b, dt)
        r = _binary(ctx, ctx.xp.remainder, a, b, dt)
        # floor and trunc differ by one where the division is inexact and the signs differ
        return q + ((r != 0) & ((_np.asarray(a) < 0) != (_np.asarray(b) < 0)))

    def backward(ctx, g):
        return None, None


class Remainder(Op):
    """a - floor(a / b) * b (Python's sign convention, as torch.remainder)."""

    def forward(ctx, a, b):
        ctx.save(a, b)
        return _binary(ctx, ctx.xp.remainder, a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        gb = None
        if ctx.needs_grad[1]:
            gb = -g * ctx.F.floor(a / b)
        return g, gb


class Neg(Op):
    def forward(ctx, x):
        if x.dtype.kind == "b":
            raise DTypeError("neg: negation of a bool tensor is not supported; "
                             "use logical_not or ~ instead")
        return -x

    def backward(ctx, g):
        return -g


class Pow(Op):
    def forward(ctx, a, b):
        out = _binary(ctx, ctx.xp.power, a, b)
        ctx.save(a, b, out)
        return out

    def backward(ctx, g):
        a, b, out = ctx.saved
        F = ctx.F
        ga = gb = None
        if ctx.needs_grad[0]:
            ga = g * 2 * a if (type(b) in (int, float) and b == 2) else g * b * a ** (b - 1)
        if ctx.needs_grad[1]:
            # d/db a**b = a**b log a; PyTorch takes 0 where a == 0 and b >= 0
            safe = F.where(a == 0, 1, a) if isinstance(a, (_ndarray, Tensor)) else a
            gb = g * out * F.log(safe)
            if isinstance(a, (_ndarray, Tensor)):
                gb = F.where((a == 0) & (b >= 0), 0, gb)
        return ga, gb


class Maximum(Op):
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _binary(ctx, ctx.xp.maximum, a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        F = ctx.F
        # ties split the gradient in half, as in PyTorch
        share = F.where(a == b, g / 2, g)
        return (F.where(a < b, 0, share) if ctx.needs_grad[0] else None,
                F.where(b < a, 0, share) if ctx.needs_grad[1] else None)


class Minimum(Op):
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _binary(ctx, ctx.xp.minimum, a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        F = ctx.F
        share = F.where(a == b, g / 2, g)
        return (F.where(a > b, 0, share) if ctx.needs_grad[0] else None,
                F.where(b > a, 0, share) if ctx.needs_grad[1] else None)


class Clamp(Op):
    def forward(ctx, x, lo, hi):
        if lo is None and hi is None:
            raise ValueError("clamp: at least one of min and max must be given")
        xp = ctx.xp
        out = x
        if lo is not None:
            out = _binary(ctx, xp.maximum, out, lo)
        if hi is not None:
            out = _binary(ctx, xp.minimum, out, hi)
        ctx.save(x, lo, hi)
        return out

    def backward(ctx, g):
        x, lo, hi = ctx.saved
        F = ctx.F
        inside = True
        if lo is not None:
            inside = (x >= lo) & inside
        if hi is not None:
            inside = (x <= hi) & inside
        gx = F.where(inside, g, 0) if ctx.needs_grad[0] else None
        glo = F.where(x < lo, g, 0) if ctx.needs_grad[1] else None
        ghi = None
        if ctx.needs_grad[2]:
            ghi = F.where(x > hi, g, 0)
            if lo is not None:  # when lo > hi PyTorch returns hi
                ghi = F.where(x < lo, 0, ghi) if glo is None else ghi
        return gx, glo, ghi


class Where(Op):
    def forward(ctx, cond, a, b):
        xp = ctx.xp
        cond = xp.asarray(cond)
        if cond.dtype.kind != "b":
            cond = cond.astype(bool)
        ctx.save(cond)
        dt = result_type(a, b)
        try:
            return xp.where(cond, xp.asarray(a, dtype=dt), xp.asarray(b, dtype=dt))
        except ValueError:
            broadcast_shapes("where", _shape(cond), _shape(a), _shape(b))
            raise

    def backward(ctx, g):
        (cond,) = ctx.saved
        F = ctx.F
        return (None,
                F.where(cond, g, 0) if ctx.needs_grad[1] else None,
                F.where(cond, 0, g) if ctx.needs_grad[2] else None)


# --- unary math ---------------------------------------------------------------------

class Exp(Op):
    def forward(ctx, x):
        out = ctx.xp.exp(_to_float(x))
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        return g * out


class Log(Op):
    def forward(ctx, x):
        x = _to_float(x)
        ctx.save(x)
        return ctx.xp.log(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g / x


class Log1p(Op):
    def forward(ctx, x):
        x = _to_float(x)
        ctx.save(x)
        return ctx.xp.log1p(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (x + 1)


class Expm1(Op):
    def forward(ctx, x):
        out = ctx.xp.expm1(_to_float(x))
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (out + 1)


class Sqrt(Op):
    def forward(ctx, x):
        out = ctx.xp.sqrt(_to_float(x))
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        return g / (2 * out)


class Rsqrt(Op):
    def forward(ctx, x):
        out = 1 / ctx.xp.sqrt(_to_float(x))
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        return -0.5 * g * out * out * out


class Abs(Op):
    def forward(ctx, x):
        ctx.save(x)
        return ctx.xp.abs(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.F.sign(x)


class Sin(Op):
    def forward(ctx, x):
        x = _to_float(x)
        ctx.save(x)
        return ctx.xp.sin(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.F.cos(x)


class Cos(Op):
    def forward(ctx, x):
        x = _to_float(x)
        ctx.save(x)
        return ctx.xp.cos(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return -g * ctx.F.sin(x)


class Tanh(Op):
    def forward(ctx, x):
        out = ctx.xp.tanh(_to_float(x))
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (1 - out * out)


class Sigmoid(Op):
    def forward(ctx, x):
        xp = ctx.xp
        x = _to_float(x)
        # exp of -|x| never overflows; both branches are exact (stable at |x| = 1000)
        e = xp.exp(-xp.abs(x))
        out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        return g * out * (1 - out)


class Relu(Op):
    def forward(ctx, x):
        if x.size >= _parallel.MIN_SIZE and contiguous(x) and x.dtype.kind == "f":
            out = _np.empty_like(x)
            map_flat(_relu, out, x)  # split over the op threads (see ops._parallel)
        else:
            out = ctx.xp.maximum(x, 0)
        ctx.save(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved
        # a multiply by the mask runs ~9x faster than where() on a random mask (no
        # branches); only a nan/inf gradient at an inactive unit would differ
        if contiguous(g, out) and g.size >= _parallel.MIN_SIZE and g.dtype.kind == "f":
            gx = _np.empty_like(g)
            map_flat(_relu_grad, gx, g, out)
            return gx
        return g * (out > 0)


def _relu(x, out):
    _np.maximum(x, 0, out=out)


def _relu_grad(g, y, out):
    _np.multiply(g, y > 0, out=out)


class Erf(Op):
    def forward(ctx, x):
        x = _to_float(x)
        ctx.save(x)
        return _erf(ctx.xp, x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (2 / math.sqrt(math.pi)) * ctx.F.exp(-x * x)


# --- erf, computed with a few whole-array ufuncs ----------------------------------------
# NumPy has no erf. Both paths below are rational approximations evaluated with in-place
# ufuncs (few temporaries: each fresh 256 KB array can cost page faults), and neither
# picks elements by boolean indexing or `where`: on 64k random values either costs as much
# as 10 to 20 multiplies.

# float32 and float16: erf(x) = x P(z) / Q(z), z = x^2, a rational fit of erf(sqrt z)/sqrt z
# on 0 <= z <= 16 made for Fathom (least squares with Lawson's reweighting towards minimax;
# max relative error 2.1e-9). Evaluated in float64 and rounded once, the result is within
# 0.54 float32 ulp of erf (0.5 is the best possible; PyTorch's float32 erf is within 0.71).
# The same fit evaluated in float32 arithmetic would be off by up to 6 ulp.
_ERF32_P = (1.1283791693776857, 0.18520332763162886, 0.05431690101813737,
            0.0038496127397718172, 0.0003796078142502336, 4.684746481347333e-06,
            -1.3202075708227774e-08)
_ERF32_Q = (1.0, 0.49746558946865793, 0.11395843829101222, 0.01546208861113489,
            0.0013075687090306591, 6.311028744818545e-05)
_ERF32_ZMAX = 16.0  # erf(4) rounds to 1 in float32

# float64: W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969) 631-637, with the coefficients of his CALERF (netlib SPECFUN,
# 1990), in ascending powers. |x| <= 0.46875: erf = x N1(x^2) / D1(x^2). Beyond:
# erfc = exp(-x^2) N2(|x|) / D2(|x|). Cody's third range (|x| > 4) only sharpens erfc: for
# erf, N2/D2 used up to |x| = 6 stays within 1e-23 (checked against mpmath), and
# erf(6) rounds to 1.
_CODY_N1 = (3.20937758913846947e03, 3.77485237685302021e02, 1.13864154151050156e02,
            3.16112374387056560e00, 1.85777706184603153e-1)
_CODY_D1 = (2.84423683343917062e03, 1.28261652607737228e03, 2.44024637934444173e02,
            2.36012909523441209e01, 1.0)
_CODY_N2 = (1.23033935479799725e03, 2.05107837782607147e03, 1.71204761263407058e03,
            8.81952221241769090e02, 2.98635138197400131e02, 6.61191906371416295e01,
            8.88314979438837594e00, 5.64188496988670089e-1, 2.15311535474403846e-8)
_CODY_D2 = (1.23033935480374942e03, 3.43936767414372164e03, 4.36261909014324716e03,
            3.29079923573345963e03, 1.62138957456669019e03, 5.37181101862009858e02,
            1.17693950891312499e02, 1.57449261107098347e01, 1.0)
_CODY_SPLIT = 0.46875


def _erf(xp, x):
    """erf of a float array, in its dtype."""
    if x.ndim == 0:  # NumPy turns 0-d results into scalars, which have no in-place ops
        return _erf(xp, x.reshape(1)).reshape(())
    if x.dtype != _np.float64:
        return _erf_rational(xp, x)
    fast = _scipy_erf() if xp is _np else None
    return fast(x) if fast is not None else _erf_cody(xp, x)


def _polyval(z, coefs):
    """coefs[0] + coefs[1] z + coefs[2] z^2 + ... by Horner's rule, in one new array."""
    if coefs[-1] == 1.0:
        acc = z + coefs[-2]
    else:
        acc = z * coefs[-1]
        acc += coefs[-2]
    for c in coefs[-3::-1]:
        acc *= z
        acc += c
    return acc


def _erf_rational(xp, x):
    """erf of a float32/float16 array (see `_ERF32_P`)."""
    z = xp.multiply(x, x, dtype=xp.float64)  # exact: the square of a float32 fits in float64
    xp.clip(z, 0.0, _ERF32_ZMAX, out=z)
    num = _polyval(z, _ERF32_P)
    num /= _polyval(z, _ERF32_Q)
    num *= x
    # z was clipped but x was not: beyond |x| = 4 the product passes +-1, clipped back here
    return xp.clip(num, -1.0, 1.0, out=xp.empty_like(x))


def _erf_cody(xp, x):
    """erf of a float64 array (see `_CODY_N1`), within ~1e-16 of the true value."""
    y = xp.abs(x)
    small = y <= _CODY_SPLIT
    # |x| <= 0.46875; the clips keep both branches finite everywhere, for the blend below
    xs = xp.clip(x, -_CODY_SPLIT, _CODY_SPLIT)
    z = xs * xs
    inner = _polyval(z, _CODY_N1)
    inner /= _polyval(z, _CODY_D1)
    inner *= xs
    # |x| > 0.46875: erf = sign(x) (1 - erfc(|x|))
    xp.clip(y, _CODY_SPLIT, 6.0, out=y)
    outer = _polyval(y, _CODY_N2)
    outer /= _polyval(y, _CODY_D2)
    y *= y
    xp.negative(y, out=y)
    outer *= xp.exp(y, out=y)
    xp.subtract(1.0, outer, out=outer)
    xp.copysign(outer, x, out=outer)
    # blend by multiplying with the 0/1 masks: exact, and far cheaper than `where`
    inner *= small
    xp.logical_not(small, out=small)
    outer *= small
    outer += inner
    return outer


# SciPy's compiled erf, [callable or None] once looked up. For float64 it is 2-3x faster than
# `_erf_cody`; for float32 `_erf_rational` is 2-3x faster than it, so it is not used there.
_SCIPY_ERF = []


def _scipy_erf():
    if not _SCIPY_ERF:
        try:  # imported on first use only: it would double `import fathom` time
            from scipy.special import erf as scipy_erf  # noqa: PLC0415
        except ImportError:
            scipy_erf = None
        _SCIPY_ERF.append(scipy_erf)
    return _SCIPY_ERF[0]


# --- elementwise ops with no gradient ------------------------------------------------

class _NoGrad(Op):
    """Ops whose gradient is zero almost everywhere (rounding, comparisons, logic)."""

    fn = None

    def forward(ctx, *args):
        return ctx.fn(*args)

    def backward(ctx, g):
        return (None,) * len(ctx.next_edges)


def _no_grad_op(name, fn):
    return type(name, (_NoGrad,), {"fn": staticmethod(fn)})


def _compare(name, ufunc):
    def fn(a, b):
        dt = result_type(a, b)
        a = a.astype(dt) if getattr(a, "dtype", dt) != dt else a
        b = b.astype(dt) if getattr(b, "dtype", dt) != dt else b
        try:
            return ufunc(a, b)
        except ValueError:
            broadcast_shapes(_snake(name), _shape(a), _shape(b))
            raise
    return _no_grad_op(name, fn)


Eq = _compare("Eq", _np.equal)
Ne = _compare("Ne", _np.not_equal)
Lt = _compare("Lt", _np.less)
Le = _compare("Le", _np.less_equal)
Gt = _compare("Gt", _np.greater)
Ge = _compare("Ge", _np.greater_equal)
LogicalAnd = _compare("LogicalAnd", _np.logical_and)
LogicalOr = _compare("LogicalOr", _np.logical_or)
LogicalXor = _compare("LogicalXor", _np.logical_xor)


def _bitwise(name, ufunc):
    def fn(a, b):
        for v in (a, b):
            if getattr(v, "dtype", _np.dtype(int)).kind == "f" or isinstance(v, float):
                raise DTypeError(f"{_snake(name)}: bitwise ops need integer or bool tensors, "
                                 f"got {getattr(v, 'dtype', type(v).__name__)}")
        return ufunc(a, b)
    return _no_grad_op(name, fn)


BitwiseAnd = _bitwise("BitwiseAnd", _np.bitwise_and)
BitwiseOr = _bitwise("BitwiseOr", _np.bitwise_or)
BitwiseXor = _bitwise("BitwiseXor", _np.bitwise_xor)


def _invert(x):
    if x.dtype.kind == "f":
        raise DTypeError(f"bitwise_not: needs an integer or bool tensor, got {x.dtype}")
    return _np.invert(x)


BitwiseNot = _no_grad_op("BitwiseNot", _invert)
LogicalNot = _no_grad_op("LogicalNot", _np.logical_not)


def _sign(x):
    if x.dtype.kind == "b":
        return x.copy()
    out = _np.sign(x)
    if x.dtype.kind == "f":
        out = _np.where(out == out, out, 0).astype(x.dtype)  # PyTorch: sign(nan) = 0
    return out


Sign = _no_grad_op("Sign", _sign)
Floor = _no_grad_op("Floor", _np.floor)
Ceil = _no_grad_op("Ceil", _np.ceil)
Trunc = _no_grad_op("Trunc", _np.trunc)
Round = _no_grad_op("Round", lambda x, decimals=0: _np.round(x, decimals))
IsNan = _no_grad_op("IsNan", _np.isnan)
IsInf = _no_grad_op("IsInf", _np.isinf)
IsFinite = _no_grad_op("IsFinite", _np.isfinite)


# --- dtype, device, copies ----------------------------------------------------------

class Cast(Op):
    """x.to(dtype); the engine casts the gradient back to the input's dtype."""

    def forward(ctx, x, dtype):
        return x.astype(dtype)

    def backward(ctx, g):
        return g, None


class Clone(Op):
    def forward(ctx, x):
        return x.copy()

    def backward(ctx, g):
        return g


class ToDevice(Op):
    differentiable_twice = False

    def forward(ctx, x, dev):
        ctx.src = backend.device_of(x)
        return backend.to_device(x, dev)

    def backward(ctx, g):
        return backend.to_device(g, ctx.src), None


class CopyFrom(Op):
    """dst.copy_(src) as an out-of-place op: src broadcast to dst's shape and dtype."""

    def forward(ctx, dst, src):
        src = ctx.xp.asarray(src)
        try:
            return ctx.xp.broadcast_to(src, dst.shape).astype(dst.dtype, copy=True)
        except ValueError:
            raise ShapeError(f"copy_: source of shape {fmt_shape(src.shape)} cannot be "
                             f"broadcast to destination shape {fmt_shape(dst.shape)}") from None

    def backward(ctx, g):
        return None, g


class Fill(Op):
    """x.fill_(value) as an out-of-place op; a Tensor value gets the summed gradient."""

    def forward(ctx, x, value):
        return ctx.xp.full_like(x, value)

    def backward(ctx, g):
        return None, g.sum() if ctx.needs_grad[1] else None


# --- public functions -----------------------------------------------------------------

def add(input, other, *, alpha=1):
    """input + alpha * other, broadcasting, with PyTorch's dtype promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(input, other)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(input, other)


subtract = sub


def rsub(input, other, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other):
    return Mul.apply(input, other)


multiply = mul


def div(input, other, *, rounding_mode=None):
    """True division (integers give floats); rounding_mode 'trunc' or 'floor' rounds."""
    if rounding_mode is None:
        return Div.apply(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', "
                         f"got {rounding_mode!r}")
    return RoundedDiv.apply(input, other, rounding_mode)


divide = true_divide = div


def floor_divide(input, other):
    return RoundedDiv.apply(input, other, "floor")


def remainder(input, other):
    return Remainder.apply(input, other)


def fmod(input, other):
    """C-style remainder (sign of the dividend)."""
    return sub(input, mul(div(input, other, rounding_mode="trunc"), other))


def neg(input):
    return Neg.apply(input)


negative = neg


def pow(input, exponent):  # noqa: A001 - PyTorch's name
    """input ** exponent; either may be a number."""
    return Pow.apply(input, exponent)


def square(input):
    if input.dtype is _bool:  # PyTorch squares bools as int64 (pow, not logical and)
        input = cast(input, _np.int64)
    return mul(input, input)


def reciprocal(input):
    return Div.apply(1.0, input)


def maximum(input, other):
    """Elementwise max; where they tie, each input gets half the gradient."""
    return Maximum.apply(input, other)


def minimum(input, other):
    return Minimum.apply(input, other)


def clamp(input, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Limit values to [min, max]; min/max may be numbers or tensors."""
    return Clamp.apply(input, min, max)


clip = clamp


def where(condition, input=None, other=None):
    """Pick from `input` where `condition` holds, else from `other` (broadcasting)."""
    if input is None and other is None:
        from .index import nonzero  # noqa: PLC0415
        return nonzero(condition, as_tuple=True)
    return Where.apply(condition, input, other)


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def log1p(input):
    return Log1p.apply(input)


def expm1(input):
    return Expm1.apply(input)


def log2(input):
    return div(log(input), math.log(2))


def log10(input):
    return div(log(input), math.log(10))


def sqrt(input):
    return Sqrt.apply(input)


def rsqrt(input):
    return Rsqrt.apply(input)


def abs(input):  # noqa: A001 - PyTorch's name
    return Abs.apply(input)


absolute = abs


def sign(input):
    return Sign.apply(input)


def sin(input):
    return Sin.apply(input)


def cos(input):
    return Cos.apply(input)


def tan(input):
    return div(sin(input), cos(input))


def tanh(input):
    return Tanh.apply(input)


def sigmoid(input):
    """1 / (1 + exp(-x)), computed without overflow for any x."""
    return Sigmoid.apply(input)


def relu(input):
    return Relu.apply(input)


def erf(input):
    return Erf.apply(input)


def floor(input):
    return Floor.apply(input)


def ceil(input):
    return Ceil.apply(input)


def trunc(input):
    return Trunc.apply(input)


def round(input, *, decimals=0):  # noqa: A001 - PyTorch's name
    return Round.apply(input, decimals)


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return add(input, mul(weight, sub(end, input)))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    return add(input, mul(div(tensor1, tensor2), value))


def eq(input, other):
    return Eq.apply(input, other)


def ne(input, other):
    return Ne.apply(input, other)


def lt(input, other):
    return Lt.apply(input, other)


def le(input, other):
    return Le.apply(input, other)


def gt(input, other):
    return Gt.apply(input, other)


def ge(input, other):
    return Ge.apply(input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input, other) -> bool:
    """True if both have the same shape and values."""
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).data.all())


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(_np.allclose(backend_host(input), backend_host(other), rtol, atol, equal_nan))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return _make(_np.isclose(backend_host(input), backend_host(other), rtol, atol, equal_nan),
                 None, 0, None)


def logical_and(input, other):
    return LogicalAnd.apply(input, other)


def logical_or(input, other):
    return LogicalOr.apply(input, other)


def logical_xor(input, other):
    return LogicalXor.apply(input, other)


def logical_not(input):
    return LogicalNot.apply(input)


def bitwise_and(input, other):
    return BitwiseAnd.apply(input, other)


def bitwise_or(input, other):
    return BitwiseOr.apply(input, other)


def bitwise_xor(input, other):
    return BitwiseXor.apply(input, other)


def bitwise_not(input):
    return BitwiseNot.apply(input)


def isnan(input):
    return IsNan.apply(input)


def isinf(input):
    return IsInf.apply(input)


def isfinite(input):
    return IsFinite.apply(input)


def cast(input, dtype):
    """input as `dtype` (differentiable between float dtypes)."""
    return Cast.apply(input, as_dtype(dtype).np)


def to_device(input, device):
    if backend.device_of(input.data) == backend.device(device):
        return input
    return ToDevice.apply(input, backend.device(device))


def clone(input):
    """A copy that stays in the graph (gradients flow back to input)."""
    return Clone.apply(input)


def copy_from(dst, src):
    return CopyFrom.apply(dst, src)


def backend_host(x):
    data = x.data if isinstance(x, Tensor) else x
    return data if type(data) is _ndarray else _np.asarray(data)


# --- in-place edits -------------------------------------------------------------------

_INPLACE_UFUNCS = {add: _np.add, sub: _np.subtract, mul: _np.multiply}
_INPLACE_NAMES = {"copy_from": "copy_", "_filled": "fill_"}  # the public names, for messages


def inplace(t, fn, *args, **kwargs):
    """Run `fn(t, *args)` and write the result into `t`, as PyTorch's `op_` methods.

    In grad mode the op is recorded out of place and `t` takes over the new node
    (PyTorch's history rebase); an in-place edit of a leaf that requires grad is an
    error, and a later backward through a node that saved `t` raises.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn.__name__}_: expected a Tensor, got {type(t).__name__}")
    tracked = _mode.enabled and (t.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args))
    name = _INPLACE_NAMES.get(fn.__name__) or fn.__name__.rstrip("_") + "_"
    if not tracked:
        ufunc = _INPLACE_UFUNCS.get(fn)
        if ufunc is not None and not kwargs.get("alpha", 1) != 1 and len(args) == 1:
            other = args[0].data if isinstance(args[0], Tensor) else args[0]
            dt = result_type(t.data, other)
            if _np.ndim(other) == 0 or _shape(other) == t.data.shape:
                _check_cast(name, dt, t)
                ufunc(t.data, other, out=t.data, casting="unsafe")
                t._vc[0] += 1
                return t
        prev, _mode.enabled = _mode.enabled, False
        try:
            r = fn(t, *args, **kwargs)
        finally:
            _mode.enabled = prev
        _write(name, t, r.data)
        t._vc[0] += 1
        return t
    if t._node is None and t.requires_grad:
        raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation (hint: wrap the edit in `with fathom.no_grad():`"
                           f" or use the out-of-place form)")
    view = t._view
    if view is not None and view[0].requires_grad and view[0]._node is None:
        raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being "
                           f"used in an in-place operation (hint: wrap the edit in `with "
                           f"fathom.no_grad():`)")
    r = fn(t, *args, **kwargs)
    node = r._node
    if node is not None:
        _unshare_saved(node, t, args)
    _write(name, t, r.data)
    t._vc[0] += 1
    if node is not None:
        node.versions = [(t._vc, t._vc[0], what, shape) if vc is r._vc else (vc, v, what, shape)
                         for vc, v, what, shape in getattr(node, "versions", ())]
    if view is not None:
        _rebase_view(t, r)
    else:
        t._node, t._out_idx = node, r._out_idx
        t.requires_grad = node is not None
    return t


def _rebase_view(t, r):
    """After an in-place edit of view `t` (new value `r`), the base's history becomes
    "base with the view's region replaced by r", and `t` becomes a view of that."""
    base, chain = t._view
    new_base = CopySlices.apply(base, r, chain)
    base._node, base._out_idx = new_base._node, 0
    base.requires_grad = new_base._node is not None
    new_view = ViewOf.apply(base, chain)
    t._node, t._out_idx = new_view._node, 0
    t.requires_grad = new_view._node is not None


def _replay(chain, a):
    for node in chain:
        a = node.replay(a)
    return a


class CopySlices(Op):
    """base with the region that `chain` of views selects replaced by `value`."""

    differentiable_twice = False

    def forward(ctx, base, value, chain):
        ctx.chain = chain
        out = base.copy()
        _replay(chain, out)[...] = value
        return out

    def backward(ctx, g):
        gb = g.copy() if ctx.needs_grad[0] else None
        if gb is not None:
            _replay(ctx.chain, gb)[...] = 0
        gv = _replay(ctx.chain, g).copy() if ctx.needs_grad[1] else None
        return gb, gv, None


class ViewOf(Op):
    """The view that `chain` selects from base, as one node (after a CopySlices rebase)."""

    differentiable_twice = False

    def forward(ctx, base, chain):
        ctx.chain, ctx.shape = chain, base.shape
        return _replay(chain, base)

    def backward(ctx, g):
        gb = ctx.xp.zeros(ctx.shape, dtype=g.dtype)
        _replay(ctx.chain, gb)[...] = g
        return gb, None


def _check_cast(name, dt, t):
    if dt != t.data.dtype and not _np.can_cast(dt, t.data.dtype, "same_kind"):
        raise DTypeError(f"{name}: result type {dt} can't be cast to the desired output "
                         f"type {t.data.dtype}")


def _unshare_saved(node, t, args):
    """Copy t's array out of every node the op just recorded that saved it, since the
    in-place write is about to overwrite it. A composite `fn` (leaky_relu is a where
    over a mul) records several nodes; the walk stops at the nodes that existed before
    (t's and the other arguments'), whose saved values must stay version-checked."""
    old = {id(a._node) for a in (t, *args) if isinstance(a, Tensor) and a._node is not None}
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen or id(n) in old or not isinstance(n, Op):
            continue
        seen.add(id(n))
        if any(s is t.data for s in n.saved):
            n.saved = tuple(s.copy() if s is t.data else s for s in n.saved)
            if getattr(n, "saved_sources", None):
                n.saved_sources = [None if (src and src[0] == "in" and src[1] is t)
                                   else src for src in n.saved_sources]
            n.versions = [v for v in n.versions if v[0] is not t._vc]
        stack.extend(e[0] for e in getattr(n, "next_edges", ()) if e is not None)


def _write(name, t, result):
    if result.shape != t.data.shape:
        raise ShapeError(f"{name}: output with shape {fmt_shape(t.data.shape)} doesn't match "
                         f"the broadcast shape {fmt_shape(result.shape)}")
    _check_cast(name, result.dtype, t)
    if not t.data.flags.writeable:
        raise RuntimeError(f"{name}: the tensor's memory is read-only (an expanded or "
                           "broadcast view); call .clone() first")
    t.data[...] = result


def fill_(t, value):
    """Fill `t` with `value` in place."""
    if not (_mode.enabled and (t.requires_grad or getattr(value, "requires_grad", False))):
        t.data[...] = value.data if isinstance(value, Tensor) else value
        t._vc[0] += 1
        return t
    return inplace(t, _filled, value)


def _filled(t, value):
    return Fill.apply(t, value)


def zero_(t):
    return fill_(t, 0)
