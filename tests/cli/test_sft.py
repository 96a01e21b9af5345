"""``distilsec sft``: a tiny end-to-end run, resume, overrides, and one-line errors with exit code 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from distilsec.cli.app import app
from tests.teachers.llm.sft.conftest import QA, build_tiny_model, chat

runner = CliRunner()


def _setup(tmp_path, model_name=None):
    model = build_tiny_model(tmp_path / "model") if model_name is None else model_name
    data = tmp_path / "data"
    data.mkdir()
    rows = [json.dumps(chat(q, a)) for q, a in QA] + ["{broken"]
    (data / "train.jsonl").write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(
        f"model: {{name: '{model}', device: cpu}}\ndata: {{train: '{data}', max_length: 128}}\n"
        "lora: {r: 4, alpha: 8, target_modules: [q_proj, v_proj]}\n"
        "train: {batch_size: 2, max_steps: 3, save_every: 1}\nexport: {gguf: [q8_0]}\n"
    )
    return cfg


def test_sft_runs_end_to_end_and_resumes(tmp_path):
    cfg = _setup(tmp_path)
    out = tmp_path / "run"
    res = runner.invoke(app, ["sft", str(cfg), "--out", str(out), "--max-steps", "2"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == str(out)
    report = json.loads((out / "sft-report.json").read_text())
    assert (
        report["training"]["steps"] == 2 and report["data"]["train_skipped"] == 1 and report["data"]["train_read"] == 6
    )
    assert report["exports"]["gguf_q8_0"]["check"]["loaded"] is True
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "MODEL_CARD.md").is_file()
    res = runner.invoke(app, ["sft", str(cfg), "--out", str(out), "--train.max_steps", "3", "--export.gguf", "[]"])
    assert res.exit_code == 0, res.output
    again = json.loads((out / "sft-report.json").read_text())
    assert again["training"]["resumed_from"] == 2 and again["training"]["steps"] == 3
    res = runner.invoke(app, ["sft", str(cfg), "--out", str(out), "--lora.r", "8"])
    assert res.exit_code == 2 and "different run (lora changed)" in res.output
    res = runner.invoke(
        app, ["sft", str(cfg), "--out", str(out), "--lora.r", "8", "--no-resume", "--export.gguf", "[]"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((out / "sft-report.json").read_text())["training"]["resumed_from"] is None


def test_bad_model_path_is_one_line_and_exit_2(tmp_path):
    cfg = _setup(tmp_path, model_name=str(tmp_path / "missing.gguf"))
    res = runner.invoke(app, ["sft", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2
    assert "error:" in res.output and "missing.gguf" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_config_typo_is_one_line_and_exit_2(tmp_path):
    cfg = _setup(tmp_path, model_name="x")
    res = runner.invoke(app, ["sft", str(cfg), "--lora.rank", "8"])
    assert res.exit_code == 2 and "lora.rank" in res.output
