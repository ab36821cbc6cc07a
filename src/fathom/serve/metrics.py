"""Prometheus metrics of the inference server (what ``GET /metrics`` returns).

`ServeMetrics` owns a private `prometheus_client.CollectorRegistry` (so two servers in one
process, or the tests, never share counters) with:

- ``fathom_requests_total{model, version, protocol, status}``: counter of finished requests.
- ``fathom_request_latency_seconds{model, version, protocol}``: histogram, request in to
  response out (buckets 0.1 ms .. 10 s).
- ``fathom_queue_seconds{model, version}``: histogram, time waiting for a batch.
- ``fathom_batch_size{model, version}``: histogram of the rows per model call.
- ``fathom_batch_compute_seconds{model, version}``: histogram of model call time.
- ``fathom_requests_in_flight``: gauge of requests being handled.
- ``process_cpu_seconds_total``, ``process_resident_memory_bytes`` and the rest of
  prometheus_client's process metrics (from /proc; psutil where /proc is missing).
- ``fathom_input_drift_psi``, ``fathom_input_drift_mean_shift``,
  ``fathom_input_out_of_range_fraction``, ``fathom_input_drift_max_feature_mean_shift``,
  ``fathom_input_drift_window_values`` ``{model, version, input}``: drift of the inputs over
  a sliding window against the package's training statistics (see `fathom.serve.drift`),
  computed when scraped, not per request.

Label children are cached per label tuple, so `request_done` costs a dict lookup and a
few prometheus_client calls (a few microseconds).
"""

from __future__ import annotations

import contextlib
import os
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from .drift import DriftMonitor

#: seconds, from 0.1 ms to 10 s, about three per decade
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

_DRIFT_GAUGES = (
    ("psi", "fathom_input_drift_psi",
     "Population stability index of the input window against the training histogram"),
    ("mean_shift", "fathom_input_drift_mean_shift",
     "Window mean minus training mean, in training standard deviations"),
    ("out_of_range", "fathom_input_out_of_range_fraction",
     "Fraction of window values outside the training [min, max]"),
    ("max_feature_mean_shift", "fathom_input_drift_max_feature_mean_shift",
     "Largest per-feature |mean shift| in training standard deviations"),
    ("count", "fathom_input_drift_window_values", "Number of values in the drift window"),
)


class _DriftCollector:
    """Yields the drift gauges of every monitored input when the registry is scraped."""

    def __init__(self, monitors, lock):
        self._monitors, self._lock = monitors, lock

    def collect(self):
        families = {key: GaugeMetricFamily(name, doc, labels=["model", "version", "input"])
                    for key, name, doc in _DRIFT_GAUGES}
        with self._lock:
            items = list(self._monitors.items())
        for labels, monitor in items:
            for key, value in monitor.values().items():
                families[key].add_metric(list(labels), value)
        return list(families.values())


class _PsutilProcessCollector:
    """process_cpu_seconds_total and process_resident_memory_bytes via psutil, for
    platforms without /proc (where prometheus_client's ProcessCollector yields nothing)."""

    def __init__(self):
        import psutil

        self._proc = psutil.Process()

    def collect(self):
        cpu = self._proc.cpu_times()
        c = CounterMetricFamily("process_cpu_seconds", "Total user and system CPU time "
                                "spent in seconds.", value=cpu.user + cpu.system)
        m = GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                              value=self._proc.memory_info().rss)
        return [c, m]


class ServeMetrics:
    """The server's metrics, in a registry of its own.

    Args:
        drift_window: rows per input that the drift gauges cover (see `DriftMonitor`).

    >>> m = ServeMetrics()
    >>> m.request_done("mlp", "1", "v2", 200, 0.003, queue_s=0.001)
    >>> body, content_type = m.render()
    >>> b'fathom_requests_total{model="mlp",protocol="v2",status="200",version="1"} 1.0' in body
    True
    """

    def __init__(self, *, drift_window: int = 1000):
        self.registry = CollectorRegistry()
        self.drift_window = int(drift_window)
        r = self.registry
        self._requests = Counter("fathom_requests", "Requests finished, by status code",
                                 ["model", "version", "protocol", "status"], registry=r)
        self._latency = Histogram("fathom_request_latency_seconds",
                                  "Time from request received to response sent",
                                  ["model", "version", "protocol"], buckets=LATENCY_BUCKETS,
                                  registry=r)
        self._queue = Histogram("fathom_queue_seconds", "Time a request waited for its batch",
                                ["model", "version"], buckets=LATENCY_BUCKETS, registry=r)
        self._batch = Histogram("fathom_batch_size", "Rows per model call",
                                ["model", "version"], buckets=BATCH_BUCKETS, registry=r)
        self._compute = Histogram("fathom_batch_compute_seconds", "Time of one model call",
                                  ["model", "version"], buckets=LATENCY_BUCKETS, registry=r)
        self._in_flight = Gauge("fathom_requests_in_flight", "Requests being handled",
                                registry=r)
        if os.path.exists("/proc/self/stat"):
            ProcessCollector(registry=r)
        else:
            r.register(_PsutilProcessCollector())
        self._lock = threading.Lock()
        self._monitors = {}  # (model, version, input) -> DriftMonitor
        r.register(_DriftCollector(self._monitors, self._lock))
        # label tuple -> prometheus_client children, so the hot path skips labels()
        self._req_children = {}
        self._batch_children = {}

    def request_done(self, model, version, protocol, status, latency_s, queue_s=None) -> None:
        """Counts one finished request and observes its latency (and queue time), seconds.

        ``model``/``version`` may be None for requests that named no known model (404s,
        health checks); they are labelled "".
        """
        key = (model, version, protocol, status)
        children = self._req_children.get(key)
        if children is None:
            children = self._request_children(key)
        children[0].inc()
        children[1].observe(latency_s)
        if queue_s is not None:
            # made on first use, so requests that never queue (404s, health) add no series
            if children[2] is None:
                children[2] = self._queue.labels(*children[3][:2])
            children[2].observe(queue_s)

    def _request_children(self, key):
        labels = tuple("" if v is None else str(v) for v in key)
        model, version, protocol, status = labels
        children = [self._requests.labels(model, version, protocol, status),
                    self._latency.labels(model, version, protocol), None, labels]
        self._req_children[key] = children
        return children

    def batch_done(self, model, version, size, compute_s) -> None:
        """Observes one model call of ``size`` rows that took ``compute_s`` seconds."""
        key = (model, version)
        children = self._batch_children.get(key)
        if children is None:
            m, v = ("" if x is None else str(x) for x in key)
            children = (self._batch.labels(m, v), self._compute.labels(m, v))
            self._batch_children[key] = children
        children[0].observe(size)
        children[1].observe(compute_s)

    @contextlib.contextmanager
    def in_flight(self):
        """Context manager: the in-flight gauge counts the request while inside."""
        self._in_flight.inc()
        try:
            yield
        finally:
            self._in_flight.dec()

    def observe_inputs(self, model, version, name, array, training_stats) -> None:
        """Feeds a batch of input ``name`` (shape (B, ...)) to its drift window.

        Does nothing when ``training_stats`` (the package's statistics of this input,
        from `fathom.serve.drift.input_statistics`) is None.
        """
        if training_stats is None:
            return
        key = (str(model), str(version), str(name))
        monitor = self._monitors.get(key)
        if monitor is None:
            with self._lock:
                monitor = self._monitors.get(key)
                if monitor is None:
                    monitor = DriftMonitor(training_stats, window=self.drift_window)
                    self._monitors[key] = monitor
        monitor.update(array)

    def drift(self, model, version, name) -> dict | None:
        """The current drift values of one input (see `DriftMonitor.values`), or None."""
        monitor = self._monitors.get((str(model), str(version), str(name)))
        return None if monitor is None else monitor.values()

    def forget(self, model, version) -> None:
        """Drops the drift windows of a model version (after it is unloaded)."""
        with self._lock:
            for key in [k for k in self._monitors if k[:2] == (str(model), str(version))]:
                del self._monitors[key]

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition of every metric and its content type: Prometheus text 0.0.4, or
        OpenMetrics when ``accept`` (the request's Accept header) asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
