"""The HTTP API (fathom.serve.app/protocol) against an in-process server: every OIP v2 and
TF-Serving route, JSON and binary tensors, the outputs filter, classification, one test per
class of invalid request (4xx JSON naming the problem, no traceback, no path), and auth."""
import gzip
import json
import struct

import httpx
import numpy as np
import pytest
from serve_fixtures import eager, infer_body, running_server, tiny_repository

import fathom
from fathom.serve.package import save_package

MAX_BATCH = 4
LABELS = ["cat", "dog", "eel"]


class TwoHeads(fathom.nn.Module):
    """Two inputs, two outputs: y = a + b, s = sum(a * b) per row."""

    def forward(self, a, b):
        return a + b, (a * b).sum(dim=1, keepdim=True)


class Fails(fathom.nn.Module):
    """Raises inside the forward pass when the input holds a 13."""

    def forward(self, x):
        if (x.numpy() == 13).any():
            raise RuntimeError("secret internal detail /home/op/models")
        return x


REGISTRY = {"TwoHeads": TwoHeads, "Fails": Fails}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    models = tiny_repository(root, {"tiny": [1, 2], "other": [1]})
    # labels on tiny v2 for the classification extension
    cfg_path = root / "tiny" / "2" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["labels"] = LABELS
    cfg_path.write_text(json.dumps(cfg))
    io2 = [{"name": "a", "datatype": "FP32", "shape": [-1, 3]},
           {"name": "b", "datatype": "FP32", "shape": [-1, 3]}]
    save_package(TwoHeads(), root / "two" / "1", name="two", registry=REGISTRY,
                 architecture={"registry": "registered", "name": "TwoHeads", "kwargs": {}},
                 inputs=io2, outputs=[{"name": "y", "datatype": "FP32", "shape": [-1, 3]},
                                      {"name": "s", "datatype": "FP32", "shape": [-1, 1]}])
    save_package(Fails(), root / "fails" / "1", name="fails", registry=REGISTRY,
                 architecture={"registry": "registered", "name": "Fails", "kwargs": {}},
                 inputs=[{"name": "x", "datatype": "FP32", "shape": [-1, 2]}],
                 outputs=[{"name": "x", "datatype": "FP32", "shape": [-1, 2]}])
    return root, models


@pytest.fixture(scope="module")
def server(repo):
    root, _ = repo
    with running_server(root, registry=REGISTRY, max_batch_size=MAX_BATCH,
                        max_body_bytes=256 * 1024) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


X = np.array([[0.1, -0.2, 0.3, 0.4], [1.0, 2.0, -3.0, 0.5]], np.float32)


# --- health and metadata --------------------------------------------------------------------

def test_health_and_server_metadata(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    meta = client.get("/v2").json()
    assert meta["name"] == "fathom" and meta["version"] == fathom.__version__
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_and_readiness(client):
    meta = client.get("/v2/models/tiny").json()
    assert meta["name"] == "tiny" and meta["versions"] == ["1", "2"]
    assert meta["platform"] == "fathom"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 3]}]
    assert meta["parameters"]["labels"] == LABELS  # the default (highest) version's
    assert client.get("/v2/models/tiny/versions/1").json()["parameters"]["labels"] is None
    assert client.get("/v2/models/tiny/ready").json() == {"name": "tiny", "ready": True}
    assert client.get("/v2/models/tiny/versions/1/ready").status_code == 200
    cfg = client.get("/v2/models/two/config").json()
    assert cfg["max_batch_size"] == MAX_BATCH
    assert cfg["input"][0] == {"name": "a", "data_type": "TYPE_FP32", "dims": [3]}


@pytest.mark.parametrize("path", ["/v2/models/nope", "/v2/models/nope/ready",
                                  "/v2/models/tiny/versions/9", "/v1/models/nope",
                                  "/v2/models/tiny/versions/9/ready", "/v1/models/tiny/versions/9"])
def test_unknown_model_or_version_is_404_json(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert "nope" in r.json()["error"] or "no version 9" in r.json()["error"]


def test_unknown_route_and_method_are_json(client):
    r = client.get("/admin/load?url=http://evil")
    assert r.status_code == 404 and "no route" in r.json()["error"]
    r = client.get("/v2/models/tiny/infer")
    assert r.status_code == 405 and "GET" in r.json()["error"]
    assert client.post("/v2/repository/models/tiny/load").status_code == 404


# --- OIP v2 inference -------------------------------------------------------------------------

def _infer(client, body, path="/v2/models/tiny/infer", **kw):
    r = client.post(path, json=body, **kw)
    return r.status_code, r.json()


def test_infer_flat_and_nested_with_id(client, repo):
    _, models = repo
    want = eager(models["tiny", 2], X)
    code, doc = _infer(client, {"id": "req-7", **infer_body((2, 4), X.ravel().tolist())})
    assert code == 200 and doc["id"] == "req-7"
    assert doc["model_name"] == "tiny" and doc["model_version"] == "2"
    out = doc["outputs"][0]
    assert out["name"] == "output" and out["datatype"] == "FP32" and out["shape"] == [2, 3]
    np.testing.assert_allclose(out["data"], want.ravel(), rtol=1e-6)
    code, nested = _infer(client, infer_body((2, 4), X.tolist()))
    assert code == 200 and "id" not in nested
    assert nested["outputs"][0]["data"] == out["data"]


def test_infer_on_a_version_and_parameters_pass(client, repo):
    _, models = repo
    body = infer_body((2, 4), X.tolist())
    body["parameters"] = {"custom": 1}
    code, doc = _infer(client, body, "/v2/models/tiny/versions/1/infer")
    assert code == 200 and doc["model_version"] == "1"
    np.testing.assert_allclose(doc["outputs"][0]["data"], eager(models["tiny", 1], X).ravel(),
                               rtol=1e-6)


def test_two_inputs_outputs_filter(client):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((2, 3), np.float32)
    inputs = [{"name": "b", "shape": [2, 3], "datatype": "FP32", "data": b.ravel().tolist()},
              {"name": "a", "shape": [2, 3], "datatype": "FP32", "data": a.tolist()}]
    code, doc = _infer(client, {"inputs": inputs}, "/v2/models/two/infer")
    assert code == 200 and [o["name"] for o in doc["outputs"]] == ["y", "s"]
    code, doc = _infer(client, {"inputs": inputs, "outputs": [{"name": "s"}]},
                       "/v2/models/two/infer")
    assert code == 200 and [o["name"] for o in doc["outputs"]] == ["s"]
    assert doc["outputs"][0]["data"] == (a * b).sum(1).tolist()
    assert doc["outputs"][0]["shape"] == [2, 1]
    code, doc = _infer(client, {"inputs": inputs, "outputs": [{"name": "zz"}]},
                       "/v2/models/two/infer")
    assert code == 400 and "unknown output 'zz'" in doc["error"]


def _binary_request(x, outputs=None, params=None):
    head = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                        "parameters": {"binary_data_size": x.nbytes}}]}
    if outputs is not None:
        head["outputs"] = outputs
    if params is not None:
        head["parameters"] = params
    h = json.dumps(head).encode()
    return h + x.astype("<f4").tobytes(), {"Inference-Header-Content-Length": str(len(h)),
                                           "Content-Type": "application/octet-stream"}


def test_binary_tensor_extension(client, repo):
    _, models = repo
    want = eager(models["tiny", 2], X)
    body, headers = _binary_request(X, params={"binary_data_output": True})
    r = client.post("/v2/models/tiny/infer", content=body, headers=headers)
    assert r.status_code == 200
    n = int(r.headers["inference-header-content-length"])
    head = json.loads(r.content[:n])
    out = head["outputs"][0]
    assert out["parameters"]["binary_data_size"] == want.nbytes and "data" not in out
    got = np.frombuffer(r.content[n:], "<f4").reshape(out["shape"])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # binary in, JSON out (per-output binary_data false)
    body, headers = _binary_request(X, outputs=[{"name": "output",
                                                 "parameters": {"binary_data": False}}])
    r = client.post("/v2/models/tiny/infer", content=body, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    np.testing.assert_allclose(r.json()["outputs"][0]["data"], want.ravel(), rtol=1e-6)


def test_binary_tensor_errors_say_how_to_send_json(client):
    body, headers = _binary_request(X)
    r = client.post("/v2/models/tiny/infer", content=body[:-4], headers=headers)
    assert r.status_code == 400 and "binary_data_size" in r.json()["error"]
    r = client.post("/v2/models/tiny/infer", content=body + b"xx", headers=headers)
    assert r.status_code == 400 and "not claimed" in r.json()["error"]
    h = body[:int(headers["Inference-Header-Content-Length"])]
    r = client.post("/v2/models/tiny/infer", content=h)  # no header length
    assert r.status_code == 400 and "send JSON tensors instead" in r.json()["error"]
    r = client.post("/v2/models/tiny/infer", content=body,
                    headers={"Inference-Header-Content-Length": "999999"})
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]


def test_classification_extension(client, repo):
    _, models = repo
    want = eager(models["tiny", 2], X)
    code, doc = _infer(client, {**infer_body((2, 4), X.tolist()),
                                "outputs": [{"name": "output",
                                             "parameters": {"classification": 2}}]})
    assert code == 200
    out = doc["outputs"][0]
    assert out["datatype"] == "BYTES" and out["shape"] == [2, 2]
    top = np.argsort(-want, axis=1)[:, :2]
    for row, data in zip(range(2), np.array(out["data"]).reshape(2, 2)):
        for c, text in zip(top[row], data):
            score, index, label = text.split(":")
            assert int(index) == c and label == LABELS[c]
            assert abs(float(score) - want[row, c]) < 1e-5


def test_gzip_request_body(client):
    raw = json.dumps(infer_body((2, 4), X.tolist())).encode()
    r = client.post("/v2/models/tiny/infer", content=gzip.compress(raw),
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["outputs"][0]["shape"] == [2, 3]
    r = client.post("/v2/models/tiny/infer", content=raw, headers={"Content-Encoding": "br"})
    assert r.status_code == 415


# --- TF-Serving -------------------------------------------------------------------------------

def test_tf_serving_status_and_metadata(client):
    status = client.get("/v1/models/tiny").json()["model_version_status"]
    assert [s["version"] for s in status] == ["1", "2"]
    assert status[0]["state"] == "AVAILABLE"
    one = client.get("/v1/models/tiny/versions/1").json()["model_version_status"]
    assert [s["version"] for s in one] == ["1"]
    meta = client.get("/v1/models/tiny/metadata").json()
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert meta["model_spec"]["version"] == "2"
    assert sig["inputs"]["input"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["input"]["tensor_shape"]["dim"]] == ["-1", "4"]


def test_tf_serving_predict_row_and_columnar(client, repo):
    _, models = repo
    want2, want1 = eager(models["tiny", 2], X), eager(models["tiny", 1], X)
    r = client.post("/v1/models/tiny:predict", json={"instances": X.tolist()})
    assert r.status_code == 200
    np.testing.assert_allclose(r.json()["predictions"], want2, rtol=1e-6)
    r = client.post("/v1/models/tiny/versions/1:predict",
                    json={"instances": [{"input": row} for row in X.tolist()]})
    np.testing.assert_allclose(r.json()["predictions"], want1, rtol=1e-6)
    r = client.post("/v1/models/tiny:predict", json={"inputs": X.tolist()})
    np.testing.assert_allclose(r.json()["outputs"], want2, rtol=1e-6)
    r = client.post("/v1/models/tiny:predict", json={"inputs": {"input": X.tolist()}})
    np.testing.assert_allclose(r.json()["outputs"], want2, rtol=1e-6)


def test_tf_serving_two_outputs(client):
    a = [[1.0, 2.0, 3.0]]
    b = [[1.0, 1.0, 2.0]]
    rows = client.post("/v1/models/two:predict",
                       json={"instances": [{"a": a[0], "b": b[0]}]}).json()
    assert rows == {"predictions": [{"y": [2.0, 3.0, 5.0], "s": [9.0]}]}
    cols = client.post("/v1/models/two:predict", json={"inputs": {"a": a, "b": b}}).json()
    assert cols == {"outputs": {"y": [[2.0, 3.0, 5.0]], "s": [[9.0]]}}


@pytest.mark.parametrize("body, expected", [
    ({"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}, "exactly one of"),
    ({"instances": []}, "non-empty"),
    ({"instances": [[1, 2, 3]]}, "shape [1, 3]"),
    ({"instances": [[0.0] * 4] * (MAX_BATCH + 1)}, "max_batch_size"),
    ({"inputs": {"wrong": [[1, 2, 3, 4]]}}, "keys ['wrong']"),
    ({"instances": [["a", "b", "c", "d"]]}, "strings"),
])
def test_tf_serving_errors(client, body, expected):
    r = client.post("/v1/models/tiny:predict", json=body)
    assert r.status_code == 400 and expected in r.json()["error"]


# --- validation: one test per class of bad request ----------------------------------------------

def _bad(client, content, expected, status=400, path="/v2/models/tiny/infer", headers=None):
    if not isinstance(content, (bytes, str)):
        content = json.dumps(content)
    r = client.post(path, content=content, headers=headers or {})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    msg = r.json()["error"]
    assert expected in msg, msg
    assert "Traceback" not in r.text and "/tmp" not in r.text and ".py" not in r.text
    return msg


def test_invalid_json(client):
    _bad(client, b'{"inputs": [', "not valid JSON")


def test_invalid_utf8(client):
    _bad(client, b'{"inputs": "\xff\xfe"}', "not valid UTF-8")


def test_not_an_object(client):
    _bad(client, [1, 2], "must be a JSON object")


def test_nan_and_infinity_tokens(client):
    _bad(client, '{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", '
                 '"data": [NaN, 1, 2, 3]}]}', "NaN is not allowed")
    _bad(client, '{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", '
                 '"data": [-Infinity, 1, 2, 3]}]}', "-Infinity is not allowed")


def test_values_too_large_for_the_datatype(client):
    _bad(client, infer_body(data=[1e39, 0, 0, 0]), "must be finite")


def test_wrong_datatype(client):
    _bad(client, infer_body(datatype="INT64"), "datatype 'INT64'; the model takes FP32")


def test_wrong_rank_and_size(client):
    _bad(client, infer_body(shape=(1, 2, 2)), "has 3 dimensions")
    _bad(client, infer_body(shape=(1, 5)), "does not match input 'input' [batch, 4]")


def test_element_count(client):
    _bad(client, infer_body(shape=(2, 4), data=[0.0] * 7), "7 values for shape [2, 4]")
    _bad(client, infer_body(shape=(2, 4), data=[[0.0] * 4] * 3),
         "nested data has shape [3, 4]")


def test_ragged_and_non_numbers(client):
    _bad(client, infer_body(shape=(2, 4), data=[[0.0] * 4, [0.0] * 3]), "not a regular array")
    _bad(client, infer_body(data=["1", "2", "3", "4"]), "strings")
    _bad(client, infer_body(data=[None, 1, 2, 3]), "null")
    _bad(client, infer_body(data=[True, False, True, True]), "takes numbers")


def test_batch_zero_and_above_max(client):
    _bad(client, infer_body(shape=(0, 4), data=[]), "batch size 0")
    _bad(client, infer_body(shape=(MAX_BATCH + 1, 4)), "above the server's max_batch_size")


def test_shape_whose_product_overflows(client):
    _bad(client, infer_body(shape=(2 ** 62, 2 ** 62), data=[0.0]), "above the server's")
    _bad(client, infer_body(shape=(1, 2 ** 64), data=[0.0]), "does not match input")


def test_deep_nesting(client):
    deep = '{"inputs": [{"name": "input", "data": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
    _bad(client, deep, "nests")


def test_names(client):
    _bad(client, {"inputs": [{"name": "nope", "shape": [1, 4], "datatype": "FP32",
                              "data": [0] * 4}]}, "unknown input 'nope'")
    one = infer_body()["inputs"][0]
    _bad(client, {"inputs": [one, one]}, "given twice")
    _bad(client, {"inputs": []}, "'inputs' must be a non-empty list")
    a = {"name": "a", "shape": [1, 3], "datatype": "FP32", "data": [0, 0, 0]}
    _bad(client, {"inputs": [a]}, "missing inputs ['b']", path="/v2/models/two/infer")
    b = {"name": "b", "shape": [2, 3], "datatype": "FP32", "data": [0] * 6}
    _bad(client, {"inputs": [a, b]}, "different batch sizes", path="/v2/models/two/infer")
    _bad(client, {"id": 5, **infer_body()}, "'id' must be a string")


def test_body_above_the_cap_is_413(client):
    big = b'{"inputs": "' + b"x" * (300 * 1024) + b'"}'
    _bad(client, big, "above the server's limit", status=413)


def test_model_failure_is_500_without_details(client):
    code, doc = _infer(client, {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32",
                                            "data": [13, 1]}]}, "/v2/models/fails/infer")
    assert code == 500 and "inference failed in model 'fails'" in doc["error"]
    assert "secret" not in doc["error"] and "/home" not in doc["error"]
    code, doc = _infer(client, {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32",
                                            "data": [1, 1]}]}, "/v2/models/fails/infer")
    assert code == 200 and doc["outputs"][0]["data"] == [1.0, 1.0]


def test_metrics_endpoint(client):
    client.post("/v2/models/other/infer", json=infer_body())
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'fathom_requests_total{model="other",protocol="v2",status="200",version="1"}' \
        in r.text
    assert "fathom_batch_size_bucket" in r.text
    r = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


# --- auth ---------------------------------------------------------------------------------------

def test_bearer_token(repo):
    root, _ = repo
    with running_server(root, registry=REGISTRY, token="s3cret") as s, \
            httpx.Client(base_url=s.url) as c:
        assert c.get("/v2/health/live").status_code == 200
        assert c.get("/v2/health/ready").status_code == 200
        for method, path in [("GET", "/v2"), ("GET", "/v2/models/tiny"), ("GET", "/metrics"),
                             ("POST", "/v2/models/tiny/infer"), ("GET", "/nope"),
                             ("POST", "/v1/models/tiny:predict")]:
            r = c.request(method, path, json=infer_body())
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == 'Bearer realm="fathom"'
            assert "bearer token" in r.json()["error"]
        r = c.get("/v2", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
        ok = {"Authorization": "Bearer s3cret"}
        assert c.get("/v2", headers=ok).status_code == 200
        r = c.post("/v2/models/tiny/infer", json=infer_body(), headers=ok)
        assert r.status_code == 200


def test_too_many_headers_is_431(client):
    headers = [(f"x-h{i}", "1") for i in range(150)]
    r = client.get("/v2/health/live", headers=headers)
    assert r.status_code == 431 and "request headers" in r.json()["error"]


def test_binary_datatype_layout_is_little_endian(client):
    # tritonclient writes raw little-endian bytes; check the exact bytes are read
    x = np.array([[1.5, -2.0, 3.25, 0.0]], np.float32)
    body, headers = _binary_request(x, outputs=[{"name": "output"}])
    head_len = int(headers["Inference-Header-Content-Length"])
    assert body[head_len:head_len + 4] == struct.pack("<f", 1.5)
    r = client.post("/v2/models/tiny/versions/1/infer", content=body, headers=headers)
    assert r.status_code == 200


def test_slow_request_head_is_cut_off(repo):
    import socket

    from fathom.serve.server import Server
    root, _ = repo
    with Server(root, registry=REGISTRY, header_timeout_s=0.3) as s, \
            socket.create_connection(("127.0.0.1", s.port), timeout=20) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: 1")  # never ends
        assert sock.recv(1024) == b""  # closed by the server, unanswered
        # a complete request on a fresh connection is served as usual
        assert httpx.get(s.url + "/v2/health/live").status_code == 200
