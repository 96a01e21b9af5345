"""Figure 2 on disk: the curve (PNG), its table (Markdown) and every number (JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from distilsec.evaluation.plots import plot_share_curve  # moved there; importable from here for one release
from distilsec.evaluation.report import write_report

__all__ = ["plot_share_curve", "write_figure2_report", "figure2_sections", "figure2_table"]


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.4f}"
    return str(v)


def _share(result: Mapping[str, Any], part: str) -> str:
    top = result["data"].get("largest_groups", {}).get(part)
    return "n/a" if not top else f"{top['top5_share']:.0%}"


def figure2_table(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> str:
    head = ["student", "targets", "teacher share", "train rows", *metrics, "fit s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["student"], r["targets"], f"{r['share']:.0%}", str(r["n_train"])]
        cells += [_fmt(r.get(m)) for m in metrics] + [_fmt(r.get("fit_seconds"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _metric_names(result: Mapping[str, Any]) -> list[str]:
    """The report's metrics: detection figures for two classes, multi-class figures otherwise."""
    if len(result["classes"]) == 2:
        return ["macro_f1", "tpr_at_fpr_0.001", "auc"]
    return ["macro_f1", "accuracy", "auc_ovr_macro"]


def write_figure2_report(out: Path, result: Mapping[str, Any]) -> None:
    """``metrics.json``, ``figure2.png`` and ``report.md`` in ``out``."""
    metrics = _metric_names(result)
    plot_share_curve(result["students"], result["teacher"], out / "figure2.png", metrics[:2])
    title = f"Figure 2: {result['config']['run']['name']}"
    write_report(out, title=title, sections=figure2_sections(result), metrics=result)


def figure2_sections(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``report.md`` sections of a Figure-2 run (the plot ``figure2.png`` sits next to it)."""
    metrics = _metric_names(result)
    t = result["teacher"]
    split = result["data"].get("semisup_split", {})
    setup = [
        f"Classes: {', '.join(result['classes'])}. Whole groups held out: labelled set, pool, val, test share none.",
        "",
        "| part | examples | groups | share of the 5 largest groups |",
        "|---|---|---|---|",
        *[f"| {k} | {v['n']} | {v['n_groups']} | {_share(result, k)} |" for k, v in split.items()],
        "",
        f"Teacher ({result['config']['teacher']['type']}), trained on the labelled set only: "
        + ", ".join(f"{m} {_fmt(t.get(m))}" for m in metrics)
        + f"; accuracy of its labels on the pool {_fmt(t.get('pool_label_accuracy'))}.",
    ]
    curve = f"![Figure 2](figure2.png)\n\n{figure2_table(result['students'], metrics)}"
    sections = [("Set-up", "\n".join(setup)), ("Students at each teacher-labelled share", curve)]
    if result.get("pseudo_label"):
        sections.append(("Semi-supervised: labelled set + confident pseudo-labels", _pseudo_label_table(result)))
    sections.append(("Wall time", f"Wall time of the whole run: {result['wall_seconds']:.0f} s."))
    return sections


def _pseudo_label_table(result: Mapping[str, Any]) -> str:
    metrics = _metric_names(result)
    lines = ["| student | train rows | kept / pool | pseudo-label accuracy (kept) | " + " | ".join(metrics) + " |"]
    lines += ["|" + "---|" * (4 + len(metrics))]
    for r in result["pseudo_label"]:
        last = r["rounds"][-1]
        lines.append(
            f"| {r['student']} | {r['n_train']} | {last['kept']} / {last['pool']} | "
            f"{_fmt(last['pseudo_label_accuracy_kept'])} | " + " | ".join(_fmt(r.get(m)) for m in metrics) + " |"
        )
    return "\n".join(lines)
