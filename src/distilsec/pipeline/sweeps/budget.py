"""Budget-aware labelling against labelling everything: teacher calls and time at equal student quality.

Reference arm: the teacher labels the whole pool and the student trains on labelled + pool. Budget arms:
:func:`~distilsec.methods.active_label.budget_label` spends a share of those calls, chosen by the
student's uncertainty, by committee disagreement, or at random (the baseline a strategy must beat).
Teacher calls go through the ledger; a call's cost is the time the ledger recorded when the answer was
first made, so arms are compared on cold-cache cost even when they reuse each other's answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distilsec._internal.console import console
from distilsec._internal.device import set_threads
from distilsec.errors import ConfigError
from distilsec.evaluation.report import write_report
from distilsec.methods.active_label import budget_label
from distilsec.pipeline.sweeps.figure2 import evaluate_model, fit_or_load_teacher, open_ledger
from distilsec.pipeline.sweeps.semisup_config import SemisupConfig
from distilsec.pipeline.sweeps.semisup_data import SemisupData, prepare_semisup_data
from distilsec.registry import create
from distilsec.students.base import SoftTargets
from distilsec.teachers.ledgered import LedgeredTeacher

__all__ = ["run_budget", "budget_sections", "equal_quality_summary"]


def equal_quality_summary(arms: list[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Per strategy: the cheapest arm whose macro-F1 is within ``tolerance`` of the reference arm."""
    ref = next(a for a in arms if a["strategy"] == "full")
    out = []
    for strategy in sorted({a["strategy"] for a in arms} - {"full", "labelled-only"}):
        ok = [a for a in arms if a["strategy"] == strategy and a["macro_f1"] >= ref["macro_f1"] - tolerance]
        best = min(ok, key=lambda a: a["teacher_calls"]) if ok else None
        out.append(
            {
                "strategy": strategy,
                "reaches_reference": best is not None,
                "fraction": best["fraction"] if best else None,
                "teacher_calls": best["teacher_calls"] if best else None,
                "fewer_calls_factor": (ref["teacher_calls"] / best["teacher_calls"])
                if best and best["teacher_calls"]
                else None,
                "teacher_seconds": best["teacher_seconds"] if best else None,
                "macro_f1": best["macro_f1"] if best else None,
            }
        )
    return out


@dataclass
class _Arms:
    """What every arm shares: the data, the student's and the committee's factories, the ledgered teacher."""

    config: SemisupConfig
    x_l: list[str]
    y_l: list[str]
    pool: list[str]
    classes: list[str]
    factory: Callable[[], Any]
    committee: Callable[[], Any]
    labeller: LedgeredTeacher
    score: Callable[[Any], dict[str, Any]]


def run_budget(config: SemisupConfig, *, out: str | Path, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Run the reference and budget arms; writes ``budget.json`` and ``report.md`` to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    set_threads(config.run.threads)
    bl = config.semisup.budget_labelling
    data = prepare_semisup_data(config, data_dir=data_dir)
    name = bl.student or next(iter(config.students))
    if name not in config.students:
        raise ConfigError(f"semisup.budget_labelling.student {name!r} is not a key of students")
    x_l, y_l = [ex.text for ex in data.labelled], [str(ex.label) for ex in data.labelled]
    console.rule(f"[bold cyan]teacher: {config.teacher.type} on {len(x_l)} labelled examples")
    val = [ex.text for ex in data.val], [str(ex.label) for ex in data.val]
    teacher = fit_or_load_teacher(config, x_l, y_l, data.classes, val=val)
    ledger = open_ledger(config.semisup.ledger)
    ctx = _arms_context(config, data, name, LedgeredTeacher(teacher, ledger))
    arms = _reference_arms(ctx)
    for strategy in bl.strategies:
        for fraction in bl.fractions:
            arms.append(_budget_arm(ctx, strategy, fraction))
    result = {
        "config": config.model_dump(mode="json"),
        "classes": data.classes,
        "data": data.report["semisup_split"],
        "student": name,
        "arms": arms,
        "equal_quality": equal_quality_summary(arms, bl.tolerance),
        "tolerance": bl.tolerance,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    title = f"Budget-aware labelling: {result['config']['run']['name']} (student: {result['student']})"
    write_report(out, title=title, sections=budget_sections(result), metrics=result, metrics_name="budget.json")
    if ledger is not None:
        ledger.close()
    return result


def _arms_context(config: SemisupConfig, data: SemisupData, name: str, labeller: LedgeredTeacher) -> _Arms:
    """The student ``name``'s factory, the committee's (``budget_labelling.committee`` or the student with
    another seed) and the scorer every arm is evaluated with (threshold on val, figures on test)."""
    bl, ev, classes = config.semisup.budget_labelling, config.evaluation, data.classes
    spec = config.students[name]
    params = {"random_state": config.run.seed, **spec.params}
    cspec = bl.committee or spec
    cparams = {**cspec.params, "random_state": config.run.seed + (0 if bl.committee else 1)}
    x_val, y_val = [ex.text for ex in data.val], [str(ex.label) for ex in data.val]
    x_test, y_test = [ex.text for ex in data.test], [str(ex.label) for ex in data.test]

    def score(student: Any) -> dict[str, Any]:
        return evaluate_model(student.predict_proba(x_val), student.predict_proba(x_test), y_val, y_test, classes, ev)

    return _Arms(
        config=config,
        x_l=[ex.text for ex in data.labelled],
        y_l=[str(ex.label) for ex in data.labelled],
        pool=[ex.text for ex in data.pool],
        classes=classes,
        factory=lambda: create(spec.type, params),
        committee=lambda: create(cspec.type, cparams),
        labeller=labeller,
        score=score,
    )


def _reference_arms(ctx: _Arms) -> list[dict[str, Any]]:
    """The student on the labelled set only, and on labelled + the whole pool labelled by the teacher."""
    config, classes, pool = ctx.config, ctx.classes, ctx.pool
    console.rule("[bold cyan]reference arms: labelled set only; teacher labels the whole pool")
    t0 = time.perf_counter()
    only = ctx.factory().fit(ctx.x_l, ctx.y_l, classes=classes)
    only_arm = {"strategy": "labelled-only", "fraction": 0.0, "teacher_calls": 0, "teacher_seconds": 0.0}
    arms = [only_arm | {"student_seconds": round(time.perf_counter() - t0, 1)} | ctx.score(only)]
    t0 = time.perf_counter()
    pool_proba = ctx.labeller.predict_proba(pool)
    t1 = time.perf_counter()
    onehot = np.eye(len(classes))[[classes.index(v) for v in ctx.y_l]]
    soft = SoftTargets(
        np.vstack([onehot, pool_proba]), temperature=config.method.temperature, alpha=config.method.alpha
    )
    full = ctx.factory().fit(
        ctx.x_l + pool, ctx.y_l + [classes[j] for j in pool_proba.argmax(axis=1)], soft_targets=soft, classes=classes
    )
    arms.append(
        {
            "strategy": "full",
            "fraction": 1.0,
            "teacher_calls": len(set(pool)),
            "teacher_seconds": round(ctx.labeller.recorded_seconds(pool), 2),
            "student_seconds": round(time.perf_counter() - t1, 1),
            "lookup_seconds": round(t1 - t0, 1),
        }
        | ctx.score(full)
    )
    console.print(f"full: macro-F1 {arms[-1]['macro_f1']:.4f} with {arms[-1]['teacher_calls']} teacher calls")
    return arms


def _budget_arm(ctx: _Arms, strategy: str, fraction: float) -> dict[str, Any]:
    """:func:`budget_label` spending ``fraction`` of the pool's teacher calls, chosen by ``strategy``."""
    config, pool = ctx.config, ctx.pool
    bl = config.semisup.budget_labelling
    budget = int(round(fraction * len(pool)))
    console.rule(f"[bold cyan]{strategy}: {fraction:.0%} of the pool ({budget} teacher calls)")
    t0 = time.perf_counter()
    res = budget_label(
        ctx.labeller,
        ctx.factory,
        ctx.x_l,
        ctx.y_l,
        pool,
        budget=budget,
        rounds=bl.rounds,
        strategy=strategy,
        committee_factory=ctx.committee if strategy == "disagreement" else None,
        self_label_threshold=bl.self_label_threshold,
        targets="soft",
        temperature=config.method.temperature,
        alpha=config.method.alpha,
        classes=ctx.classes,
        random_state=config.run.seed,
    )
    wall = time.perf_counter() - t0
    queried = [pool[i] for i in res.queried]
    arm = {
        "strategy": strategy,
        "fraction": fraction,
        "teacher_calls": len(set(queried)),
        "teacher_seconds": round(ctx.labeller.recorded_seconds(queried), 2),
        "student_seconds": round(wall, 1),
        "rounds": res.rounds,
    } | ctx.score(res.student)
    console.print(f"{strategy} {fraction:.0%}: macro-F1 {arm['macro_f1']:.4f} ({wall:.0f} s)")
    return arm


def _fmt(v: Any, spec: str = ".4f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and v != v) else format(v, spec)


def budget_sections(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``report.md`` sections of a budget-labelling run: every arm, then the equal-quality summary."""
    lines = [
        "Teacher seconds are the cold-cache cost the ledger recorded when each answer was first made; student "
        "seconds are the wall time of the strategy's rounds (student training and pool scoring).",
        "",
        "| strategy | pool share | teacher calls | teacher s | student s | macro-F1 | AUC | TPR@1e-3 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in result["arms"]:
        lines.append(
            f"| {a['strategy']} | {a['fraction']:.0%} | {a['teacher_calls']} | {_fmt(a['teacher_seconds'], '.1f')} | "
            f"{_fmt(a['student_seconds'], '.1f')} | {_fmt(a['macro_f1'])} | {_fmt(a.get('auc'))} | "
            f"{_fmt(a.get('tpr_at_fpr_0.001'))} |"
        )
    summary = [
        f"Equal quality = macro-F1 within {result['tolerance']} of the reference arm (teacher labels all):",
        "",
        "| strategy | reaches it | cheapest share | teacher calls | fewer calls |",
        "|---|---|---|---|---|",
    ]
    for s in result["equal_quality"]:
        frac = "-" if s["fraction"] is None else f"{s['fraction']:.0%}"
        factor = "-" if s["fewer_calls_factor"] is None else f"{s['fewer_calls_factor']:.1f}x"
        summary.append(
            f"| {s['strategy']} | {s['reaches_reference']} | {frac} | {s['teacher_calls'] or '-'} | {factor} |"
        )
    return [
        ("Arms", "\n".join(lines)),
        ("Equal quality", "\n".join(summary)),
        ("Wall time", f"Wall time of the whole run: {result['wall_seconds']:.0f} s."),
    ]
