"""Load benchmark of `fathom serve` on loopback: Fashion-MNIST MLP and CNN packages.

    python benchmarks/serve.py [--duration 10] [--clients 1,200] [--models mlp,cnn]
                               [--protocols json,binary] [--train-steps 0]

Builds a model repository (``REPO/<model>/1``) with `fathom.vision.models` MLP and CNN
packages (untrained weights unless ``--train-steps``: latency does not depend on accuracy;
the training statistics for drift monitoring come from real Fashion-MNIST images, so the
drift path runs as in production), starts ``python -m fathom serve REPO`` as a subprocess,
then for each model and client count runs a load client in another process: asyncio, one
raw keep-alive HTTP/1.1 connection per client, each sending batch-1 Open Inference Protocol
v2 requests (one Fashion-MNIST test image, JSON or binary tensor extension) back to back for
``--duration`` seconds after a 1 s warm-up. It reports req/s, latency percentiles, errors
(non-200 answers or broken connections) and the throughput as a fraction of in-process
batched inference (the same model called on batches of ``--max-batch-size`` rows under
no_grad, no HTTP). The load client is checked against a canned-answer server first: its
own ceiling in req/s is printed, and its CPU use during each run. Prints a markdown table.

Not a test: it takes about (models x client counts x (duration + 2)) seconds plus start-up.
"""
from __future__ import annotations

import os

# BLAS threads for the server and the in-process reference, pinned equal before NumPy
# loads (FATHOM_BENCH_THREADS, default 1: on a small machine the server's event loop needs
# the other core, and idle OpenBLAS threads spinning on a busy machine cost 10-50x)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("FATHOM_BENCH_THREADS", "1"))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HOST = "127.0.0.1"
GOALS = "0 errors; p99 < 500 ms at 200 clients; MLP >= 1000 req/s; MLP 1-client p50 < 2 ms; " \
        ">= 70% of in-process batched throughput"


# ---------------------------------------------------------------- load client (own process)


def _response_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    raise ValueError("answer without Content-Length")


async def _client(request: bytes, until_warm: float, until: float, lat: list, errs: list):
    try:
        reader, writer = await asyncio.open_connection(HOST, _client.port)
    except OSError:
        errs.append("connect")
        return
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= until:
                break
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_response_length(head))
            t1 = time.perf_counter()
            if t0 >= until_warm:
                lat.append(t1 - t0)
                if head[9:12] != b"200":
                    errs.append(head[9:12].decode())
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        errs.append(type(e).__name__)
    finally:
        writer.close()


def run_client(port: int, request_file: str, clients: int, duration: float,
               warmup: float = 1.0) -> dict:
    """Runs ``clients`` keep-alive connections for warmup + duration seconds; summary dict."""
    with open(request_file, "rb") as f:
        request = f.read()
    _client.port = port
    lat, errs = [], []

    async def main():
        start = time.perf_counter()
        await asyncio.gather(*(_client(request, start + warmup, start + warmup + duration,
                                        lat, errs) for _ in range(clients)))

    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    asyncio.run(main())
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    ms = np.sort(np.asarray(lat)) * 1e3 if lat else np.array([np.nan])
    return {"requests": len(lat), "rps": len(lat) / duration, "errors": len(errs),
            "error_kinds": sorted(set(errs))[:5],
            "p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
            "p99": float(np.percentile(ms, 99)), "client_cpu": cpu / (t1 - t0)}


def canned_server(port_file: str) -> None:
    """A minimal asyncio HTTP/1.1 server that answers every request with a fixed 200, to
    measure the load client's own ceiling."""
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_response_length(head))
                writer.write(answer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, HOST, 0)
        with open(port_file, "w") as f:
            f.write(str(server.sockets[0].getsockname()[1]))
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------- orchestration


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def fashion_images(train: bool, n: int) -> np.ndarray:
    """(n, 1, 28, 28) float32 images in [0, 1] from the installed Fashion-MNIST."""
    from fathom.vision.datasets import FashionMNIST

    ds = FashionMNIST(root=None, train=train)
    return (np.asarray(ds.data[:n], dtype=np.float32) / 255.0).reshape(n, 1, 28, 28)


def build_repository(root: str, models, train_steps: int) -> dict:
    """REPO/<name>/1 packages; returns {name: module} (eval mode) for in-process timing."""
    import fathom
    from fathom.serve.drift import input_statistics
    from fathom.serve.package import save_package
    from fathom.vision import models as zoo

    fathom.manual_seed(0)
    stats = {"input": input_statistics(fashion_images(True, 10000))}
    out = {}
    for name in models:
        model = zoo.get(name)
        if train_steps:
            train_briefly(model, train_steps)
        model.eval()
        save_package(model, os.path.join(root, name, "1"), name=name,
                     architecture={"registry": "fathom.vision.models", "name": name,
                                   "kwargs": {}},
                     inputs=[{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}],
                     outputs=[{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
                     training_stats=stats)
        out[name] = model
    return out


def train_briefly(model, steps: int) -> None:
    import fathom
    from fathom.vision.datasets import FashionMNIST

    labels = np.asarray(FashionMNIST(root=None, train=True).targets[: steps * 64])
    x = fashion_images(True, steps * 64)
    opt = fathom.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = fathom.nn.CrossEntropyLoss()
    model.train()
    for i in range(steps):
        sl = slice(i * 64, (i + 1) * 64)
        opt.zero_grad()
        loss_fn(model(fathom.tensor(x[sl])), fathom.tensor(labels[sl]).long()).backward()
        opt.step()


def in_process_rows_per_s(model, x: np.ndarray, seconds: float = 2.0) -> float:
    """Rows per second of the model called on the batch ``x`` under no_grad."""
    import fathom

    t = fathom.tensor(x)
    with fathom.no_grad():
        for _ in range(3):
            model(t)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(t)
            n += 1
    return n * x.shape[0] / (time.perf_counter() - start)


def metrics_overhead(images: np.ndarray) -> dict:
    """Microseconds per call of what the server adds per request and per batch for
    monitoring: metrics, drift windows (one 28x28 image, and 32 of them) and access log."""
    import logging

    from fathom.serve import logs
    from fathom.serve.drift import input_statistics
    from fathom.serve.metrics import ServeMetrics

    m, stats = ServeMetrics(), input_statistics(images)
    saved = logs.access_logger.handlers[:], logs.access_logger.level, \
        logs.access_logger.propagate
    logs.configure(open(os.devnull, "w"))

    def per_call(fn, n):
        fn()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t) / n * 1e6

    out = {
        "request_done": per_call(lambda: m.request_done("mlp", "1", "v2", 200, 0.002, 0.001),
                                 50000),
        "batch_done": per_call(lambda: m.batch_done("mlp", "1", 32, 0.001), 50000),
        "observe_inputs x1": per_call(
            lambda: m.observe_inputs("mlp", "1", "input", images[:1], stats), 5000),
        "observe_inputs x32": per_call(
            lambda: m.observe_inputs("mlp", "1", "input", images, stats), 1000),
        "logs.access": per_call(lambda: logs.access(
            method="POST", path="/v2/models/mlp/infer", status=200, latency_ms=1.5,
            model="mlp", version="1", client="127.0.0.1:50000", bytes=500), 20000),
        "render (/metrics)": per_call(m.render, 200),
    }
    handlers, level, propagate = saved
    logs.access_logger.handlers[:] = handlers
    logs.access_logger.setLevel(level if level else logging.NOTSET)
    logs.access_logger.propagate = propagate
    return out


def request_bytes(model: str, image: np.ndarray, protocol: str) -> bytes:
    """One raw HTTP/1.1 keep-alive request for a batch-1 OIP v2 infer."""
    path = f"/v2/models/{model}/infer"
    tensor = {"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32"}
    if protocol == "json":
        tensor["data"] = [round(float(v), 4) for v in image.ravel()]
        body = json.dumps({"inputs": [tensor]}).encode()
        extra = ""
    else:  # the binary tensor extension (what tritonclient sends by default)
        tensor["parameters"] = {"binary_data_size": image.nbytes}
        head = json.dumps({"inputs": [tensor],
                           "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]
                           }).encode()
        body = head + np.ascontiguousarray(image, dtype="<f4").tobytes()
        extra = f"Inference-Header-Content-Length: {len(head)}\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body


def wait_ready(port: int, proc, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fathom serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://{HOST}:{port}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("fathom serve did not become ready")


def client_process(port: int, request_file: str, clients: int, duration: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "_client", str(port), request_file,
                          str(clients), str(duration)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--clients", default="1,200")
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--protocols", default="json,binary",
                   help="json (tensors as JSON numbers), binary (the binary tensor extension)")
    p.add_argument("--train-steps", type=int, default=0)
    p.add_argument("--max-batch-size", type=int, default=32)
    p.add_argument("--max-batch-delay-ms", type=float, default=2.0)
    p.add_argument("--max-queue", type=int, default=256)
    args = p.parse_args(argv)
    models = args.models.split(",")
    protocols = args.protocols.split(",")
    if not set(protocols) <= {"json", "binary"}:
        p.error(f"--protocols: json and/or binary, got {args.protocols}")
    client_counts = [int(c) for c in args.clients.split(",")]
    load_start = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="fathom-serve-bench-")
    server = None
    try:
        repo = os.path.join(tmp, "repo")
        modules = build_repository(repo, models, args.train_steps)
        images = fashion_images(False, args.max_batch_size)
        inproc = {m: in_process_rows_per_s(modules[m], images) for m in models}
        overhead = metrics_overhead(images)

        # the load client's own ceiling, against a server that does no work
        port_file = os.path.join(tmp, "canned.port")
        canned = subprocess.Popen([sys.executable, __file__, "_canned", port_file])
        while not os.path.exists(port_file) or not open(port_file).read():
            time.sleep(0.05)
        req_file = os.path.join(tmp, "request.bin")
        with open(req_file, "wb") as f:
            f.write(request_bytes(models[0], images[0], protocols[0]))
        ceiling = client_process(int(open(port_file).read()), req_file, max(client_counts),
                                 min(args.duration, 5.0))
        canned.terminate()
        canned.wait()

        port = free_port()
        log = open(os.path.join(tmp, "server.log"), "wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "fathom", "serve", repo, "--port", str(port),
             "--max-batch-size", str(args.max_batch_size),
             "--max-batch-delay-ms", str(args.max_batch_delay_ms),
             "--max-queue", str(args.max_queue)], stdout=log, stderr=subprocess.STDOUT)
        wait_ready(port, server)
        rows = []
        for m in models:
            for proto in protocols:
                with open(req_file, "wb") as f:
                    f.write(request_bytes(m, images[0], proto))
                for c in client_counts:
                    r = client_process(port, req_file, c, args.duration)
                    r.update(model=m, clients=c, inproc=inproc[m], protocol=proto)
                    rows.append(r)
                    print(f"  {m} {proto} x{c}: {r['rps']:.0f} req/s, p99 {r['p99']:.1f} ms, "
                          f"{r['errors']} errors {r['error_kinds']}", file=sys.stderr)
        server.send_signal(15)
        code = server.wait(timeout=60)
        server = None
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    weights = (f"{args.train_steps} Adam steps of training" if args.train_steps
               else "untrained weights")
    print(f"\n`fathom serve` on loopback, batch-1 OIP v2 requests, "
          f"{args.duration:g} s per row, max_batch_size {args.max_batch_size}, "
          f"max_batch_delay_ms {args.max_batch_delay_ms:g}; {os.cpu_count()} CPU cores, "
          f"{os.environ['OMP_NUM_THREADS']} BLAS thread(s); {weights}; 1-minute load "
          f"average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          "(other work on the machine)")
    print(f"load client ceiling (canned answers, {max(client_counts)} connections): "
          f"{ceiling['rps']:.0f} req/s at {ceiling['client_cpu']:.0%} of a core\n")
    print("| model | tensors | clients | req/s | p50 ms | p90 ms | p99 ms | errors | client CPU "
          "| in-process rows/s (batch %d) | fraction |" % args.max_batch_size)
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['protocol']} | {r['clients']} | {r['rps']:.0f} | "
              f"{r['p50']:.2f} | "
              f"{r['p90']:.2f} | {r['p99']:.2f} | {r['errors']} | {r['client_cpu']:.0%} | "
              f"{r['inproc']:.0f} | {r['rps'] / r['inproc']:.1%} |")
    print(f"\ngoals: {GOALS}; server exit code after SIGTERM: {code}")
    print("\nmonitoring cost, microseconds per call (same machine, in-process): "
          + ", ".join(f"{k} {v:.1f}" for k, v in overhead.items()))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        port, request_file, clients, duration = sys.argv[2:6]
        print(json.dumps(run_client(int(port), request_file, int(clients), float(duration))))
    elif len(sys.argv) > 1 and sys.argv[1] == "_canned":
        canned_server(sys.argv[2])
    else:
        sys.exit(main())
