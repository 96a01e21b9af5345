"""``distilsec bench cti-mcq`` and the generative ``cti-rcm`` / ``cti-vsp`` path, with a scripted backend."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.data.knowledge.retrieval import BM25Index
from tests.evaluation.test_cti_mcq import ROWS, write_mcq
from tests.teachers.llm.assistant.fakes import PASSAGES, ScriptedBackend


@pytest.fixture()
def gguf(monkeypatch, tmp_path):
    import distilsec.teachers.llm.assistant.model as model

    replies = {"Which technique dumps LSASS memory?": "A", "Which CWE is SQL injection?": "CWE-89 maybe"}

    def reply(msgs):
        text = msgs[-1]["content"]
        return next((v for q, v in replies.items() if q in text), "Answer: C")

    monkeypatch.setattr(model, "load_backend", lambda *a, **k: ScriptedBackend(reply))
    monkeypatch.setattr(model, "load_index", lambda *a, **k: BM25Index.build(PASSAGES))
    p = tmp_path / "m.gguf"
    p.write_bytes(b"GGUF")
    return p


def test_cti_mcq_prints_failures_and_speed_then_accuracy_last(gguf, tmp_path):
    f = write_mcq(tmp_path / "mcq.tsv")
    res = CliRunner().invoke(app, ["bench", "cti-mcq", str(f), "--model", str(gguf)])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[-1] == "accuracy: 0.667"
    assert "parse failures: 1" in res.output and "seconds per question:" in res.output and "closed-book" in res.output


def test_cti_mcq_open_book_limit_json(gguf, tmp_path):
    f = write_mcq(tmp_path / "mcq.tsv")
    args = ["bench", "cti-mcq", str(f), "--model", str(gguf), "--open-book", "--limit", "1", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == "accuracy: 1.000"
    body = res.output[res.output.index("{") : res.output.rindex("}") + 1]
    m = json.loads(body)
    assert m["n"] == 1 and m["open_book"] is True and m["rows"] == 3


def test_cti_mcq_bad_input_is_one_line_exit_2(gguf, tmp_path):
    res = CliRunner().invoke(app, ["bench", "cti-mcq", str(tmp_path / "none.tsv"), "--model", str(gguf)])
    assert res.exit_code == 2 and "not found" in res.output
    f = write_mcq(tmp_path / "mcq.tsv", ROWS)
    res = CliRunner().invoke(app, ["bench", "cti-mcq", str(f), "--model", str(gguf), "--scoring", "vote"])
    assert res.exit_code == 2 and "--scoring" in res.output
    res = CliRunner().invoke(app, ["bench", "cti-mcq", str(f), "--model", str(tmp_path / "nope.gguf")])
    assert res.exit_code == 2 and "not found" in res.output


def test_generative_rcm_with_an_llm_model(gguf, tmp_path):
    f = tmp_path / "rcm.tsv"
    f.write_text(
        "URL\tDescription\tPrompt\tGT\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2024-1\tSQL injection\tWhich CWE is SQL injection?\tCWE-89\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2024-2\tXSS\tWhat CWE?\tCWE-79\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["bench", "cti-rcm", str(f), "--model", str(gguf)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == "accuracy: 0.500"
    assert "parse failures: 1" in res.output


def test_cti_mcq_passage_length_and_excerpt_flags_reach_the_prompt(gguf, monkeypatch, tmp_path):
    import distilsec.teachers.llm.assistant.model as model

    backends: list[ScriptedBackend] = []

    def load(*a, **k):
        backends.append(ScriptedBackend("A"))
        return backends[-1]

    monkeypatch.setattr(model, "load_backend", load)
    f = write_mcq(tmp_path / "mcq.tsv")
    base = ["bench", "cti-mcq", str(f), "--model", str(gguf), "--open-book", "--limit", "1", "--k", "1", "--json"]
    res = CliRunner().invoke(app, [*base, "--max-chars", "30", "--excerpt", "head", "--no-compact", "--no-main-first"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output[res.output.index("{") : res.output.rindex("}") + 1])
    assert m["passage_max_chars"] == 30 and m["passage_excerpt"] == "head" and "x 30 chars, head" in res.output
    refs = backends[-1].calls[0][-1]["content"].split("---")[0]
    assert "LSASS memory" not in refs and " ..." in refs  # T1003's text cut to its first 30 characters
    res = CliRunner().invoke(app, [*base, "--max-chars", "40", "--excerpt", "focused", "--no-compact"])
    assert res.exit_code == 0, res.output
    assert "LSASS memory" in backends[-1].calls[0][-1]["content"].split("---")[0]  # the matching window
    res = CliRunner().invoke(app, [*base, "--max-chars", "40", "--main-first", "--compact"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output[res.output.index("{") : res.output.rindex("}") + 1])
    assert m["passage_main_first"] is True and m["passage_compact"] is True and "main first, compact" in res.output
    assert backends[-1].calls[0][-1]["content"].startswith("Reference:\n")
    res = CliRunner().invoke(app, [*base, "--excerpt", "middle"])
    assert res.exit_code == 2 and "--excerpt" in res.output
    help_text = CliRunner().invoke(app, ["bench", "cti-mcq", "--help"]).output
    assert all(f in help_text for f in ("--max-chars", "--excerpt", "--main-first", "--compact"))
