"""`distilsec cti-data`: builds into --out, refuses a used --out, one clear line (exit 2) for bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from distilsec.cli.app import app
from tests.data.knowledge.cti_fixtures import make_knowledge_dir

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_knowledge_dir(tmp_path_factory.mktemp("data"))


def test_build_then_refuse_then_overwrite(data_dir, tmp_path):
    out = tmp_path / "cti"
    args = ["cti-data", "--out", str(out), "--data-dir", str(data_dir), "--seed", "3", "--max-per-template", "50"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "train" in res.output and (out / "train.jsonl").is_file()
    rep = json.loads((out / "report.json").read_text())
    assert rep["settings"]["seed"] == 3 and rep["settings"]["max_per_template"] == 50
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--overwrite" in res.output
    res = runner.invoke(app, [*args, "--overwrite", "--heldout-share", "0.2"])
    assert res.exit_code == 0, res.output


def test_decontaminate_option_and_bad_benchmark(data_dir, tmp_path):
    bench = tmp_path / "bench.tsv"
    header = "URL\tQuestion\tOption A\tOption B\tOption C\tOption D\tPrompt\tGT\n"
    bench.write_text(header + "u\tWhat about CVE-2022-1003?\ta\tb\tc\td\tp\tA\n")
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["cti-data", "--out", str(out), "--data-dir", str(data_dir), "--decontaminate", str(bench)]
    )
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["decontamination"]["removed_by_reason"].get("shared_cve_id", 0) >= 1
    assert "CVE-2022-1003" not in (out / "train.jsonl").read_text()
    res = runner.invoke(
        app,
        [
            "cti-data",
            "--out",
            str(tmp_path / "p"),
            "--data-dir",
            str(data_dir),
            "--decontaminate",
            str(tmp_path / "nope.tsv"),
        ],
    )
    assert res.exit_code == 2 and "not found" in res.output
    assert not (tmp_path / "p").exists()


def test_missing_knowledge_folder_is_named(tmp_path):
    (tmp_path / "attack").mkdir()
    res = runner.invoke(app, ["cti-data", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)])
    assert res.exit_code == 2
    assert "cwe not found" in res.output and "Traceback" not in res.output
