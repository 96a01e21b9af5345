"""``distilsec ask``: streamed answer then sources; --json; clear errors for a bad --model. Fake backend."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.data.knowledge.retrieval import BM25Index
from tests.teachers.llm.assistant.fakes import PASSAGES, ScriptedBackend


@pytest.fixture()
def fake(monkeypatch, tmp_path):
    """A scripted backend and a tiny index in place of llama.cpp and the knowledge data."""
    import distilsec.teachers.llm.assistant.model as model

    backend = ScriptedBackend("Limit privileged accounts [M1026] against [T1548].", chunk=6)
    monkeypatch.setattr(model, "load_backend", lambda *a, **k: backend)
    monkeypatch.setattr(model, "load_index", lambda *a, **k: BM25Index.build(PASSAGES))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    return backend, gguf


def test_open_book_answer_streams_then_lists_cited_sources(fake):
    backend, gguf = fake
    res = CliRunner().invoke(app, ["ask", "Which mitigations apply to T1548?", "--model", str(gguf), "--open-book"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("Limit privileged accounts [M1026] against [T1548].\n")
    assert "Sources:" in res.output
    assert "[T1548] Abuse Elevation Control Mechanism  https://attack.mitre.org/techniques/T1548/" in res.output
    assert "Reference passages" in backend.calls[0][0]["content"]


def test_closed_book_json(fake):
    backend, gguf = fake
    res = CliRunner().invoke(app, ["ask", "What is T1548?", "--model", str(gguf), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["answer"].startswith("Limit") and out["cited"] == [] and out["passages"] == []
    assert "Reference passages" not in backend.calls[0][0]["content"]


def test_a_run_folder_with_one_gguf_is_accepted_and_others_are_clear_errors(fake, tmp_path):
    _, gguf = fake
    run = tmp_path / "run"
    (run / "gguf").mkdir(parents=True)
    (run / "gguf" / "model-q4.gguf").write_bytes(b"GGUF")
    assert CliRunner().invoke(app, ["ask", "q?", "--model", str(run)]).exit_code == 0
    (run / "gguf" / "model-f16.gguf").write_bytes(b"GGUF")
    res = CliRunner().invoke(app, ["ask", "q?", "--model", str(run)])
    assert res.exit_code == 2 and "2 .gguf files" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(app, ["ask", "q?", "--model", str(empty)])
    assert res.exit_code == 2 and "holds no .gguf" in res.output
    res = CliRunner().invoke(app, ["ask", "q?", "--model", str(tmp_path / "missing.gguf")])
    assert res.exit_code == 2 and "not found" in res.output
    res = CliRunner().invoke(app, ["ask", "  ", "--model", str(gguf)])
    assert res.exit_code == 2 and "no question" in res.output


def test_resolve_model_refuses_a_classifier_bundle(tmp_path):
    from distilsec.errors import ConfigError
    from distilsec.teachers.llm.assistant.model import is_llm_model, resolve_model

    (tmp_path / "manifest.json").write_text("{}")
    assert not is_llm_model(tmp_path)
    with pytest.raises(ConfigError, match="classifier bundle|no .gguf"):
        resolve_model(tmp_path)
    assert is_llm_model("qwen2.5-coder-0.5b") and resolve_model("qwen2.5-coder-0.5b") == "qwen2.5-coder-0.5b"
