"""Op-table entries for fathom.ops.elementwise."""
import numpy as np

import fathom

from .core import OpInfo, SampleInput


def binary_samples(rng, positive=False):
    """Same shape, 0-d, size-1 dims and broadcast pairs, plus a Python scalar."""
    def r(*shape):
        x = rng.standard_normal(shape)
        return np.abs(x) + 0.5 if positive else x
    return [
        SampleInput(r(2, 3), r(2, 3)),
        SampleInput(r(), r()),
        SampleInput(r(1), r(4)),
        SampleInput(r(3, 1), r(1, 4)),
        SampleInput(r(4), r(2, 3, 4)),
        SampleInput(r(), r(2, 3)),
        SampleInput(r(2, 3), 1.5),
    ]


def unary_samples(rng, positive=False):
    def r(*shape):
        x = rng.standard_normal(shape)
        return np.abs(x) + 0.5 if positive else x
    return [SampleInput(r(2, 3)), SampleInput(r()), SampleInput(r(1)), SampleInput(r(3, 1, 4))]


OPS = [
    OpInfo("add", fathom.add, binary_samples, ref=np.add),
    OpInfo("exp", fathom.exp, unary_samples, ref=np.exp),
]
