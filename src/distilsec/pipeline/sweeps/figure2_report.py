"""Figure 2 on disk: the curve (PNG), its table (Markdown) and every number (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_share_curve", "write_figure2_report", "figure2_table"]

_STYLE = {"hard": "-", "soft": "--", "truth-only": ":"}


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def plot_share_curve(
    rows: Sequence[Mapping[str, Any]], teacher: Mapping[str, Any], path: str | Path, metrics: Sequence[str]
) -> Path:
    """One panel per metric: each student x targets as a line over the share, the teacher as a level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.0), squeeze=False)
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for metric, ax in zip(metrics, axes[0], strict=True):
        series.clear()
        for r in rows:
            series.setdefault((r["student"], r["targets"]), []).append((r["share"], _num(r.get(metric))))
        hard = {k[0]: dict(v) for k, v in series.items() if k[1] == "hard"}
        for (student, target), pts in sorted(series.items()):
            pts = dict(sorted(pts))
            # the soft line starts at share 0 from the hard point: with no teacher rows they are one model
            if target == "soft" and 0.0 not in pts and 0.0 in hard.get(student, {}):
                pts[0.0] = hard[student][0.0]
            xs = sorted(pts)
            label = f"{student} ({target})" if target != "truth-only" else f"{student}: analyst rows only"
            ax.plot([100 * x for x in xs], [pts[x] for x in xs], _STYLE.get(target, "-"), marker="o", label=label)
        level = _num(teacher.get(metric))
        if level == level:
            ax.axhline(level, color="black", linewidth=1.2, alpha=0.7, label="teacher")
        ax.set_xlabel("teacher-labelled share of the student's training data (%)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    # one legend under the panels: inside a panel it hides points (e.g. a low truth-only point)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = min(4, len(labels))
    n_rows = -(-len(labels) // ncol) if labels else 0
    bottom = min(0.3, 0.02 + 0.05 * n_rows)
    fig.set_size_inches(5.2 * len(metrics), 4.0 + 0.3 * n_rows)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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


def write_figure2_report(out: Path, result: Mapping[str, Any]) -> None:
    """``metrics.json``, ``figure2.png`` and ``report.md`` in ``out``."""
    binary = len(result["classes"]) == 2
    metrics = ["macro_f1", "tpr_at_fpr_0.001", "auc"] if binary else ["macro_f1", "accuracy", "auc_ovr_macro"]
    (out / "metrics.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    plot_share_curve(result["students"], result["teacher"], out / "figure2.png", metrics[:2])
    t = result["teacher"]
    split = result["data"].get("semisup_split", {})
    lines = [
        f"# Figure 2: {result['config']['run']['name']}",
        "",
        f"Classes: {', '.join(result['classes'])}. Whole groups held out: labelled set, pool, val, test share none.",
        "",
        "| part | examples | groups | share of the 5 largest groups |",
        "|---|---|---|---|",
        *[f"| {k} | {v['n']} | {v['n_groups']} | {_share(result, k)} |" for k, v in split.items()],
        "",
        f"Teacher ({result['config']['teacher']['type']}), trained on the labelled set only: "
        + ", ".join(f"{m} {_fmt(t.get(m))}" for m in metrics)
        + f"; accuracy of its labels on the pool {_fmt(t.get('pool_label_accuracy'))}.",
        "",
        "![Figure 2](figure2.png)",
        "",
        figure2_table(result["students"], metrics),
        "",
    ]
    if result.get("pseudo_label"):
        lines += ["## Semi-supervised: labelled set + confident pseudo-labels", ""]
        lines += ["| student | train rows | kept / pool | pseudo-label accuracy (kept) | " + " | ".join(metrics) + " |"]
        lines += ["|" + "---|" * (4 + len(metrics))]
        for r in result["pseudo_label"]:
            last = r["rounds"][-1]
            lines.append(
                f"| {r['student']} | {r['n_train']} | {last['kept']} / {last['pool']} | "
                f"{_fmt(last['pseudo_label_accuracy_kept'])} | " + " | ".join(_fmt(r.get(m)) for m in metrics) + " |"
            )
        lines.append("")
    lines.append(f"Wall time of the whole run: {result['wall_seconds']:.0f} s.")
    (out / "report.md").write_text("\n".join(lines) + "\n")
