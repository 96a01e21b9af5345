"""Run reports: ``metrics.json`` for machines, ``report.md`` for people, and the latter's Markdown pieces.

The renderers return Markdown strings so the caller decides what goes in which section; plots are
embedded with links relative to the run folder, so a run folder can be moved or zipped and still render.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.evaluation.metrics import DEFAULT_FPRS, fpr_key, to_jsonable

__all__ = ["breakdown_table", "markdown_image", "markdown_table", "models_comparison_table", "write_report"]

MISSING = "n/a"
#: marks a TPR at an FPR below 1/n_negative (see the footnote the comparison table adds).
UNRESOLVED_MARK = "†"


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(value, floatfmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, floatfmt: str = ".4f"
) -> str:
    """GitHub-flavoured Markdown table.

    Parameters
    ----------
    rows : sequence of mapping
        One mapping per row.
    columns : sequence of str, optional
        Columns in order; default: every key, in order of first appearance.
    floatfmt : str
        Format spec for floats. None / NaN print as ``n/a``; pipes in text are escaped.

    Returns
    -------
    str
        The table, or ``_(no rows)_`` for no rows.
    """
    if not rows:
        return "_(no rows)_"
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "| " + " | ".join(_cell(c, floatfmt) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(r.get(c), floatfmt) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def markdown_image(path: str | Path, base: str | Path, alt: str | None = None) -> str:
    """``![alt](relative/path.png)`` with the path relative to ``base`` (the report's folder)."""
    path, base = Path(path), Path(base)
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        rel = Path(os.path.relpath(path, base)).as_posix()
    return f"![{alt or path.stem}]({rel})"


def _unresolved(metrics: Mapping[str, Any], fpr: float) -> bool:
    n_neg = metrics.get("n_negative")
    return bool(n_neg) and fpr < 1.0 / n_neg


def models_comparison_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per model: AUC, macro-F1, accuracy, TPR at FPR 1e-2/1e-3/1e-4, threshold, TP, FP.

    ``params``, ``size_mb`` and ``events_per_s`` columns are added when any model has them. A TPR at
    an FPR below 1/n_negative is marked with a dagger and explained under the table: with that few
    negatives it is the TPR at zero false positives, not a measurement at the stated FPR.
    """
    optional = [("params", "params"), ("size_mb", "size (MB)"), ("events_per_s", "events/s")]
    optional = [(k, h) for k, h in optional if any(m.get(k) is not None for m in results.values())]
    rows, flagged = [], False
    for name, m in results.items():
        row: dict[str, Any] = {
            "model": name,
            "AUC": m.get("auc"),
            "macro-F1": m.get("macro_f1"),
            "accuracy": m.get("accuracy"),
        }
        for f in DEFAULT_FPRS:
            value = _cell(m.get(fpr_key(f)), ".4f")
            if value != MISSING and _unresolved(m, f):
                value, flagged = f"{value}{UNRESOLVED_MARK}", True
            row[f"TPR@FPR {f:g}"] = value
        thr = m.get("threshold")
        row["threshold"] = MISSING if thr is None else format(thr, ".6g")
        row |= {"TP": m.get("tp"), "FP": m.get("fp")}
        for key, header in optional:
            v = m.get(key)
            if v is None:
                row[header] = None
            elif key == "params":
                row[header] = f"{int(v):,}"
            elif key == "size_mb":
                row[header] = f"{float(v):.2f}"
            else:
                row[header] = f"{float(v):,.0f}"
        rows.append(row)
    table = markdown_table(rows)
    if flagged:
        table += (
            f"\n\n{UNRESOLVED_MARK} FPR below 1/n_negative on this test set: the value is the detection rate "
            "with zero false positives observed, not a measurement at that FPR."
        )
    return table


def breakdown_table(metrics: Mapping[str, Any], key: str = "by_source", floatfmt: str = ".4f") -> str:
    """Render one breakdown of :func:`~distilsec.evaluation.metrics.evaluate` (``by_source`` ...).

    A summary line comes first (how many values, how many with any error, whether the table is cut to
    the values with the most errors), then one row per value.
    """
    table = metrics.get(key)
    if not table:
        return f"_(no {key} breakdown)_"
    what = {"by_group": "groups", "by_source": "sources", "by_platform": "platforms"}.get(key, "values")
    summary = (
        f"{table['n_values']:,} {what}; {table['n_values_with_errors']:,} "
        f"({table['share_values_with_errors']:.1%}) with at least one error"
    )
    if table.get("truncated"):
        summary += f"; showing the {table['n_shown']} with the most errors"
    column = key.removeprefix("by_")
    rows = [{column: r["value"], **{k: v for k, v in r.items() if k != "value"}} for r in table["rows"]]
    columns = [column, "n", "n_positive", "errors", "accuracy", "detection_rate", "false_positive_rate"]
    columns = [c for c in columns if any(c in r for r in rows)]
    return f"{summary}.\n\n{markdown_table(rows, columns, floatfmt)}"


def write_report(
    run_dir: str | Path,
    *,
    title: str,
    sections: Sequence[tuple[str, str]],
    metrics: Mapping[str, Any],
    metrics_name: str = "metrics.json",
) -> Path:
    """Write ``metrics.json`` (pretty, strict JSON) and ``report.md`` into ``run_dir``.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (created if missing). Images in the sections should link relative to it
        (see :func:`markdown_image`).
    title : str
        The report's title (a level-1 heading).
    sections : sequence of (heading, markdown)
        Written in order, each as a level-2 heading and its body.
    metrics : mapping
        Everything measured; NaN and numpy values are converted so the file is valid JSON.
    metrics_name : str
        The JSON file's name: ``metrics.json``, unless a command has documented another (``budget.json``,
        ``llm_eval.json``, a synthesis run's ``stats.json``).

    Returns
    -------
    Path
        The path of ``report.md``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(metrics), indent=2, allow_nan=False, default=str)
    (run_dir / metrics_name).write_text(text + "\n", encoding="utf-8")
    parts = [f"# {title}", ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.strip(), ""]
    report = run_dir / "report.md"
    report.write_text("\n".join(parts), encoding="utf-8")
    return report
