"""Op-table entries for fathom.ops.linalg."""
import numpy as np

import fathom

from .core import OpInfo, SampleInput


def _r(rng, *shape):
    return rng.standard_normal(shape)


def matmul_samples(rng):
    return [
        SampleInput(_r(rng, 2, 3), _r(rng, 3, 4), name="2d@2d"),
        SampleInput(_r(rng, 3), _r(rng, 3), name="1d@1d"),
        SampleInput(_r(rng, 3), _r(rng, 3, 4), name="1d@2d"),
        SampleInput(_r(rng, 2, 3), _r(rng, 3), name="2d@1d"),
        SampleInput(_r(rng, 2, 2, 3), _r(rng, 3), name="3d@1d"),
        SampleInput(_r(rng, 3), _r(rng, 2, 3, 4), name="1d@3d"),
        SampleInput(_r(rng, 2, 1, 3, 4), _r(rng, 5, 4, 2), name="batched-broadcast"),
        SampleInput(_r(rng, 2, 3, 4), _r(rng, 4, 2), name="3d@2d"),
        SampleInput(_r(rng, 1, 1), _r(rng, 1, 3), name="size1"),
    ]


def _np_mm(a, b):
    return np.matmul(a, b)


def einsum_samples(rng):
    return [
        SampleInput("ij,jk->ik", _r(rng, 2, 3), _r(rng, 3, 4), name="matmul"),
        SampleInput("ii->", _r(rng, 3, 3), name="trace"),
        SampleInput("ii->i", _r(rng, 3, 3), name="diag"),
        SampleInput("iij->j", _r(rng, 3, 3, 2), name="partial-trace"),
        SampleInput("ij->", _r(rng, 2, 3), name="sum"),
        SampleInput("ij", _r(rng, 2, 3), name="implicit"),
        SampleInput("ji", _r(rng, 2, 3), name="implicit-transpose"),
        SampleInput("bij,bjk", _r(rng, 2, 3, 4), _r(rng, 2, 4, 2), name="implicit-bmm"),
        SampleInput("...ij,...jk->...ik", _r(rng, 2, 1, 3, 4), _r(rng, 5, 4, 2),
                    name="ellipsis-broadcast"),
        SampleInput("...i,...i", _r(rng, 3, 4), _r(rng, 4), name="ellipsis-implicit"),
        SampleInput("ij...->...", _r(rng, 2, 3, 2, 2), name="ellipsis-last"),
        SampleInput("i,j->ij", _r(rng, 3), _r(rng, 4), name="outer"),
        SampleInput("i,i,i->", _r(rng, 3), _r(rng, 3), _r(rng, 3), name="three"),
        SampleInput("ij,ij->i", _r(rng, 1, 3), _r(rng, 4, 3), name="size1-broadcast"),
        SampleInput("ij,jk", _r(rng, 2, 1), _r(rng, 3, 4), name="size1-contracted"),
        SampleInput(" b i , b i -> b ", _r(rng, 2, 3), _r(rng, 2, 3), name="spaces"),
        SampleInput("->", _r(rng), name="0d"),
    ]


OPS = [
    OpInfo("matmul", fathom.matmul, matmul_samples, ref=np.matmul),
    OpInfo("mm", fathom.mm,
           lambda rng: [SampleInput(_r(rng, 2, 3), _r(rng, 3, 4)),
                        SampleInput(_r(rng, 1, 1), _r(rng, 1, 5))], ref=np.matmul),
    OpInfo("bmm", fathom.bmm,
           lambda rng: [SampleInput(_r(rng, 2, 3, 4), _r(rng, 2, 4, 2)),
                        SampleInput(_r(rng, 1, 1, 3), _r(rng, 1, 3, 1))], ref=np.matmul),
    OpInfo("mv", fathom.mv,
           lambda rng: [SampleInput(_r(rng, 2, 3), _r(rng, 3)),
                        SampleInput(_r(rng, 1, 1), _r(rng, 1))], ref=np.matmul),
    OpInfo("dot", fathom.dot,
           lambda rng: [SampleInput(_r(rng, 3), _r(rng, 3)), SampleInput(_r(rng, 1), _r(rng, 1))],
           ref=np.dot),
    OpInfo("outer", fathom.outer,
           lambda rng: [SampleInput(_r(rng, 3), _r(rng, 4)), SampleInput(_r(rng, 1), _r(rng, 2))],
           ref=np.outer, aliases=("ger",), torch_op=lambda a, b: a.outer(b)),
    OpInfo("einsum", fathom.einsum, einsum_samples, ref=np.einsum),
]
