"""The `ctx.F` of the default backward: the array module, plus a few helpers it lacks.

Backward formulas call `ctx.F.<name>` with NumPy's names and semantics. Here
that is NumPy (or CuPy) itself; under `create_graph=True` it is `tensor_ns`,
which has the same names built from Fathom's differentiable ops. A helper added
here must be added there too.
"""
from __future__ import annotations


class ArrayNamespace:
    """`xp` with extras; unknown names fall through to xp and are cached."""

    def __init__(self, xp):
        self.xp = xp

    def __getattr__(self, name):
        fn = getattr(self.xp, name)
        self.__dict__[name] = fn
        return fn

    def put_along_axis_zeros(self, shape, indices, values, axis):
        """Zeros of `shape` with `values` written at `indices` along `axis`."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        self.xp.put_along_axis(out, indices, values, axis)
        return out

    def index_add_zeros(self, shape, index, values):
        """Zeros of `shape` with `values` added at `out[index]` (repeats accumulate)."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        self.xp.add.at(out, index, values)
        return out

    def slice_put_zeros(self, shape, index, values):
        """Zeros of `shape` with out[index] = values, for a basic (non-repeating) index."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        out[index] = values
        return out


_cache = {}


def for_xp(xp) -> ArrayNamespace:
    ns = _cache.get(xp)
    if ns is None:
        ns = _cache[xp] = ArrayNamespace(xp)
    return ns
