"""`fathom export` (package and ONNX) and `fathom serve` end to end: a run folder ->
package -> a server in a subprocess on a free port -> inference -> SIGTERM -> exit 0."""
import json
import signal

import httpx
import numpy as np
import pytest
from serve_fixtures import start_cli, stop_cli

import fathom
from fathom.cli import _common as C, main
from fathom.serve.package import load_package
from fathom.vision import models

KWARGS = {"num_classes": 10, "in_features": 784, "hidden": [16]}
CLASSES = [f"class{i}" for i in range(10)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as `fathom train` leaves it (config.json, model.safetensors, and a
    last.safetensors checkpoint with other weights), without training."""
    out = tmp_path_factory.mktemp("run")
    fathom.manual_seed(0)
    model = models.get("mlp", **KWARGS)
    cfg = {"model": "mlp", "model_kwargs": KWARGS, "dataset": "fashion-mnist",
           "input_shape": [1, 28, 28], "classes": CLASSES, "mean": [0.286], "std": [0.353]}
    (out / C.CONFIG_FILE).write_text(json.dumps(cfg))
    C.save_model(model, out / C.MODEL_FILE, cfg)
    fathom.manual_seed(1)
    other = models.get("mlp", **KWARGS)
    fathom.save({"model": other.state_dict(), "epoch": 3}, str(out / C.LAST_CHECKPOINT))
    return out, model.eval(), other.eval()


def _normalized(x):
    return (x - np.float32(0.286)) / np.float32(0.353)


def _eager(model, x):
    with fathom.no_grad():
        return model(fathom.tensor(_normalized(x))).numpy()


X = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)


def test_export_package_from_a_run_folder(run_dir, tmp_path, capsys):
    run, model, _ = run_dir
    assert main(["export", str(run), "--out", str(tmp_path / "repo" / "fmnist" / "4"),
                 "--no-stats"]) == 0
    assert "fathom serve" in capsys.readouterr().out
    pkg = load_package(tmp_path / "repo" / "fmnist" / "4")
    assert (pkg.name, pkg.version) == ("fmnist", 4)  # from --out <name>/<version>
    assert pkg.architecture == {"registry": "fathom.vision.models", "name": "mlp",
                                "kwargs": KWARGS}
    assert pkg.inputs[0].shape == (-1, 1, 28, 28) and pkg.outputs[0].shape == (-1, 10)
    assert pkg.labels == CLASSES and pkg.preprocessing == {"mean": [0.286], "std": [0.353]}
    assert pkg.training_stats is None
    np.testing.assert_allclose(pkg.predict([X])[0], _eager(model, X), rtol=1e-5, atol=1e-6)


def test_export_from_a_checkpoint_with_name_and_version(run_dir, tmp_path):
    run, _, other = run_dir
    out = tmp_path / "pkg"
    assert main(["export", str(run / C.LAST_CHECKPOINT), "--out", str(out), "--name", "m",
                 "--version", "9", "--no-stats"]) == 0
    pkg = load_package(out)
    assert (pkg.name, pkg.version) == ("m", 9)
    np.testing.assert_allclose(pkg.predict([X])[0], _eager(other, X), rtol=1e-5, atol=1e-6)
    # a second export to the same folder is refused unless --overwrite
    assert main(["export", str(run), "--out", str(out), "--no-stats"]) == 2
    assert main(["export", str(run), "--out", str(out), "--no-stats", "--overwrite"]) == 0


def test_export_training_statistics(run_dir, tmp_path):
    try:
        fathom.vision.datasets.FashionMNIST(None, train=True)
    except (OSError, RuntimeError, ValueError):
        pytest.skip("Fashion-MNIST is not installed")
    run, _, _ = run_dir
    assert main(["export", str(run), "--out", str(tmp_path / "p")]) == 0
    stats = load_package(tmp_path / "p").training_stats
    assert set(stats) == {"input"} and isinstance(stats["input"], dict)
    assert 0.2 < stats["input"]["mean"] < 0.4  # Fashion-MNIST pixels in [0, 1]


def test_export_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "p")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "p")]) == 2
    assert "holds no model.safetensors" in capsys.readouterr().err


def test_export_onnx_matches_the_package(run_dir, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    run, model, _ = run_dir
    assert main(["export", str(run), "--format", "onnx", "--out",
                 str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (got,) = session.run(None, {"input": X})  # raw [0, 1] images: normalization inside
    np.testing.assert_allclose(got, _eager(model, X), rtol=1e-4, atol=1e-5)


def test_serve_end_to_end_and_sigterm_exits_0(run_dir, tmp_path):
    run, model, _ = run_dir
    repo = tmp_path / "repo"
    assert main(["export", str(run), "--out", str(repo / "fmnist" / "1"), "--no-stats"]) == 0
    proc, url = start_cli(repo, "--max-batch-size", "8", "--token", "t0k")
    try:
        auth = {"Authorization": "Bearer t0k"}
        assert httpx.get(url + "/v2/models/fmnist", timeout=10).status_code == 401
        body = {"id": "e2e", "inputs": [{"name": "input", "shape": [3, 1, 28, 28],
                                         "datatype": "FP32", "data": X.ravel().tolist()}]}
        r = httpx.post(url + "/v2/models/fmnist/infer", json=body, headers=auth, timeout=30)
        assert r.status_code == 200 and r.json()["id"] == "e2e"
        got = np.array(r.json()["outputs"][0]["data"]).reshape(3, 10)
        np.testing.assert_allclose(got, _eager(model, X), rtol=1e-5, atol=1e-6)
        r = httpx.post(url + "/v1/models/fmnist:predict", json={"instances": X.tolist()},
                       headers=auth, timeout=30)
        np.testing.assert_allclose(r.json()["predictions"], _eager(model, X), rtol=1e-5,
                                   atol=1e-6)
    finally:
        code, output = stop_cli(proc, signal.SIGTERM)
    assert code == 0, output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    infer = [d for d in lines if d.get("path") == "/v2/models/fmnist/infer"]
    assert infer and infer[0]["status"] == 200 and infer[0]["model"] == "fmnist"
    assert infer[0]["request_id"] == "e2e" and infer[0]["version"] == "1"
    assert "t0k" not in output


def test_serve_refuses_bad_repositories(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "model.pt").write_bytes(b"\x80\x04K\x01.")
    assert main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "model.pt: pickle-format file" in err and "never loads pickles" in err
    assert main(["serve", str(tmp_path), "--register", "nocolon"]) == 2
    assert "expected MODULE:CLASS" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--register", "no_such_module_xyz:C"]) == 2
    assert "cannot import" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--max-queue", "0"]) == 2
    assert main(["serve", str(tmp_path), "--blas-threads", "-1"]) == 2
    assert "--blas-threads must be 0" in capsys.readouterr().err


def test_serve_port_in_use(run_dir, tmp_path, capsys):
    import socket
    run, _, _ = run_dir
    assert main(["export", str(run), "--out", str(tmp_path / "p"), "--no-stats"]) == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(tmp_path / "p"), "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_non_loopback_host_warns(run_dir, tmp_path, caplog):
    from fathom.serve.server import Server, is_loopback
    run, _, _ = run_dir
    assert main(["export", str(run), "--out", str(tmp_path / "p"), "--no-stats"]) == 0
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    server = Server(tmp_path / "p", host="0.0.0.0")  # built, never started: not exposed
    server.app.state.fathom.repo.close()
    assert "not a loopback address" in caplog.text and "no --token" in caplog.text


def test_blas_threads_are_capped_for_serving():
    import subprocess
    import sys

    pytest.importorskip("threadpoolctl")
    code = ("import numpy, threadpoolctl\n"
            "from fathom.cli.serve import limit_blas_threads\n"
            "assert limit_blas_threads(1, required=False)\n"
            "print(sorted({d['num_threads'] for d in threadpoolctl.threadpool_info()"
            " if d['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[1]"
