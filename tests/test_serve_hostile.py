"""The hostile-input checklist of `fathom serve`: each item sends what an attacker or a
broken client would, checks the status it must get, then checks the server is alive and
still answers correctly. Malformed HTTP goes over raw sockets (httpx would refuse to send
it)."""

import http.client
import json
import pickle
import re
import signal
import socket
import threading
import time
import zipfile

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_fixtures import (HOST, eager, infer_body, running_server,  # noqa: E402
                            save_slow, start_cli, stop_cli, tiny_repository)

MAX_BATCH = 8
MAX_BODY = 256 * 1024  # room for the 200 KB nested-array bodies
TIMEOUT_S = 1.0
INFER = "/v2/models/tiny/infer"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    models = tiny_repository(root)
    with running_server(root, max_batch_size=MAX_BATCH, max_body_bytes=MAX_BODY,
                        request_timeout_s=TIMEOUT_S) as server:
        yield server, models["tiny", 1]


def assert_alive(served):
    """Health answers and an inference still gives the model's output."""
    server, model = served
    assert httpx.get(server.url + "/v2/health/live", timeout=10).status_code == 200
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    r = httpx.post(server.url + INFER, timeout=10, json={"inputs": [
        {"name": "input", "shape": [2, 4], "datatype": "FP32", "data": x.ravel().tolist()}]})
    assert r.status_code == 200, r.text
    got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(2, 3)
    np.testing.assert_allclose(got, eager(model, x), rtol=1e-5, atol=1e-6)


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def raw(server, data: bytes, *, then=None, timeout: float = 20.0):
    """Sends ``data`` on a fresh connection (then calls ``then(sock)`` if given) and reads
    one answer: (status, headers, body), or (None, {}, b"") if the server closed the
    connection without answering."""
    sock = socket.create_connection((HOST, port_of(server)), timeout=timeout)
    try:
        try:
            sock.sendall(data)
            if then is not None:
                then(sock)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before we finish sending
        resp = http.client.HTTPResponse(sock)
        try:
            resp.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None, {}, b""
        try:
            body = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError):
            body = b""
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        sock.close()


def head(path=INFER, extra="", method="POST") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: application/json\r\n{extra}").encode()


def assert_json_error(body: bytes, *words):
    err = json.loads(body)["error"]
    assert isinstance(err, str) and "Traceback" not in err
    assert not re.search(r"/(tmp|work|home|usr|site-packages)/|\.py\b", err), err  # no paths
    for w in words:
        assert w in err, (w, err)
    return err


def post(served, body, path=INFER, **kw):
    server, _ = served
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return httpx.post(server.url + path, content=body, timeout=20,
                      headers={"Content-Type": "application/json", **kw})


# ------------------------------------------------------------------ the transport layer


def test_10gb_content_length_without_body_gets_413(served):
    status, _, body = raw(served[0], head(extra="Content-Length: 10737418240\r\n\r\n"))
    # 413 and not 408: answered from the header, without waiting for the body
    assert status == 413
    assert_json_error(body)
    assert_alive(served)


def test_flood_of_tiny_chunks_is_capped(served):
    chunks = b"1\r\nx\r\n" * 2000

    def flood(sock):
        for _ in range(MAX_BODY // 2000 + 10):  # past the body cap, one byte per chunk
            sock.sendall(chunks)
        sock.sendall(b"0\r\n\r\n")

    status, _, _ = raw(served[0], head(extra="Transfer-Encoding: chunked\r\n\r\n"), then=flood)
    # the cap (413) or the read timeout (408) ends it: never read to the end, never 200
    assert status in (413, 408)
    assert_alive(served)


def header_refused(status, body) -> bool:
    """431 from the app, the connection closed unanswered, or uvicorn's own 400 for a
    header block past h11's buffer (it closes the connection after it)."""
    return status in (None, 431) or (status == 400 and body == b"Invalid HTTP request received.")


@pytest.mark.parametrize("trickle", [False, True], ids=["one-burst", "trickled"])
def test_oversized_header(served, trickle):
    data = head(extra="X-Big: " + "a" * 100_000 + "\r\nContent-Length: 2\r\n\r\n{}")

    def slowly(sock):  # in 1 KiB pieces, so the server sees an incomplete header grow
        for i in range(0, len(data), 1024):
            sock.sendall(data[i:i + 1024])
            time.sleep(0.0005)

    status, _, body = raw(served[0], b"" if trickle else data, then=slowly if trickle else None)
    assert header_refused(status, body), (status, body)
    assert_alive(served)


def test_too_many_headers(served):
    many = "".join(f"X-H{i}: v\r\n" for i in range(1000))  # ~10 KiB: under the size cap
    status, _, body = raw(served[0], head(extra=many + "Content-Length: 2\r\n\r\n{}"))
    assert header_refused(status, body), (status, body)
    assert_alive(served)


def test_body_slower_than_timeout_gets_408(served):
    body = json.dumps(infer_body()).encode()

    # 10 bytes of the body, then nothing: the server must answer by its deadline
    status, _, err = raw(served[0], head(extra=f"Content-Length: {len(body)}\r\n\r\n")
                         + body[:10])
    assert status == 408
    assert_json_error(err, "not received")
    assert_alive(served)


# ------------------------------------------------------------------ the request body


@pytest.mark.parametrize("body, words", [
    (b'{"inputs": [', ["JSON"]),
    (b"", ["empty"]),
    (b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", '
     b'"data": [1, 2, 3, 4]}], "id": "\xff\xfe"}', ["UTF-8"]),
    (b"[1, 2, 3]", []),
])
def test_invalid_json_and_utf8_get_400(served, body, words):
    r = post(served, body)
    assert r.status_code == 400
    assert_json_error(r.content, *words)
    assert_alive(served)


@pytest.mark.parametrize("body, words", [
    (infer_body(shape=(1, 5)), ["shape", "input"]),  # wrong shape
    (infer_body(shape=(1, 2, 2)), ["dimensions"]),  # wrong rank
    (infer_body(datatype="INT64", data=[1, 2, 3, 4]), ["datatype", "FP32"]),  # wrong dtype
    (infer_body(data=[1.0, 2.0, 3.0]), ["input"]),  # wrong count
    (infer_body(data=["a", "b", "c", "d"]), ["input"]),  # strings
    (infer_body(data=[None, 1, 2, 3]), ["input"]),  # null
    ({"inputs": [{"name": "nope", "shape": [1, 4], "datatype": "FP32",
                  "data": [0, 0, 0, 0]}]}, ["nope"]),  # unknown input name
    ({"inputs": []}, ["inputs"]),
])
def test_wrong_shape_dtype_count_get_400(served, body, words):
    r = post(served, body)
    assert r.status_code == 400
    assert_json_error(r.content, *words)
    assert_alive(served)


@pytest.mark.parametrize("rows", [0, MAX_BATCH + 1])
def test_batch_zero_and_above_max_get_400(served, rows):
    r = post(served, infer_body(shape=(rows, 4)))
    assert r.status_code == 400
    assert_json_error(r.content, "batch")
    assert_alive(served)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_get_400(served, token):
    body = (b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", '
            b'"data": [1.0, ' + token.encode() + b', 2.0, 3.0]}]}')
    r = post(served, body)
    assert r.status_code == 400
    assert_json_error(r.content)
    tf = post(served, b'{"instances": [[1.0, ' + token.encode() + b', 0, 0]]}',
              path="/v1/models/tiny:predict")
    assert tf.status_code == 400
    assert_alive(served)


def test_nan_in_binary_tensor_gets_400(served):
    x = np.array([[1.0, np.nan, 0.0, 0.0]], "<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(x)}}]}).encode()
    r = post(served, header + x, **{"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 400
    assert_json_error(r.content)
    assert_alive(served)


@pytest.mark.parametrize("path, make", [
    (INFER, lambda deep: b'{"inputs": [{"name": "input", "shape": [1, 4], '
                         b'"datatype": "FP32", "data": ' + deep + b"}]}"),
    ("/v1/models/tiny:predict", lambda deep: b'{"instances": ' + deep + b"}"),
    (INFER, lambda deep: b'{"id": ' + b'{"a":' * 40_000 + b"1" + b"}" * 40_000 + b"}"),
])
def test_arrays_nested_100000_deep_get_400(served, path, make):
    deep = b"[" * 100_000 + b"]" * 100_000
    r = post(served, make(deep), path=path)
    assert r.status_code == 400
    err = assert_json_error(r.content)
    assert "Recursion" not in err
    assert_alive(served)


@pytest.mark.parametrize("shape", [[2**62, 2**62], [1, 2**63], [2**64, 4], [-1, 4],
                                   [1, -4], [1, 4.0]])
def test_shape_whose_product_overflows_gets_400(served, shape):
    r = post(served, {"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                                  "data": [0.0, 0.0, 0.0, 0.0]}]})
    assert r.status_code == 400
    assert_json_error(r.content)
    header = json.dumps({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}]}).encode()
    r = post(served, header + bytes(16), **{"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 400
    assert_alive(served)


@pytest.mark.parametrize("method, path", [
    ("POST", "/v2/models/nope/infer"),
    ("GET", "/v2/models/nope"),
    ("GET", "/v2/models/nope/ready"),
    ("POST", "/v2/models/tiny/versions/9/infer"),
    ("GET", "/v1/models/nope"),
    ("POST", "/v1/models/nope:predict"),
])
def test_unknown_model_gets_404(served, method, path):
    server, _ = served
    r = httpx.request(method, server.url + path, json=infer_body(), timeout=20)
    assert r.status_code == 404
    assert_json_error(r.content, "nope" if "nope" in path else "9")
    assert_alive(served)


@pytest.mark.parametrize("path", ["/nope", "/v2/nope", "/v3/models/tiny/infer", "/../../etc",
                                  "/v2/models/tiny/infer/extra"])
def test_unknown_route_gets_404(served, path):
    status, _, body = raw(served[0], head(path=path, method="GET") + b"\r\n")
    assert status == 404
    assert "Traceback" not in body.decode(errors="replace")
    assert_alive(served)


# ------------------------------------------------------------------ the repository


class _Sentinel:
    """Unpickling this opens (creates) the file ``path``: proof that a pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _write_pickle(folder, name, sentinel):
    data = pickle.dumps(_Sentinel(sentinel), protocol=4)
    if name.endswith(".pt"):  # torch.save's zip layout: the pickle inside archive/data.pkl
        with zipfile.ZipFile(folder / name, "w") as z:
            z.writestr("archive/data.pkl", data)
    else:
        (folder / name).write_bytes(data)


@pytest.mark.parametrize("name", ["evil.pkl", "weights.bin", "model.pt", "extra.ckpt"])
def test_pickle_in_repository_refused_at_start_never_run(tmp_path, name):
    from fathom.serve.repository import Repository

    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Sentinel(proof)))  # the payload is live: loading runs it
    assert proof.exists()

    root = tmp_path / "repo"
    tiny_repository(root)
    sentinel = tmp_path / "sentinel"
    _write_pickle(root / "tiny" / "1", name, sentinel)
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        Repository(root)
    assert not sentinel.exists()


def test_pickle_refused_by_the_command_line(tmp_path):
    root = tmp_path / "repo"
    tiny_repository(root)
    sentinel = tmp_path / "sentinel"
    _write_pickle(root / "tiny" / "1", "evil.pkl", sentinel)
    with pytest.raises(RuntimeError, match="exited") as e:
        proc, _ = start_cli(root)
        stop_cli(proc)
    assert "evil.pkl" in str(e.value) and "Traceback" not in str(e.value)
    assert not sentinel.exists()


# ------------------------------------------------------------------ load


def one_request(url, results, i, barrier=None, path="/v2/models/slow/infer"):
    body = json.dumps(infer_body()).encode()
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    try:
        if barrier is not None:
            barrier.wait()
        t0 = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        results[i] = (r.status, r.getheader("Retry-After"), r.read(), time.perf_counter() - t0)
    except OSError as e:
        results[i] = (type(e).__name__, None, b"", None)
    finally:
        conn.close()


def test_ten_times_the_queue_gets_503_for_the_excess(tmp_path):
    queue = 4
    registry = save_slow(tmp_path / "slow" / "1", delay_s=0.15)
    with running_server(tmp_path, registry=registry, max_batch_size=1, max_queue=queue,
                        max_batch_delay_ms=0.0) as server:
        n = 10 * queue
        results, barrier = [None] * n, threading.Barrier(n)
        threads = [threading.Thread(target=one_request, args=(server.url, results, i, barrier))
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = [r[0] for r in results]
        assert set(statuses) <= {200, 503}, statuses
        ok, busy = statuses.count(200), statuses.count(503)
        # at most 1 running + `queue` waiting at a time; a slow machine that reads the
        # requests over a longer span lets a few more in as the queue drains
        assert busy >= n // 2 and ok >= 1, statuses
        for status, retry_after, body, _ in results:
            if status == 503:
                assert retry_after is not None and int(retry_after) >= 1
                assert_json_error(body)
        # the 503s came without waiting for the model: faster than the slowest 200
        slowest_ok = max(r[3] for r in results if r[0] == 200)
        assert max(r[3] for r in results if r[0] == 503) < slowest_ok
        assert httpx.get(server.url + "/v2/health/live").status_code == 200


def in_flight(url) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("fathom_requests_in_flight "):
            return float(line.split()[1])
    return 0.0


def test_sigterm_under_load_drains_and_exits_0(tmp_path):
    save_slow(tmp_path / "slow" / "1", delay_s=0.2)
    proc, url = start_cli(tmp_path, "--register", "slow=serve_fixtures:SlowMLP",
                          "--max-batch-size", "1")
    stop, hammered = threading.Event(), []

    def hammer():  # new requests until the server stops listening
        while not stop.is_set():
            res = [None]
            one_request(url, res, 0)
            hammered.append(res[0][0])
            if not isinstance(res[0][0], int):
                break

    try:
        n = 4
        results = [None] * n
        threads = [threading.Thread(target=one_request, args=(url, results, i))
                   for i in range(n)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while in_flight(url) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        hammers = [threading.Thread(target=hammer) for _ in range(3)]
        for t in hammers:
            t.start()
        code, output = stop_cli(proc, signal.SIGTERM)
        stop.set()
        for t in threads + hammers:
            t.join()
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert code == 0, output[-2000:]
    # every request in flight at SIGTERM was answered by the model
    assert [r[0] for r in results] == [200] * n, results
    for _, _, body, _ in results:
        assert json.loads(body)["outputs"][0]["shape"] == [1, 3]
    # the load after it: answered (200, or 503 while shutting down) or refused, nothing else
    answered = [s for s in hammered if isinstance(s, int)]
    assert set(answered) <= {200, 503}, hammered
    assert set(hammered) - set(answered) <= {"ConnectionRefusedError", "ConnectionResetError",
                                             "RemoteDisconnected", "BrokenPipeError"}, hammered
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v2/health/live", timeout=5)
