"""The table `fathom bench` prints, and the machine/version header that goes with it."""
from __future__ import annotations

import os
import platform
import sys

from .harness import NOISY, THREADS, fmt_time


def machine(peers=("torch", "jax", "tf")) -> dict:
    """CPU model, cores, thread count and the versions of Fathom, NumPy and the peers this
    run compares with (not every library loaded: TensorFlow imports JAX), for the header."""
    import numpy as np

    import fathom
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "threads": THREADS,
            "python": platform.python_version(), "numpy": np.__version__,
            "fathom": fathom.__version__}
    for key, module in (("torch", "torch"), ("jax", "jax"), ("tf", "tensorflow")):
        if key in peers and module in sys.modules:
            info[key] = sys.modules[module].__version__
    return info


def _value(v, unit):
    if v is None:
        return "-"
    return fmt_time(v) if unit == "s" else f"{v:.1f} {unit}"


def status(r) -> str:
    if r["goal"] is None or r["ratio"] is None:
        return ""
    met = r["ratio"] <= r["goal"] if r["better"] == "lower" else r["ratio"] >= r["goal"]
    return "met" if met else "NOT met"


# the peers beyond the row's own (PyTorch or NumPy sgemm), as extra columns when present
EXTRA_PEERS = {"jax": "JAX", "tf": "TensorFlow"}


def table(rows) -> str:
    """Markdown table: workload, Fathom, peer, its value, Fathom/peer, goal, status; and a
    value and ratio column pair for JAX and TensorFlow when any row has one."""
    extra = [k for k in EXTRA_PEERS if any(k in r["values"] for r in rows)]
    head = "| workload | Fathom | peer | peer value | Fathom/peer | goal | status |"
    head += "".join(f" {EXTRA_PEERS[k]} | Fathom/{EXTRA_PEERS[k]} |" for k in extra)
    lines = [head, "|---" * (7 + 2 * len(extra)) + "|"]
    noisy = False
    for r in rows:
        key = "numpy" if r["peer"] == "NumPy sgemm" else "torch"
        f = _value(r["values"].get("fathom"), r["unit"])
        p = _value(r["values"].get(key), r["unit"])
        ratio = _ratio(r["ratios"].get(key))
        goal = "-" if r["goal"] is None else \
            ("<= " if r["better"] == "lower" else ">= ") + f"{r['goal']:g}"
        st = status(r)
        if any(s > NOISY for s in r["spread"].values()):
            st += " (noisy)"
            noisy = True
        name = r["name"] + (f" ({r['note']})" if r["note"] else "")
        line = f"| {name} | {f} | {r['peer']} | {p} | {ratio} | {goal} | {st.strip()} |"
        for k in extra:
            line += f" {_value(r['values'].get(k), r['unit'])} | {_ratio(r['ratios'].get(k))} |"
        lines.append(line)
    if noisy:
        lines.append("")
        lines.append(f"(noisy): the repetitions of that row spread by more than {NOISY:.0%} "
                     "(interquartile range / median); the machine was busy. Re-run it.")
    return "\n".join(lines)


def _ratio(x):
    return "-" if x is None else f"{x:.2f}"
