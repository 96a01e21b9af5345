"""The OpenAI-compatible endpoint: open-book passages added, SSE streaming, citations, with a fake backend."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from distilsec.data.knowledge.retrieval import BM25Index  # noqa: E402
from distilsec.teachers.llm.assistant.http import create_app, open_book_messages  # noqa: E402
from tests.teachers.llm.assistant.fakes import PASSAGES, ScriptedBackend  # noqa: E402


@pytest.fixture()
def backend():
    return ScriptedBackend("Use [M1026] for [T1548]; ignore [T0000].", chunk=5)


@pytest.fixture()
def client(backend):
    return TestClient(create_app(backend, BM25Index.build(PASSAGES), k=3, model_name="tiny"))


def _body(**kw):
    return {"model": "tiny", "messages": [{"role": "user", "content": "Mitigations for T1548?"}], **kw}


def test_health_and_models(client):
    assert client.get("/health").json() == {"status": "ok", "model": "tiny", "open_book": True}
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"


def test_completion_adds_passages_and_returns_checked_citations(client, backend):
    r = client.post("/v1/chat/completions", json=_body())
    assert r.status_code == 200
    out = r.json()
    assert out["object"] == "chat.completion"
    assert out["choices"][0]["message"]["content"].startswith("Use [M1026]")
    cited = [c["id"] for c in out["distilsec"]["cited"]]
    assert "T1548" in cited and "T0000" not in cited
    sent = backend.calls[0]
    assert sent[0]["role"] == "system" and "[T1548] Abuse Elevation Control Mechanism" in sent[0]["content"]
    assert sent[-1] == {"role": "user", "content": "Mitigations for T1548?"}


def test_client_system_prompt_is_kept_and_open_book_can_be_turned_off(client, backend):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is T1548?"}]
    client.post("/v1/chat/completions", json={"messages": msgs})
    assert backend.calls[0][0]["content"].startswith("Be brief.\n\n") and len(backend.calls[0]) == 2
    client.post("/v1/chat/completions", json={"messages": msgs, "open_book": False})
    assert backend.calls[1] == msgs
    assert open_book_messages(msgs, []) == msgs


def test_streaming_is_server_sent_events_ending_with_citations_and_done(client):
    with client.stream("POST", "/v1/chat/completions", json=_body(stream=True)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[len("data: ") :]) for ln in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Use [M1026] for [T1548]; ignore [T0000]."
    assert len(chunks) > 5  # streamed in pieces, not one block
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert {c["id"] for c in chunks[-1]["distilsec"]["cited"]} >= {"T1548"}


def test_bad_request_is_422(client):
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422
    assert client.post("/v1/chat/completions", json={"messages": "hi"}).status_code == 422


def test_closed_book_app_without_an_index(backend):
    c = TestClient(create_app(backend))
    out = c.post("/v1/chat/completions", json=_body()).json()
    assert out["distilsec"] == {"passages": [], "cited": []}
    assert backend.calls[0] == _body()["messages"]
