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


def test_teacher_written_records_through_the_cli(data_dir, tmp_path, monkeypatch):
    import distilsec.pipeline.cti_data as pipeline
    from tests.data.instruct.fake_writer import FakeWriter

    fake = FakeWriter()
    monkeypatch.setattr(pipeline, "open_generator", lambda cfg: fake)
    out = tmp_path / "o"
    args = ["cti-data", "--out", str(out), "--data-dir", str(data_dir), "--teacher-written", "6"]
    res = runner.invoke(app, [*args, "--ledger", str(tmp_path / "l.sqlite")])
    assert res.exit_code == 0, res.output
    assert "teacher-written: asked 6" in res.output and "s per kept record" in res.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["teacher"]["asked"] == 6 and rep["teacher"]["calls"] == len(fake.calls) == 6
    assert (out / "heldout-teacher.jsonl").is_file()
    res = runner.invoke(app, [*args, "--ledger", str(tmp_path / "l.sqlite"), "--overwrite"])
    assert res.exit_code == 0 and len(fake.calls) == 6  # the rerun reads every answer from the ledger


@pytest.mark.parametrize(
    ("generator", "message"),
    [("missing.gguf", "not found"), ("http://127.0.0.1:9/v1", "cannot reach")],
)
def test_generator_that_cannot_be_loaded_or_reached(data_dir, tmp_path, generator, message):
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        [
            "cti-data",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
            "--teacher-written",
            "2",
            "--generator",
            str(tmp_path / generator) if generator.endswith(".gguf") else generator,
            "--ledger",
            "none",
        ],
    )
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()
