"""JSON access and error logs of the inference server: one JSON object per line.

Records go through the standard `logging` module, to the loggers ``fathom.serve.access``
and ``fathom.serve.error``, with the JSON line as the message; route them with ordinary
logging configuration, or call `configure()` for a plain stream handler (what
``fathom serve`` does). An access line reads::

    {"time": "2026-01-02T03:04:05.678Z", "method": "POST", "path": "/v2/models/mlp/infer",
     "status": 200, "latency_ms": 1.23, "model": "mlp", "version": "1",
     "request_id": "...", "client": "127.0.0.1:51234", "bytes": 1043}

Request bodies are never logged: only the fields passed in are written, long strings are
cut to `MAX_FIELD_CHARS`, and JSON escaping keeps a hostile path or header from starting a
new line. Tracebacks go to the error log (for the operator), never to clients.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback

access_logger = logging.getLogger("fathom.serve.access")
error_logger = logging.getLogger("fathom.serve.error")

#: longer string fields are cut (a 16 KiB URL should not make a 16 KiB log line)
MAX_FIELD_CHARS = 1024
#: fields that could carry request payloads; dropped if a caller passes them
_FORBIDDEN = frozenset({"body", "data", "payload", "inputs", "instances", "content"})
_ACCESS_ORDER = ("time", "method", "path", "status", "latency_ms", "model", "version",
                 "request_id", "client", "bytes")


_second = [-1, ""]  # the formatted time of the current second, reused within it


def _now() -> str:
    t = time.time()
    sec = int(t)
    if sec != _second[0]:
        _second[:] = [sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))]
    return f"{_second[1]}.{int((t - sec) * 1000):03d}Z"


def _clean(value):
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS] + "..."
    if value is None or kind in (int, float, bool):
        return value
    return _clean(str(value))


def format_line(fields: dict, order=_ACCESS_ORDER) -> str:
    """The JSON line for ``fields``: ``time`` first (now, UTC, if not given), then the
    access fields in their usual order, then the rest; payload-like fields dropped."""
    out = {"time": fields.get("time") or _now()}
    for key in order:
        if key in fields and key != "time":
            out[key] = _clean(fields[key])
    if len(out) < len(fields) + ("time" not in fields):  # fields beyond the usual ones
        for key, value in fields.items():
            if key not in out and key not in _FORBIDDEN:
                out[key] = _clean(value)
    return _encode(out)


# ensure_ascii keeps the line 7-bit; control characters are escaped, so no field can
# start a new line
_encode = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode


def access(**fields) -> None:
    """Logs one request: time, method, path, status, latency_ms, model, version,
    request_id, client, bytes (any subset; extra fields kept)."""
    if access_logger.isEnabledFor(logging.INFO):
        access_logger.info(format_line(fields))


def error(exc: BaseException | None = None, **fields) -> None:
    """Logs a server-side error; with ``exc``, adds its type, message and traceback
    (for the operator: the client gets only a short JSON error from the app)."""
    if not error_logger.isEnabledFor(logging.ERROR):
        return
    tb = None
    if exc is not None:
        fields.setdefault("error", f"{type(exc).__name__}: {exc}")
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    line = format_line(fields)
    if tb is not None:  # long by nature: not cut like the other fields
        line = line[:-1] + ', "traceback": ' + _encode(tb) + "}"
    error_logger.error(line)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (like logging's last-resort
    handler), so a replaced stderr (pytest's capture, a redirect) never leaves it writing
    to a closed file."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure(stream=None, level: int = logging.INFO) -> list[logging.Handler]:
    """Sends both loggers to ``stream`` (default: the current sys.stderr), one JSON
    object per line.

    Idempotent: calling it again replaces the handlers it added before. Returns them.
    """
    handlers = []
    for logger in (access_logger, error_logger):
        for h in [h for h in logger.handlers if getattr(h, "_fathom_serve", False)]:
            logger.removeHandler(h)
        h = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        h._fathom_serve = True
        logger.addHandler(h)
        logger.setLevel(level)
        logger.propagate = False
        handlers.append(h)
    return handlers
