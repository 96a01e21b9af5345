"""The sections of a ``distilsec run`` report: what data went in, how models compare, where they fail.

:func:`run_sections` makes the plots and returns ``(heading, markdown)`` pairs; the one report writer,
:func:`distilsec.evaluation.report.write_report`, writes them with ``metrics.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.config import Config

__all__ = ["run_sections", "build_report"]

Section = tuple[str, str]


def run_sections(
    run_dir: Path,
    config: Config,
    data: Any,
    results: dict[str, dict[str, Any]],
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    noise_rows: list[dict[str, Any]],
    *,
    warnings: Sequence[str] = (),
) -> list[Section]:
    """Make the plots (under ``run_dir/plots``) and return the report's sections, in order.

    ``data`` is the run's :class:`~distilsec.tasks.prepare.PreparedData`; ``results`` maps model name to
    its metrics (with ``role`` and ``params``); ``curves`` maps model name to (binary labels, scores) on test.
    """
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    first = next(iter(config.students))
    sections = [warnings_section(warnings)] if warnings else []
    sections += [data_section(config, data)]
    if "shortcut_audit" in data.report:
        from distilsec.data.shortcut import format_shortcut_markdown

        sections.append(("Shortcut audit", format_shortcut_markdown(data.report["shortcut_audit"])))
    sections.append(models_section(run_dir, config, results, curves))
    if first in results and "confusion_matrix" in results[first]:
        sections.append(confusion_section(run_dir, first, results[first], data.classes))
    sections += breakdown_sections(results, first)
    if noise_rows:
        sections.append(noise_section(run_dir, noise_rows))
    return sections


def warnings_section(warnings: Sequence[str]) -> Section:
    """The data's warnings, first in the report and in bold: they qualify every figure below."""
    return "Warnings", "\n".join(f"- **{w}**" for w in warnings)


def data_section(config: Config, data: Any) -> Section:
    """Rows read and skipped, preprocessing, curation counts, the split and its table."""
    from distilsec.evaluation.report import markdown_table

    rep = data.report
    split_rows = [
        {"split": k, "n": v["n"], "groups": v["n_groups"], **{f"n_{lab}": c for lab, c in v["by_label"].items()}}
        for k, v in rep["split"].items()
    ]
    skipped = json.dumps(rep["read_skips"]) if rep["read_skips"] else "none"
    altered = f"; kept but altered: {json.dumps(rep['read_notes'])}" if rep.get("read_notes") else ""
    rows_in = f"{rep['rows_in']} rows in, " if "rows_in" in rep else ""
    curation = rep.get("curation", {})
    body = [
        f"Task `{config.data.task}`; {rows_in}{rep['read']} examples read (skipped: {skipped}{altered}).",
        f"Preprocessing `{data.preprocess}` (placeholder / URL-format normalisation, applied identically "
        "at training and scoring time).",
        "",
        "Curation: " + ", ".join(f"{k} = {v}" for k, v in curation.items() if isinstance(v, (int, float))),
        "",
        f"Split by {config.split.by} (no group in two splits); near-duplicates of training examples removed "
        f"from val/test: {json.dumps(rep.get('cross_split_near_duplicates_removed', {}))}.",
        "",
        markdown_table(split_rows),
    ]
    return "Data and curation", "\n".join(body)


def models_section(
    run_dir: Path,
    config: Config,
    results: dict[str, dict[str, Any]],
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
) -> Section:
    """The comparison table, the student-vs-teacher summary, the ROC and TP/FP plots."""
    from distilsec.evaluation.plots import plot_roc, plot_tp_fp_bars
    from distilsec.evaluation.report import models_comparison_table

    ev = config.evaluation
    comparison = {name: {**m, "events_per_s": m.get("events_per_s_1thread")} for name, m in results.items()}
    body = [
        f"Held-out test groups; operating threshold chosen on validation data for FPR {ev.target_fpr:g}.",
        "",
        models_comparison_table(comparison),
    ]
    body += _student_vs_teacher(results, next(iter(config.students)))
    plots = run_dir / "plots"
    roc = plot_roc(curves, plots / "roc.png", f"ROC on held-out groups ({config.run.name})")
    bars = plot_tp_fp_bars(results, plots / "tp_fp.png", f"TP / FP at FPR {ev.target_fpr:g} (validation threshold)")
    body += ["", f"![ROC]({Path(roc).relative_to(run_dir)})", f"![TP/FP]({Path(bars).relative_to(run_dir)})"]
    return "Models", "\n".join(body)


def _student_vs_teacher(results: dict[str, dict[str, Any]], first: str) -> list[str]:
    """Lines comparing the first student with the teacher: share of macro-F1, size, throughput."""
    teacher = results.get("teacher", {})
    if first not in results or not teacher.get("macro_f1"):
        return []
    s = results[first]
    lines = [
        "",
        f"Student `{first}` reaches {s['macro_f1'] / teacher['macro_f1']:.1%} of the teacher's macro-F1 "
        f"with {s['params']:,} parameters vs {teacher['params']:,}.",
    ]
    if s.get("events_per_s_1thread") and teacher.get("events_per_s_1thread"):
        lines.append(
            f"Throughput on one thread: student {s['events_per_s_1thread']:,.0f} events/s, teacher "
            f"{teacher['events_per_s_1thread']:,.0f} events/s (ratio "
            f"{s['events_per_s_1thread'] / teacher['events_per_s_1thread']:.0f}x)."
        )
    return lines


def confusion_section(run_dir: Path, name: str, metrics: dict[str, Any], classes: list[str]) -> Section:
    """The shipped student's confusion matrix on test, as a plot."""
    from distilsec.evaluation.plots import plot_confusion

    cm, labels = np.asarray(metrics["confusion_matrix"]), metrics.get("labels", classes)
    p = plot_confusion(cm, labels, run_dir / "plots" / "confusion_student.png", f"{name}: confusion (test)")
    return "Confusion matrix (shipped student)", f"![confusion]({Path(p).relative_to(run_dir)})"


def breakdown_sections(results: dict[str, dict[str, Any]], first: str) -> list[Section]:
    """Per-source and per-platform tables of the teacher and the first student (distilled and hard-label)."""
    from distilsec.evaluation.report import breakdown_table

    sections = []
    for key, title in (("by_source", "Per source"), ("by_platform", "Per platform")):
        parts = [
            f"**{name}**\n\n{breakdown_table(results[name], key=key)}"
            for name in ("teacher", first, f"{first}-hard")
            if name in results and results[name].get(key)
        ]
        if parts:
            sections.append((f"{title} (test, at the operating threshold)", "\n\n".join(parts)))
    return sections


def noise_section(run_dir: Path, noise_rows: list[dict[str, Any]]) -> Section:
    """The noise experiment's table and plot."""
    from distilsec.evaluation.plots import plot_noise_experiment
    from distilsec.evaluation.report import markdown_table

    p = plot_noise_experiment(noise_rows, run_dir / "plots" / "noise.png")
    body = [
        "A share of the student's training labels is flipped at random; the teacher is the one "
        "fine-tuned on clean labels. Distillation should degrade less than hard-label training.",
        "",
        markdown_table(noise_rows, ["noise_rate", "mode", "auc", "macro_f1", "tpr_at_fpr_0.001", "accuracy"]),
        "",
        f"![noise]({Path(p).relative_to(run_dir)})",
    ]
    return "Noise experiment", "\n".join(body)


#: the former name (report_builder.build_report), kept for one release; ``warnings`` is new and optional.
build_report = run_sections
