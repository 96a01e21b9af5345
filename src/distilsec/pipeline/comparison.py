"""Before and after: a run trained with analyst labels, compared with the run it corrects, on the same test.

The summary (``metrics.json``'s ``analyst_corrections``; rendered by
:func:`distilsec.evaluation.corrections_report.corrections_section`) holds the ledger's counts, each model's
label sources, every model's headline metrics before and after on the same test ids and original labels,
and, apart, both runs' models on the analyst-corrected test labels.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.bundle import MANIFEST, load_model, read_manifest
from distilsec.config import Config
from distilsec.errors import DistilsecError
from distilsec.evaluation.corrections_report import COMPARED_METRICS
from distilsec.methods.distill import align_proba
from distilsec.pipeline.corrections import Corrections, evaluate_corrected_test
from distilsec.tasks.prepare import PreparedData

__all__ = ["corrections_summary"]

log = logging.getLogger("distilsec.pipeline.comparison")


def corrections_summary(
    config: Config,
    data: PreparedData,
    fitted: Any,
    reports: dict[str, Any],
    results: dict[str, dict[str, Any]],
    corrections: Corrections,
    baseline: Path | None,
) -> dict[str, Any]:
    """The ``analyst_corrections`` entry of ``metrics.json`` (and of the report's section)."""
    summary = corrections.as_dict()
    summary["label_sources"] = {n: r["label_sources"] for n, r in results.items() if "label_sources" in r}
    test_proba = {name: fitted.probas[name].test for name in results}
    thresholds = {name: reports[name].threshold for name in results}
    summary["corrected_test"] = {"after": evaluate_corrected_test(config, data, test_proba, thresholds, corrections)}
    if baseline is None:
        return summary
    summary["baseline"] = str(baseline)
    try:
        old = json.loads((baseline / "metrics.json").read_text(encoding="utf-8"))["models"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s/metrics.json is unreadable (%s): no before/after comparison", baseline, exc)
        old = {}
    old_test = set((baseline / "splits" / "test.txt").read_text().split())
    new_test = {ex.id for ex in data.test}
    summary["same_test_set"] = old_test == new_test
    summary["test_ids_differing"] = len(old_test ^ new_test)
    rows = []
    for name, m in results.items():
        if name not in old:
            continue
        row: dict[str, Any] = {"model": name}
        for key, _ in COMPARED_METRICS:
            row[f"{key}_before"], row[f"{key}_after"] = old[name].get(key), m.get(key)
        rows.append(row)
    summary["before_after"] = rows
    if corrections.test and summary["same_test_set"]:
        summary["corrected_test"]["before"] = _baseline_on_corrected_test(config, data, baseline, results, corrections)
    return summary


def _baseline_on_corrected_test(
    config: Config, data: PreparedData, baseline: Path, results: dict[str, Any], corrections: Corrections
) -> dict[str, dict[str, Any]]:
    """The earlier run's bundles on the corrected test labels, each at its own recorded threshold."""
    probas: dict[str, np.ndarray] = {}
    thresholds: dict[str, float | None] = {}
    texts = [ex.text for ex in data.test]
    for name in results:
        folder = baseline / name
        if not (folder / MANIFEST).is_file():
            continue
        try:
            model = load_model(folder)
            probas[name] = align_proba(model.predict_proba(texts), list(model.classes_), list(data.classes))
            thresholds[name] = read_manifest(folder).get("threshold")
        except DistilsecError as exc:
            log.warning("%s: not compared on the corrected test labels (%s)", folder, exc)
    return evaluate_corrected_test(config, data, probas, thresholds, corrections)
