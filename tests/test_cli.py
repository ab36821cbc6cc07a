"""The `fathom` command: train end to end on a tiny synthetic dataset, resume, evaluate,
predict, info, and the error paths (one line on stderr, exit status 2).

The dataset is written in the Fashion-MNIST file layout under a temporary --data-root:
ten classes, each a bright bar at its own place plus noise, so two epochs learn it.
Most tests call `fathom.cli.main` in-process (fast); a few run `python -m fathom` as a
subprocess, as a user would.
"""
import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fathom.cli import main

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def _write_idx(path: Path, array: np.ndarray) -> None:
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, array.ndim]) + dims + array.astype(np.uint8).tobytes())


def synthetic_images(n: int, seed: int):
    """(images uint8 (n, 28, 28), labels (n,)): class k is a bright bar in row band k."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28))
    for k in range(10):
        images[labels == k, 2 * k + 3: 2 * k + 6, 4:24] += 180
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_fake_fashion_mnist(root: Path, n_train: int = 240, n_test: int = 100) -> Path:
    """A Fashion-MNIST-shaped dataset under `root` (root/FashionMNIST/raw/*-ubyte.gz)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = synthetic_images(n, seed)
        _write_idx(raw / f"{split}-images-idx3-ubyte.gz", images)
        _write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_fake_fashion_mnist(tmp_path_factory.mktemp("data"))


def _train_args(data_root, out, *extra):
    return ["train", "--data-root", str(data_root), "--out", str(out), "--epochs", "2",
            "--batch-size", "32", "--no-progress", *extra]


@pytest.fixture(scope="module")
def run_dir(data_root, tmp_path_factory):
    """One trained run (the default CNN, two epochs) shared by the read-only tests."""
    out = tmp_path_factory.mktemp("runs") / "cnn"
    assert main(_train_args(data_root, out)) == 0
    return out


def _history(out: Path) -> list:
    with open(out / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _fathom(*args, **kw):
    """`python -m fathom ARGS` as a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "fathom", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120, **kw)


# --- train --------------------------------------------------------------------------------------
def test_train_writes_the_run_folder(run_dir, capsys):
    files = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "history.csv", "last.safetensors", "best.safetensors",
            "model.safetensors"} <= files
    pytest.importorskip("matplotlib")
    assert {"curves.png", "confusion_matrix.png"} <= files


def test_train_config_and_history(run_dir):
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"] == "cnn" and cfg["dataset"] == "fashion-mnist"
    assert cfg["epochs"] == 2 and cfg["batch_size"] == 32 and cfg["lr"] == 1e-3
    assert cfg["classes"] == CLASSES and cfg["input_shape"] == [1, 28, 28]
    assert cfg["model_kwargs"]["num_classes"] == 10
    rows = _history(run_dir)
    assert len(rows) == 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[-1]["val_accuracy"]) > 0.5  # the bars are easy to tell apart


def test_train_prints_the_report(data_root, tmp_path, capsys):
    assert main(_train_args(data_root, tmp_path / "mlp", "--model", "mlp",
                            "--val-split", "0")) == 0
    out = capsys.readouterr().out
    assert "Test accuracy:" in out
    assert "Ankle boot" in out and "precision" in out and "macro avg" in out
    assert "Seconds per epoch:" in out
    assert f"Run folder: {tmp_path / 'mlp'}" in out and "model.safetensors" in out
    rows = _history(tmp_path / "mlp")
    assert len(rows) == 2 and "val_loss" not in rows[0]


def test_resume_continues_the_history(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_train_args(data_root, out, "--model", "mlp", "--limit", "120",
                            "--schedule", "step")) == 0
    assert main(["train", "--resume", "--out", str(out), "--epochs", "3",
                 "--no-progress"]) == 0
    assert [int(r["epoch"]) for r in _history(out)] == [0, 1, 2]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["epochs"] == 3 and cfg["model"] == "mlp" and cfg["limit"] == 120
    # --resume also takes the run folder or the checkpoint file itself
    assert main(["train", "--resume", str(out), "--epochs", "4", "--no-progress"]) == 0
    assert main(["train", "--resume", str(out / "last.safetensors"), "--epochs", "5",
                 "--no-progress"]) == 0
    assert [int(r["epoch"]) for r in _history(out)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("options, expected", [
    (["--augment", "--val-split", "0"], {"augment": True, "val_split": 0.0}),
    (["--optimizer", "sgd", "--schedule", "onecycle"], {"lr": 0.05, "momentum": 0.9}),
    (["--optimizer", "rmsprop", "--schedule", "plateau", "--patience", "1"], {"patience": 1}),
    (["--optimizer", "adamw", "--schedule", "step", "--weight-decay", "0.01"],
     {"weight_decay": 0.01}),
    (["--optimizer", "adagrad", "--schedule", "none", "--model", "lstm"],
     {"model": "lstm", "lr": 0.01}),
])
def test_train_options(data_root, tmp_path, options, expected, capsys):
    out = tmp_path / "run"
    argv = _train_args(data_root, out, "--model", "mlp", "--limit", "100", *options)
    assert main(argv) == 0
    assert len(_history(out)) >= 1
    cfg = json.loads((out / "config.json").read_text())
    assert {k: cfg[k] for k in expected} == expected


def test_resume_refuses_to_change_the_run(data_root, run_dir, capsys):
    assert main(["train", "--resume", "--out", str(run_dir), "--model", "mlp"]) == 2
    err = capsys.readouterr().err
    assert "cannot change" in err and "--model" in err
    # the default cosine schedule has annealed to 0 at the last epoch: no extending
    assert main(["train", "--resume", "--out", str(run_dir), "--epochs", "3"]) == 2
    assert "--schedule cosine" in capsys.readouterr().err


def test_train_refuses_to_overwrite_a_run(data_root, run_dir, capsys):
    assert main(_train_args(data_root, run_dir)) == 2
    assert "--resume" in capsys.readouterr().err


def test_default_out_folders_do_not_clash(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--model", "mlp", "--data-root", str(data_root), "--epochs", "1",
            "--limit", "60", "--no-progress"]
    assert main(argv) == 0 and main(argv) == 0
    assert (tmp_path / "runs" / "mlp-fashion-mnist" / "model.safetensors").exists()
    assert (tmp_path / "runs" / "mlp-fashion-mnist-2" / "model.safetensors").exists()
    assert "Run folder: runs/mlp-fashion-mnist-2" in capsys.readouterr().out


def test_resume_without_a_run(tmp_path, capsys):
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "no run to resume" in capsys.readouterr().err


# --- evaluate, predict, info ----------------------------------------------------------------------
def test_evaluate(run_dir, capsys):
    assert main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "ROC AUC" in out and "Trouser" in out


def test_evaluate_json(run_dir, capsys):
    assert main(["evaluate", str(run_dir / "best.safetensors"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 100 and result["split"] == "test"
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["roc_auc"] <= 1
    assert len(result["f1_per_class"]) == 10
    assert np.asarray(result["confusion_matrix"]).sum() == 100


def test_evaluate_a_model_file_alone(run_dir, tmp_path, capsys):
    """model.safetensors carries the run's facts in its metadata: no config.json needed."""
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes((run_dir / "model.safetensors").read_bytes())
    cfg = json.loads((run_dir / "config.json").read_text())
    assert main(["evaluate", str(lone), "--json", "--data-root", cfg["data_root"]]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "cnn"


def test_predict_npy_and_images(run_dir, tmp_path, capsys):
    images, labels = synthetic_images(6, seed=3)
    np.save(tmp_path / "batch.npy", images)
    np.save(tmp_path / "one.npy", images[0])
    assert main(["predict", str(run_dir), str(tmp_path / "batch.npy"),
                 str(tmp_path / "one.npy"), "--json", "--top-k", "2"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in results][:2] == [f"{tmp_path / 'batch.npy'}[0]",
                                                 f"{tmp_path / 'batch.npy'}[1]"]
    assert len(results) == 7 and all(len(r["predictions"]) == 2 for r in results)
    top = results[0]["predictions"][0]
    assert top["class"] in CLASSES and 0 <= top["probability"] <= 1

    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(images[0]).resize((56, 56)).save(tmp_path / "big.png")
    assert main(["predict", str(run_dir), str(tmp_path / "big.png")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(tmp_path / "big.png")) and any(c in line for c in CLASSES)


def test_info_model_name(capsys):
    import fathom.vision.models as models
    assert main(["info", "cnn"]) == 0
    out = capsys.readouterr().out
    n = sum(p.numel() for p in models.get("cnn").parameters())
    assert f"Total params: {n:,}" in out
    assert "Conv2d" in out and "[1, 32, 26, 26]" in out and "[1, 10]" in out
    assert "Model size (MB):" in out


def test_info_run_and_input_shape(run_dir, capsys):
    assert main(["info", str(run_dir)]) == 0
    assert "[1, 10]" in capsys.readouterr().out
    assert main(["info", "mlp", "--input-shape", "1,8,8", "--batch-size", "4"]) == 0
    assert "[4, 10]" in capsys.readouterr().out


# --- errors: one line, exit 2, no traceback ------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["train", "--model", "nosuchnet"], ["unknown model 'nosuchnet'", "cnn"]),
    (["info", "nosuchnet"], ["nosuchnet", "cnn"]),
    (["info", "cnn", "--input-shape", "one,28"], ["bad --input-shape"]),
    (["info", "cnn", "--input-shape", "3,5,5"], ["cannot take input of shape (3, 5, 5)"]),
    (["evaluate", "/no/such/run"], ["no such run folder"]),
    (["train", "--epochs", "0"], ["--epochs must be at least 1"]),
    (["train", "--val-split", "1.5"], ["--val-split"]),
])
def test_errors_are_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err


def test_missing_dataset_names_the_dataset(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fathom train: error: MNIST") and str(tmp_path) in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow on the way to inf
def test_diverging_loss_is_a_clean_error(data_root, tmp_path, capsys):
    argv = _train_args(data_root, tmp_path / "run", "--model", "mlp", "--optimizer", "sgd",
                       "--lr", "1e30", "--limit", "60")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "learning rate" in err and "Traceback" not in err


def test_predict_bad_array(run_dir, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 5, 5), np.float32))
    assert main(["predict", str(run_dir), str(tmp_path / "bad.npy")]) == 2
    assert "(1, 28, 28)" in capsys.readouterr().err


def test_debug_shows_the_traceback():
    from fathom.cli import CLIError
    with pytest.raises(CLIError):
        main(["--debug", "info", "nosuchnet"])


# --- as a user runs it ----------------------------------------------------------------------
def test_python_m_fathom():
    r = _fathom("info", "lstm")
    assert r.returncode == 0, r.stderr
    assert "LSTM" in r.stdout
    r = _fathom("info", "nosuchnet")
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_saves_a_checkpoint_and_resume_finishes(data_root, tmp_path, sig, status,
                                                         capsys):
    """SIGTERM (exit 0) or Ctrl-C (exit 130) mid-run: a checkpoint, and --resume goes on."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = [sys.executable, "-m", "fathom", *_train_args(data_root, out, "--model", "mlp",
                                                          "--epochs", "50", "--batch-size", "8",
                                                          "--schedule", "none")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not (out / "history.csv").exists() or not _history(out):  # one epoch done
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    assert "fathom train --resume --out" in stderr
    assert (out / "last.safetensors").exists()
    if sig != signal.SIGTERM:  # an interrupted run evaluates from its checkpoint
        assert main(["evaluate", str(out), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["weights"].endswith("last.safetensors")
        return
    done = len(_history(out))
    assert done < 50
    r = _fathom("train", "--resume", "--out", out, "--epochs", done + 1, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert len(_history(out)) == done + 1


def test_costly_epilogs_are_built_only_for_the_named_command():
    """`fathom bench --help` lists the workloads; other commands never import them."""
    code = ("import sys; from fathom.cli import build_parser; build_parser('train'); "
            "print('fathom.bench.workloads' in sys.modules); build_parser('bench'); "
            "print('fathom.bench.workloads' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
    r = subprocess.run([sys.executable, "-m", "fathom", "bench", "--help"],
                       capture_output=True, text=True, check=True)
    assert "workloads: overhead, inference" in r.stdout
