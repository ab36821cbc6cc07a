"""The real Triton client (tritonclient.http) against `fathom serve` on a loopback port:
health, server/model metadata and config, readiness, inference with the binary tensor
extension (tritonclient's default) and with JSON, classification, errors."""

import numpy as np
import pytest

httpclient = pytest.importorskip("tritonclient.http")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_fixtures import eager, running_server, tiny_repository  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

MAX_BATCH = 16


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    models = tiny_repository(root, {"tiny": [1, 2], "other": [3]})
    with running_server(root, max_batch_size=MAX_BATCH, max_batch_delay_ms=2.0) as server:
        client = httpclient.InferenceServerClient(server.url.removeprefix("http://"),
                                                  concurrency=4)
        yield client, models
        client.close()


def x_of(rows, seed=0):
    return np.random.default_rng(seed).normal(size=(rows, 4)).astype(np.float32)


def test_health(served):
    client, _ = served
    assert client.is_server_live() is True
    assert client.is_server_ready() is True
    assert client.is_model_ready("tiny") is True
    assert client.is_model_ready("tiny", "1") is True
    assert client.is_model_ready("other", "3") is True
    assert client.is_model_ready("tiny", "9") is False
    assert client.is_model_ready("nope") is False


def test_server_and_model_metadata(served):
    client, _ = served
    meta = client.get_server_metadata()
    assert isinstance(meta["name"], str) and meta["name"]
    assert isinstance(meta["version"], str) and isinstance(meta["extensions"], list)
    m = client.get_model_metadata("tiny")
    assert m["name"] == "tiny"
    assert sorted(m["versions"]) == ["1", "2"]
    assert m["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert m["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 3]}]
    assert client.get_model_metadata("other", "3")["name"] == "other"
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("nope")
    assert e.value.status() == "404"


def test_model_config(served):
    client, _ = served
    cfg = client.get_model_config("tiny")
    assert cfg["name"] == "tiny" and cfg["max_batch_size"] == MAX_BATCH
    assert [i["name"] for i in cfg["input"]] == ["input"]
    assert [o["name"] for o in cfg["output"]] == ["output"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_matches_eager(served, binary):
    client, models = served
    x = x_of(5, seed=int(binary))
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput("output", binary_data=binary)
    result = client.infer("tiny", [inp], outputs=[out], request_id="req-7")
    got = result.as_numpy("output")
    assert got.dtype == np.float32 and got.shape == (5, 3)
    # the default version is the highest (2)
    np.testing.assert_allclose(got, eager(models["tiny", 2], x), rtol=1e-5, atol=1e-6)
    assert result.get_response()["id"] == "req-7"
    assert result.get_response()["model_name"] == "tiny"

    v1 = client.infer("tiny", [inp], model_version="1", outputs=[out]).as_numpy("output")
    np.testing.assert_allclose(v1, eager(models["tiny", 1], x), rtol=1e-5, atol=1e-6)


def test_infer_without_requested_outputs(served):
    client, models = served
    x = x_of(2, seed=3)
    inp = httpclient.InferInput("input", [2, 4], "FP32")
    inp.set_data_from_numpy(x)
    got = client.infer("other", [inp]).as_numpy("output")
    np.testing.assert_allclose(got, eager(models["other", 3], x), rtol=1e-5, atol=1e-6)


def test_concurrent_requests_split_back(served):
    client, models = served
    xs = [x_of(1 + i % 3, seed=10 + i) for i in range(16)]
    pending = []
    for x in xs:
        inp = httpclient.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        pending.append(client.async_infer("tiny", [inp]))
    for x, p in zip(xs, pending):
        np.testing.assert_allclose(p.get_result().as_numpy("output"),
                                   eager(models["tiny", 2], x), rtol=1e-5, atol=1e-6)


def test_classification_extension(served):
    client, models = served
    x = x_of(3, seed=4)
    inp = httpclient.InferInput("input", [3, 4], "FP32")
    inp.set_data_from_numpy(x)
    out = httpclient.InferRequestedOutput("output", class_count=2)
    got = client.infer("tiny", [inp], outputs=[out]).as_numpy("output")
    want = eager(models["tiny", 2], x)
    assert got.shape == (3, 2)
    # Triton's format: b"score:index" (plus ":label" when the model has labels)
    top = np.array([[int(s.decode().split(":")[1]) for s in row] for row in got])
    np.testing.assert_array_equal(top, np.argsort(-want, axis=1)[:, :2])
    scores = np.array([[float(s.decode().split(":")[0]) for s in row] for row in got])
    np.testing.assert_allclose(scores, -np.sort(-want, axis=1)[:, :2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, dtype, match", [
    ([2, 5], "FP32", "input"),
    ([2, 4], "FP64", "FP32"),
    ([MAX_BATCH + 1, 4], "FP32", "batch"),
])
def test_bad_requests_are_400(served, shape, dtype, match):
    client, _ = served
    inp = httpclient.InferInput("input", shape, dtype)
    inp.set_data_from_numpy(np.zeros(shape, np.float64 if dtype == "FP64" else np.float32))
    with pytest.raises(InferenceServerException) as e:
        client.infer("tiny", [inp])
    assert e.value.status() == "400"
    assert match in e.value.message() and "Traceback" not in e.value.message()
    assert client.is_server_live()
