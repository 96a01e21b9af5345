"""The LLM-teacher evaluation (bias before/after cross-fitted calibration, injection) on a fake backend."""

from __future__ import annotations

import csv
import json

import yaml

from distilsec.data.example import Example
from distilsec.pipeline.sweeps.llm_eval import cross_fit, run_llm_eval, sample_validation
from tests.conftest import make_texts
from tests.teachers.llm.fakes import FakeLLMBackend


def _config(tmp_path):
    texts, labels, groups = make_texts(600, seed=7)
    table = tmp_path / "t.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "group"])
        for i, (t, lab, g) in enumerate(zip(texts, labels, groups, strict=True)):
            w.writerow([f"{t} -x{i % 19} /p/{i % 23}", lab, f"{g}-{i % 9}"])
    cfg = {
        "data": {"task": "table", "path": str(table), "group_column": "group"},
        "curation": {"near_dup_threshold": 0.99, "shortcut_audit": False},
        "split": {"val_fraction": 0.3, "test_fraction": 0.1},
        "teacher": {"type": "hashed_linear.v1"},
        "students": {"s": {"type": "hashed_linear.v1"}},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_llm_eval_reports_bias_before_and_after(tmp_path):
    res = run_llm_eval(
        _config(tmp_path),
        out=tmp_path / "out",
        teacher_params={"ledger": str(tmp_path / "l.sqlite"), "n_shots": 2, "progress": False},
        n_val=80,
        min_per_class=20,
        n_inject=5,
        backend=FakeLLMBackend(),
    )
    cal = res["calibration"]
    assert set(cal) == {"none", "contextual", "bias", "affine"}
    before, after = cal["none"], cal["affine"]
    assert all(0.0 <= cal[m]["auc_within_folds"] <= 1.0 for m in cal)
    assert before["predicted_share"]["malicious"] > before["true_share"]["malicious"] + 0.2  # the fake's bias
    assert abs(after["predicted_share"]["malicious"] - after["true_share"]["malicious"]) < 0.15
    assert after["fpr"] < before["fpr"]
    inj = res["injection"]
    assert set(inj) == {f"{s} payloads, guard {g}" for s in ("design", "held-out", "fresh") for g in ("none", "max")}
    assert inj["design payloads, guard none"]["n_injected"] == inj["design payloads, guard none"]["n_samples"] * 12
    assert res["calls"] == 80 and json.loads((tmp_path / "out" / "llm_eval.json").read_text())["calls"] == 80
    assert "flip rate" in (tmp_path / "out" / "report.md").read_text()


def test_sample_validation_and_cross_fit():
    import numpy as np

    val = [Example(text=f"t{i}", label="malicious" if i % 10 == 0 else "benign", group=f"g{i}") for i in range(500)]
    s = sample_validation(val, 100, 30, 0)
    assert len(s) == 100 and sum(e.label == "malicious" for e in s) == 30
    logp = np.log(np.array([[0.2, 0.8]] * 40 + [[0.1, 0.9]] * 40))
    y = np.array([0] * 40 + [1] * 40)
    out = cross_fit("bias", logp, y, np.array([0, 1] * 40), logp[:1])
    assert out.shape == logp.shape and np.allclose(out.sum(axis=1), 1.0)
