"""Each plot writes a non-empty PNG, also in the awkward cases (one-class curve, missing values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distilsec.evaluation.metrics import evaluate
from distilsec.evaluation.plots import plot_confusion, plot_noise_experiment, plot_roc, plot_tp_fp_bars

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path, expected: Path) -> None:
    assert Path(path) == expected
    data = expected.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5000  # axes, labels and lines, not an empty canvas


def _model(seed: int, signal: float, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    return y.astype(int), np.clip(rng.normal(0.3 + signal * y, 0.15), 0, 1)


def test_plot_roc(tmp_path):
    curves = {"teacher": _model(0, 0.5), "student": _model(1, 0.3), "empty": (np.ones(5), np.ones(5))}
    out = tmp_path / "nested" / "roc.png"  # parent folders are created
    _assert_png(plot_roc(curves, out, "ROC"), out)


def test_plot_tp_fp_bars(tmp_path):
    results = {}
    for i, name in enumerate(["teacher", "student", "student-hard"]):
        y, s = _model(i, 0.5 - 0.1 * i)
        labels = ["malicious" if v else "benign" for v in y]
        results[name] = evaluate(labels, np.stack([1 - s, s], 1), ["benign", "malicious"], threshold=0.6)
    results["no binary view"] = {"accuracy": 0.5}  # skipped, not an error
    out = tmp_path / "tp_fp.png"
    _assert_png(plot_tp_fp_bars(results, out, "TP / FP"), out)


def test_plot_noise_experiment(tmp_path):
    rows = []
    for rate in (0.0, 0.1, 0.2, 0.3):
        hard = {"macro_f1": 0.9 - rate, "tpr_at_fpr_0.001": 0.7 - rate}
        distilled = {"macro_f1": 0.9 - rate / 3, "tpr_at_fpr_0.001": None}  # an undefined value: not drawn
        rows.append({"noise_rate": rate, "mode": "hard labels", **hard})
        rows.append({"noise_rate": rate, "mode": "distilled", **distilled})
    rows.append({"noise_rate": None, "mode": "teacher", "macro_f1": 0.93, "tpr_at_fpr_0.001": 0.8})
    out = tmp_path / "noise.png"
    _assert_png(plot_noise_experiment(rows, out), out)


def test_plot_confusion(tmp_path):
    cm = np.array([[950, 30, 20], [10, 80, 10], [0, 5, 0]])
    out = tmp_path / "cm.png"
    _assert_png(plot_confusion(cm, ["benign", "trojan", "ransomware"], out, "confusion"), out)
    with pytest.raises(ValueError, match="shape"):
        plot_confusion(cm, ["benign", "trojan"], tmp_path / "bad.png", "bad")
