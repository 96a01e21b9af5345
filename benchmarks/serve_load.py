"""``distilsec serve`` under overload and slow clients, on 127.0.0.1 only, every loop bounded in time.

Usage:
    python benchmarks/serve_load.py [--model BUNDLE] [--texts 4096] [--clients 8] [--seconds 20]
        [--retry-delay 0] [--slow 8] [--slow-wait 60] [-- EXTRA SERVE OPTIONS]

Starts ``distilsec serve BUNDLE`` on a free loopback port (its own process; without ``--model`` a small
hashed-linear student is trained on real command lines into a temporary folder), then measures, side by side:

1. unloaded: 1 client sends ``--texts``-text requests back to back for ``--seconds``;
2. overloaded: ``--clients`` clients do the same at once; a client answered 503 sends its next request after
   ``--retry-delay`` seconds (0 = at once, the most hostile; ``retry-after`` = as the server's Retry-After says);
3. slow-loris: ``--slow`` connections, half dripping their request headers and half their body one byte a
   second; reports after how many seconds the server closed each (gives up after ``--slow-wait``).

Useful throughput is texts scored per second (texts of 200 answers / elapsed time); the script prints it for
1 and N clients, their ratio, the status counts, and one JSON line with everything. Only 127.0.0.1 is used.
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
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _deploy_models import real_events  # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tiny_bundle(out: Path) -> Path:
    """A hashed-linear student on 600 real command lines: speed depends on the architecture, not the weights."""
    from distilsec.bundle import update_manifest
    from distilsec.data.preprocess import get_preprocessor
    from distilsec.students import HashedLinearStudent

    texts, labels = real_events("cmdline", 600, seed=1)
    prep = get_preprocessor("cmdline")
    bundle = HashedLinearStudent(n_features=2**18, epochs=2).fit([prep(t) for t in texts], labels).save(out)
    update_manifest(bundle, threshold=0.5, preprocess="cmdline", positive="malicious", negative="benign")
    return bundle


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server not ready in time")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status = int((await reader.readline()).split(b" ", 2)[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def load(port: int, body: bytes, n_texts: int, clients: int, seconds: float, retry_delay: str) -> dict:
    """``clients`` closed-loop clients for ``seconds``: counts answers by status and texts scored."""
    counts: dict[str, int] = {}
    scored = 0
    latencies: list[float] = []
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal scored
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                writer.write(head + body)
                try:
                    status, headers, payload = await asyncio.wait_for(read_response(reader), 60)
                except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, IndexError):
                    counts["connection lost"] = counts.get("connection lost", 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                counts[str(status)] = counts.get(str(status), 0) + 1
                if status == 200:
                    if payload.count(b'"label"') != n_texts:
                        counts["wrong result count"] = counts.get("wrong result count", 0) + 1
                    else:
                        scored += n_texts
                        latencies.append(time.perf_counter() - t0)
                elif status == 503:
                    wait = (
                        float(headers.get("retry-after", "1")) if retry_delay == "retry-after" else float(retry_delay)
                    )
                    await asyncio.sleep(min(wait, max(0.0, deadline - time.perf_counter())))
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "status": counts,
        "texts_scored": scored,
        "texts_per_s": round(scored / elapsed, 1),
        "p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
    }


async def slow_loris(port: int, n: int, wait: float) -> dict:
    """``n`` connections dripping one byte a second (half in the headers, half in the body)."""
    head = f"POST /v1/score HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n".encode()

    async def one(i: int) -> float | None:
        reader, writer = await asyncio.open_connection(HOST, port)
        in_body = i % 2 == 1
        body = json.dumps({"texts": ["ls -la"] * 200}).encode()
        if in_body:  # complete headers at once, then the body byte by byte
            writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode())
            drip = body
        else:
            drip = head + b"X-Padding: " + b"a" * 4096
        t0 = time.perf_counter()
        try:
            for k in range(len(drip)):
                if time.perf_counter() - t0 > wait:
                    return None
                writer.write(drip[k : k + 1])
                await writer.drain()
                try:  # the server closing the connection shows up as EOF (or an answer, then EOF)
                    data = await asyncio.wait_for(reader.read(65536), 1.0)
                    if not data or reader.at_eof():
                        return time.perf_counter() - t0
                    while await asyncio.wait_for(reader.read(65536), wait):
                        pass
                    return time.perf_counter() - t0
                except TimeoutError:
                    continue
            return None
        except (ConnectionError, TimeoutError):
            return time.perf_counter() - t0
        finally:
            writer.close()

    closed = await asyncio.gather(*(one(i) for i in range(n)))
    return {
        "connections": n,
        "closed_by_server": sum(c is not None for c in closed),
        "closed_after_s": [None if c is None else round(c, 1) for c in closed],
    }


def merge(results: list[dict]) -> dict:
    """Totals of several phases: texts scored over their summed time, statuses added up."""
    status: dict[str, int] = {}
    for r in results:
        for k, v in r["status"].items():
            status[k] = status.get(k, 0) + v
    seconds = sum(r["seconds"] for r in results)
    scored = sum(r["texts_scored"] for r in results)
    return {
        "clients": results[0]["clients"],
        "seconds": round(seconds, 2),
        "status": status,
        "texts_scored": scored,
        "texts_per_s": round(scored / seconds, 1),
        "p50_s": sorted(r["p50_s"] or 0 for r in results)[len(results) // 2],
        "max_s": max(r["max_s"] or 0 for r in results),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="bundle folder (default: a small hashed-linear student)")
    ap.add_argument("--task", default="cmdline", help="real events to send: cmdline or url")
    ap.add_argument("--texts", type=int, default=4096, help="texts per request")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each load phase")
    ap.add_argument("--rounds", type=int, default=3, help="unloaded/overloaded phase pairs, alternated")
    ap.add_argument("--retry-delay", default="0", help="seconds a client waits after a 503, or 'retry-after'")
    ap.add_argument("--slow", type=int, default=8, help="slow-loris connections (0 = skip)")
    ap.add_argument("--slow-wait", type=float, default=60.0, help="give up on a slow connection after this")
    ap.add_argument("serve_args", nargs="*", help="extra `distilsec serve` options, after --")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        model = args.model or tiny_bundle(Path(tmp) / "student")
        texts, _ = real_events(args.task, args.texts, seed=3)
        body = json.dumps({"texts": texts}).encode()
        port = free_port()
        exe = Path(sys.executable).with_name("distilsec")
        cmd = [str(exe), "serve", str(model), "--host", HOST, "--port", str(port), *args.serve_args]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
        try:
            wait_ready(port, proc)
            asyncio.run(load(port, body, args.texts, 1, 2.0, args.retry_delay))  # warm-up
            rounds = []
            for _ in range(args.rounds):  # alternate, so that a busy machine's drift hits both alike
                one = asyncio.run(load(port, body, args.texts, 1, args.seconds, args.retry_delay))
                many = asyncio.run(load(port, body, args.texts, args.clients, args.seconds, args.retry_delay))
                rounds.append((one, many))
            slow = asyncio.run(slow_loris(port, args.slow, args.slow_wait)) if args.slow else None
            alive = asyncio.run(load(port, body, args.texts, 1, 2.0, args.retry_delay)) if args.slow else None
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    one, many = merge([r[0] for r in rounds]), merge([r[1] for r in rounds])
    ratio = many["texts_per_s"] / one["texts_per_s"] if one["texts_per_s"] else 0.0
    print(f"request: {args.texts} texts, {len(body)} bytes; serve {' '.join(args.serve_args) or '(defaults)'}")
    print(f"{'':>20} {'texts/s':>10} {'200':>6} {'503':>6} {'other':>6} {'p50 s':>7} {'max s':>7}")
    for name, r in (
        [(f"round {i + 1}: 1 client", a) for i, (a, _) in enumerate(rounds)]
        + [(f"round {i + 1}: {args.clients} clients", b) for i, (_, b) in enumerate(rounds)]
        + [("all: 1 client", one), (f"all: {args.clients} clients", many)]
    ):
        other = sum(v for k, v in r["status"].items() if k not in ("200", "503"))
        print(
            f"{name:>20} {r['texts_per_s']:>10.0f} {r['status'].get('200', 0):>6} {r['status'].get('503', 0):>6} "
            f"{other:>6} {r['p50_s'] or 0:>7.3f} {r['max_s'] or 0:>7.3f}"
        )
    print(f"overloaded / unloaded throughput: {ratio:.2f}")
    if slow:
        print(f"slow-loris: {slow['closed_by_server']}/{slow['connections']} closed by the server, after (s): "
              f"{slow['closed_after_s']}; scoring afterwards: {alive['status']}")  # fmt: skip
    summary = {"unloaded": one, "overloaded": many, "ratio": round(ratio, 3), "slow_loris": slow}
    print(json.dumps({**summary, "after_slow_loris": alive, "request_bytes": len(body), "serve_args": args.serve_args}))


if __name__ == "__main__":
    main()
