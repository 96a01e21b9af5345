"""What `distilsec run` ships scores fast and reads the file it was trained on (issue 11, items 4 and 9)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.pipeline.run import run_experiment
from tests.pipeline.test_run import _config, _write_table


def test_run_bundles_score_their_own_training_file_with_onnx_by_default(tmp_path, tiny_bert):
    table = _write_table(tmp_path / "events.csv")  # the text is in a column named "event", not "text"
    run = run_experiment(_config(table, tiny_bert), out=tmp_path / "run").run_dir
    for name in ("student", "student-hard", "linear", "linear-hard"):
        manifest = json.loads((run / name / "manifest.json").read_text())
        assert (run / name / "model.onnx").is_file() and manifest["onnx"]["parity"]["fp32"]["ok"]
        assert manifest["text_column"] == "event"
    out = tmp_path / "scores.jsonl"
    res = CliRunner().invoke(app, ["score", str(table), "-m", str(run / "student"), "-o", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 300 and all(r["score"] is not None for r in rows)
    assert "no model.onnx" not in res.output  # auto ran the exported graph
