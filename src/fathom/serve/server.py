"""Running the app on uvicorn with safe settings: in-process (`Server`) or blocking (`serve`).

    server = Server("models", port=0)      # a free port on 127.0.0.1
    port = server.start()                  # background thread; server.url
    ...
    server.stop()                          # drains in-flight requests

Safe defaults: bound to 127.0.0.1 (another address logs a warning); uvicorn's h11 parser
with a cap on a header block still arriving (400 beyond it) and the app's caps on
complete ones (`max_header_bytes`, `max_headers`: 431); `limit_concurrency` (uvicorn
answers 503 above it); keep-alive connections closed after `timeout_keep_alive` idle
seconds, and any connection that takes longer than `header_timeout_s` to send a request
head; no Server header. The body cap, body deadline and inference deadline are the
app's (see `fathom.serve.app`). On SIGTERM (or `stop`) uvicorn stops accepting, the
requests in flight finish (up to `timeout_graceful_shutdown`), the batchers drain, and
`serve` returns 0.
"""
from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading
import time

__all__ = ["Server", "serve", "is_loopback"]

log = logging.getLogger("fathom.serve")


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _protocol_class(header_timeout_s: float):
    """uvicorn's h11 protocol plus a deadline for each request head: uvicorn starts no
    timer on a new connection and stops its keep-alive timer at the first byte, so a
    client trickling a header block would hold a connection (and a `limit_concurrency`
    slot) forever. Here the connection closes when no complete request head arrived
    within `header_timeout_s` of connecting or of the last response."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutProtocol(H11Protocol):
        _head_timer = None

        def _arm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _head_timeout(self) -> None:
            self._head_timer = None
            waiting = self.cycle is None or self.cycle.response_complete
            if waiting and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()

        def connection_lost(self, exc) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

    return HeadTimeoutProtocol


def _bind(host: str, port: int) -> socket.socket:
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, addr = info[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Server:
    """The app on uvicorn, bound to `host`:`port` (0 = a free port).

    Args:
        app_or_repo: an app from `create_app`, or what `create_app` takes (a Repository
            or a path); `app_kwargs` go to `create_app` then.
        limit_concurrency: connections plus requests uvicorn serves at once (503 above).
        timeout_keep_alive: seconds an idle keep-alive connection stays open.
        header_timeout_s: a connection that does not complete a request head (request
            line and headers) this many seconds after connecting, or after its last
            response, is closed.
        timeout_graceful_shutdown: most seconds `stop`/SIGTERM waits for requests in
            flight (default: the app's request timeout plus 5).
    """

    def __init__(self, app_or_repo, host: str = "127.0.0.1", port: int = 0, *,
                 limit_concurrency: int = 1024, timeout_keep_alive: int = 5,
                 header_timeout_s: float = 10.0, timeout_graceful_shutdown=None,
                 log_level: str = "warning", **app_kwargs):
        from .app import create_app
        if hasattr(app_or_repo, "state") and hasattr(app_or_repo.state, "fathom"):
            if app_kwargs:
                raise TypeError(f"Server: {sorted(app_kwargs)} go to create_app; pass a "
                                "repository, not an app, to use them")
            self.app = app_or_repo
        else:
            self.app = create_app(app_or_repo, **app_kwargs)
        if not is_loopback(host):
            log.warning("serving on %s, which is not a loopback address: anyone who can "
                        "reach this machine can query the models%s", host,
                        "" if self.app.state.fathom.token else " (no --token is set)")
        self.host, self.port = host, int(port)
        if timeout_graceful_shutdown is None:
            timeout_graceful_shutdown = int(self.app.state.fathom.request_timeout_s) + 5
        import uvicorn
        self.config = uvicorn.Config(
            self.app, host=host, port=self.port, http=_protocol_class(header_timeout_s),
            loop="asyncio",
            lifespan="on", log_config=None, log_level=log_level, access_log=False,
            server_header=False, limit_concurrency=limit_concurrency,
            timeout_keep_alive=timeout_keep_alive,
            # h11 buffers at most this much of an incomplete header block (400 past it);
            # the app checks complete ones against max_header_bytes (431)
            h11_max_incomplete_event_size=self.app.state.fathom.max_header_bytes + 4096,
            timeout_graceful_shutdown=timeout_graceful_shutdown, proxy_headers=False)
        self._server = uvicorn.Server(self.config)
        self._thread = None
        self._sock = None
        self._error = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> int:
        """Bind the listening socket now (OSError if the address is taken); returns the
        port. `start` and `serve` bind when this was not called."""
        if self._sock is None:
            self._sock = _bind(self.host, self.port)
            self.port = self._sock.getsockname()[1]
        return self.port

    def start(self, timeout: float = 30.0) -> int:
        """Serve in a background thread; returns the bound port once it accepts."""
        self.bind()
        self._thread = threading.Thread(target=self._run, name="fathom-serve", daemon=True)
        self._thread.start()
        end = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"the server did not start: {self._error or 'timed out'}")
            time.sleep(0.005)
        return self.port

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as e:  # SystemExit from a failed lifespan startup included
            self._error = e

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting, let the requests in flight finish, stop the batchers."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def serve(self) -> int:
        """Serve in this (the main) thread until SIGTERM or SIGINT; returns 0 after
        SIGTERM (drained), 130 after Ctrl-C."""
        got = []

        def note(sig, frame):  # uvicorn re-raises the signal after draining: keep it
            got.append(sig)

        old = {s: signal.signal(s, note) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.bind()
            self._server.run(sockets=[self._sock])
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if self._sock is not None:
                self._sock.close()
        return 130 if signal.SIGINT in got else 0


def serve(app_or_repo, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> int:
    """Blocking: serve until SIGTERM (drain, return 0) or Ctrl-C (return 130)."""
    return Server(app_or_repo, host, port, **kwargs).serve()

