"""fathom.serve.metrics, .drift and .logs: numbers against NumPy and hand computation,
the Prometheus exposition parsed back, and the JSON log lines."""

import io
import json
import logging
import math
import threading

import numpy as np
import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from fathom.serve import logs  # noqa: E402
from fathom.serve.drift import EPS, DriftMonitor, input_statistics, psi  # noqa: E402
from fathom.serve.metrics import LATENCY_BUCKETS, ServeMetrics  # noqa: E402


def samples(metrics, name):
    """{labels tuple: value} of every sample called ``name`` in metrics.render()."""
    body, _ = metrics.render()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def lab(**kw):
    return tuple(sorted((k, str(v)) for k, v in kw.items()))


# ---------------------------------------------------------------------------- drift


def test_input_statistics_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(500, 1, 4, 4)).astype(np.float32)
    s = input_statistics(x)
    flat = x.astype(np.float64).ravel()
    assert s["count"] == flat.size
    assert s["mean"] == pytest.approx(flat.mean(), rel=1e-12)
    assert s["std"] == pytest.approx(flat.std(), rel=1e-12)
    assert (s["min"], s["max"]) == (float(flat.min()), float(flat.max()))
    np.testing.assert_allclose(s["bin_edges"], np.quantile(flat, np.linspace(0, 1, 11)))
    hist, _ = np.histogram(flat, bins=s["bin_edges"])  # same closed/open convention
    np.testing.assert_allclose(s["bin_fractions"], hist / flat.size)
    assert sum(s["bin_fractions"]) == pytest.approx(1.0)
    # 16 features per row: per-feature summaries kept
    rows = x.reshape(500, -1).astype(np.float64)
    np.testing.assert_allclose(s["features"]["mean"], rows.mean(0), rtol=1e-6)
    np.testing.assert_allclose(s["features"]["std"], rows.std(0), rtol=1e-6)
    assert json.loads(json.dumps(s)) == s


def test_input_statistics_hand_computed():
    s = input_statistics(np.arange(100.0).reshape(50, 2), bins=4)
    assert s["bin_edges"] == [0.0, 24.75, 49.5, 74.25, 99.0]
    assert s["bin_fractions"] == [0.25, 0.25, 0.25, 0.25]
    assert s["features"]["mean"] == [49.0, 50.0]


def test_input_statistics_ties_and_constants():
    # an image-like input, 70% zeros: repeated quantile edges merge into one wide bin
    x = np.zeros((100, 100))
    x[:, 70:] = np.linspace(0.1, 1.0, 30)
    s = input_statistics(x)
    assert s["bin_edges"][0] == 0.0 and len(set(s["bin_edges"])) == len(s["bin_edges"])
    assert s["bin_fractions"][0] == pytest.approx(0.7)
    assert "features" not in s  # 100 features per row: too many to keep
    c = input_statistics(np.full((5, 3), 7.0))
    assert c["bin_edges"] == [7.0, 7.0] and c["bin_fractions"] == [1.0] and c["std"] == 0.0


@pytest.mark.parametrize("bad, match", [
    (np.zeros((0, 3)), "N >= 1"),
    (np.array(1.0), "N >= 1"),
    (np.array([[1.0, np.nan], [np.inf, 0.0]]), "2 of 4 values are not finite"),
    (np.array([["a"]]), "numeric"),
])
def test_input_statistics_rejects(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        input_statistics(bad)


@pytest.mark.parametrize("n", [1, 784, 4096, 4097, 30000])
def test_bin_counts_both_paths_match_searchsorted(n):
    from fathom.serve.drift import _bin_counts

    rng = np.random.default_rng(n)
    edges = np.unique(np.quantile(rng.normal(size=1000), np.linspace(0, 1, 11))
                      .astype(np.float32).astype(np.float64))  # exact in float32 too
    x = rng.normal(size=n).astype(np.float32)
    x[: n // 3] = edges[4]  # values on an inner edge go to the upper bin
    x[n // 3: n // 2] = 100.0  # beyond the last edge: the last bin
    want = np.bincount(np.searchsorted(edges[1:-1], x, side="right"), minlength=len(edges) - 1)
    np.testing.assert_array_equal(_bin_counts(x, edges), want)


def test_psi_by_hand():
    assert psi([0.25] * 4, [0.25] * 4) == 0.0
    # (0.2-0.5) ln(0.2/0.5) + (0.8-0.5) ln(0.8/0.5) = 0.274887 + 0.141001
    assert psi([0.2, 0.8], [0.5, 0.5]) == pytest.approx(0.415888, abs=1e-6)
    # an empty bin is floored at EPS, not infinite
    assert psi([0.0, 1.0], [0.5, 0.5]) == pytest.approx(
        (EPS - 0.5) * math.log(EPS / 0.5) + 0.5 * math.log(2.0))


def reference_values(stats, recent):
    """Drift values of ``recent`` (the window's rows) recomputed from scratch with NumPy."""
    flat = recent.astype(np.float64).ravel()
    edges = np.array(stats["bin_edges"])
    idx = np.clip(np.digitize(flat, edges[1:-1]), 0, len(edges) - 2)
    p = np.bincount(idx, minlength=len(edges) - 1) / flat.size
    q = np.array(stats["bin_fractions"])
    p_, q_ = np.maximum(p, EPS), np.maximum(q, EPS)
    return {
        "psi": np.sum((p_ - q_) * np.log(p_ / q_)),
        "mean_shift": (flat.mean() - stats["mean"]) / stats["std"],
        "out_of_range": np.mean((flat < stats["min"]) | (flat > stats["max"])),
        "count": flat.size,
    }


def test_drift_monitor_same_and_shifted():
    rng = np.random.default_rng(1)
    train = rng.normal(0.0, 1.0, size=(5000, 100))
    stats = input_statistics(train)
    m = DriftMonitor(stats, window=1000)
    assert math.isnan(m.values()["psi"])
    same = rng.normal(0.0, 1.0, size=(1000, 100))
    for i in range(0, 1000, 50):
        m.update(same[i:i + 50])
    v = m.values()
    assert v["psi"] < 0.01 and abs(v["mean_shift"]) < 0.02
    assert v["count"] == 100_000
    for key, want in reference_values(stats, same).items():
        assert v[key] == pytest.approx(want, rel=1e-9, abs=1e-12), key

    shifted = same + 1.0  # one training std up
    for i in range(0, 1000, 7):
        m.update(shifted[i:i + 7])
    v = m.values()
    assert v["psi"] > 0.25
    assert v["mean_shift"] == pytest.approx(1.0, abs=0.03)
    assert v["out_of_range"] > 0
    for key, want in reference_values(stats, shifted).items():
        assert v[key] == pytest.approx(want, rel=1e-9, abs=1e-12), key


def test_drift_monitor_window_slides():
    stats = input_statistics(np.arange(1000.0).reshape(-1, 1))
    m = DriftMonitor(stats, window=10)
    m.update(np.full((25, 1), 5000.0))  # a batch larger than the window keeps its tail
    assert m.values()["count"] == 10 and m.values()["out_of_range"] == 1.0
    for i in range(10):
        m.update(np.array([[float(i)]]))
    v = m.values()
    assert v["count"] == 10 and v["out_of_range"] == 0.0
    assert v["mean_shift"] == pytest.approx((4.5 - stats["mean"]) / stats["std"])


def test_drift_monitor_features_and_nonfinite():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(2000, 8))
    m = DriftMonitor(input_statistics(train), window=500)
    x = rng.normal(size=(500, 8))
    x[:, 3] += 4.0  # one feature moves 4 std; the pooled mean moves 0.5
    m.update(x)
    v = m.values()
    assert v["max_feature_mean_shift"] == pytest.approx(4.0, abs=0.3)
    assert v["mean_shift"] == pytest.approx(0.5, abs=0.1)
    m2 = DriftMonitor(input_statistics(train), window=500)
    m2.update(np.array([[np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]))
    assert m2.values()["count"] == 7 and math.isfinite(m2.values()["psi"])


def test_drift_monitor_rejects_bad_stats():
    with pytest.raises(ValueError, match="not from input_statistics"):
        DriftMonitor({"mean": 0.0})
    with pytest.raises(ValueError, match="bin_edges"):
        DriftMonitor({"mean": 0, "std": 1, "min": 0, "max": 1, "bin_edges": [0, 1],
                      "bin_fractions": [0.5, 0.5]})
    with pytest.raises(ValueError, match="window"):
        DriftMonitor(input_statistics(np.ones((2, 2))), window=0)


# ---------------------------------------------------------------------------- metrics


def test_requests_counter_and_histograms():
    m = ServeMetrics()
    m.request_done("mlp", "1", "v2", 200, 0.003, queue_s=0.0004)
    m.request_done("mlp", "1", "v2", 200, 0.020)
    m.request_done("mlp", 1, "tfserving", 400, 0.0001)
    m.request_done(None, None, "v2", 404, 0.0002)
    req = samples(m, "fathom_requests_total")
    assert req[lab(model="mlp", version=1, protocol="v2", status=200)] == 2
    assert req[lab(model="mlp", version=1, protocol="tfserving", status=400)] == 1
    assert req[lab(model="", version="", protocol="v2", status=404)] == 1
    lat = {"model": "mlp", "version": 1, "protocol": "v2"}
    assert samples(m, "fathom_request_latency_seconds_count")[lab(**lat)] == 2
    assert samples(m, "fathom_request_latency_seconds_sum")[lab(**lat)] == pytest.approx(0.023)
    buckets = samples(m, "fathom_request_latency_seconds_bucket")
    assert buckets[lab(le="0.0025", **lat)] == 0
    assert buckets[lab(le="0.005", **lat)] == 1
    assert buckets[lab(le="+Inf", **lat)] == 2
    q = samples(m, "fathom_queue_seconds_count")
    assert q == {lab(model="mlp", version=1): 1}  # only the request with a queue time
    assert LATENCY_BUCKETS[0] == 0.0001 and LATENCY_BUCKETS[-1] == 10.0


def test_batches_in_flight_and_process():
    m = ServeMetrics()
    m.batch_done("cnn", "2", 8, 0.004)
    m.batch_done("cnn", "2", 3, 0.002)
    key = lab(model="cnn", version=2)
    assert samples(m, "fathom_batch_size_sum")[key] == 11
    assert samples(m, "fathom_batch_size_bucket")[lab(model="cnn", version=2, le="4.0")] == 1
    assert samples(m, "fathom_batch_compute_seconds_count")[key] == 2
    with m.in_flight():
        with m.in_flight():
            assert samples(m, "fathom_requests_in_flight")[()] == 2
    with pytest.raises(RuntimeError), m.in_flight():
        raise RuntimeError("handler failed")
    assert samples(m, "fathom_requests_in_flight")[()] == 0
    assert samples(m, "process_cpu_seconds_total")[()] > 0
    assert samples(m, "process_resident_memory_bytes")[()] > 1e6
    _, content_type = m.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    body, content_type = m.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")


def test_registries_are_separate_and_thread_safe():
    a, b = ServeMetrics(), ServeMetrics()

    def work():
        for _ in range(500):
            a.request_done("m", "1", "v2", 200, 0.001)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert samples(a, "fathom_requests_total")[lab(model="m", version=1, protocol="v2",
                                                   status=200)] == 4000
    assert samples(b, "fathom_requests_total") == {}


def test_drift_gauges_in_exposition():
    rng = np.random.default_rng(3)
    stats = input_statistics(rng.normal(size=(1000, 4)))
    m = ServeMetrics(drift_window=200)
    m.observe_inputs("mlp", "1", "x", rng.normal(size=(5, 4)), None)  # no stats: ignored
    assert samples(m, "fathom_input_drift_psi") == {}
    for _ in range(40):
        m.observe_inputs("mlp", "1", "x", rng.normal(size=(5, 4)) + 2.0, stats)
    key = lab(model="mlp", version=1, input="x")
    got = {name: samples(m, name)[key] for name in (
        "fathom_input_drift_psi", "fathom_input_drift_mean_shift",
        "fathom_input_out_of_range_fraction", "fathom_input_drift_window_values",
        "fathom_input_drift_max_feature_mean_shift")}
    want = m.drift("mlp", "1", "x")
    assert got["fathom_input_drift_psi"] == pytest.approx(want["psi"]) and want["psi"] > 1
    assert got["fathom_input_drift_mean_shift"] == pytest.approx(want["mean_shift"])
    assert got["fathom_input_out_of_range_fraction"] == pytest.approx(want["out_of_range"])
    assert got["fathom_input_drift_window_values"] == 800
    assert got["fathom_input_drift_max_feature_mean_shift"] > 1.5
    m.forget("mlp", 1)
    assert m.drift("mlp", "1", "x") is None
    assert samples(m, "fathom_input_drift_psi") == {}


# ---------------------------------------------------------------------------- logs


@pytest.fixture
def log_stream():
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate)
             for lg in (logs.access_logger, logs.error_logger)]
    stream = io.StringIO()
    logs.configure(stream)
    yield stream
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


def test_access_line_fields_and_order(log_stream):
    logs.access(client="127.0.0.1:5000", bytes=10, method="POST", path="/v2/models/m/infer",
                status=200, latency_ms=1.5, model="m", version="1", request_id="abc",
                body=b"secret", data=[1, 2])
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert list(rec) == ["time", "method", "path", "status", "latency_ms", "model", "version",
                         "request_id", "client", "bytes"]
    assert rec["status"] == 200 and rec["latency_ms"] == 1.5
    assert rec["time"].endswith("Z") and rec["time"][10] == "T"
    assert "secret" not in lines[0]


def test_hostile_fields_stay_one_line(log_stream):
    logs.access(method="GET", path="/x\n{\"status\": 200}\r\n" + "a" * 5000, status=404)
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert len(rec["path"]) == logs.MAX_FIELD_CHARS + 3 and rec["path"].startswith("/x\n{")


def test_error_log_has_traceback_for_operator(log_stream):
    try:
        raise ValueError("bad weights")
    except ValueError as e:
        logs.error(e, path="/v2/models/m/infer", request_id="r1")
    logs.error(message="queue full", model="m")
    first, second = (json.loads(s) for s in log_stream.getvalue().splitlines())
    assert first["error"] == "ValueError: bad weights" and first["request_id"] == "r1"
    assert "Traceback" in first["traceback"] and "raise ValueError" in first["traceback"]
    assert second["message"] == "queue full" and "traceback" not in second


def test_configure_is_idempotent_and_levels_respected(log_stream):
    logs.configure(log_stream)
    assert len([h for h in logs.access_logger.handlers if getattr(h, "_fathom_serve", 0)]) == 1
    logs.access_logger.setLevel(logging.WARNING)
    logs.access(method="GET", path="/v2", status=200)
    assert log_stream.getvalue() == ""


# ---------------------------------------------------------------------------- end to end


def test_server_metrics_and_access_log(tmp_path, log_stream):
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    from serve_fixtures import infer_body, running_server, tiny_repository

    tiny_repository(tmp_path)
    m = ServeMetrics()
    with running_server(tmp_path, metrics=m) as server:
        for rows in (1, 2, 3):
            r = httpx.post(server.url + "/v2/models/tiny/infer", json=infer_body((rows, 4)))
            assert r.status_code == 200, r.text
        bad = httpx.post(server.url + "/v2/models/tiny/infer", json=infer_body((1, 5)))
        assert bad.status_code == 400
        r = httpx.get(server.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    ok = lab(model="tiny", version=1, protocol="v2", status=200)
    assert samples(m, "fathom_requests_total")[ok] == 3
    assert samples(m, "fathom_requests_total")[lab(model="tiny", version=1, protocol="v2",
                                                   status=400)] == 1
    key = lab(model="tiny", version=1)
    assert samples(m, "fathom_batch_size_sum")[key] == 6  # every row went through a batch
    assert samples(m, "fathom_queue_seconds_count")[key] == 3
    drift = lab(model="tiny", version=1, input="input")
    assert samples(m, "fathom_input_drift_window_values")[drift] == 6 * 4
    assert math.isfinite(samples(m, "fathom_input_drift_psi")[drift])
    # the scrape itself returned the same registry's text
    assert 'fathom_requests_total{model="tiny",protocol="v2",status="200",version="1"} 3.0' \
        in r.text
    lines = [json.loads(s) for s in log_stream.getvalue().splitlines()]
    infer = [x for x in lines if x.get("path") == "/v2/models/tiny/infer"]
    assert [x["status"] for x in infer] == [200, 200, 200, 400]
    assert all(x["model"] == "tiny" and x["version"] == "1" and x["method"] == "POST"
               and x["latency_ms"] > 0 and x["bytes"] > 0 for x in infer)
    known = {"time", "method", "path", "status", "latency_ms", "model", "version",
             "request_id", "client", "bytes"}
    assert all(set(x) <= known for x in lines)  # the request data is never logged
    assert "[0.5" not in log_stream.getvalue()


def test_default_handler_follows_sys_stderr(log_stream, monkeypatch):
    logs.configure()  # no stream: whatever sys.stderr is at each record
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    logs.access(method="GET", path="/a", status=200)
    assert json.loads(first.getvalue())["path"] == "/a"
    first.close()  # e.g. pytest closing a test's captured stderr
    monkeypatch.setattr("sys.stderr", second)
    logs.access(method="GET", path="/b", status=200)
    assert json.loads(second.getvalue())["path"] == "/b"
