"""Op-table entries for fathom.ops.index: indexing, gather/scatter, masks."""
import numpy as np

import fathom

from .core import OpInfo, SampleInput


def _r(rng, *shape):
    return rng.standard_normal(shape)


def _i(*values):
    return np.array(values, dtype=np.int64)


def getitem_samples(rng):
    x = _r(rng, 4, 5, 3)
    mask = rng.standard_normal((4, 5)) > 0
    return [
        SampleInput(x, 1, name="int"),
        SampleInput(x, -1, name="negative-int"),
        SampleInput(x, (slice(1, None, 2), slice(None, None, 2)), name="step-slices"),
        SampleInput(x, (Ellipsis, 1), name="ellipsis"),
        SampleInput(x, (None, 0, Ellipsis, None), name="none"),
        SampleInput(x, (slice(None), -2, slice(0, 2)), name="mixed-basic"),
        SampleInput(x, _i(0, 2, 2, 0, 2), name="repeated-array"),
        SampleInput(x, (_i(1, 1, 3), _i(0, 0, 4)), name="repeated-pairs"),
        SampleInput(x, (slice(None), _i([0, 1], [1, 1]), slice(1, 3)), name="advanced-middle"),
        SampleInput(x, (_i(3, 3), Ellipsis, _i(2, 2)), name="advanced-split"),
        SampleInput(x, mask, name="bool-mask"),
        SampleInput(x, (slice(None), mask[0]), name="bool-axis1"),
        SampleInput(x, (Ellipsis, np.array([True, False, True])), name="bool-last"),
        SampleInput(_r(rng), (), name="0d"),
        SampleInput(_r(rng), None, name="0d-none"),
        SampleInput(_r(rng, 3), _i(-1, -1), name="negative-array"),
    ]


def _np_getitem(x, idx):
    return x[idx]


def _fathom_setitem(x, idx, v):
    y = x * 2  # a non-leaf with history, so the edit is recorded
    y[idx] = v
    return y


def _torch_setitem(x, idx, v):
    y = x * 2
    y[idx] = v
    return y


def _np_setitem(x, idx, v):
    y = x * 2
    y[idx] = v
    return y


def setitem_samples(rng):
    x = _r(rng, 4, 5)
    mask = rng.standard_normal((4, 5)) > 0
    return [
        SampleInput(x, 1, _r(rng, 5), name="row"),
        SampleInput(x, (slice(None), 2), _r(rng, 4), name="column"),
        SampleInput(x, (slice(0, 4, 2), slice(1, None, 2)), _r(rng, 2, 2), name="steps"),
        SampleInput(x, (Ellipsis, -1), _r(rng), name="0d-value"),
        SampleInput(x, (slice(1, 3),), _r(rng, 1, 5), name="broadcast-value"),
        SampleInput(x, (_i(0, 2), _i(1, 4)), _r(rng, 2), name="advanced"),
        SampleInput(x, mask, _r(rng), name="bool-mask"),
        SampleInput(x, 2, 1.5, name="python-value"),
        SampleInput(x, (None, 1), _r(rng, 1, 5), name="none"),
    ]


def gather_samples(rng):
    x = _r(rng, 3, 4)
    return [
        SampleInput(x, 1, _i([0, 0, 3], [1, 2, 1], [3, 3, 3]), name="repeats"),
        SampleInput(x, 0, _i([2, 0, 1, 1]), name="dim0"),
        SampleInput(x, -1, _i([1], [0]), name="smaller"),
        SampleInput(_r(rng, 2, 3, 4), 2, rng.integers(0, 4, (2, 3, 6)), name="3d"),
        SampleInput(_r(rng, 4), 0, _i(3, 3, 0), name="1d"),
    ]


def _np_gather(x, dim, idx):
    sl = tuple(slice(0, n) if d != dim % x.ndim else slice(None)
               for d, n in enumerate(idx.shape))
    return np.take_along_axis(x[sl], idx, dim)


def scatter_samples(rng):
    x = _r(rng, 3, 4)
    return [
        SampleInput(x, 0, _i([2, 0, 1, 1], [1, 2, 0, 0]), _r(rng, 2, 4), name="src"),
        SampleInput(x, 1, _i([3, 0], [1, 2], [0, 3]), _r(rng, 3, 2), name="src-dim1"),
        SampleInput(x, -1, _i([1], [0], [2]), 2.5, name="value"),
    ]


def _np_scatter(x, dim, idx, src=None, value=None):
    src = value if src is None else src
    out = x.copy()
    dim %= x.ndim
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[dim] = idx[pos]
        out[tuple(tgt)] = src[pos] if isinstance(src, np.ndarray) else src
    return out


def scatter_add_samples(rng):
    x = _r(rng, 3, 4)
    return [
        SampleInput(x, 0, _i([2, 0, 2, 2], [2, 2, 0, 0]), _r(rng, 2, 4), name="repeats"),
        SampleInput(x, 1, _i([3, 3], [1, 2]), _r(rng, 2, 2), name="dim1"),
    ]


def _np_scatter_add(x, dim, idx, src):
    out = x.copy()
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[dim % x.ndim] = idx[pos]
        out[tuple(tgt)] += src[pos]
    return out


def index_select_samples(rng):
    x = _r(rng, 3, 4)
    return [SampleInput(x, 0, _i(2, 0, 2)), SampleInput(x, -1, _i(3)),
            SampleInput(x, 1, np.array(1)), SampleInput(_r(rng, 2, 3, 2), 1, _i(1, 1, 0, 2))]


def index_add_samples(rng):
    x = _r(rng, 3, 4)
    return [SampleInput(x, 0, _i(2, 0, 2), _r(rng, 3, 4)),
            SampleInput(x, 1, _i(3, 3), _r(rng, 3, 2), alpha=2.0),
            SampleInput(x, -1, _i(1), _r(rng, 3, 1))]


def _np_index_add(x, dim, idx, src, alpha=1):
    out = x.copy()
    idx = idx.reshape(-1)
    for k, i in enumerate(idx):
        sl = [slice(None)] * x.ndim
        sl[dim] = i
        ss = [slice(None)] * x.ndim
        ss[dim] = k
        out[tuple(sl)] += alpha * src[tuple(ss)]
    return out


def masked_fill_samples(rng):
    x = _r(rng, 3, 4)
    return [
        SampleInput(x, rng.standard_normal((3, 4)) > 0, 2.5, name="same-shape"),
        SampleInput(x, np.array([True, False, True, False]), -1.0, name="broadcast-mask"),
        SampleInput(x, rng.standard_normal((3, 1)) > 0, _r(rng), name="tensor-value"),
        SampleInput(_r(rng), np.array(True), 0.0, name="0d"),
    ]


def _np_masked_fill(x, mask, value):
    return np.where(mask, value, x)


def masked_select_samples(rng):
    x = _r(rng, 3, 4)
    return [SampleInput(x, rng.standard_normal((3, 4)) > 0),
            SampleInput(x, np.array([True, False, True, True])),
            SampleInput(_r(rng, 4), rng.standard_normal((2, 4)) > 0, name="broadcast-input")]


def _np_masked_select(x, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return np.broadcast_to(x, shape)[np.broadcast_to(mask, shape)]


def nonzero_samples(rng):
    x = _r(rng, 3, 4)
    x[x < 0] = 0
    return [SampleInput(x), SampleInput(x, as_tuple=True), SampleInput(np.array([0, 3, 0, 1])),
            SampleInput(np.array(2.0)), SampleInput(np.zeros((2, 2)))]


def _np_nonzero(x, as_tuple=False):
    if as_tuple:
        return np.nonzero(np.atleast_1d(x))
    return np.argwhere(x)


def take_along_dim_samples(rng):
    x = _r(rng, 3, 4)
    return [
        SampleInput(x, _i([0, 3], [1, 1], [2, 0]), 1),
        SampleInput(x, _i([2, 0, 1, 1]), 0),
        SampleInput(x, _i([0], [2]), 0, name="broadcast"),
        SampleInput(x, _i(11, 0, 5, 5), name="flat"),
    ]


def _np_take_along_dim(x, idx, dim=None):
    if dim is None:
        return x.reshape(-1)[idx.reshape(-1)]
    si, sx = list(x.shape), list(idx.shape)
    si[dim] = sx[dim] = 1
    b = np.broadcast_shapes(tuple(si), tuple(sx))
    bi, bx = list(b), list(b)
    bi[dim], bx[dim] = x.shape[dim], idx.shape[dim]
    return np.take_along_axis(np.broadcast_to(x, bi), np.broadcast_to(idx, bx), dim)


OPS = [
    OpInfo("getitem", fathom.getitem, getitem_samples, ref=_np_getitem,
           torch_op=lambda x, idx: x[idx]),
    OpInfo("setitem", _fathom_setitem, setitem_samples, ref=_np_setitem,
           torch_op=_torch_setitem, notes="x[idx] = v on a non-leaf: grads to x and v"),
    OpInfo("gather", fathom.gather, gather_samples, ref=_np_gather),
    OpInfo("scatter", fathom.scatter, scatter_samples, ref=_np_scatter),
    OpInfo("scatter_add", fathom.scatter_add, scatter_add_samples, ref=_np_scatter_add),
    OpInfo("index_select", fathom.index_select, index_select_samples,
           ref=lambda x, dim, idx: np.take(x, idx.reshape(-1), axis=dim)),
    OpInfo("index_add", fathom.index_add, index_add_samples, ref=_np_index_add),
    OpInfo("masked_fill", fathom.masked_fill, masked_fill_samples, ref=_np_masked_fill),
    OpInfo("masked_select", fathom.masked_select, masked_select_samples, ref=_np_masked_select),
    OpInfo("nonzero", fathom.nonzero, nonzero_samples, ref=_np_nonzero, differentiable=False),
    OpInfo("argwhere", fathom.argwhere, lambda rng: nonzero_samples(rng)[:1], ref=np.argwhere,
           differentiable=False),
    OpInfo("take_along_dim", fathom.take_along_dim, take_along_dim_samples,
           ref=_np_take_along_dim),
]
