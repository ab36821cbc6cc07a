"""Line budget of the core (tensor.py, autograd/, ops/), in the spirit of tinygrad's sz.py.

Counts non-blank, non-comment lines; prints a table and the total.
"""
from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "src" / "fathom"
CORE = ["tensor.py", "autograd", "ops", "dtypes.py", "backend.py", "errors.py"]


def count(path: pathlib.Path) -> int:
    n = 0
    for line in path.read_text().splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            n += 1
    return n


def main() -> int:
    rows = []
    for entry in CORE:
        p = ROOT / entry
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        rows += [(f.relative_to(ROOT), count(f)) for f in files]
    width = max(len(str(r[0])) for r in rows)
    for name, n in rows:
        print(f"{str(name):<{width}}  {n:>5}")
    total = sum(n for _, n in rows)
    print(f"{'core total':<{width}}  {total:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
