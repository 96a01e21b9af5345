"""The report section of a run trained with analyst labels: what changed, and before/after on the same test.

Three tables, in the order a reviewer asks: how many decisions went where (per split; test corrections
counted but not applied), what each model learnt from (label sources), and each model before and after
on the *same* held-out test labels. Then, separately, both on the analyst-corrected test labels: a test
correction can change a score without any model changing, so it is never mixed into the main comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distilsec.evaluation.report import markdown_table

__all__ = ["corrections_section", "COMPARED_METRICS"]

#: the before/after columns (metric key, heading)
COMPARED_METRICS = (("macro_f1", "macro-F1"), ("auc", "AUC"), ("fp", "FP"), ("fn", "FN"))


def corrections_section(summary: Mapping[str, Any]) -> tuple[str, str]:
    """``("Analyst corrections", markdown)`` from the ``analyst_corrections`` entry of ``metrics.json``."""
    by_split = summary.get("by_split", {})
    rows = [
        {
            "split": name,
            "labels changed": c.get("changed", 0),
            "labels confirmed": c.get("confirmed", 0),
            "applied": "no (reported apart)" if name == "test" else "yes",
        }
        for name, c in by_split.items()
    ]
    body = [
        f"Ledger `{summary.get('ledger')}`: {summary.get('ledger_lines', 0)} lines, "
        f"{summary.get('decisions', 0)} current analyst decisions. Precedence: analyst > teacher > original.",
        "",
        markdown_table(rows),
        "",
        "Records curation dropped as label conflicts, decided by an analyst and back in training: "
        f"{summary.get('rejoined_training', 0)} (not rejoined, their group tests: "
        f"{summary.get('dropped_not_rejoined', 0)}). "
        f"Decisions on items not in this run's data: {summary.get('unknown_items', 0)}; labels that are not classes: "
        f"{summary.get('unknown_labels', 0)}.",
        "",
        "### Label sources per model (training examples)",
        "",
        markdown_table([{"model": m, **s} for m, s in (summary.get("label_sources") or {}).items()]),
    ]
    body += _before_after(summary)
    body += _corrected_test(summary)
    return "Analyst corrections", "\n".join(body)


def _before_after(summary: Mapping[str, Any]) -> list[str]:
    base = summary.get("baseline")
    if not base:
        return []
    rows = []
    for r in summary.get("before_after", []):
        row: dict[str, Any] = {"model": r["model"]}
        for key, head in COMPARED_METRICS:
            b, a = r.get(f"{key}_before"), r.get(f"{key}_after")
            row[f"{head} before"], row[f"{head} after"] = b, a
            if key in ("macro_f1", "auc"):
                row[f"{head} Δ"] = None if a is None or b is None else a - b
        rows.append(row)
    same = summary.get("same_test_set")
    note = (
        "the same held-out test set (identical item ids) and its original labels"
        if same
        else f"**a different test set** ({summary.get('test_ids_differing', '?')} ids differ): compare with care"
    )
    return ["", f"### Before and after, on {note}", "", f"Before: `{base}`.", "", markdown_table(rows)]


def _corrected_test(summary: Mapping[str, Any]) -> list[str]:
    ct = summary.get("corrected_test") or {}
    if not ct.get("after"):
        return ["", "No test labels were corrected."]
    rows = []
    for name, m in ct["after"].items():
        before = (ct.get("before") or {}).get(name) or {}
        rows.append(
            {
                "model": name,
                "macro-F1 before": before.get("macro_f1"),
                "macro-F1 after": m.get("macro_f1"),
                "AUC before": before.get("auc"),
                "AUC after": m.get("auc"),
                "FP after": m.get("fp"),
                "FN after": m.get("fn"),
            }
        )
    return [
        "",
        f"### On the analyst-corrected test labels ({summary.get('test_corrections', 0)} corrected; reported apart)",
        "",
        "Each model at its own operating threshold; these figures are not the run's headline metrics.",
        "",
        markdown_table(rows),
    ]
