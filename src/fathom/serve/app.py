"""The inference server's ASGI app (Starlette): OIP v2 and TF-Serving REST over a Repository.

    app = create_app("models", max_batch_size=32, token=None)   # then run it on uvicorn

Routes (all JSON; errors are {"error": "..."} with a 4xx/5xx status, never a traceback
or a file path):

    GET  /v2/health/live   /v2/health/ready   /v2                    (server)
    GET  /v2/models/{m}[/versions/{v}]        model metadata
    GET  /v2/models/{m}[/versions/{v}]/ready  200 when servable, else 404
    GET  /v2/models/{m}[/versions/{v}]/config Triton's model configuration
    POST /v2/models/{m}[/versions/{v}]/infer  inference (JSON or binary tensors)
    GET  /v1/models/{m}[/versions/{v}]        TF-Serving version status
    GET  /v1/models/{m}[/versions/{v}]/metadata   TF-Serving signature
    POST /v1/models/{m}[/versions/{v}]:predict    TF-Serving predict
    GET  /metrics                             Prometheus text

A raw ASGI guard in front of the routes enforces, before any handler runs: at most
`max_headers` headers and `max_header_bytes` of target plus headers (431), the bearer
token when one is set (401 with WWW-Authenticate; the two health routes stay open for
probes, /metrics is guarded), a body cap (413 from the Content-Length alone, or while
the body streams in), and a deadline for the whole body (408). It also counts the
request in the metrics and writes the access log line.
"""
from __future__ import annotations

import asyncio
import hmac
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import Route

from . import logs, protocol as P
from .batching import Batcher, BatcherClosed, QueueFull
from .protocol import ProtocolError
from .repository import Repository

__all__ = ["create_app", "Service"]

OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"


class Service:
    """What the routes share: the repository, the limits, the metrics, and the count of
    requests not yet handed to a batcher (the batchers' `busy` signal)."""

    def __init__(self, repository, *, max_batch_size, max_batch_delay_ms, max_queue,
                 max_body_bytes, request_timeout_s, token, metrics, max_headers,
                 max_header_bytes, retry_after_s):
        self.repo = repository
        self.max_batch_size = int(max_batch_size)
        self.max_batch_delay_ms = float(max_batch_delay_ms)
        self.max_queue = int(max_queue)
        self.max_body_bytes = int(max_body_bytes)
        self.request_timeout_s = float(request_timeout_s)
        self.token = token.encode() if token else None
        self.metrics = metrics
        self.max_headers = int(max_headers)
        self.max_header_bytes = int(max_header_bytes)
        self.retry_after = str(int(retry_after_s))
        self.pending = 0          # requests being read or parsed (no lock: one event loop)
        self.draining = False
        repository.attach(self._make_runner, self._close_runner)

    def busy(self) -> bool:
        return self.pending > 0

    def _make_runner(self, mv) -> Batcher:
        name, version, pkg, metrics = mv.name, str(mv.version), mv.package, self.metrics
        stats = pkg.training_stats or {}
        specs = pkg.inputs

        def on_batch(xs, rows, compute_s):
            metrics.batch_done(name, version, rows, compute_s)
            for spec, x in zip(specs, xs):
                metrics.observe_inputs(name, version, spec.name, x, stats.get(spec.name))

        return Batcher(pkg.predict, max_batch_size=self.max_batch_size,
                       max_batch_delay_ms=self.max_batch_delay_ms, max_queue=self.max_queue,
                       busy=self.busy, on_batch=on_batch, name=f"{name}-{version}")

    def _close_runner(self, runner) -> None:
        runner.close(drain=True, timeout=self.request_timeout_s)

    def resolve(self, scope, name: str, version, protocol: str):
        """The ModelVersion a request names (404 when there is none); labels the request."""
        mv = self.repo.get(name, version)
        scope["fathom.pinned"] = version is not None
        # unknown names stay out of the labels: clients must not grow the metric series
        scope["fathom.labels"] = (None, None, protocol)
        if mv is None:
            if not self.repo.versions(name):
                raise ProtocolError(404, f"unknown model {name!r}; this server has "
                                         f"{', '.join(map(repr, self.repo.names())) or 'none'}")
            raise ProtocolError(404, f"model {name!r} has no version {version}; it has "
                                     f"{', '.join(map(str, self.repo.versions(name)))}")
        scope["fathom.labels"] = (name, str(mv.version), protocol)
        return mv

    async def run(self, scope, mv, inputs, protocol: str):
        """Queue `inputs` on the version's batcher and wait for the outputs."""
        self.done_reading(scope)
        try:
            future = mv.runner.submit(inputs)
        except QueueFull:
            raise ProtocolError(503, f"server busy: model {mv.name!r} has "
                                     f"{self.max_queue} requests queued; retry later") from None
        except BatcherClosed:
            # the version was retired between lookup and submit: the new default takes it
            again = self.repo.get(mv.name, mv.version if scope["fathom.pinned"] else None)
            if again is None or again is mv or again.package.inputs != mv.package.inputs:
                raise ProtocolError(503, f"model {mv.name!r} version {mv.version} is being "
                                         "unloaded; retry") from None
            return await self.run(scope, self.resolve(scope, again.name, again.version,
                                                      protocol), inputs, protocol)
        remaining = scope["fathom.deadline"] - time.perf_counter()
        try:
            outputs, queue_s = await asyncio.wait_for(future, max(remaining, 0.001))
        except asyncio.TimeoutError:
            raise ProtocolError(504, f"inference did not finish within "
                                     f"{self.request_timeout_s:g} s") from None
        except BatcherClosed:
            raise ProtocolError(503, "the server is stopping; retry") from None
        except Exception as e:
            logs.error(e, model=mv.name, version=str(mv.version), path=scope["path"])
            raise ProtocolError(500, f"inference failed in model {mv.name!r} version "
                                     f"{mv.version} (see the server's error log)") from None
        scope["fathom.queue_s"] = queue_s
        return mv, outputs

    def done_reading(self, scope) -> None:
        if scope.get("fathom.pending"):
            scope["fathom.pending"] = False
            self.pending -= 1
            if self.pending == 0:
                for mv in self.repo.all():  # a batcher waiting for more can go now
                    if mv.runner is not None and len(mv.runner):
                        mv.runner.poke()


# --- the guard (raw ASGI) -----------------------------------------------------------------

def _json_bytes(message: str) -> bytes:
    import json
    return json.dumps({"error": message}).encode()


async def _send_error(send, status: int, message: str, headers=()) -> None:
    body = _json_bytes(message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                            *[(k.encode(), v.encode()) for k, v in headers]]})
    await send({"type": "http.response.body", "body": body})


class _Disconnected(Exception):
    pass


class Guard:
    """Limits, auth, metrics and the access log around every HTTP request."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        svc = self.service
        t0 = time.perf_counter()
        scope["fathom.deadline"] = t0 + svc.request_timeout_s
        state = [0, 0]  # status, body bytes

        async def send_counted(message):
            if message["type"] == "http.response.start":
                state[0] = message["status"]
            else:
                state[1] += len(message.get("body", b""))
            await send(message)

        svc.pending += 1
        scope["fathom.pending"] = True
        try:
            with svc.metrics.in_flight():
                await self._handle(scope, receive, send_counted)
        except ProtocolError as e:
            if not state[0]:
                headers = list(e.headers.items())
                if e.status == 503:
                    headers.append(("retry-after", svc.retry_after))
                if e.status in (408, 413):  # the rest of the body is not read: close
                    headers.append(("connection", "close"))
                await _send_error(send_counted, e.status, e.message, headers)
        except _Disconnected:
            state[0] = state[0] or 499  # nginx's code for "client closed the request"
        except Exception as e:  # a bug: the client gets no details, the log gets them
            logs.error(e, method=scope.get("method"), path=scope.get("path"))
            if not state[0]:
                await _send_error(send_counted, 500, "internal server error")
        finally:
            svc.done_reading(scope)
        latency = time.perf_counter() - t0
        path = scope.get("path", "")
        model, version, proto = scope.get("fathom.labels") or (None, None, _protocol(path))
        svc.metrics.request_done(model, version, proto, state[0], latency,
                                 scope.get("fathom.queue_s"))
        client = scope.get("client")
        logs.access(method=scope.get("method"), path=path, status=state[0],
                    latency_ms=round(latency * 1e3, 3), model=model, version=version,
                    request_id=scope.get("fathom.request_id"),
                    client=f"{client[0]}:{client[1]}" if client else None, bytes=state[1])

    async def _handle(self, scope, receive, send):
        svc = self.service
        headers = scope["headers"]
        if len(headers) > svc.max_headers:
            raise ProtocolError(431, f"{len(headers)} request headers; at most "
                                     f"{svc.max_headers} are accepted")
        # h11 caps only a header block that arrives in pieces; one burst is checked here
        size = sum(len(k) + len(v) for k, v in headers) + len(scope.get("raw_path") or b"") \
            + len(scope.get("query_string") or b"")
        if size > svc.max_header_bytes:
            raise ProtocolError(431, f"request line and headers of {size} bytes; at most "
                                     f"{svc.max_header_bytes} are accepted",
                                {"connection": "close"})
        if svc.token is not None and scope["path"] not in OPEN_PATHS:
            self._authorize(headers)
        if scope["method"] in BODY_METHODS:
            body = await self._read_body(scope, headers, receive)
            scope["fathom.body"] = body
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)

    def _authorize(self, headers) -> None:
        token = self.service.token
        given = None
        for k, v in headers:
            if k == b"authorization":
                given = v
                break
        if given is None:
            raise ProtocolError(401, "missing bearer token: send the header "
                                     "'Authorization: Bearer <token>'",
                                {"www-authenticate": 'Bearer realm="fathom"'})
        scheme, _, value = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), token):
            raise ProtocolError(401, "invalid bearer token", {
                "www-authenticate": 'Bearer realm="fathom", error="invalid_token"'})

    async def _read_body(self, scope, headers, receive) -> bytes:
        svc = self.service
        limit = svc.max_body_bytes
        for k, v in headers:
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    raise ProtocolError(400, "Content-Length is not an integer") from None
                if n > limit:
                    raise ProtocolError(413, f"request body of {n} bytes is above the "
                                             f"server's limit of {limit} bytes")
        chunks, size = [], 0
        remaining = scope["fathom.deadline"] - time.perf_counter()
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Disconnected()
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise ProtocolError(413, f"request body is above the server's limit "
                                                 f"of {limit} bytes")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise ProtocolError(408, f"request body not received within "
                                     f"{svc.request_timeout_s:g} s") from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _protocol(path: str) -> str:
    if path.startswith("/v2"):
        return "v2"
    if path.startswith("/v1"):
        return "v1"
    return "http"


# --- routes -------------------------------------------------------------------------------

def _json(obj, status: int = 200) -> Response:
    import json
    return Response(json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type=JSON)


def _version(request):
    v = request.path_params.get("version")
    return None if v is None else int(v)


def _svc(request) -> Service:
    return request.app.state.fathom


async def live(request):
    return _json({"live": True})


async def ready(request):
    svc = _svc(request)
    ok = not svc.draining and bool(svc.repo.names())
    return _json({"ready": ok}, 200 if ok else 503)


async def server_metadata(request):
    from .. import __version__
    return _json({"name": "fathom", "version": __version__,
                  "extensions": ["binary_tensor_data", "classification"]})


async def model_metadata(request):
    svc = _svc(request)
    name = request.path_params["model"]
    mv = svc.resolve(request.scope, name, _version(request), "v2")
    return _json(P.v2_model_metadata(name, svc.repo.versions(name), mv.package))


async def model_ready(request):
    svc = _svc(request)
    svc.resolve(request.scope, request.path_params["model"], _version(request), "v2")
    return _json({"name": request.path_params["model"], "ready": True})


async def model_config(request):
    svc = _svc(request)
    name = request.path_params["model"]
    mv = svc.resolve(request.scope, name, _version(request), "v2")
    return _json(P.v2_model_config(name, mv.package, svc.max_batch_size))


def _body(request) -> bytes:
    svc = _svc(request)
    headers = request.headers
    return P.decode_body(request.scope["fathom.body"], headers.get("content-encoding"),
                         svc.max_body_bytes)


async def infer(request):
    svc = _svc(request)
    scope = request.scope
    name = request.path_params["model"]
    mv = svc.resolve(scope, name, _version(request), "v2")
    req = P.parse_v2(_body(request), request.headers.get(P.BINARY_HEADER), mv.package,
                     svc.max_batch_size)
    scope["fathom.request_id"] = req.id
    mv, outputs = await svc.run(scope, mv, req.inputs, "v2")
    body, headers = P.v2_response(req, outputs, mv.package, name, mv.version)
    return Response(body, headers=headers)


async def tf_status(request):
    svc = _svc(request)
    name = request.path_params["model"]
    version = _version(request)
    mv = svc.resolve(request.scope, name, version, "v1")
    versions = [mv.version] if version is not None else svc.repo.versions(name)
    return _json(P.tf_status(name, versions))


async def tf_metadata(request):
    svc = _svc(request)
    name = request.path_params["model"]
    mv = svc.resolve(request.scope, name, _version(request), "v1")
    return _json(P.tf_metadata(name, mv.version, mv.package))


async def tf_predict(request):
    svc = _svc(request)
    scope = request.scope
    name = request.path_params["model"]
    mv = svc.resolve(scope, name, _version(request), "v1")
    arrays, kind = P.parse_tf(_body(request), mv.package, svc.max_batch_size)
    mv, outputs = await svc.run(scope, mv, arrays, "v1")
    return Response(P.tf_response(outputs, mv.package, kind), media_type=JSON)


async def metrics(request):
    body, content_type = _svc(request).metrics.render(request.headers.get("accept"))
    return Response(body, headers={"content-type": content_type})


async def _http_error(request, exc):
    text = {404: f"no route {request.url.path!r}; see /v2 (Open Inference Protocol) and "
                 "/v1/models/{model} (TF-Serving)",
            405: f"method {request.method} is not allowed on {request.url.path!r}"}.get(
        exc.status_code, str(exc.detail))
    return Response(_json_bytes(text), status_code=exc.status_code, media_type=JSON)


def _routes() -> list:
    R = Route
    m, mv = "/v2/models/{model}", "/v2/models/{model}/versions/{version:int}"
    t, tv = "/v1/models/{model}", "/v1/models/{model}/versions/{version:int}"
    get, post = ["GET"], ["POST"]
    return [R("/v2/health/live", live, methods=get),
            R("/v2/health/ready", ready, methods=get),
            R("/v2", server_metadata, methods=get),
            R(m, model_metadata, methods=get), R(mv, model_metadata, methods=get),
            R(m + "/ready", model_ready, methods=get), R(mv + "/ready", model_ready,
                                                         methods=get),
            R(m + "/config", model_config, methods=get), R(mv + "/config", model_config,
                                                           methods=get),
            R(m + "/infer", infer, methods=post), R(mv + "/infer", infer, methods=post),
            R(t + ":predict", tf_predict, methods=post), R(tv + ":predict", tf_predict,
                                                           methods=post),
            R(t + "/metadata", tf_metadata, methods=get), R(tv + "/metadata", tf_metadata,
                                                            methods=get),
            R(t, tf_status, methods=get), R(tv, tf_status, methods=get),
            R("/metrics", metrics, methods=get)]


def create_app(repository, *, max_batch_size: int = 32, max_batch_delay_ms: float = 2.0,
               max_queue: int = 256, max_body_bytes: int = 16 * 1024 * 1024,
               request_timeout_s: float = 30.0, token: str | None = None, metrics=None,
               max_headers: int = 100, max_header_bytes: int = 16 * 1024,
               retry_after_s: int = 1, registry=None,
               poll_interval_s: float = 2.0) -> Starlette:
    """The server's Starlette app over `repository` (a Repository, or a path to a package
    folder or a repository folder).

    Args:
        max_batch_size: most rows per model call; a request with more gets 400.
        max_batch_delay_ms: how long a batch waits for more requests (only while more
            are being read).
        max_queue: requests waiting per model version; more get 503 with Retry-After.
        max_body_bytes: request bodies above this get 413 (checked before reading).
        request_timeout_s: deadline for receiving the body (408) and for the whole
            inference (504).
        token: require 'Authorization: Bearer <token>' on every route but the health
            checks.
        metrics: a fathom.serve.metrics.ServeMetrics (default: a new one).
        max_headers, max_header_bytes: more request headers, or more bytes of request
            target plus headers, get 431.

    The batchers start now; the repository poller starts with the app (ASGI lifespan)
    and both stop at its shutdown, after the queued requests finish.
    """
    if max_batch_size < 1 or max_queue < 1 or max_body_bytes < 1 or request_timeout_s <= 0:
        raise ValueError("create_app: max_batch_size, max_queue, max_body_bytes and "
                         "request_timeout_s must be positive")
    if not isinstance(repository, Repository):
        repository = Repository(Path(repository), registry=registry,
                                poll_interval_s=poll_interval_s)
    if metrics is None:
        from .metrics import ServeMetrics
        metrics = ServeMetrics()
    service = Service(repository, max_batch_size=max_batch_size,
                      max_batch_delay_ms=max_batch_delay_ms, max_queue=max_queue,
                      max_body_bytes=max_body_bytes, request_timeout_s=request_timeout_s,
                      token=token, metrics=metrics, max_headers=max_headers,
                      max_header_bytes=max_header_bytes, retry_after_s=retry_after_s)

    async def lifespan(app):
        repository.start_polling()
        try:
            yield
        finally:
            service.draining = True
            repository.close()

    app = Starlette(routes=_routes(), lifespan=_as_context(lifespan),
                    middleware=[Middleware(Guard, service=service)],
                    exception_handlers={HTTPException: _http_error})
    app.state.fathom = service
    return app


def _as_context(fn):
    import contextlib
    return contextlib.asynccontextmanager(fn)
