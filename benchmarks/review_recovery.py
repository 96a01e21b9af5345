"""How many analyst decisions does the review queue need to undo label noise? Ranked queue vs a random one.

Usage:  python benchmarks/review_recovery.py [--config configs/cmdline-distill.yaml] [--noise 0.3]
            [--budgets 0,250,500,...] [--out docs/benchmarks/review-recovery] [--data-dir DIR]

The command-line task's real data, prepared as ``distilsec run`` prepares it (same curation and group
split). A share ``--noise`` of the *training* labels is flipped (``methods.noise.flip_labels``, as the
run's noise experiment does; validation and test keep their clean labels). A small fast student
(``tfidf_linear.v1``) trained on clean labels and on noisy labels gives the macro-F1 lost to noise, on the
held-out test groups at the operating threshold chosen on validation (``evaluation.target_fpr``), exactly
as a run reports it.

The simulated analyst reviews items in queue order and gives each its clean label. The ranked queue is
:func:`distilsec.methods.review_queue.rank_queue` on what ``distilsec review`` would compute from a run
trained on the noisy labels: a teacher's and the student's probabilities (both fitted on the noisy labels)
and the out-of-fold label doubt; the random queue is a seeded shuffle of the training items. After ``k``
decisions the student is retrained on the corrected labels and measured again. Reported: the curve of
macro-F1 against decisions for both queues, and for each the number of decisions at which it recovers
half of the macro-F1 lost to noise (linear interpolation between measured budgets; ``null`` if never).

Writes ``<out>.png`` (the curves) and ``<out>.json`` (every figure, the settings and the runtime).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.config import load_config
from distilsec.evaluation.evaluate import Split, evaluate
from distilsec.methods.label_doubt import label_doubt
from distilsec.methods.noise import flip_labels
from distilsec.methods.review_queue import QueueInputs, rank_queue
from distilsec.registry import create
from distilsec.tasks.prepare import prepare_data, resolve_evaluation

STUDENT = ("tfidf_linear.v1", {})
TEACHER = ("tfidf_linear.v1", {"ngram_range": [1, 3], "loss": "softmax", "max_features": 200_000})
DEFAULT_BUDGETS = "0,250,500,1000,1500,2000,3000,4500,6500,9500,14000,20000"


def _fit(spec: tuple[str, dict[str, Any]], texts: list[str], labels: list[str], classes: list[str], seed: int) -> Any:
    model = create(spec[0], {**spec[1], "random_state": seed})
    return model.fit(texts, labels, classes=classes)


def _recovery_point(curve: list[dict[str, Any]], target: float) -> float | None:
    """Decisions at which the curve first reaches ``target`` (interpolated between measured budgets)."""
    for a, b in zip(curve, curve[1:], strict=False):
        if a["macro_f1"] >= target:
            return float(a["decisions"])
        if b["macro_f1"] >= target:
            share = (target - a["macro_f1"]) / (b["macro_f1"] - a["macro_f1"])
            return float(a["decisions"] + share * (b["decisions"] - a["decisions"]))
    return float(curve[0]["decisions"]) if curve and curve[0]["macro_f1"] >= target else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=Path("configs/cmdline-distill.yaml"))
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--budgets", default=DEFAULT_BUDGETS, help="decision counts to measure, comma-separated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-examples", type=int, default=None, help="cap the data (whole groups), for a quick try")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/review-recovery"))
    args = ap.parse_args(argv)
    started = time.perf_counter()

    overrides = {"data.max_examples": args.max_examples} if args.max_examples else {}
    config = load_config(args.config, overrides)
    data = prepare_data(config, data_dir=args.data_dir)
    config = resolve_evaluation(config, data)
    classes = list(data.classes)
    texts = [ex.text for ex in data.train]
    clean = [str(ex.label) for ex in data.train]
    noisy = flip_labels(clean, args.noise, classes, random_state=args.seed)
    flipped = np.array([a != b for a, b in zip(clean, noisy, strict=True)])
    test, val = Split.from_examples(data.test, metadata=False), Split.from_examples(data.val, metadata=False)
    n = len(texts)
    print(f"data: {n} train ({int(flipped.sum())} flipped), {len(val)} val, {len(test)} test", flush=True)

    def measure(labels: list[str]) -> tuple[float, Any, Any]:
        model = _fit(STUDENT, texts, labels, classes, args.seed)
        report = evaluate(model, test, val, classes=classes, view=config.evaluation, breakdowns=False)
        return float(report.metrics["macro_f1"]), model, report

    f1_clean, _, _ = measure(clean)
    f1_noisy, student, student_report = measure(noisy)
    target = f1_noisy + 0.5 * (f1_clean - f1_noisy)
    print(f"macro-F1 clean {f1_clean:.4f}, {args.noise:.0%} noise {f1_noisy:.4f}, half-way {target:.4f}", flush=True)

    # what `distilsec review` would see on a run trained on the noisy labels
    teacher = _fit(TEACHER, texts, noisy, classes, args.seed)
    teacher_report = evaluate(teacher, test, val, classes=classes, view=config.evaluation, breakdowns=False)
    doubt, _ = label_doubt(texts, noisy, seed=args.seed)
    ranking = rank_queue(
        QueueInputs(
            split=["train"] * n,
            label=noisy,
            classes=classes,
            negative=config.evaluation.negative,
            teacher_proba=teacher.predict_proba(texts),
            student_proba=student.predict_proba(texts),
            teacher_threshold=teacher_report.threshold,
            student_threshold=student_report.threshold,
            doubt=doubt,
        ),
        min_value=-1.0,  # the whole ranking: the simulated analyst may go past the page's queue
    )
    orders = {"ranked": np.array(ranking.order), "random": np.random.default_rng(args.seed).permutation(n)}
    budgets = sorted({min(int(b), n) for b in args.budgets.split(",")})
    curves: dict[str, list[dict[str, Any]]] = {}
    for name, order in orders.items():
        curves[name] = []
        for k in budgets:
            labels = list(noisy)
            for i in order[:k]:
                labels[i] = clean[i]
            f1 = f1_noisy if k == 0 else measure(labels)[0]
            fixed = int(flipped[order[:k]].sum())
            curves[name].append({"decisions": k, "macro_f1": f1, "flipped_fixed": fixed})
            print(f"{name:>6} {k:>6} decisions: macro-F1 {f1:.4f} ({fixed} flipped labels fixed)", flush=True)
    half = {name: _recovery_point(curve, target) for name, curve in curves.items()}
    result = {
        "task": config.data.task,
        "noise": args.noise,
        "seed": args.seed,
        "student": {"type": STUDENT[0], **STUDENT[1]},
        "teacher_for_ranking": {"type": TEACHER[0], **TEACHER[1]},
        "n_train": n,
        "n_flipped": int(flipped.sum()),
        "n_val": len(val),
        "n_test": len(test),
        "target_fpr": config.evaluation.target_fpr,
        "macro_f1_clean": f1_clean,
        "macro_f1_noisy": f1_noisy,
        "macro_f1_half_recovered": target,
        "curves": curves,
        "decisions_to_recover_half": half,
        "precision_of_first_1000": {name: float(flipped[o[:1000]].mean()) for name, o in orders.items()},
        "runtime_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    _plot(result, args.out.with_suffix(".png"))
    print(json.dumps({k: result[k] for k in ("decisions_to_recover_half", "runtime_s")}), flush=True)
    return result


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    colours = {"ranked": "#1f5fbf", "random": "#b3261e"}
    for name, curve in result["curves"].items():
        xs = [p["decisions"] for p in curve]
        ys = [p["macro_f1"] for p in curve]
        ax.plot(xs, ys, marker="o", ms=3.5, color=colours[name], label=f"{name} queue")
        k = result["decisions_to_recover_half"][name]
        if k is not None:
            ax.axvline(k, color=colours[name], ls=":", lw=1)
            ax.annotate(
                f"{k:,.0f}",
                (k, result["macro_f1_half_recovered"]),
                textcoords="offset points",
                xytext=(4, -12),
                color=colours[name],
                fontsize=8,
            )
    for key, label, style in (
        ("macro_f1_clean", "clean labels", "--"),
        ("macro_f1_half_recovered", "half of the loss recovered", ":"),
        ("macro_f1_noisy", f"{result['noise']:.0%} of training labels flipped", "-."),
    ):
        ax.axhline(result[key], color="grey", ls=style, lw=1, label=f"{label} ({result[key]:.3f})")
    ax.set_xscale("symlog", linthresh=250, linscale=0.6)
    ax.set_xlim(0, max(p["decisions"] for c in result["curves"].values() for p in c) * 1.08)
    ax.set_xlabel("analyst decisions (items reviewed, in queue order)")
    ax.set_ylabel("student macro-F1 on held-out test groups")
    ax.set_title(
        f"{result['task']}: recovering from {result['noise']:.0%} label noise "
        f"({result['n_train']:,} training items, {result['n_flipped']:,} flipped)",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
