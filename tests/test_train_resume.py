"""Resumption, determinism and signals of fathom.train, through real subprocesses.

Each test runs tests/train_script.py (a 4-epoch run of 24 batches on synthetic data, an
MLP with dropout, SGD with momentum, StepLR, EarlyStopping, ModelCheckpoint) and compares
final weights bit for bit with an uninterrupted run.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fathom

SCRIPT = os.path.join(os.path.dirname(__file__), "train_script.py")
STEPS = 24  # batches per epoch in train_script.py
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _env():
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(tmp, name, *args, check=True):
    out = os.path.join(tmp, name + ".npz")
    proc = subprocess.run([sys.executable, SCRIPT, "--out", out, *args], capture_output=True,
                          text=True, env=_env(), timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"train_script failed ({proc.returncode}):\n{proc.stderr}")
    return _result(proc.stdout), out, proc


def _result(stdout):
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    return json.loads(lines[-1][len("RESULT "):]) if lines else None


def _same_weights(a, b):
    wa, wb = np.load(a), np.load(b)
    assert sorted(wa.files) == sorted(wb.files)
    for k in wa.files:
        assert wa[k].dtype == wb[k].dtype
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted runs, by (workers, extra flags)."""
    tmp = str(tmp_path_factory.mktemp("ref"))
    cache = {}

    def get(workers=0, *flags):
        key = (workers, flags)
        if key not in cache:
            name = f"ref{len(cache)}"
            res, out, _ = _run(tmp, name, "--dir", os.path.join(tmp, name),
                               "--workers", str(workers), *flags)
            assert not res["interrupted"] and res["epoch"] == 4
            cache[key] = (res, out)
        return cache[key]
    return get


@pytest.mark.parametrize("workers", [0, 2])
def test_same_seed_twice_is_bit_identical(tmp_path, workers):
    tmp = str(tmp_path)
    # --noise: a random transform inside the dataset (drawn in the workers when there are any)
    r1, a, _ = _run(tmp, "a", "--dir", tmp + "/a", "--workers", str(workers), "--noise")
    r2, b, _ = _run(tmp, "b", "--dir", tmp + "/b", "--workers", str(workers), "--noise")
    _same_weights(a, b)
    assert r1["history"] == r2["history"]
    r3, c, _ = _run(tmp, "c", "--dir", tmp + "/c", "--workers", str(workers), "--noise",
                    "--seed", "8")
    assert r3["history"]["loss"] != r1["history"]["loss"]  # the seed matters


@pytest.mark.parametrize("workers,flags", [(0, ()), (2, ("--noise",)), (0, ("--ema",))])
def test_mid_epoch_signal_then_resume_equals_uninterrupted(tmp_path, reference, workers, flags):
    ref, ref_out = reference(workers, *flags)
    tmp = str(tmp_path)
    ckdir = tmp + "/ck"
    at = STEPS + 7  # batch 7 of epoch 2
    res, _, proc = _run(tmp, "cut", "--dir", ckdir, "--workers", str(workers),
                        "--kill-self", f"SIGTERM@{at}", *flags)
    assert proc.returncode == 0
    assert res["interrupted"] and res["epoch"] == 1 and res["step"] == 7
    assert "SIGTERM received; stopped at epoch 2, step 7" in proc.stderr
    ck = fathom.load(ckdir + "/last.safetensors")
    assert (ck["epoch"], ck["step"]) == (1, 7)
    assert ck["loader"]["in_epoch"] and ck["loader"]["batches"] == 7
    res2, out, _ = _run(tmp, "resumed", "--dir", ckdir, "--workers", str(workers),
                        "--resume", "true", *flags)
    assert not res2["interrupted"] and res2["epoch"] == 4
    _same_weights(ref_out, out)
    assert res2["history"] == ref["history"]  # running loss and metrics resumed too


def test_resume_from_epoch_checkpoint_equals_uninterrupted(tmp_path, reference):
    ref, ref_out = reference(0)
    tmp = str(tmp_path)
    res, _, proc = _run(tmp, "cut", "--dir", tmp + "/ck", "--kill-self", f"SIGINT@{2 * STEPS}")
    assert res["interrupted"] and (res["epoch"], res["step"]) == (2, 0)
    assert "stopped at the end of epoch 2" in proc.stderr
    ck = fathom.load(tmp + "/ck/last.safetensors")
    assert (ck["epoch"], ck["step"], ck["loader"]) == (2, 0, None)
    _, out, _ = _run(tmp, "resumed", "--dir", tmp + "/ck", "--resume",
                     tmp + "/ck/last.safetensors")
    _same_weights(ref_out, out)


def _start(tmp, name, *args):
    proc = subprocess.Popen([sys.executable, SCRIPT, "--out", os.path.join(tmp, name + ".npz"),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    line = proc.stdout.readline()
    assert line.strip() == "STARTED", (line, proc.stderr.read() if proc.poll() else "")
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_external_signal_stops_cleanly_and_resumes(tmp_path, reference, sig):
    ref, ref_out = reference(0)
    tmp = str(tmp_path)
    delay = random.uniform(0.1, 0.6)
    proc = _start(tmp, "cut", "--dir", tmp + "/ck", "--sleep", "0.01")
    time.sleep(delay)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    res = _result(stdout)
    assert res["interrupted"], f"signal after {delay:.2f}s did not interrupt: {stderr}"
    assert f"{signal.Signals(sig).name} received" in stderr
    ck = fathom.load(tmp + "/ck/last.safetensors")
    assert (ck["epoch"], ck["step"]) == (res["epoch"], res["step"])
    _, out, _ = _run(tmp, "resumed", "--dir", tmp + "/ck", "--resume", "true")
    _same_weights(ref_out, out)


def test_sigkill_leaves_readable_checkpoints_and_resume_matches(tmp_path, reference):
    ref, ref_out = reference(0)
    tmp = str(tmp_path)
    ckdir = tmp + "/ck"
    proc = _start(tmp, "cut", "--dir", ckdir, "--sleep", "0.015")
    seen = 0
    while seen < 1:  # at least one epoch ends before the kill, then a random extra delay
        line = proc.stdout.readline()
        if line.startswith("EPOCH_END"):
            seen = int(line.split()[1])
        assert line, proc.stderr.read()
    delay = random.uniform(0.0, 0.9)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    ended = [int(ln.split()[1]) for ln in rest.splitlines() if ln.startswith("EPOCH_END")]
    completed = max([seen] + ended)
    names = [f for f in os.listdir(ckdir) if f.endswith(".safetensors")]
    for f in names:  # every checkpoint file is whole
        fathom.load(os.path.join(ckdir, f))
    # killed between epoch 1's end and its save, there is no checkpoint yet: epoch 0
    saved = fathom.load(ckdir + "/last.safetensors")["epoch"] if "last.safetensors" in names \
        else 0
    assert completed - 1 <= saved <= completed, (delay, completed, saved)
    res, out, _ = _run(tmp, "resumed", "--dir", ckdir, "--resume", "true")
    assert res["epoch"] == 4 and res["history"] == ref["history"]
    _same_weights(ref_out, out)
