"""Op-table entries for fathom.ops.reduce."""
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


OPS = [
    OpInfo("sum", fathom.sum, reduce_samples, ref=_np_reduce(np.sum)),
]
