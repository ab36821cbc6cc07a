"""Op-table entries for fathom.ops.reduce."""
import math

import numpy as np

import fathom

from .core import OpInfo, SampleInput


def reduce_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    return [
        SampleInput(x),
        SampleInput(x, 1),
        SampleInput(x, -1, True),
        SampleInput(x, (0, 2)),
        SampleInput(rng.standard_normal(())),
        SampleInput(rng.standard_normal((1,)), 0),
    ]


def _np_reduce(fn):
    def ref(x, dim=None, keepdim=False):
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def amax_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, -1, True), SampleInput(x, (0, 2)),
            SampleInput(rng.standard_normal(())), SampleInput(rng.standard_normal((3, 1)), 1)]


def _np_amax(fn):
    def ref(x, dim=(), keepdim=False):
        return fn(x, axis=None if dim == () else dim, keepdims=keepdim)
    return ref


def max_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    return [
        SampleInput(x, name="all"),
        SampleInput(x, 1, name="dim"),
        SampleInput(x, -1, True, name="dim-keepdim"),
        SampleInput(x, dim=0, name="kwarg"),
        SampleInput(rng.standard_normal(()), 0, name="0d-dim"),
        SampleInput(rng.standard_normal(()), name="0d"),
        SampleInput(x, rng.standard_normal((3, 4)), name="binary"),
        SampleInput(rng.standard_normal((3, 1)), rng.standard_normal((1, 4)), name="broadcast"),
    ]


def _np_max(arg, val):
    def ref(x, dim=None, keepdim=False):
        if isinstance(dim, np.ndarray):
            return (np.maximum if val is np.max else np.minimum)(x, dim)
        if dim is None:
            return val(x)
        if x.ndim == 0:
            return x, np.zeros((), np.int64)
        idx = arg(x, axis=dim, keepdims=keepdim)
        return val(x, axis=dim, keepdims=keepdim), idx
    return ref


def arg_samples(rng):
    x = rng.standard_normal((3, 4, 2))
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, -1, True),
            SampleInput(x, keepdim=True), SampleInput(rng.standard_normal(())),
            SampleInput(np.array([[1, 5, 5], [7, 0, 7]]), 1, name="int-ties")]


def _np_arg(fn):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            out = np.asarray(fn(x.reshape(-1)))
            return out.reshape((1,) * x.ndim) if keepdim else out
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def prod_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    one_zero = rng.standard_normal((3, 4))
    one_zero[1, 2] = 0
    two_zeros = rng.standard_normal((2, 5))
    two_zeros[0, 1] = two_zeros[0, 3] = 0
    return [
        SampleInput(x),
        SampleInput(x, 1),
        SampleInput(x, -1, True),
        SampleInput(rng.standard_normal(())),
        SampleInput(rng.standard_normal((1,)), 0),
        SampleInput(one_zero, name="zero-all"),
        SampleInput(one_zero, 1, name="zero-dim"),
        SampleInput(one_zero, 0, True, name="zero-dim0"),
        SampleInput(two_zeros, 1, name="two-zeros"),
        SampleInput(two_zeros, name="two-zeros-all"),
        SampleInput(np.array([[1, 2, 3], [4, 5, 6]]), 1, name="int"),
    ]


def _np_prod(x, dim=None, keepdim=False):
    return np.prod(x, axis=dim, keepdims=keepdim)


def var_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    return [
        SampleInput(x),
        SampleInput(x, 1),
        SampleInput(x, -1, keepdim=True),
        SampleInput(x, (0, 2)),
        SampleInput(x, 1, correction=0),
        SampleInput(x, (0, 1), correction=2, keepdim=True),
        SampleInput(x, 1, False, name="unbiased-positional"),
        SampleInput(rng.standard_normal((5,)), 0),
    ]


def _np_var(fn):
    def ref(x, dim=None, unbiased=None, keepdim=False, correction=None):
        ddof = correction if correction is not None else (1 if unbiased in (None, True) else 0)
        return fn(x, axis=dim, ddof=ddof, keepdims=keepdim)
    return ref


def norm_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    v = rng.standard_normal((5,))
    return [
        SampleInput(x, name="fro-all"),
        SampleInput(x, "fro", (0, 1), name="fro-dims"),
        SampleInput(x, 2, 1, name="p2"),
        SampleInput(x, 1, -1, True, name="p1"),
        SampleInput(x, 3.0, (0, 2), name="p3"),
        SampleInput(np.abs(x) + 0.5, 0.5, 1, name="p0.5"),
        SampleInput(v, math.inf, name="inf"),
        SampleInput(x, -math.inf, 1, name="-inf"),
        SampleInput(x, 0, 1, name="p0"),
        SampleInput(rng.standard_normal(()), name="0d"),
        SampleInput(rng.standard_normal((1, 3)), 2, 0, name="size1"),
    ]


def _np_norm(x, p="fro", dim=None, keepdim=False):
    ax = np.abs(x)
    if p == "fro":
        p = 2
    if p == math.inf:
        return ax.max(axis=dim, keepdims=keepdim)
    if p == -math.inf:
        return ax.min(axis=dim, keepdims=keepdim)
    if p == 0:
        return (x != 0).sum(axis=dim, keepdims=keepdim).astype(x.dtype)
    return (ax ** p).sum(axis=dim, keepdims=keepdim) ** (1 / p)


def lse_samples(rng):
    x = rng.standard_normal((2, 3, 4))
    big = np.array([[1000.0, 999.0, -3.0], [-1000.0, -1001.0, -999.5]])
    return [SampleInput(x, 1), SampleInput(x, -1, True), SampleInput(x, (0, 2)),
            SampleInput(big, 1, name="+-1000"), SampleInput(big, 0, name="+-1000-dim0"),
            SampleInput(rng.standard_normal(()), 0), SampleInput(rng.standard_normal((1,)), 0)]


def _np_lse(x, dim, keepdim=False):
    m = np.max(x, axis=dim, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def cum_samples(rng, zeros=False):
    x = rng.standard_normal((2, 3, 4))
    out = [SampleInput(x, 0), SampleInput(x, -1), SampleInput(x, dim=1),
           SampleInput(rng.standard_normal(()), 0), SampleInput(rng.standard_normal((1,)), 0),
           SampleInput(np.array([[1, 2, 3], [4, 5, 6]]), 1, name="int")]
    if zeros:
        z = rng.standard_normal((3, 5))
        z[0, 1] = 0
        z[1, 1] = z[1, 3] = 0
        z[2, 4] = 0
        out += [SampleInput(z, 1, name="zeros"), SampleInput(z, 0, name="zeros-dim0")]
    return out


def _np_cum(fn):
    def ref(x, dim):
        if x.ndim == 0:
            return x.copy()
        return fn(x, axis=dim)
    return ref


def logical_samples(rng):
    x = rng.standard_normal((3, 4))
    x[0, 1] = 0
    x[2] = 0
    b = rng.standard_normal((2, 3, 4)) > 0
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, 0, True), SampleInput(b, (0, 2)),
            SampleInput(b, -1), SampleInput(np.zeros(())), SampleInput(np.array([1, 0, 2]))]


def _np_logical(fn):
    def ref(x, dim=None, keepdim=False):
        return np.asarray(fn(x, axis=dim, keepdims=keepdim))
    return ref


OPS = [
    OpInfo("sum", fathom.sum, reduce_samples, ref=_np_reduce(np.sum)),
    OpInfo("mean", fathom.mean, reduce_samples, ref=_np_reduce(np.mean)),
    OpInfo("amax", fathom.amax, amax_samples, ref=_np_amax(np.max)),
    OpInfo("amin", fathom.amin, amax_samples, ref=_np_amax(np.min)),
    OpInfo("max", fathom.max, max_samples, ref=_np_max(np.argmax, np.max)),
    OpInfo("min", fathom.min, max_samples, ref=_np_max(np.argmin, np.min)),
    OpInfo("argmax", fathom.argmax, arg_samples, ref=_np_arg(np.argmax), differentiable=False),
    OpInfo("argmin", fathom.argmin, arg_samples, ref=_np_arg(np.argmin), differentiable=False),
    OpInfo("prod", fathom.prod, prod_samples, ref=_np_prod),
    OpInfo("var", fathom.var, var_samples, ref=_np_var(np.var)),
    OpInfo("std", fathom.std, var_samples, ref=_np_var(np.std)),
    OpInfo("norm", fathom.norm, norm_samples, ref=_np_norm),
    OpInfo("logsumexp", fathom.logsumexp, lse_samples, ref=_np_lse),
    OpInfo("cumsum", fathom.cumsum, cum_samples, ref=_np_cum(np.cumsum)),
    OpInfo("cumprod", fathom.cumprod, lambda rng: cum_samples(rng, zeros=True),
           ref=_np_cum(np.cumprod)),
    OpInfo("all", fathom.all, logical_samples, ref=_np_logical(np.all), differentiable=False),
    OpInfo("any", fathom.any, logical_samples, ref=_np_logical(np.any), differentiable=False),
]
