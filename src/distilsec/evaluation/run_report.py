"""The run report's sections: what data went in, how models compare, where they fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.config import Config

__all__ = ["build_report"]


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def build_report(
    run_dir: Path,
    config: Config,
    data: Any,
    results: dict[str, dict[str, Any]],
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    noise_rows: list[dict[str, Any]],
) -> list[tuple[str, str]]:
    """Make the plots and return ``(heading, markdown)`` sections for :func:`write_report`."""
    from distilsec.data.shortcut import format_shortcut_markdown
    from distilsec.evaluation.plots import plot_confusion, plot_noise_experiment, plot_roc, plot_tp_fp_bars
    from distilsec.evaluation.report import breakdown_table, markdown_table, models_comparison_table

    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    sections: list[tuple[str, str]] = []
    ev = config.evaluation
    rep = data.report
    cur = rep.get("curation", {})

    split_rows = [
        {
            "split": k,
            "n": v["n"],
            "groups": v["n_groups"],
            **{f"n_{lab}": c for lab, c in v["by_label"].items()},
        }
        for k, v in rep["split"].items()
    ]
    body = [
        f"Task `{config.data.task}`; "
        + (f"{rep['rows_in']} rows in, " if "rows_in" in rep else "")
        + f"{rep['read']} examples read "
        f"(skipped: {json.dumps(rep['read_skips']) if rep['read_skips'] else 'none'}"
        + (f"; kept but altered: {json.dumps(rep['read_notes'])}" if rep.get("read_notes") else "")
        + ").",
        f"Preprocessing `{data.preprocess}` (placeholder / URL-format normalisation, applied identically "
        "at training and scoring time).",
        "",
        "Curation: " + ", ".join(f"{k} = {v}" for k, v in cur.items() if isinstance(v, (int, float))),
        "",
        f"Split by {config.split.by} (no group in two splits); near-duplicates of training examples removed "
        f"from val/test: {json.dumps(rep.get('cross_split_near_duplicates_removed', {}))}.",
        "",
        markdown_table(split_rows),
    ]
    sections.append(("Data and curation", "\n".join(body)))
    if "shortcut_audit" in rep:
        sections.append(("Shortcut audit", format_shortcut_markdown(rep["shortcut_audit"])))

    comparison = {}
    for name, m in results.items():
        comparison[name] = {**m, "events_per_s": m.get("events_per_s_1thread")}
    body = [
        f"Held-out test groups; operating threshold chosen on validation data for FPR {ev.target_fpr:g}.",
        "",
        models_comparison_table(comparison),
    ]
    teacher = results.get("teacher", {})
    first = next(iter(config.students))
    if first in results and teacher.get("macro_f1"):
        s = results[first]
        body.append("")
        body.append(
            f"Student `{first}` reaches {s['macro_f1'] / teacher['macro_f1']:.1%} of the teacher's macro-F1 "
            f"with {s['params']:,} parameters vs {teacher['params']:,}."
        )
        if s.get("events_per_s_1thread") and teacher.get("events_per_s_1thread"):
            body.append(
                f"Throughput on one thread: student {s['events_per_s_1thread']:,.0f} events/s, teacher "
                f"{teacher['events_per_s_1thread']:,.0f} events/s (ratio "
                f"{s['events_per_s_1thread'] / teacher['events_per_s_1thread']:.0f}x)."
            )
    roc = plot_roc(curves, plots / "roc.png", f"ROC on held-out groups ({config.run.name})")
    bars = plot_tp_fp_bars(results, plots / "tp_fp.png", f"TP / FP at FPR {ev.target_fpr:g} (validation threshold)")
    body += ["", f"![ROC]({Path(roc).relative_to(run_dir)})", f"![TP/FP]({Path(bars).relative_to(run_dir)})"]
    sections.append(("Models", "\n".join(body)))

    if first in results and "confusion_matrix" in results[first]:
        cm = results[first]["confusion_matrix"]
        labels = results[first].get("labels", data.classes)
        p = plot_confusion(np.asarray(cm), labels, plots / "confusion_student.png", f"{first}: confusion (test)")
        sections.append(("Confusion matrix (shipped student)", f"![confusion]({Path(p).relative_to(run_dir)})"))

    for key, title in (("by_source", "Per source"), ("by_platform", "Per platform")):
        parts = []
        for name in ("teacher", first, f"{first}-hard"):
            if name in results and results[name].get(key):
                parts.append(f"**{name}**\n\n{breakdown_table(results[name], key=key)}")
        if parts:
            sections.append((f"{title} (test, at the operating threshold)", "\n\n".join(parts)))

    if noise_rows:
        p = plot_noise_experiment(noise_rows, plots / "noise.png")
        body = [
            "A share of the student's training labels is flipped at random; the teacher is the one "
            "fine-tuned on clean labels. Distillation should degrade less than hard-label training.",
            "",
            markdown_table(noise_rows, ["noise_rate", "mode", "auc", "macro_f1", "tpr_at_fpr_0.001", "accuracy"]),
            "",
            f"![noise]({Path(p).relative_to(run_dir)})",
        ]
        sections.append(("Noise experiment", "\n".join(body)))
    return sections
