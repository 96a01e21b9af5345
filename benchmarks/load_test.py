"""Load test of ``distilsec serve`` on 127.0.0.1: requests/s and p50/p99 latency, bounded in count and time.

Usage:
    python benchmarks/load_test.py --model BUNDLE [--task url] [--requests 10000] [--concurrency 16]
        [--server-workers 1] [--batch 1] [--max-seconds 60]

Starts ``distilsec serve BUNDLE`` on a free loopback port (its own process), waits for ``/healthz``, then a
small asyncio client (raw HTTP/1.1 keep-alive over ``--concurrency`` connections, so the client costs as
little CPU as possible on the same machine) sends ``--requests`` POST /v1/score requests, each with one
real event (``--batch 1``) or a batch of them, checks every answer (status 200, one result per event),
and stops the server by its PID. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _deploy_models import real_events  # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server not ready in time")


async def client(port: int, bodies: list[bytes], n_events: int, total: int, max_seconds: float, concurrency: int):
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    deadline = time.perf_counter() + max_seconds

    async def conn() -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while sent < total and time.perf_counter() < deadline:
                body = bodies[sent % len(bodies)]
                sent += 1
                head = (
                    f"POST /v1/score HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                t0 = time.perf_counter()
                writer.write(head + body)
                status = (await reader.readline()).split(b" ", 2)[1]
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                payload = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if status != b"200":
                    errors[status.decode()] = errors.get(status.decode(), 0) + 1
                elif len(json.loads(payload)["results"]) != n_events:
                    errors["wrong result count"] = errors.get("wrong result count", 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(conn() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--task", default="url")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1, help="events per request")
    ap.add_argument("--server-workers", type=int, default=1)
    ap.add_argument("--runtime", default="auto")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    args = ap.parse_args()
    texts, _ = real_events(args.task, max(2000, args.batch * 50), seed=3)
    if args.batch == 1:
        bodies = [json.dumps({"text": t}).encode() for t in texts]
    else:
        bodies = [json.dumps({"texts": texts[i : i + args.batch]}).encode() for i in range(0, len(texts), args.batch)]
        bodies = [b for b in bodies if len(json.loads(b)["texts"]) == args.batch]
    port = free_port()
    exe = Path(sys.executable).with_name("distilsec")
    cmd = [str(exe), "serve", str(args.model), "--host", HOST, "--port", str(port), "--workers",
           str(args.server_workers), "--runtime", args.runtime]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        wait_ready(port, proc)
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(client(port, bodies, args.batch, args.warmup, 30, args.concurrency))
        lat, errors, elapsed = asyncio.run(
            client(port, bodies, args.batch, args.requests, args.max_seconds, args.concurrency)
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = {
        "model": str(args.model),
        "events_per_request": args.batch,
        "server_workers": args.server_workers,
        "concurrency": args.concurrency,
        "requests": len(lat),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(lat) / elapsed, 1),
        "events_per_s": round(len(lat) * args.batch / elapsed, 1),
        "p50_ms": round(pct(lat, 50) * 1000, 2),
        "p90_ms": round(pct(lat, 90) * 1000, 2),
        "p99_ms": round(pct(lat, 99) * 1000, 2),
        "max_ms": round(max(lat) * 1000, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
