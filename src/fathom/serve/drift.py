"""Input drift: summaries of training inputs, and a sliding-window monitor for served inputs.

`input_statistics(array)` summarises the inputs a model was trained on (``fathom export``
stores the result in the package's ``training_stats``). `DriftMonitor(stats)` takes the
batches the server sees and compares the most recent ``window`` rows with that summary.

All values of a tensor are pooled into one distribution (an image's 784 pixels count as 784
values). The reference histogram has ``bins`` quantile bins: its edges are the training
values' quantiles at 0, 1/bins, ..., 1, with repeated edges merged (an image input with many
zero pixels has fewer, wider bins). Served values below the first edge fall in the first
bin and values above the last edge in the last one, so the bins cover the real line.

The monitor reports (formulas, with p the window's bin fractions and q the training ones):

- ``psi``: population stability index, ``sum_i (p_i - q_i) * ln(p_i / q_i)``, both floored at
  ``EPS`` = 1e-4 so an empty bin does not give infinity. 0 means the same distribution;
  the usual reading is < 0.1 stable, 0.1 to 0.25 some shift, > 0.25 a large shift.
- ``mean_shift``: ``(window mean - training mean) / training std``, signed, in training
  standard deviations (when the training std is 0, the scale is 1: an absolute shift).
- ``out_of_range``: the fraction of window values below the training min or above its max.
- ``max_feature_mean_shift``: when the statistics carry per-feature summaries (inputs with
  at most `MAX_FEATURES` features per row), the largest ``|mean_shift|`` over features.
- ``count``: the number of values in the window.
"""

from __future__ import annotations

import collections
import math
import threading

import numpy as np

#: probability floor for the PSI terms (a common choice; keeps an empty bin finite)
EPS = 1e-4
#: per-feature summaries are kept only for inputs with at most this many features per row
MAX_FEATURES = 64


def input_statistics(array, bins: int = 10) -> dict:
    """Summary of training inputs for drift monitoring; JSON-able.

    Args:
        array: inputs of shape (N, ...) with N >= 1 rows; all values must be finite.
        bins: number of quantile bins of the pooled values.

    Returns:
        ``{"count", "mean", "std", "min", "max", "bin_edges", "bin_fractions"}`` over all
        values, plus ``"features": {"mean", "std", "min", "max"}`` (lists, one entry per
        feature of a flattened row) when a row has at most `MAX_FEATURES` features.

    >>> s = input_statistics(np.arange(100.0).reshape(50, 2), bins=4)
    >>> s["count"], s["mean"], s["bin_edges"], s["bin_fractions"]
    (100, 49.5, [0.0, 24.75, 49.5, 74.25, 99.0], [0.25, 0.25, 0.25, 0.25])
    """
    x = np.asarray(array)
    if x.ndim == 0 or x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"input_statistics: need an array of shape (N, ...) with N >= 1 "
                         f"and at least one value; got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise TypeError(f"input_statistics: need a numeric array; got dtype {x.dtype}")
    if bins < 1:
        raise ValueError(f"input_statistics: bins must be >= 1; got {bins}")
    x = x.astype(np.float64, copy=False)
    flat = x.reshape(-1)
    bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
    if bad:
        raise ValueError(f"input_statistics: {bad} of {flat.size} values are not finite "
                         f"(NaN or infinity); drop or fix those rows first")
    edges = np.unique(np.quantile(flat, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size == 1:  # a constant input: one bin [c, c]
        edges = np.array([edges[0], edges[0]])
    counts = _bin_counts(flat, edges)
    stats = {
        "count": int(flat.size),
        "mean": float(flat.mean()),
        "std": float(flat.std()),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "bin_edges": [float(e) for e in edges],
        "bin_fractions": [float(c) for c in counts / flat.size],
    }
    rows = x.reshape(x.shape[0], -1)
    if rows.shape[1] <= MAX_FEATURES:
        stats["features"] = {
            "mean": rows.mean(axis=0).tolist(),
            "std": rows.std(axis=0).tolist(),
            "min": rows.min(axis=0).tolist(),
            "max": rows.max(axis=0).tolist(),
        }
    return stats


def psi(p, q, eps: float = EPS) -> float:
    """Population stability index ``sum((p - q) * ln(p / q))`` of two fraction vectors.

    >>> round(psi([0.5, 0.5], [0.5, 0.5]), 6)
    0.0
    """
    p = np.maximum(np.asarray(p, dtype=np.float64), eps)
    q = np.maximum(np.asarray(q, dtype=np.float64), eps)
    return float(np.sum((p - q) * np.log(p / q)))


def _bin_counts(flat, edges):
    """Counts of values per bin; bin i is [edges[i], edges[i+1]), the outer bins open.

    ``bincount(searchsorted(edges[1:-1], flat, side="right"))``: a value equal to an inner
    edge goes to the upper bin, as in np.histogram. For large inputs, counting
    ``flat >= edge`` per inner edge gives the same counts over 10x faster (a compare per
    bin beats a binary search per value at 10 bins); for small ones the single search
    call costs less than the per-edge calls.
    """
    inner = edges[1:-1]
    if flat.size <= 4096:
        return np.bincount(np.searchsorted(inner, flat, side="right"), minlength=len(inner) + 1)
    at_least = [flat.size] + [int(np.count_nonzero(flat >= e)) for e in inner] + [0]
    return -np.diff(np.asarray(at_least, dtype=np.int64))


class DriftMonitor:
    """Compares the last ``window`` rows of served inputs with training statistics.

    Args:
        stats: a dict from `input_statistics`.
        window: number of most recent rows (requests' samples) the values cover.

    `update(batch)` costs a few NumPy calls per batch (no Python loop over values);
    `values()` computes the gauges from running sums. Thread-safe.

    >>> m = DriftMonitor(input_statistics(np.arange(100.0).reshape(50, 2)), window=10)
    >>> m.update(np.arange(100.0).reshape(50, 2))
    >>> sorted(m.values())
    ['count', 'max_feature_mean_shift', 'mean_shift', 'out_of_range', 'psi']
    """

    def __init__(self, stats: dict, window: int = 1000):
        if window < 1:
            raise ValueError(f"DriftMonitor: window must be >= 1 rows; got {window}")
        try:
            self.edges = np.asarray(stats["bin_edges"], dtype=np.float64)
            self.ref = np.asarray(stats["bin_fractions"], dtype=np.float64)
            self.mean, self.std = float(stats["mean"]), float(stats["std"])
            self.lo, self.hi = float(stats["min"]), float(stats["max"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"DriftMonitor: stats is not from input_statistics ({e!r})") from None
        if self.edges.ndim != 1 or self.edges.size < 2 or self.ref.size != self.edges.size - 1:
            raise ValueError(f"DriftMonitor: need n+1 bin_edges for n bin_fractions; got "
                             f"{self.edges.size} edges and {self.ref.size} fractions")
        self.scale = self.std if self.std > 0 else 1.0
        feats = stats.get("features")
        if feats:
            self.f_mean = np.asarray(feats["mean"], dtype=np.float64)
            self.f_scale = np.asarray(feats["std"], dtype=np.float64)
            self.f_scale[self.f_scale <= 0] = 1.0
        else:
            self.f_mean = None
        self.window = int(window)
        self._lock = threading.Lock()
        # one entry per batch: (rows, values, bin counts, sum, out of range, per-feature sums)
        self._entries = collections.deque()
        self._rows = 0
        self._values = 0
        self._counts = np.zeros(self.ref.size, dtype=np.int64)
        self._sum = 0.0
        self._oor = 0
        self._fsum = None if self.f_mean is None else np.zeros_like(self.f_mean)

    def update(self, batch) -> None:
        """Adds a batch of shape (B, ...) (B rows); non-finite values are ignored."""
        x = np.asarray(batch)
        if x.ndim == 0:
            x = x.reshape(1)
        if x.shape[0] == 0:
            return
        if x.shape[0] > self.window:
            x = x[-self.window:]
        rows = x.reshape(x.shape[0], -1)
        flat = rows.reshape(-1)
        total = float(flat.sum(dtype=np.float64))
        fsum = None
        if self.f_mean is not None and rows.shape[1] == self.f_mean.size:
            fsum = rows.sum(axis=0, dtype=np.float64)
        if not math.isfinite(total):  # rare: the server rejects non-finite inputs first
            finite = np.isfinite(flat)
            flat = flat[finite]
            total = float(flat.sum(dtype=np.float64))
            fsum = None
        counts = _bin_counts(flat, self.edges)
        oor = int(np.count_nonzero(flat < self.lo) + np.count_nonzero(flat > self.hi))
        entry = (rows.shape[0], flat.size, counts, total, oor, fsum)
        with self._lock:
            self._add(entry, +1)
            self._entries.append(entry)
            while self._rows - self._entries[0][0] >= self.window:
                self._add(self._entries.popleft(), -1)

    def _add(self, entry, sign):
        rows, values, counts, total, oor, fsum = entry
        self._rows += sign * rows
        self._values += sign * values
        self._counts += sign * counts
        self._sum += sign * total
        self._oor += sign * oor
        if self._fsum is not None:
            if fsum is None:  # a batch of another row size: stop per-feature tracking
                self._fsum = None
            else:
                self._fsum += sign * fsum

    def values(self) -> dict:
        """The current gauges: psi, mean_shift, out_of_range, count (and
        max_feature_mean_shift with per-feature statistics); NaN before any data."""
        with self._lock:
            n, counts, total, oor = self._values, self._counts.copy(), self._sum, self._oor
            fsum, rows = (None if self._fsum is None else self._fsum.copy()), self._rows
        out = {"count": float(n)}
        if n == 0:
            out.update(psi=math.nan, mean_shift=math.nan, out_of_range=math.nan)
        else:
            out["psi"] = psi(counts / n, self.ref)
            out["mean_shift"] = (total / n - self.mean) / self.scale
            out["out_of_range"] = oor / n
        if self.f_mean is not None:
            if n == 0 or fsum is None:
                out["max_feature_mean_shift"] = math.nan
            else:
                shift = (fsum / rows - self.f_mean) / self.f_scale
                out["max_feature_mean_shift"] = float(np.max(np.abs(shift)))
        return out
