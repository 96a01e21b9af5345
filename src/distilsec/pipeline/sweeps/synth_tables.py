"""The seed's Tables 1 and 2: does synthetic data teach a small model attacks it has never seen?

Whole attacks (phishing brands, LOLBin binaries) are held out of training, validation and the general
test set. The *production* model trains on the rest, without synthetic data. Each further arm trains the
same model on the same data plus samples generated from seeds (V1: seeds of every training attack;
V2: seeds of one attack only), filtered (parse check, no near-copy of the seeds, of validation, of
the general test set or of any held-out page, optional judge). Table 1 scores the held-out attacks;
Table 2 checks on the general test set that nothing else got worse.

Notes
-----
The seed continued training its production model on the synthetic set; here every arm is trained from
scratch on real + synthetic data with the same seed, which isolates the effect of the data. Thresholds
are chosen per model on validation data for ``evaluation.target_fpr`` (the stored threshold), never on
held-out or test data.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distilsec._internal.console import console
from distilsec._internal.device import set_threads
from distilsec.data.example import Example
from distilsec.errors import ConfigError, DataError
from distilsec.evaluation import Report, Split, evaluate
from distilsec.evaluation.metrics import binary_scores
from distilsec.pipeline.sweeps.synth_config import SynthArm, SynthConfig
from distilsec.pipeline.teacher_fit import fit_configured_teacher
from distilsec.registry import create

__all__ = ["run_synth_tables"]

log = logging.getLogger("distilsec.methods.synthesize")


def _attack_key(by: str, names: Sequence[str]) -> Callable[[Example], str]:
    """``ex -> attack``: which of ``names`` the example belongs to (lower case), ``""`` for none."""
    wanted = {n.lower() for n in names}
    if by == "mentions":
        alternatives = "|".join(re.escape(n) for n in sorted(wanted, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w-])({alternatives})(?:\.exe|\.dll)?(?![\w-])", re.I)

        def mentioned(ex: Example) -> str:
            m = pattern.search(ex.text)
            return m.group(1).lower() if m else ""

        return mentioned
    if by == "brand":  # a generated page's brand is the one it was re-skinned for

        def brand(ex: Example) -> str:
            target = (ex.meta.get("provenance") or {}).get("target_brand")
            k = str(ex.meta.get("brand") or target or ex.group).lower()
            return k if k in wanted else ""

        return brand
    return lambda ex: k if (k := str(ex.group).lower()) in wanted else ""


def _target_brands(names: Sequence[str]) -> Any:
    """Brand objects for the HTML generators (known names keep their colours; others get defaults)."""
    if not names:
        return None
    from distilsec.methods.synthesize.brands import DEFAULT_BRANDS, Brand

    known = {b.name.lower(): b for b in DEFAULT_BRANDS}
    return [known.get(n.lower(), Brand(n, "account")) for n in names]


def _generator(config: SynthConfig, arm: SynthArm, task: str) -> Any:
    from distilsec.methods.synthesize import LLMGenerator, make_mutator

    s = config.synth
    brands = _target_brands(s.target_brands)
    if arm.generator == "mutate":
        gen = make_mutator(task)
        if brands is not None and hasattr(gen, "brands"):
            gen.brands = brands
        return gen
    kwargs: dict[str, Any] = {"brands": brands} if brands is not None else {}
    return LLMGenerator(
        task,
        model=s.llm_model,
        endpoint=s.llm_endpoint,
        ledger=s.ledger,
        temperature=s.llm_temperature,
        n_threads=s.llm_threads,
        max_tokens=s.llm_max_tokens,
        **kwargs,
    )


def _seeds(train: list[Example], arm: SynthArm, positive: str, by: str, rs: int) -> list[Example]:
    seeds = [ex for ex in train if ex.label == positive]
    if arm.seeds == "groups":
        if not arm.seed_groups:
            raise ConfigError("a synth arm with seeds: groups needs seed_groups")
        key = _attack_key(by, arm.seed_groups)
        seeds = [ex for ex in seeds if key(ex)]
        if not seeds:
            raise DataError(f"no {positive} training example matches seed_groups {arm.seed_groups} (by {by})")
    if arm.max_seeds is not None and len(seeds) > arm.max_seeds:
        seeds = random.Random(rs).sample(seeds, arm.max_seeds)
    return seeds


def _fit(config: SynthConfig, name: str, texts: list[str], y: list[str], classes: list[str]) -> Any:
    spec = config.students[name]
    params = dict(spec.params)
    params.setdefault("random_state", config.run.seed)
    return create(spec.type, params).fit(texts, y, classes=classes)


@dataclass
class _HeldOut:
    """The data with whole attacks held out: ``train``/``val``/``test`` hold none of them, ``holdout`` all."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    holdout: list[Example]
    positives: list[Example]  # the held-out attacks' malicious examples (Table 1's rows)
    key: Callable[[Example], str]


def run_synth_tables(config: SynthConfig, *, out: str | Path, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Train production and synthetic-data arms, score held-out attacks and the general test set.

    Writes ``report.md``, ``metrics.json``, ``table1.{md,png}``, ``table2.{md,png}`` and one folder
    per arm under ``samples/`` (the generated samples, rejections and filter statistics).
    """
    from distilsec.pipeline.run import prepare_data

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task, student = _check(config)
    set_threads(config.run.threads)
    t0 = time.perf_counter()
    console.rule("[bold cyan]data: read, curate, split; hold out whole attacks")
    data = prepare_data(config, data_dir=data_dir)
    held = _hold_out(config, data)
    x_tr, y_tr = [e.text for e in held.train], [str(e.label) for e in held.train]
    judge = _fit_judge(config, held, data.classes)
    arms: dict[str, dict[str, Any]] = {"production": {"synthetic": 0}}
    models: dict[str, Any] = {}
    console.rule(f"[bold cyan]production: {config.students[student].type}, no synthetic data")
    models["production"] = _fit(config, student, x_tr, y_tr, data.classes)
    for name, arm in config.synth.arms.items():
        arms[name], synthetic = _synth_arm(config, name, arm, task, held, judge, data.preprocess, out)
        x_syn, y_syn = [e.text for e in synthetic], [str(e.label) for e in synthetic]
        models[name] = _fit(config, student, x_tr + x_syn, y_tr + y_syn, data.classes)
    console.rule("[bold cyan]evaluation: held-out attacks (Table 1), general test set (Table 2)")
    reports = _evaluate_arms(config, models, held, data.classes)
    thresholds = {n: r.threshold for n, r in reports.items()}
    s = config.synth
    metrics = {
        "task": task,
        "holdout_by": s.holdout_by,
        "holdout": sorted({h.lower() for h in s.holdout}),
        "n": {"train": len(held.train), "val": len(held.val), "test": len(held.test), "holdout": len(held.holdout)},
        "arms": arms,
        "thresholds": thresholds,
        "table1": _table1(config, models, held, data.classes, thresholds),
        "table2": _table2(config, reports, arms),
        "general_test": {n: r.metrics for n, r in reports.items()},
        "seconds": round(time.perf_counter() - t0, 1),
        "data_report": data.report,
    }
    _write(out, config, metrics, list(models))
    console.print(f"[bold green]done[/]: {out}/report.md")
    return metrics


def _check(config: SynthConfig) -> tuple[str, str]:
    """The task and the student of the tables, after the checks made before reading any data."""
    s = config.synth
    task = s.task or config.data.task
    if task not in ("cmdline", "url", "html"):
        raise ConfigError(f"synth.task must be cmdline, url or html (data.task is {config.data.task!r})")
    if not s.holdout:
        raise ConfigError("synth.holdout names no held-out attack (brands or groups)")
    student = s.student or next(iter(config.students), None)
    if student not in config.students:
        raise ConfigError(f"synth.student {student!r} is not a key of students ({list(config.students)})")
    return task, student


def _hold_out(config: SynthConfig, data: Any) -> _HeldOut:
    """Move every example of a ``synth.holdout`` attack, from whichever split, into the held-out set."""
    s = config.synth
    key = _attack_key(s.holdout_by, s.holdout)
    held = {h.lower() for h in s.holdout}
    parts = {"train": data.train, "val": data.val, "test": data.test}
    holdout = [ex for p in parts.values() for ex in p if key(ex)]
    train, val, test = ([ex for ex in p if not key(ex)] for p in parts.values())
    held_pos = [ex for ex in holdout if ex.label == s.positive]
    if not held_pos:
        raise DataError(f"no {s.positive} example matches synth.holdout {sorted(held)} (by {s.holdout_by})")
    missing = sorted(held - {key(ex) for ex in held_pos})
    if missing:
        log.warning("held-out attacks with no %s example: %s", s.positive, missing)
    return _HeldOut(train, val, test, holdout, held_pos, key)


def _fit_judge(config: SynthConfig, held: _HeldOut, classes: list[str]) -> Any:
    """The ``synth.judge`` model filtering generated samples (None for ``none``), fitted on the training part
    (a ``teacher`` judge as ``distilsec run`` fits it: views, an ensemble's weights chosen on validation)."""
    s = config.synth
    if s.judge == "none":
        return None
    console.rule(f"[bold cyan]judge: {s.judge}")
    x_tr, y_tr = [e.text for e in held.train], [str(e.label) for e in held.train]
    if s.judge == "teacher":
        val = [e.text for e in held.val], [str(e.label) for e in held.val]
        return fit_configured_teacher(config, x_tr, y_tr, classes, val)
    if s.judge in config.students:
        return _fit(config, s.judge, x_tr, y_tr, classes)
    raise ConfigError(f"synth.judge must be 'none', 'teacher' or a students key, not {s.judge!r}")


def _synth_arm(
    config: SynthConfig,
    name: str,
    arm: SynthArm,
    task: str,
    held: _HeldOut,
    judge: Any,
    preprocess: Any,
    out: Path,
) -> tuple[dict[str, Any], list[Example]]:
    """Generate and filter one arm's synthetic samples (written under ``samples/<name>``); its summary row."""
    from distilsec.methods.synthesize import synthesize
    from distilsec.methods.synthesize.report import write_synth_run

    s = config.synth
    console.rule(f"[bold cyan]{name}: {arm.generator} generator, seeds {arm.seeds} {arm.seed_groups or ''}")
    seeds = _seeds(held.train, arm, s.positive, s.holdout_by, config.run.seed)
    generator = _generator(config, arm, task)
    t_gen = time.perf_counter()
    try:
        result = synthesize(
            generator,
            seeds,
            n_per_seed=arm.n_per_seed,
            task=task,
            protected=held.val + held.test + held.holdout,
            judge=judge,
            judge_threshold=s.judge_threshold,
            near_dup_threshold=s.near_dup_threshold,
            preprocess=preprocess,
            random_state=config.run.seed,
        )
    finally:
        if hasattr(generator, "close"):
            generator.close()
    gen_seconds = time.perf_counter() - t_gen
    cost = generator.cost() if hasattr(generator, "cost") else {}
    write_synth_run(out / "samples" / name, result.examples, result.rejected, result.stats, seeds=seeds)
    synthetic = result.examples
    summary = {
        "generator": getattr(generator, "name", arm.generator),
        "seeds": len(seeds),
        "seed_attacks": sorted({e.group for e in seeds})[:50],
        "synthetic": len(synthetic),
        # what the generator knew of the held-out attacks (binary-swap tables, an LLM's pretraining):
        # samples that are about a held-out attack without copying any held-out example
        "synthetic_naming_holdout": sum(1 for e in synthetic if held.key(e)),
        "generated": result.stats.get("generated"),
        "rejected_by_filter": result.stats.get("rejected_by_filter"),
        "near_duplicate_share_protected": result.stats.get("near_duplicate_share_protected"),
        "generation_seconds": round(gen_seconds, 1),
        "llm_cost": cost,
    }
    console.print(f"{name}: {len(synthetic)} synthetic samples kept of {result.stats.get('generated')}")
    if not synthetic:
        log.warning("%s: no synthetic sample passed the filters; the arm equals production", name)
    return summary, synthetic


def _evaluate_arms(
    config: SynthConfig, models: dict[str, Any], held: _HeldOut, classes: list[str]
) -> dict[str, Report]:
    """Each model on the general test set at the threshold chosen on validation (the stored threshold)."""
    test = Split.from_examples(held.test, metadata=False)
    dev = Split.from_examples(held.val, metadata=False)
    return {n: evaluate(m, test, dev, classes=classes, view=config.evaluation) for n, m in models.items()}


def _table1(
    config: SynthConfig, models: dict[str, Any], held: _HeldOut, classes: list[str], thresholds: dict[str, Any]
) -> list[dict[str, Any]]:
    """Mean score and recall at each model's threshold per held-out attack, all of them, and their benign rows."""
    s, ev = config.synth, config.evaluation

    def scores(model: Any, exs: list[Example]) -> np.ndarray:
        proba = model.predict_proba([e.text for e in exs])
        return binary_scores(proba, classes, negative=ev.negative, positive=ev.positive)

    held_pos = held.positives
    held_neg = [ex for ex in held.holdout if ex.label != s.positive]
    held_scores = {n: scores(m, held_pos) for n, m in models.items()}
    table1 = []
    for attack in sorted({held.key(e) for e in held_pos}):
        idx = [i for i, e in enumerate(held_pos) if held.key(e) == attack]
        table1.append(_score_row(attack, {n: sc[idx] for n, sc in held_scores.items()}, thresholds))
    table1.append(_score_row("**all**", held_scores, thresholds))
    if held_neg:
        neg_scores = {n: scores(m, held_neg) for n, m in models.items()}
        table1.append(_score_row("benign of held-out groups (FPR)", neg_scores, thresholds))
    return table1


def _score_row(label: str, scores: dict[str, np.ndarray], thresholds: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"held-out attack": label, "n": len(next(iter(scores.values())))}
    for n, sc in scores.items():
        row[f"{n} score"] = float(np.mean(sc))
        row[f"{n} recall"] = float(np.mean(sc >= thresholds[n]))
    return row


def _table2(config: SynthConfig, reports: dict[str, Report], arms: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each model's headline figures on the general test set: nothing else may get worse."""
    ev = config.evaluation
    fpr_key = f"tpr_at_fpr_{ev.target_fpr:g}"
    return [
        {
            "model": n,
            "synthetic samples": arms[n]["synthetic"],
            "accuracy": r.metrics.get("accuracy"),
            "AUC": r.metrics.get("auc"),
            "macro-F1": r.metrics.get("macro_f1"),
            f"TPR@{ev.target_fpr:g}": r.metrics.get(fpr_key),
            "threshold": r.threshold,
        }
        for n, r in reports.items()
    ]


def _write(out: Path, config: SynthConfig, metrics: dict[str, Any], names: list[str]) -> None:
    from distilsec.config import dump_config
    from distilsec.evaluation.report import markdown_image, markdown_table, write_report

    (out / "config.yaml").write_text(dump_config(config))
    cols1 = ["held-out attack", "n"] + [f"{n} {k}" for k in ("score", "recall") for n in names]
    t1 = markdown_table(metrics["table1"], cols1, floatfmt=".3f")
    t2 = markdown_table(metrics["table2"], floatfmt=".4f")
    (out / "table1.md").write_text(t1 + "\n")
    (out / "table2.md").write_text(t2 + "\n")
    _plot_tables(out, metrics, names)
    arm_rows = [
        {
            "arm": n,
            "generator": a.get("generator", "-"),
            "seeds": a.get("seeds", 0),
            "seed attacks": ", ".join(a.get("seed_attacks", [])[:8]) or "-",
            "generated": a.get("generated", 0),
            "kept": a.get("synthetic", 0),
            "kept naming a held-out attack": a.get("synthetic_naming_holdout", 0),
            "rejected by filter": json.dumps(a.get("rejected_by_filter") or {}),
            "near-dup share of protected": a.get("near_duplicate_share_protected"),
            "seconds": a.get("generation_seconds", 0),
        }
        for n, a in metrics["arms"].items()
    ]
    s = config.synth
    model_type = config.students[s.student or next(iter(config.students))].type
    sections = [
        (
            "Set-up",
            f"Task `{metrics['task']}`; held out by {metrics['holdout_by']}: {', '.join(metrics['holdout'])} "
            f"({metrics['n']['holdout']} examples, never in training, validation or the general test set). "
            f"Training {metrics['n']['train']}, validation {metrics['n']['val']}, general test "
            f"{metrics['n']['test']}. Every model is `{model_type}` "
            f"trained from scratch with seed {config.run.seed}; thresholds chosen on validation for FPR "
            f"{config.evaluation.target_fpr:g}. Judge: `{s.judge}`."
            + (f" Target brands: {', '.join(s.target_brands)}." if s.target_brands else ""),
        ),
        ("Synthetic data per arm", markdown_table(arm_rows, floatfmt=".4f")),
        (
            "Table 1: held-out attacks",
            "Mean score and recall at each model's stored threshold on the held-out attacks' malicious "
            "examples (the last row, where present: the same groups' benign examples; there 'recall' is "
            "the false-positive rate).\n\n" + t1 + "\n\n" + markdown_image(out / "table1.png", out),
        ),
        (
            "Table 2: general test set",
            "The same models on the general test set (held-out attacks removed): nothing else may get worse."
            "\n\n" + t2 + "\n\n" + markdown_image(out / "table2.png", out),
        ),
        (
            "Samples",
            "Generated samples, rejections and filter statistics per arm: "
            + ", ".join(f"[`samples/{n}/`](samples/{n}/report.md)" for n in metrics["arms"] if n != "production"),
        ),
    ]
    write_report(out, title=f"Synthetic data: {config.run.name}", sections=sections, metrics=metrics)


def _plot_tables(out: Path, metrics: dict[str, Any], names: list[str]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in metrics["table1"] if not str(r["held-out attack"]).startswith("benign")]
    fig = Figure(figsize=(max(6.0, 0.9 * len(rows) * len(names) / 2), 3.6), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    x = np.arange(len(rows))
    for i, n in enumerate(names):
        ax.bar(x + i * width, [r[f"{n} recall"] for r in rows], width, label=n)
    ax.set_xticks(x + width * (len(names) - 1) / 2, [str(r["held-out attack"]).strip("*") for r in rows])
    ax.tick_params(axis="x", rotation=30)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("recall at stored threshold")
    ax.set_title("Table 1: held-out attacks")
    ax.legend(fontsize=8)
    fig.savefig(out / "table1.png")

    fig = Figure(figsize=(6.0, 3.2), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    keys = ["accuracy", "AUC", "macro-F1"]
    x = np.arange(len(keys))
    for i, row in enumerate(metrics["table2"]):
        vals = [np.nan if row.get(k) is None else row[k] for k in keys]
        ax.bar(x + i * width, vals, width, label=row["model"])
    ax.set_xticks(x + width * (len(names) - 1) / 2, keys)
    lo = min((row[k] for row in metrics["table2"] for k in keys if row.get(k) is not None), default=0.0)
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_title("Table 2: general test set")
    ax.legend(fontsize=8)
    fig.savefig(out / "table2.png")
