"""Variable-length sequences for the recurrent layers: PackedSequence and its helpers.

PyTorch's `torch.nn.utils.rnn`: a PackedSequence holds the steps of a batch of
sequences sorted by length (longest first), time step by time step: `data` is
(sum of lengths, *), `batch_sizes[t]` says how many sequences are still running at
step t. nn.RNN / LSTM / GRU accept one and return one.

Every conversion here (pack, pad, unsort) is one gather of rows, so it is
differentiable and costs one index op whatever the batch.

    >>> seqs = [fathom.ones(3, 2), fathom.ones(1, 2)]
    >>> packed = pack_sequence(seqs)
    >>> packed.data.shape, packed.batch_sizes.tolist()
    (fathom.Size([4, 2]), [2, 1, 1])
"""
from __future__ import annotations

from collections import namedtuple

from ... import backend
from ...creation import full, tensor
from ...errors import ShapeError, fmt_shape
from ...ops.index import getitem
from ...ops.shape import cat, reshape, transpose
from ...tensor import Tensor

_np = backend.np

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _indices(t):
    """An int64 index tensor (or None) as a host array."""
    if t is None:
        return None
    return _np.asarray(backend.to_device(t.data, "cpu") if isinstance(t, Tensor) else t,
                       dtype=_np.int64)


def invert_permutation(permutation):
    """The permutation q with q[p[i]] = i (None stays None)."""
    if permutation is None:
        return None
    p = _indices(permutation)
    inv = _np.empty_like(p)
    inv[p] = _np.arange(p.size)
    return tensor(inv)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """data (sum of lengths, *), batch_sizes (max length,) int64, sorted_indices (B,) (the
    original index of each sorted sequence, or None if the batch came sorted) and
    unsorted_indices (its inverse). Build one with pack_padded_sequence or pack_sequence.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)) as in PyTorch
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or a "
                                "(data, batch_sizes) pair")
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """data moved or cast (batch_sizes stay on the CPU, as in PyTorch)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device

        def move(t):
            return None if t is None else t.to(device)
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=_dtype("float64"))

    def float(self):
        return self.to(dtype=_dtype("float32"))

    @property
    def is_cuda(self) -> bool:
        return self.data.device.type == "cuda"


def _dtype(name):
    from ... import dtypes  # noqa: PLC0415
    return getattr(dtypes, name)


# --- the gathers ----------------------------------------------------------------------

def _running(batch_sizes, batch):
    """(T, B) bool: is sorted sequence b still running at step t?"""
    return _np.arange(batch)[None, :] < batch_sizes[:, None]


def _gather_rows(x, rows, shape):
    """x's rows (dim 0) at `rows`, reshaped to `shape` + x's trailing dims."""
    return reshape(getitem(x, rows.reshape(-1)), tuple(shape) + tuple(x.shape[1:]))


def _pad_rows(data, padding_value):
    """data with one extra row of padding_value at the end (what padded slots gather)."""
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
               device=data.device)
    return cat([data, pad], 0)


def _padded_from_packed(data, batch_sizes, unsorted=None, padding_value=0.0, total=None):
    """(T, B, *) time-major from packed data; columns unsorted when `unsorted` is given."""
    T, B = len(batch_sizes), int(batch_sizes[0])
    running = _running(batch_sizes, B)
    src = _np.full((T, B), data.shape[0], dtype=_np.int64)  # the padding row
    src[running] = _np.arange(data.shape[0])
    if unsorted is not None:
        src = src[:, unsorted]
    if total is not None and total > T:
        src = _np.concatenate([src, _np.full((total - T, B), data.shape[0], _np.int64)])
    return _gather_rows(_pad_rows(data, padding_value), src, src.shape)


def _packed_from_padded(padded, batch_sizes, sorted_indices=None):
    """Packed data from (T, B, *) time-major; `sorted_indices` picks the columns' order."""
    T, B = padded.shape[0], padded.shape[1]
    cols = _np.arange(B) if sorted_indices is None else sorted_indices
    flat = _np.arange(len(batch_sizes))[:, None] * B + cols[None, :]
    rows = flat[_running(batch_sizes, B)]
    return _gather_rows(reshape(padded, (T * B,) + tuple(padded.shape[2:])), rows, (-1,))


# --- public functions -----------------------------------------------------------------

def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) if batch_first) of sequences of `lengths`.

    enforce_sorted=True expects lengths in decreasing order; False sorts them (and the
    PackedSequence remembers the order, so outputs come back in the input's order).
    """
    lens = _indices(lengths).reshape(-1)
    if input.ndim < 2:
        raise ShapeError(f"pack_padded_sequence: expected input (T, B, *) or (B, T, *) with at "
                         f"least 2 dims, got shape {fmt_shape(input.shape)}")
    if batch_first:
        input = transpose(input, 0, 1)
    T, B = input.shape[0], input.shape[1]
    if lens.size != B:
        raise ShapeError(f"pack_padded_sequence: Expected `len(lengths)` to be equal to "
                         f"batch_size, but got {lens.size} (batch_size={B}); input shape "
                         f"{fmt_shape(input.shape)}")
    if lens.size and lens.min() <= 0:
        raise ValueError("pack_padded_sequence: Length of all samples has to be greater than 0, "
                         f"but found an element in 'lengths' that is <= 0 (lengths "
                         f"{lens.tolist()})")
    if lens.size and lens.max() > T:
        raise ShapeError(f"pack_padded_sequence: a length {int(lens.max())} is longer than the "
                         f"{T} steps of input {fmt_shape(input.shape)}")
    if enforce_sorted:
        if _np.any(lens[1:] > lens[:-1]):
            raise ValueError("`lengths` array must be sorted in decreasing order when "
                             "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                             "pack_padded_sequence and/or pack_sequence to sidestep this "
                             "requirement if you do not need ONNX exportability.")
        order = None
    else:
        order = _np.argsort(-lens, kind="stable")
        lens = lens[order]
    batch_sizes = (lens[None, :] > _np.arange(int(lens[0]))[:, None]).sum(1).astype(_np.int64)
    data = _packed_from_padded(input, batch_sizes, order)
    return PackedSequence(data, tensor(batch_sizes), None if order is None else tensor(order))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths (B,)).

    Sequences come back in the order they had before packing; total_length pads to that
    many steps (at least the longest sequence).
    """
    bs = _indices(sequence.batch_sizes)
    if total_length is not None and total_length < len(bs):
        raise ValueError("Expected total_length to be at least the length of the longest "
                         f"sequence in input, but got total_length={total_length} and max "
                         f"sequence length being {len(bs)}")
    unsorted = _indices(sequence.unsorted_indices)
    padded = _padded_from_packed(sequence.data, bs, unsorted, padding_value, total_length)
    lengths = _running(bs, int(bs[0])).sum(0).astype(_np.int64)
    if unsorted is not None:
        lengths = lengths[unsorted]
    return (transpose(padded, 0, 1) if batch_first else padded), tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (L_max, B, *) ((B, L_max, *) if
    batch_first), filling with padding_value on the right (or the left)."""
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])]
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    if not sequences:
        raise ValueError("pad_sequence: received an empty list of sequences")
    trail = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != trail:
            raise ShapeError(f"pad_sequence: every sequence must be (L, *) with the same "
                             f"trailing dims; got sequence 0 {fmt_shape(sequences[0].shape)} "
                             f"and sequence {i} {fmt_shape(s.shape)}")
    lens = _np.array([s.shape[0] for s in sequences], dtype=_np.int64)
    T, B, total = int(lens.max()), len(sequences), int(lens.sum())
    starts = _np.concatenate([[0], _np.cumsum(lens)[:-1]])
    t = _np.arange(T)[:, None]
    shift = (T - lens)[None, :] if padding_side == "left" else 0
    valid = (t >= shift) & (t < shift + lens[None, :])
    src = _np.where(valid, starts[None, :] + t - shift, total)
    data = _pad_rows(cat(sequences, 0) if len(sequences) > 1 else sequences[0], padding_value)
    padded = _gather_rows(data, src, (T, B))
    return transpose(padded, 0, 1) if batch_first else padded


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (L_i, *) inside a padded batch (the inverse of pad_sequence)."""
    lens = _indices(lengths).reshape(-1)
    if not batch_first:
        padded_sequences = transpose(padded_sequences, 0, 1)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *) (longest first unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) inside a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
