"""Serve model packages over HTTP: Open Inference Protocol v2 and TensorFlow-Serving REST.

    fathom export runs/mlp-fashion-mnist --out models/mlp/1
    fathom serve models                      # http://127.0.0.1:8000
    curl localhost:8000/v2/models/mlp        # metadata; POST .../infer to predict

MODEL_OR_REPOSITORY is one package folder, or a repository of <model>/<version>/
package folders: the default version is the highest, and new version folders are
picked up while serving. Requests are batched dynamically; /metrics gives Prometheus
metrics (requests, latency, queue time, batch sizes, input drift); access and error
logs go to stderr as JSON lines.

Safe by default: binds 127.0.0.1 (another --host logs a warning), never unpickles (a
repository holding a pickle file is refused), loads no model over HTTP, caps bodies and
headers, and validates every tensor before computing.
"""
from __future__ import annotations

import importlib
import os
import sys

from ._common import CLIError

HELP = "serve model packages over HTTP (OIP v2, TF-Serving REST)"
EPILOG = """\
Architectures not in fathom.vision.models must be registered by the operator:
--register package.module:Class (the package's config names "Class"), or
--register NAME=package.module:Class. The token may come from the environment variable
FATHOM_SERVE_TOKEN (safer than the command line, which other users can see); with a
token, every route but /v2/health/live and /v2/health/ready needs
'Authorization: Bearer TOKEN'. SIGTERM drains the requests in flight and exits 0."""


def add_arguments(p) -> None:
    p.add_argument("target", metavar="MODEL_OR_REPOSITORY",
                   help="a package folder (from `fathom export`) or a repository folder "
                        "of <model>/<version>/ packages")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="(default: 8000; 0 = any free)")
    p.add_argument("--max-batch-size", type=int, default=32, metavar="N",
                   help="most rows per model call; larger requests get 400 (default: 32)")
    p.add_argument("--max-batch-delay-ms", type=float, default=2.0, metavar="MS",
                   help="how long a batch waits for more requests (default: 2)")
    p.add_argument("--max-queue", type=int, default=256, metavar="N",
                   help="requests queued per model version; more get 503 (default: 256)")
    p.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024, metavar="B",
                   help="largest request body; more gets 413 (default: 16 MiB)")
    p.add_argument("--timeout-s", type=float, default=30.0, metavar="S",
                   help="deadline for a request's body (408) and its inference (504) "
                        "(default: 30)")
    p.add_argument("--token", default=os.environ.get("FATHOM_SERVE_TOKEN"),
                   help="require this bearer token (default: $FATHOM_SERVE_TOKEN, else none)")
    p.add_argument("--register", action="append", default=[], metavar="[NAME=]MODULE:CLASS",
                   help="add an architecture packages may name (repeatable)")
    p.add_argument("--poll-interval-s", type=float, default=2.0, metavar="S",
                   help="how often to look for new version folders (0 = never; default: 2)")
    p.add_argument("--limit-concurrency", type=int, default=1024, metavar="N",
                   help="connections and requests at once; more get 503 (default: 1024)")
    p.add_argument("--blas-threads", type=int, default=None, metavar="N",
                   help="threads of NumPy's BLAS; 0 leaves BLAS's own choice (default: 1 "
                        "when threadpoolctl is installed: batches are small, and BLAS "
                        "threads spinning beside the HTTP loop cut throughput several-fold)")
    p.add_argument("--quiet", action="store_true", help="no access log (errors only)")


def register_from(spec: str) -> str:
    """'[NAME=]module:Class' -> imports module, registers Class; returns the name."""
    from ..serve.package import register
    name, _, target = spec.rpartition("=")
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise CLIError(f"--register {spec!r}: expected MODULE:CLASS or NAME=MODULE:CLASS, "
                       "e.g. mypackage.models:TinyNet")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise CLIError(f"--register {spec!r}: cannot import {module!r}: {e}") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CLIError(f"--register {spec!r}: {module!r} has no {attr!r}")
        obj = getattr(obj, part)
    try:
        register(name or attr.split(".")[-1], obj)
    except (TypeError, ValueError) as e:
        raise CLIError(f"--register {spec!r}: {e}") from e
    return name or attr.split(".")[-1]


def limit_blas_threads(n: int, required: bool = True) -> bool:
    """Cap the BLAS thread pools of this process (numpy is imported already, so the
    OPENBLAS_NUM_THREADS variable would come too late). Returns whether it was done."""
    if n < 0:
        raise CLIError(f"--blas-threads must be 0 (BLAS's choice) or more, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if not required:
            return False
        raise CLIError("--blas-threads needs threadpoolctl (pip install threadpoolctl); or "
                       "set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before starting") from None
    threadpool_limits(limits=n, user_api="blas")
    return True


def run(args) -> int:
    import logging

    from ..serve import logs
    from ..serve.package import PackageError
    from ..serve.repository import Repository, RepositoryError

    for key in ("max_batch_size", "max_queue", "max_body_bytes", "limit_concurrency"):
        if getattr(args, key) < 1:
            raise CLIError(f"--{key.replace('_', '-')} must be at least 1, got "
                           f"{getattr(args, key)}")
    if args.timeout_s <= 0 or args.max_batch_delay_ms < 0:
        raise CLIError("--timeout-s must be positive and --max-batch-delay-ms not negative")
    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be in 0..65535, got {args.port}")
    if args.blas_threads is not None and args.blas_threads < 0:
        raise CLIError(f"--blas-threads must be 0 (BLAS's choice) or more, got "
                       f"{args.blas_threads}")
    for spec in args.register:
        register_from(spec)
    try:
        repo = Repository(args.target, poll_interval_s=args.poll_interval_s)
    except (RepositoryError, PackageError, OSError) as e:
        raise CLIError(str(e)) from e
    # logging is set up once the repository loaded: a refused one changes nothing
    logs.configure(level=logging.WARNING if args.quiet else logging.INFO)
    serve_log = logging.getLogger("fathom.serve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fathom serve: %(levelname)s: %(message)s"))
    serve_log.addHandler(handler)
    serve_log.setLevel(logging.INFO)
    serve_log.propagate = False
    try:
        return _serve(args, repo)
    finally:  # an in-process run (tests) leaves no handler on the global logger
        serve_log.removeHandler(handler)


def _serve(args, repo) -> int:
    from ..serve.server import Server, is_loopback

    try:
        server = Server(repo, host=args.host, port=args.port,
                        limit_concurrency=args.limit_concurrency,
                        max_batch_size=args.max_batch_size,
                        max_batch_delay_ms=args.max_batch_delay_ms, max_queue=args.max_queue,
                        max_body_bytes=args.max_body_bytes, request_timeout_s=args.timeout_s,
                        token=args.token or None)
    except ValueError as e:
        raise CLIError(str(e)) from e
    try:
        server.bind()
    except OSError as e:  # the port is taken, the address is not this machine's
        repo.close()
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from e
    models = ", ".join(f"{n} (versions {', '.join(map(str, repo.versions(n)))})"
                       for n in repo.names())
    print(f"fathom serve: {models} on {server.url} "
          f"(OIP v2 /v2, TF-Serving /v1, Prometheus /metrics"
          f"{', bearer token required' if args.token else ''}); "
          f"{'' if is_loopback(args.host) else 'NOT loopback-only; '}"
          "SIGTERM or Ctrl-C stops", file=sys.stderr, flush=True)
    # process-wide, so only now that nothing can fail before serving
    if args.blas_threads is None:
        limit_blas_threads(1, required=False)
    elif args.blas_threads:
        limit_blas_threads(args.blas_threads)
    return server.serve()
