"""`fathom bench`: the command runs real workloads side by side and writes what it printed.

Nothing here asserts on speed: only that rows are measured, ratios are computed from the
measured values, and bad arguments are refused.
"""
import json
import os
import subprocess
import sys

import pytest

from fathom.bench import harness, report, workloads


def bench(*args, unset=()):
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["FATHOM_BENCH_SETTLE"] = "0"
    return subprocess.run([sys.executable, "-m", "fathom", "bench", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_runs_a_workload_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    r = bench("--workloads", "overhead", "--repeat", "1", "--against", "torch,tf",
              "--json", str(out))
    assert r.returncode == 0, r.stderr
    # TensorFlow: skipped and said so, or its columns in the table
    assert ("tf: not installed, skipped" in r.stdout) != ("Fathom/TensorFlow" in r.stdout)
    assert "| x + y, 64x128 |" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["machine"]["threads"] == 2 and "overhead" in doc["command"]
    rows = doc["rows"]
    assert [r["group"] for r in rows] == ["overhead", "overhead"]
    for row in rows:
        assert row["values"]["fathom"] > 0
        if "torch" in row["values"]:
            assert row["ratio"] == pytest.approx(row["values"]["fathom"] / row["values"]["torch"])


def test_threads_are_pinned_before_numpy_loads():
    r = bench("--workloads", "overhead", "--repeat", "1", "--threads", "1",
              unset=("OPENBLAS_NUM_THREADS", "FATHOM_BENCH_THREADS"))
    assert r.returncode == 0, r.stderr
    assert "threads 1" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--workloads", "mlp,nope"], "unknown workload nope"),
    (["--against", "mxnet"], "unknown peer mxnet"),
    (["--repeat", "0"], "at least 1"),
])
def test_bad_arguments_are_refused(args, message):
    r = bench(*args)
    assert r.returncode == 2 and message in r.stderr


def test_compare_many_interleaves_and_reports_ratios():
    calls = []
    r = harness.compare_many({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                             repeat=3, target_s=None)
    assert calls == ["a", "b"] * 3  # whole-run mode: one call each per round, alternating
    assert set(r) == {"a", "b"} and "ratio" in r["b"] and len(r["a"]["samples"]) == 3


def test_table_marks_goals_by_direction():
    rows = [workloads.row("g", "slow", {"fathom": 2.0, "torch": 1.0}, goal=1.5),
            workloads.row("g", "gemm", {"fathom": 90.0, "numpy": 100.0}, unit="GFLOP/s",
                          better="higher", goal=0.8, peer="NumPy sgemm", peer_key="numpy"),
            workloads.row("g", "alone", {"fathom": 1.0})]
    text = report.table(rows)
    assert "| slow | 2.00 s | PyTorch | 1.00 s | 2.00 | <= 1.5 | NOT met |" in text
    assert "| gemm | 90.0 GFLOP/s | NumPy sgemm | 100.0 GFLOP/s | 0.90 | >= 0.8 | met |" in text
    assert "| alone | 1.00 s | PyTorch | - | - | - |  |" in text
