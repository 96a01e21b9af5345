"""Report files and Markdown renderers."""

from __future__ import annotations

import json
import re

import numpy as np

from distilsec.evaluation.metrics import evaluate
from distilsec.evaluation.report import (
    breakdown_table,
    markdown_image,
    markdown_table,
    models_comparison_table,
    write_report,
)

CLASSES = ["benign", "malicious"]


def _metrics(seed: int = 0, n: int = 400, **kwargs) -> dict:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4 == 0
    s = np.clip(rng.random(n) * 0.7 + 0.3 * y, 0, 1)
    labels = ["malicious" if v else "benign" for v in y]
    return evaluate(labels, np.stack([1 - s, s], 1), CLASSES, threshold=0.6, **kwargs)


def test_markdown_table_formatting():
    rows = [{"name": "a|b", "x": 0.123456, "n": 3}, {"name": "c", "x": None, "extra": float("nan")}]
    lines = markdown_table(rows, floatfmt=".2f").splitlines()
    assert lines[0] == "| name | x | n | extra |"
    assert lines[1] == "|---|---|---|---|"
    assert lines[2] == "| a\\|b | 0.12 | 3 | n/a |"
    assert lines[3] == "| c | n/a | n/a | n/a |"
    assert markdown_table(rows, ["n", "name"]).splitlines()[0] == "| n | name |"
    assert markdown_table([]) == "_(no rows)_"


def test_models_comparison_table():
    results = {"teacher": _metrics(0), "student": _metrics(1)}
    results["student"] |= {"params": 123456, "events_per_s": 98765.4}
    table = models_comparison_table(results)
    header = table.splitlines()[0]
    for col in (
        "model",
        "AUC",
        "macro-F1",
        "accuracy",
        "TPR@FPR 0.01",
        "TPR@FPR 0.001",
        "TPR@FPR 0.0001",
        "threshold",
        "TP",
        "FP",
        "params",
        "events/s",
    ):
        assert f"| {col} |" in header or header.startswith(f"| {col} ")
    assert "size (MB)" not in header  # no model has it
    assert "| student |" in table and "123,456" in table and "98,765" in table
    teacher_row = next(line for line in table.splitlines() if line.startswith("| teacher |"))
    assert f"| {results['teacher']['auc']:.4f} |" in teacher_row
    assert "| n/a |" in teacher_row  # the teacher has no params
    # 300 negatives: FPR 1e-3 and 1e-4 cannot be measured, so those cells are flagged and explained
    assert "†" in teacher_row and "1/n_negative" in table


def test_models_comparison_table_without_resolution_issue():
    results = {"m": _metrics(0, n=80000)}  # 60000 negatives: every FPR measurable
    assert "†" not in models_comparison_table(results)


def test_breakdown_table():
    groups = [f"g{i % 60}" for i in range(400)]
    m = _metrics(0, groups=groups, sources=["a", "b"] * 200)
    src = breakdown_table(m, key="by_source")
    assert src.startswith("2 sources;")
    assert "| source | n | n_positive | errors | accuracy | detection_rate | false_positive_rate |" in src
    assert "| a | 200 |" in src
    grp = breakdown_table(m, key="by_group")
    assert "showing the 50 with the most errors" in grp
    assert len(re.findall(r"^\| g\d+ \|", grp, flags=re.M)) == 50
    assert breakdown_table(m, key="by_platform") == "_(no by_platform breakdown)_"


def test_markdown_image(tmp_path):
    assert markdown_image(tmp_path / "plots" / "roc.png", tmp_path, "ROC") == "![ROC](plots/roc.png)"
    assert markdown_image(tmp_path / "x.png", tmp_path / "sub") == "![x](../x.png)"


def test_write_report(tmp_path):
    run = tmp_path / "run"
    m = _metrics(0, sources=["a", "b"] * 200)
    metrics = {"models": {"teacher": m}, "odd": np.float32(np.nan), "count": np.int64(3)}
    sections = [
        ("Models", models_comparison_table({"teacher": m})),
        ("Per source", breakdown_table(m)),
        ("Plots", markdown_image(run / "plots" / "roc.png", run, "roc")),
    ]
    path = write_report(run, title="distilsec run: test", sections=sections, metrics=metrics)
    assert path == run / "report.md"
    loaded = json.loads((run / "metrics.json").read_text())
    assert loaded["odd"] is None and loaded["count"] == 3
    assert loaded["models"]["teacher"] == m
    text = path.read_text()
    assert text.startswith("# distilsec run: test\n")
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads == ["## Models", "## Per source", "## Plots"]
    assert "| model | AUC |" in text and "| source | n |" in text
    assert "![roc](plots/roc.png)" in text
