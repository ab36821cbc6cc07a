"""Op-table entries for fathom.ops.shape."""
import numpy as np

import fathom

from .core import OpInfo, SampleInput


def _r(rng, *shape):
    return rng.standard_normal(shape)


def reshape_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x, (6, 4)), SampleInput(x, (-1,)), SampleInput(x, (4, -1, 2)),
            SampleInput(_r(rng), (1, 1)), SampleInput(_r(rng, 1), ()),
            SampleInput(_r(rng, 3, 1), (3,))]


def flatten_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, 0, 1), SampleInput(x, -2, -1),
            SampleInput(_r(rng)), SampleInput(_r(rng, 1, 3), 0)]


def _np_flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


def permute_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x, (2, 0, 1)), SampleInput(x, (0, -1, 1)), SampleInput(_r(rng), ()),
            SampleInput(_r(rng, 1, 3), (1, 0))]


def transpose_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x, 0, 2), SampleInput(x, -1, 1), SampleInput(x, 1, 1),
            SampleInput(_r(rng, 3), 0, -1), SampleInput(_r(rng, 1, 5), 0, 1)]


def movedim_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x, 0, 2), SampleInput(x, -1, 0), SampleInput(x, (0, 1), (2, 0)),
            SampleInput(_r(rng, 1, 3), 1, 0)]


def expand_samples(rng):
    return [SampleInput(_r(rng, 3, 1), (3, 4)), SampleInput(_r(rng, 1), (2, 3, 5)),
            SampleInput(_r(rng), (2, 2)), SampleInput(_r(rng, 2, 1), (4, -1, 3)),
            SampleInput(_r(rng, 2, 3), (2, 3))]


def _np_expand(x, sizes):
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return np.broadcast_to(x, shape)


def squeeze_samples(rng):
    x = _r(rng, 1, 3, 1, 2)
    return [SampleInput(x), SampleInput(x, 0), SampleInput(x, -2), SampleInput(x, 1),
            SampleInput(x, (0, 2)), SampleInput(_r(rng)), SampleInput(_r(rng, 1))]


def _np_squeeze(x, dim=None):
    if dim is None:
        return np.squeeze(x)
    dims = (dim,) if isinstance(dim, int) else dim
    axes = tuple(d % x.ndim for d in dims if x.shape[d] == 1)
    return np.squeeze(x, axes)


def unsqueeze_samples(rng):
    x = _r(rng, 2, 3)
    return [SampleInput(x, 0), SampleInput(x, 2), SampleInput(x, -1), SampleInput(x, -3),
            SampleInput(_r(rng), 0)]


def cat_samples(rng):
    return [
        SampleInput([_r(rng, 2, 3), _r(rng, 4, 3)], grad_args=(0,)),
        SampleInput([_r(rng, 2, 3), _r(rng, 2, 1), _r(rng, 2, 2)], 1, grad_args=(0,)),
        SampleInput([_r(rng, 2, 3, 1), _r(rng, 2, 3, 2)], -1, grad_args=(0,)),
        SampleInput([_r(rng, 3)], 0, grad_args=(0,), name="single"),
        SampleInput([_r(rng, 1), _r(rng, 1)], grad_args=(0,)),
    ]


def stack_samples(rng):
    return [
        SampleInput([_r(rng, 2, 3), _r(rng, 2, 3)], grad_args=(0,)),
        SampleInput([_r(rng, 2, 3), _r(rng, 2, 3), _r(rng, 2, 3)], -1, grad_args=(0,)),
        SampleInput([_r(rng), _r(rng)], grad_args=(0,), name="0d"),
        SampleInput([_r(rng, 1, 2)], 1, grad_args=(0,)),
    ]


def split_samples(rng):
    x = _r(rng, 5, 4)
    return [SampleInput(x, 2), SampleInput(x, 2, 1), SampleInput(x, [1, 4]),
            SampleInput(x, [2, 0, 2], -1), SampleInput(x, 5), SampleInput(_r(rng, 1), 1)]


def _np_split(x, size, dim=0):
    n = x.shape[dim]
    sizes = [size] * (n // size) + ([n % size] if n % size else []) if isinstance(size, int) \
        else size
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def chunk_samples(rng):
    x = _r(rng, 5, 4)
    return [SampleInput(x, 3), SampleInput(x, 2, 1), SampleInput(_r(rng, 6, 2), 4),
            SampleInput(x, 1, -1), SampleInput(_r(rng, 2), 5)]


def _np_chunk(x, chunks, dim=0):
    return _np_split(x, -(-x.shape[dim] // chunks), dim)


def unbind_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, -1), SampleInput(_r(rng, 1))]


def narrow_samples(rng):
    x = _r(rng, 4, 5)
    return [SampleInput(x, 0, 1, 2), SampleInput(x, -1, -3, 2), SampleInput(x, 1, 0, 5),
            SampleInput(x, 0, 2, 0)]


def _np_narrow(x, dim, start, length):
    start %= x.shape[dim]
    return np.take(x, range(start, start + length), axis=dim)


def flip_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x, (0,)), SampleInput(x, (0, 2)), SampleInput(x, (-1,)),
            SampleInput(x, ()), SampleInput(_r(rng), ()), SampleInput(_r(rng, 1, 3), (0, 1))]


def roll_samples(rng):
    x = _r(rng, 2, 3, 4)
    return [SampleInput(x, 1), SampleInput(x, -5), SampleInput(x, 2, 1),
            SampleInput(x, (1, -2), (0, 2)), SampleInput(x, 7, -1), SampleInput(_r(rng), 3),
            SampleInput(_r(rng, 1), 2, 0)]


def _np_roll(x, shifts, dims=None):
    return np.roll(x, shifts, dims)


def repeat_samples(rng):
    x = _r(rng, 2, 3)
    return [SampleInput(x, (2, 1)), SampleInput(x, (1, 2, 3)), SampleInput(_r(rng), (3,)),
            SampleInput(_r(rng, 1), (2, 2)), SampleInput(x, (1, 1))]


def tile_samples(rng):
    x = _r(rng, 2, 3)
    return [SampleInput(x, (2,)), SampleInput(x, (2, 1, 2)), SampleInput(_r(rng), (3,)),
            SampleInput(x, ())]


def tri_samples(rng):
    x = _r(rng, 3, 4)
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, -1), SampleInput(_r(rng, 2, 3, 3)),
            SampleInput(_r(rng, 4, 2), -2), SampleInput(_r(rng, 1, 1)),
            SampleInput(np.arange(6).reshape(2, 3), name="int")]


def diagonal_samples(rng):
    x = _r(rng, 3, 4)
    return [SampleInput(x), SampleInput(x, 1), SampleInput(x, -2), SampleInput(x, 5),
            SampleInput(_r(rng, 2, 3, 4), 0, 0, 2), SampleInput(_r(rng, 2, 3, 3), -1, -2, -1)]


def _as_torch(name):
    return lambda x, *a: getattr(x, name)(*a)


def _np_like(fn):
    return lambda x, other: fn(x, other.shape)


def like_samples(rng):
    return [SampleInput(_r(rng, 2, 3), _r(rng, 3, 2), grad_args=(0,)),
            SampleInput(_r(rng, 6), _r(rng, 1, 6), grad_args=(0,))]


def expand_as_samples(rng):
    return [SampleInput(_r(rng, 3, 1), _r(rng, 3, 4), grad_args=(0,)),
            SampleInput(_r(rng), _r(rng, 2, 3), grad_args=(0,))]


OPS = [
    OpInfo("reshape", fathom.reshape, reshape_samples, ref=np.reshape),
    OpInfo("view", fathom.view, reshape_samples, ref=np.reshape,
           torch_op=lambda x, s: x.reshape(s) if not x.is_contiguous() else x.view(s)),
    OpInfo("flatten", fathom.flatten, flatten_samples, ref=_np_flatten),
    OpInfo("unflatten", fathom.unflatten,
           lambda rng: [SampleInput(_r(rng, 2, 12), 1, (3, 4)),
                        SampleInput(_r(rng, 6), -1, (2, -1))],
           ref=lambda x, d, s: x.reshape(x.shape[:d % x.ndim] + tuple(s)
                                         + x.shape[d % x.ndim + 1:])),
    OpInfo("permute", fathom.permute, permute_samples, ref=np.transpose),
    OpInfo("transpose", fathom.transpose, transpose_samples, ref=np.swapaxes,
           aliases=("swapaxes", "swapdims")),
    OpInfo("t", fathom.t,
           lambda rng: [SampleInput(_r(rng, 2, 3)), SampleInput(_r(rng, 3)),
                        SampleInput(_r(rng))], ref=np.transpose),
    OpInfo("movedim", fathom.movedim, movedim_samples, ref=np.moveaxis, aliases=("moveaxis",)),
    OpInfo("expand", fathom.expand, expand_samples, ref=_np_expand,
           torch_op=lambda x, s: x.expand(*s)),
    OpInfo("broadcast_to", fathom.broadcast_to,
           lambda rng: [SampleInput(_r(rng, 3, 1), (2, 3, 4)), SampleInput(_r(rng), (2,))],
           ref=np.broadcast_to),
    OpInfo("expand_as", fathom.expand_as, expand_as_samples, ref=_np_like(np.broadcast_to),
           torch_op=_as_torch("expand_as")),
    OpInfo("reshape_as", fathom.reshape_as, like_samples, ref=_np_like(np.reshape),
           torch_op=_as_torch("reshape_as")),
    OpInfo("view_as", fathom.view_as, like_samples, ref=_np_like(np.reshape),
           torch_op=lambda x, o: x.reshape(o.shape)),
    OpInfo("squeeze", fathom.squeeze, squeeze_samples, ref=_np_squeeze),
    OpInfo("unsqueeze", fathom.unsqueeze, unsqueeze_samples, ref=np.expand_dims),
    OpInfo("atleast_1d", fathom.atleast_1d,
           lambda rng: [SampleInput(_r(rng)), SampleInput(_r(rng, 2, 3))], ref=np.atleast_1d),
    OpInfo("cat", fathom.cat, cat_samples, ref=lambda xs, dim=0: np.concatenate(xs, dim),
           aliases=("concat", "concatenate")),
    OpInfo("stack", fathom.stack, stack_samples, ref=lambda xs, dim=0: np.stack(xs, dim)),
    OpInfo("split", fathom.split, split_samples, ref=_np_split),
    OpInfo("chunk", fathom.chunk, chunk_samples, ref=_np_chunk),
    OpInfo("unbind", fathom.unbind, unbind_samples,
           ref=lambda x, dim=0: tuple(np.moveaxis(x, dim, 0))),
    OpInfo("narrow", fathom.narrow, narrow_samples, ref=_np_narrow),
    OpInfo("flip", fathom.flip, flip_samples, ref=lambda x, dims: np.flip(x, dims)),
    OpInfo("fliplr", fathom.fliplr, lambda rng: [SampleInput(_r(rng, 2, 3))], ref=np.fliplr),
    OpInfo("flipud", fathom.flipud, lambda rng: [SampleInput(_r(rng, 2, 3))], ref=np.flipud),
    OpInfo("roll", fathom.roll, roll_samples, ref=_np_roll),
    OpInfo("repeat", fathom.repeat, repeat_samples, ref=np.tile,
           torch_op=lambda x, s: x.repeat(*s)),
    OpInfo("tile", fathom.tile, tile_samples, ref=np.tile),
    OpInfo("tril", fathom.tril, tri_samples, ref=lambda x, k=0: np.tril(x, k)),
    OpInfo("triu", fathom.triu, tri_samples, ref=lambda x, k=0: np.triu(x, k)),
    OpInfo("diagonal", fathom.diagonal, diagonal_samples,
           ref=lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2)),
]
