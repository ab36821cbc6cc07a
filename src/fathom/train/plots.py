"""Training curves and confusion matrices as PNG files, through matplotlib.

matplotlib is imported only when a plot is drawn, and only its object API with the Agg
canvas is used (no pyplot, no global backend switch), so plotting works headless and
leaves a user's interactive session alone. Files are written atomically.

    >>> plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, "curves.png")  # doctest: +SKIP
"""
from __future__ import annotations

import os

from .. import backend
from ..io.atomic import atomic_path

_np = backend.np


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError as e:
        raise ImportError("fathom.train plots need matplotlib (pip install matplotlib)") from e


def _figure(width: float, height: float):
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _write(fig, path) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def plot_history(history, path) -> None:
    """One panel per quantity (loss first, then each metric; 'lr' last, log scale), the
    training curve and, when present, the validation one (`val_<key>`), against the
    epoch (1-based).

    Args:
        history: a `History` or its `.history` dict of per-epoch lists.
        path: the PNG file to write.
    """
    logs = getattr(history, "history", history)
    epochs = getattr(history, "epoch", None)
    keys = [k for k in logs if not k.startswith("val_") and k not in ("lr", "size")]
    keys += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    if "lr" in logs:
        keys.append("lr")
    if not keys:
        raise ValueError("plot_history: the history is empty")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig = _figure(4.2 * cols, 3.2 * rows)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        for name, style in ((key, "-o"), ("val_" + key, "--s")):
            values = logs.get(name)
            if not values:
                continue
            ys = _np.asarray([_num(v) for v in values], dtype=float)
            xs = _np.asarray([e + 1 for e in epochs], dtype=float) \
                if epochs is not None and len(epochs) == len(ys) else _np.arange(1, len(ys) + 1)
            label = "validation" if name.startswith("val_") else "training"
            ax.plot(xs, ys, style, markersize=3, label=label)
        if key == "lr" and all(_num(v) > 0 for v in logs["lr"]):
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if key != "lr":
            ax.legend()
    # Fixed margins: tight_layout would double the cost, and this runs every epoch.
    fig.subplots_adjust(left=0.25 / cols, right=0.98, bottom=0.5 / (3.2 * rows) + 0.04,
                        top=1 - 0.35 / (3.2 * rows), wspace=0.3, hspace=0.45)
    _write(fig, path)


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def plot_confusion_matrix(cm, class_names=None, path="confusion_matrix.png", *,
                          normalize: bool = False, title: str = "Confusion matrix") -> None:
    """Draw a confusion matrix (rows = true class, columns = predicted, as sklearn) with
    the counts (or row fractions when `normalize`) in each cell.

    Args:
        cm: (C, C) counts: an array, a Tensor or nested lists.
        class_names: C labels (default 0..C-1).
        path: the PNG file to write.
    """
    data = cm if isinstance(cm, _np.ndarray) else getattr(cm, "data", cm)
    if not isinstance(data, (_np.ndarray, list, tuple)):  # a CuPy array
        data = backend.to_device(data, "cpu")
    m = _np.asarray(data, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square (C, C) matrix, got shape "
                         f"{m.shape}")
    n = m.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    if len(names) != n:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for {n} classes")
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = _np.divide(m, totals, out=_np.zeros_like(m), where=totals > 0)
    size = max(4.0, 0.55 * n + 2.5)
    fig = _figure(size, size)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(m, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        top = m.max() if m.size else 0
        for r in range(n):
            for c in range(n):
                text = f"{m[r, c]:.2f}" if normalize else f"{int(round(m[r, c]))}"
                ax.text(c, r, text, ha="center", va="center", fontsize=8,
                        color="white" if top and m[r, c] > top / 2 else "black")
    fig.tight_layout()
    _write(fig, path)
