"""Report figures: ROC at low FPR, TP/FP at the operating threshold, label-noise curves, confusion matrix.

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly, never through
``pyplot``: nothing global (backend, current figure) changes, no GUI is needed, and figures are freed
when the function returns. Each function writes one PNG (creating parent folders) and returns its path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

__all__ = ["plot_confusion", "plot_noise_experiment", "plot_roc", "plot_share_curve", "plot_tp_fp_bars"]

#: the ROC's log FPR axis starts here; an FPR of 0 is drawn at this edge.
ROC_MIN_FPR = 1e-5
#: FPR budgets marked on the ROC.
ROC_MARKED_FPRS = (1e-3, 1e-2)
DPI = 120


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _num(v: Any) -> float:
    """Float, with None (an undefined metric in JSON) as nan so it is simply not drawn."""
    return math.nan if v is None else float(v)


def plot_roc(curves: Mapping[str, tuple[Any, Any]], path: str | Path, title: str = "ROC") -> Path:
    """ROC curves with a log FPR axis (1e-5 .. 1), one line per model, AUC in the legend.

    Security detectors operate at FPR 1e-3 and below, which a linear axis squeezes into the left
    border; the log axis and the dotted lines at 1e-3 / 1e-2 show that region. FPR 0 is drawn at the
    axis' left edge, and the region below 1/N (N = negatives, the smallest non-zero FPR the data can
    show) is shaded.

    Parameters
    ----------
    curves : mapping of name -> (y_true_binary, scores)
        Models with a single class in ``y_true_binary`` are listed in the legend as "no ROC".
    path : str or Path
        PNG to write.
    title : str
        Figure title.
    """
    fig = _new_figure(7.0, 5.0)
    ax = fig.add_subplot()
    min_n_neg = None
    colors = [f"C{i % 10}" for i in range(len(curves))]
    for (name, (y, s)), color in zip(curves.items(), colors, strict=True):
        y = np.asarray(y).astype(bool)
        s = np.asarray(s, dtype=float)
        n_neg = int((~y).sum())
        if y.all() or not y.any():
            ax.plot([], [], color=color, label=f"{name} (no ROC: one class)")
            continue
        min_n_neg = n_neg if min_n_neg is None else min(min_n_neg, n_neg)
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        auc = roc_auc_score(y, s)
        # straight segments between operating points: exact steps without ties, the expected ROC with them
        ax.plot(np.maximum(fpr, ROC_MIN_FPR), tpr, color=color, lw=1.8, label=f"{name} (AUC {auc:.4f})")
    marked = " / ".join(f"{f:g}" for f in ROC_MARKED_FPRS)
    for i, f in enumerate(ROC_MARKED_FPRS):  # one legend entry: text on the lines would cross the curves
        ax.axvline(f, color="0.35", ls=":", lw=1.0, label=f"FPR {marked}" if i == 0 else None)
    if min_n_neg and 1.0 / min_n_neg > ROC_MIN_FPR:
        ax.axvspan(ROC_MIN_FPR, 1.0 / min_n_neg, color="0.9", zorder=0, label=f"below 1/N (N = {min_n_neg:,})")
    ax.set_xscale("log")
    ax.set_xlim(ROC_MIN_FPR, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel("false-positive rate (log scale)")
    ax.set_ylabel("true-positive rate (detection rate)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_tp_fp_bars(results: Mapping[str, Mapping[str, Any]], path: str | Path, title: str) -> Path:
    """True and false positives of each model at its operating threshold, side by side.

    The clustered bar chart of the seed paper's Figure 1: what an analyst would see from each model
    (detections vs. false alarms) rather than a ranking score. Counts are written on the bars because
    false positives are often too few to see next to the true positives.

    Parameters
    ----------
    results : mapping of model name -> metrics
        :func:`~distilsec.evaluation.metrics.evaluate` outputs; models without ``tp`` / ``fp`` are skipped.
    path : str or Path
        PNG to write.
    title : str
        Figure title.
    """
    names = [k for k, m in results.items() if m.get("tp") is not None and m.get("fp") is not None]
    tps = np.array([results[k]["tp"] for k in names], dtype=float)
    fps = np.array([results[k]["fp"] for k in names], dtype=float)
    fig = _new_figure(max(5.0, 1.3 * len(names) + 2.0), 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(names))
    width = 0.38
    bars_tp = ax.bar(x - width / 2, tps, width, label="true positives", color="#2a7ab0")
    bars_fp = ax.bar(x + width / 2, fps, width, label="false positives", color="#d1495b")
    for bars in (bars_tp, bars_fp):
        ax.bar_label(bars, labels=[f"{int(v):,}" for v in bars.datavalues], padding=2, fontsize=8)
    ticks = []
    for k in names:
        fpr = results[k].get("fpr_at_threshold")
        ticks.append(k if fpr is None else f"{k}\n(test FPR {fpr:.2g})")
    ax.set_xticks(x, ticks, fontsize=8)
    ax.set_ylabel("count on test data")
    ax.set_ylim(0, max(1.0, float(np.max(np.r_[tps, fps], initial=0))) * 1.15)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def _is_teacher_row(row: Mapping[str, Any]) -> bool:
    return row.get("mode") == "teacher" or row.get("noise_rate") is None


def plot_noise_experiment(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Macro-F1 and TPR@FPR 1e-3 against the label-noise rate, one line per training mode.

    Shows whether distillation from a teacher trained on clean labels degrades less than hard-label
    training as a student's labels get noisier. The teacher's level (rows with ``mode == "teacher"``
    or no ``noise_rate``) is a dashed horizontal line. Repeated (mode, rate) rows are averaged.

    Parameters
    ----------
    rows : sequence of dict
        Each with ``noise_rate``, ``mode``, ``macro_f1`` and ``tpr_at_fpr_0.001`` (None values skipped).
    path : str or Path
        PNG to write.
    """
    metrics = (("macro_f1", "macro-F1"), ("tpr_at_fpr_0.001", "TPR at FPR 1e-3"))
    modes = list(dict.fromkeys(str(r.get("mode")) for r in rows if not _is_teacher_row(r)))
    teacher = [r for r in rows if _is_teacher_row(r)]
    fig = _new_figure(10.0, 4.2)
    axes = fig.subplots(1, 2)
    for ax, (key, label) in zip(axes, metrics, strict=True):
        for i, mode in enumerate(modes):
            points: dict[float, list[float]] = {}
            for r in rows:
                if not _is_teacher_row(r) and str(r.get("mode")) == mode:
                    points.setdefault(float(r["noise_rate"]), []).append(_num(r.get(key)))
            xs = sorted(points)
            ys = [float(np.nanmean(points[x])) if not np.isnan(points[x]).all() else math.nan for x in xs]
            ax.plot(np.array(xs) * 100, ys, marker="o", color=f"C{i % 10}", label=mode)
        values = [_num(r.get(key)) for r in teacher]
        values = [v for v in values if not math.isnan(v)]
        if values:
            ax.axhline(float(np.mean(values)), color="0.3", ls="--", lw=1.2, label="teacher (clean labels)")
        ax.set_xlabel("flipped training labels (%)")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs label noise")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_confusion(cm: Any, labels: Sequence[str], path: str | Path, title: str = "confusion matrix") -> Path:
    """Confusion matrix: cells show counts and the share of their true class; colour = that share.

    Colouring by row share (recall per class) keeps a rare class readable next to a large one.

    Parameters
    ----------
    cm : array-like, shape (k, k)
        Counts; rows = true class, columns = predicted class.
    labels : sequence of str
        Class names in row/column order.
    path : str or Path
        PNG to write.
    title : str
        Figure title.
    """
    cm = np.asarray(cm, dtype=float)
    k = len(labels)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix has shape {cm.shape}, expected ({k}, {k}) for labels {list(labels)}")
    row = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row, out=np.zeros_like(cm), where=row > 0)
    size = max(4.0, 0.9 * k + 2.5)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, label="share of true class")
    fontsize = 9 if k <= 6 else 7
    for i in range(k):
        for j in range(k):
            color = "white" if share[i, j] > 0.6 else "black"
            ax.text(
                j,
                i,
                f"{int(cm[i, j]):,}\n{share[i, j]:.1%}",
                ha="center",
                va="center",
                color=color,
                fontsize=fontsize,
            )
    ax.set_xticks(range(k), labels, rotation=30 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


#: line style of each kind of training target in :func:`plot_share_curve`
_SHARE_STYLE = {"hard": "-", "soft": "--", "truth-only": ":"}


def plot_share_curve(
    rows: Sequence[Mapping[str, Any]], teacher: Mapping[str, Any], path: str | Path, metrics: Sequence[str]
) -> Path:
    """Figure 2 of the semi-supervised sweep: one panel per metric, each student x targets as a line over the
    teacher-labelled share of its training data, the teacher as a level.

    ``rows`` need ``student``, ``targets``, ``share`` and the ``metrics``; ``teacher`` the ``metrics``.
    """
    fig = Figure(figsize=(5.2 * len(metrics), 4.0), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for metric, ax in zip(metrics, axes[0], strict=True):
        _share_panel(ax, rows, teacher, metric)
    # one legend under the panels: inside a panel it hides points (e.g. a low truth-only point)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = min(4, len(labels))
    n_rows = -(-len(labels) // ncol) if labels else 0
    bottom = min(0.3, 0.02 + 0.05 * n_rows)
    fig.set_size_inches(5.2 * len(metrics), 4.0 + 0.3 * n_rows)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return _save(fig, path)


def _share_panel(ax: Any, rows: Sequence[Mapping[str, Any]], teacher: Mapping[str, Any], metric: str) -> None:
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in rows:
        series.setdefault((r["student"], r["targets"]), []).append((r["share"], _num(r.get(metric))))
    hard = {k[0]: dict(v) for k, v in series.items() if k[1] == "hard"}
    for (student, target), pts in sorted(series.items()):
        points = dict(sorted(pts))
        # the soft line starts at share 0 from the hard point: with no teacher rows they are one model
        if target == "soft" and 0.0 not in points and 0.0 in hard.get(student, {}):
            points[0.0] = hard[student][0.0]
        xs = sorted(points)
        label = f"{student} ({target})" if target != "truth-only" else f"{student}: analyst rows only"
        ax.plot([100 * x for x in xs], [points[x] for x in xs], _SHARE_STYLE.get(target, "-"), marker="o", label=label)
    level = _num(teacher.get(metric))
    if level == level:
        ax.axhline(level, color="black", linewidth=1.2, alpha=0.7, label="teacher")
    ax.set_xlabel("teacher-labelled share of the student's training data (%)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3)


def plot_per_tactic(per_model: Mapping[str, Mapping[str, Mapping[str, Any]]], path: str | Path) -> Path:
    """Top-1 per ATT&CK tactic, one bar per model (``per_model[model][tactic] = {"top1", "n"}``).

    Tactics are ordered by the number of held-out sentences, so the bars that carry weight come first.
    """
    tactics = sorted(
        {t for m in per_model.values() for t in m},
        key=lambda t: -max(m.get(t, {}).get("n", 0) for m in per_model.values()),
    )
    names = list(per_model)
    fig = _new_figure(max(7.0, 0.55 * len(tactics) * max(1, len(names)) / 2 + 3), 4.8)
    ax = fig.add_subplot()
    x = np.arange(len(tactics))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        vals = [_num(per_model[name].get(t, {}).get("top1")) for t in tactics]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=name)
    ns = [max(m.get(t, {}).get("n", 0) for m in per_model.values()) for t in tactics]
    ax.set_xticks(x, [f"{t}\n(n={n})" for t, n in zip(tactics, ns, strict=True)], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("top-1 on held-out sources")
    ax.set_ylim(0, 1)
    ax.set_title("ATT&CK technique top-1 per tactic")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)
