"""The ATT&CK run, top to bottom: data -> baseline -> teacher (cross-fitted) -> students -> decisions -> report.

``distilsec run configs/attack-techniques.yaml --out DIR`` lands here (``run_experiment`` dispatches on
``data.task == "attack"``). Every model is wrapped in the same :class:`~distilsec.students.attack_model.
AttackModel` (technique index, back-off and thresholds chosen on validation) and scored on the same held-out
*sources* (groups, software, campaigns and cited reports the training never saw). The shipped bundle is
``DIR/attack-model`` and ``DIR/manifest.json`` points at it, so ``--model DIR`` works everywhere.

The teacher's soft labels for the students' training rows come from the teacher fitted on all of them (Hinton's
recipe), or, with ``attack.oof_folds: K``, are *cross-fitted* over K folds of whole sources. Cross-fitting
sounds cleaner, but measured on the source split it hurts: each fold's teacher saw only (K-1)/K of the sources
and is then *weaker* than the student (top-1 0.65 vs 0.68), so its labels pull the student down (0.683 vs 0.699
with the full teacher; BENCHMARKS.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from distilsec._internal.console import console
from distilsec._internal.device import limit_threads
from distilsec.bundle import write_manifest
from distilsec.config import AttackSection, Config, ModelSpec, config_hash, dump_config
from distilsec.data.example import Example
from distilsec.errors import ConfigError, DataError
from distilsec.evaluation.attack_evaluate import evaluate_attack, tune_decisions
from distilsec.evaluation.attack_model_card import attack_model_card
from distilsec.evaluation.model_card import MODEL_CARD
from distilsec.evaluation.report import markdown_table, write_report
from distilsec.methods.distill import align_proba
from distilsec.methods.pseudo_label import select_confident
from distilsec.pipeline.attack_pool import Pool, build_pool, pseudo_label_report
from distilsec.registry import create
from distilsec.students.attack_model import AttackModel
from distilsec.students.base import SoftTargets
from distilsec.students.technique_index import NONE, TechniqueIndex
from distilsec.tasks.attack import AttackData, AttackDataOptions, prepare_attack_data, shortcut_audit

__all__ = ["run_attack", "SHIPPED", "RUN_TYPE"]

log = logging.getLogger("distilsec.pipeline.run")
SHIPPED = "attack-model"
RUN_TYPE = "attack_run"


def _stage(msg: str) -> None:
    console.rule(f"[bold cyan]{msg}")
    log.info("== %s", msg)


class _Clock:
    """Stage timings (``metrics.json`` ``timings_s``), in the order the stages ran."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 1)


def _texts(part: Sequence[Example]) -> list[str]:
    return [e.text for e in part]


def _labels(part: Sequence[Example]) -> list[str]:
    return [str(e.label) for e in part]


def _build(spec: ModelSpec, seed: int) -> Any:
    params = dict(spec.params)
    model = create(spec.type, params)
    if "random_state" in model.get_params() and "random_state" not in params:
        model.set_params(random_state=seed)
    return model


def _options(section: AttackSection, seed: int) -> AttackDataOptions:
    return AttackDataOptions(
        domains=tuple(f"{d}-attack" for d in section.domains),
        names=section.names,
        negatives=section.negatives,
        technique_descriptions=section.technique_descriptions,
        capec=section.capec,
        val_fraction=section.val_fraction,
        test_fraction=section.test_fraction,
        random_state=seed,
        decontamination_threshold=section.decontamination.threshold,
    )


def _index(data: AttackData) -> TechniqueIndex:
    kb = data.kb
    return TechniqueIndex.from_records((t.id, t.name, t.tactics, t.parent) for t in kb.techniques.values())


def _folds(part: Sequence[Example], k: int, seed: int) -> np.ndarray:
    """Fold of each row: whole groups (sources) per fold, in a hashed order, sizes balanced by rows."""
    import hashlib

    sizes: dict[str, int] = {}
    for e in part:
        sizes[e.group] = sizes.get(e.group, 0) + 1
    order = sorted(sizes, key=lambda g: hashlib.sha1(f"{seed}\0{g}".encode()).hexdigest())
    load = [0] * k
    fold_of = {}
    for g in order:
        f = int(np.argmin(load))
        fold_of[g] = f
        load[f] += sizes[g]
    return np.array([fold_of[e.group] for e in part])


def _cross_fitted(spec: ModelSpec, train: Sequence[Example], classes: list[str], k: int, seed: int) -> np.ndarray:
    """The teacher's probabilities for every training row from a teacher that never saw that row's source."""
    folds = _folds(train, k, seed)
    texts, labels = _texts(train), _labels(train)
    out = np.zeros((len(train), len(classes)))
    for f in range(k):
        fit_rows, held = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        log.info("teacher fold %d/%d: fit on %d rows, label %d", f + 1, k, len(fit_rows), len(held))
        model = _build(spec, seed).fit([texts[i] for i in fit_rows], [labels[i] for i in fit_rows], classes=classes)
        out[held] = align_proba(model.predict_proba([texts[i] for i in held]), model.classes_, classes)
    return out


def _sentences_per_second(model: AttackModel, texts: list[str]) -> float:
    """Sentences tagged per second on one thread (features, model and decisions), best of two passes."""
    from distilsec.teachers.embedding_linear import clear_embedding_cache

    best = 0.0
    clear_embedding_cache()  # a teacher reading a frozen encoder must pay for it here, not read its cache
    with limit_threads(1):
        model.tag(texts[:50])
        for _ in range(2):
            t0 = time.perf_counter()
            for start in range(0, len(texts), 512):
                model.tag(texts[start : start + 512])
            best = max(best, len(texts) / max(time.perf_counter() - t0, 1e-9))
            clear_embedding_cache()
    return round(best, 1)


def _fit_models(
    config: Config, data: AttackData, classes: list[str], clock: _Clock, pool: Pool | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Baseline, teacher, distilled students (and their hard-label twins), by name, fitted on ``data.train``;
    with an unlabelled ``pool``, each distilled student also learns from the pool sentences the teacher labels
    confidently, and a ``{name}-no-pool`` twin (same recipe, no pool) measures what the pool adds. Also returns
    what the teacher kept of the pool (None without one)."""
    section, seed = config.attack, config.run.seed
    assert section is not None
    texts, labels = _texts(data.train), _labels(data.train)
    models: dict[str, Any] = {}
    if section.baseline is not None:
        _stage("baseline (hard labels)")
        with clock.lap("baseline"):
            models["baseline"] = _build(section.baseline, seed).fit(texts, labels, classes=classes)
    with clock.lap("teacher"):
        _stage("teacher: fit on every training row")
        models["teacher"] = teacher = _build(config.teacher, seed).fit(texts, labels, classes=classes)
    with clock.lap("teacher_soft_labels"):
        if section.oof_folds:
            _stage(f"teacher: cross-fitted soft labels ({section.oof_folds} folds of sources)")
            soft = _cross_fitted(config.teacher, data.train, classes, section.oof_folds, seed)
        else:
            _stage("teacher: soft labels on the training rows")
            soft = align_proba(teacher.predict_proba(texts), teacher.classes_, classes)
    method = config.method
    targets = SoftTargets(soft, temperature=method.temperature, alpha=method.alpha)
    pool_texts, pool_labels, pool_soft, pool_report = _label_pool(section, teacher, pool, classes, clock)
    with_pool = SoftTargets(np.vstack([soft, pool_soft]), temperature=method.temperature, alpha=method.alpha)
    for name, spec in config.students.items():
        extra = f" (+ {len(pool_texts):,} teacher-labelled pool sentences)" if pool is not None else ""
        _stage(f"student {name}: distilled{extra}")
        with clock.lap(f"student:{name}"):
            models[name] = _build(spec, seed).fit(
                texts + pool_texts, labels + pool_labels, soft_targets=with_pool, classes=classes
            )
        if pool is not None:
            _stage(f"student {name}-no-pool: distilled, without the unlabelled pool")
            with clock.lap(f"student:{name}-no-pool"):
                models[f"{name}-no-pool"] = _build(spec, seed).fit(texts, labels, soft_targets=targets, classes=classes)
        if config.method.hard_label_baseline:
            _stage(f"student {name}-hard: hard labels only")
            with clock.lap(f"student:{name}-hard"):
                models[f"{name}-hard"] = _build(spec, seed).fit(texts, labels, classes=classes)
    return models, pool_report


def _label_pool(
    section: AttackSection, teacher: Any, pool: Pool | None, classes: list[str], clock: _Clock
) -> tuple[list[str], list[str], np.ndarray, dict[str, Any] | None]:
    """The pool sentences the teacher is confident about, their labels and soft labels, and the report."""
    if pool is None:
        return [], [], np.zeros((0, len(classes))), None
    _stage(f"teacher: labels the unlabelled pool ({len(pool):,} sentences)")
    with clock.lap("pool_labels"):
        proba = (
            align_proba(teacher.predict_proba(pool.texts), teacher.classes_, classes)
            if len(pool)
            else np.zeros((0, len(classes)))
        )
    kept = select_confident(
        proba, threshold=section.pseudo_label_threshold, max_per_class=section.pseudo_label_max_per_class
    )
    labels = [classes[j] for j in proba.argmax(axis=1)]
    report = pseudo_label_report(pool, labels, kept, section.pseudo_label_threshold)
    log.info(
        "pool: kept %d of %d sentences (top probability >= %s); kept pseudo-labels right: %s",
        len(kept),
        len(pool),
        section.pseudo_label_threshold,
        report["pseudo_label_accuracy_kept"],
    )
    return [pool.texts[i] for i in kept], [labels[i] for i in kept], proba[kept], report


def _choose_shipped(section: AttackSection, results: dict[str, dict[str, Any]]) -> str:
    if section.shipped != "best_val":
        if section.shipped not in results:
            raise ConfigError(f"attack.shipped: {section.shipped!r} is not a model of this run: {', '.join(results)}")
        return section.shipped
    fits = {n: r for n, r in results.items() if r["n_parameters"] <= section.max_shipped_params}
    if not fits:
        raise ConfigError(f"attack.max_shipped_params: no model has at most {section.max_shipped_params} parameters")
    return max(fits, key=lambda n: (fits[n]["val"]["top1"], n))


def run_attack(
    config: Config, run_dir: Path, *, data_dir: str | Path | None = None, benchmarks: Sequence[str] | None = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Train and evaluate every model of the config on a source split of ATT&CK; write bundles and the report."""
    section = config.attack
    if section is None:
        raise ConfigError("attack: data.task 'attack' needs an attack section (see configs/attack-techniques.yaml)")
    clock = _Clock()
    (run_dir / "config.yaml").write_text(dump_config(config))
    _stage("data: ATT&CK procedures, negatives, split by source")
    with clock.lap("data"):
        data = prepare_attack_data(
            _options(section, config.run.seed),
            data_dir,
            benchmarks=[*section.decontamination.benchmarks, *(benchmarks or [])],
        )
        audit = data.report.get("shortcut_audit") or shortcut_audit(data, random_state=config.run.seed)
    _write_splits(run_dir, data)
    _check_positives(data)
    data, pool = build_pool(section, data, config.run.seed)
    if pool is not None and pool.hidden_ids:  # splits/train.txt lists them too: say which lost their labels
        (run_dir / "splits" / "unlabelled.txt").write_text("\n".join(pool.hidden_ids) + "\n")
    index = _index(data)
    classes = sorted({str(e.label) for e in data.train})
    models, pool_report = _fit_models(config, data, classes, clock, pool)
    results: dict[str, dict[str, Any]] = {}
    wrapped: dict[str, AttackModel] = {}
    throughput_texts = _texts(data.test)[: section.throughput_sample]
    for name, model in models.items():
        _stage(f"evaluate {name}: decisions on validation, figures on held-out sources")
        with clock.lap(f"evaluate:{name}"):
            tagger = AttackModel(model, index, top_k=section.top_k)
            decisions = tune_decisions(
                tagger, data.val, ratios=section.backoff_ratios, min_support=section.min_threshold_support
            )
            val = evaluate_attack(tagger, data.val)
            test = evaluate_attack(tagger, data.test)
            rate = _sentences_per_second(tagger, throughput_texts) if throughput_texts else None
        results[name] = {
            "n_parameters": int(getattr(model, "n_parameters", 0)),
            "decisions": decisions,
            "val": val["sentences"] | {"false_tags_per_1000": val["negatives"]["false_tags_per_1000"]},
            "test": test,
            "sentences_per_s_1thread": rate,
        }
        wrapped[name] = tagger
        s = test["sentences"]
        log.info(
            "%s: test top-1 %.4f, top-3 %.4f, parent %.4f; %s false tags/1000 negatives",
            name,
            s["top1"],
            s["top3"],
            s["parent_top1"],
            test["negatives"]["false_tags_per_1000"],
        )
    shipped = _choose_shipped(section, results)
    _stage(f"bundles: {shipped} ships as {SHIPPED}")
    bundles = _write_bundles(run_dir, config, wrapped, results, shipped, data.report, audit, pool_report)
    metrics = {
        "task": "attack",
        "data": data.report,
        "shortcut_audit": audit,
        "unlabelled": pool_report,
        "models": results,
        "shipped": shipped,
        "timings_s": clock.timings,
    }
    _write_run_report(run_dir, config, metrics)
    return metrics, bundles


def _check_positives(data: AttackData) -> None:
    """Validation and test must each hold a procedure sentence: thresholds, back-off and every figure are
    chosen or measured on them (a small bundle split by source can leave one with negatives only)."""
    for name in ("val", "test"):
        part = getattr(data, name)
        if not any(e.label != NONE for e in part):
            raise DataError(
                f"attack: the split by source left no procedure sentence in {name} ({len(part)} negatives only): "
                "the ATT&CK bundle has too few sources; use a bigger one or raise attack.val_fraction/test_fraction"
            )


def _write_splits(run_dir: Path, data: AttackData) -> None:
    splits = run_dir / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val", "test"):
        (splits / f"{name}.txt").write_text("\n".join(e.id for e in getattr(data, name)) + "\n")
    (splits / "data.json").write_text(json.dumps(data.report, indent=2, default=str))
    # the held-out sentences in the `--per-line` format (one sentence per line, its technique beside it)
    with (splits / "test-sentences.tsv").open("w", encoding="utf-8") as f:
        f.write("label\tsentence\n")
        for e in data.test:
            f.write(f"{e.label}\t{e.text.replace(chr(9), ' ').replace(chr(10), ' ')}\n")


def _write_bundles(
    run_dir: Path,
    config: Config,
    wrapped: dict[str, AttackModel],
    results: dict[str, Any],
    shipped: str,
    data_report: dict[str, Any],
    audit: dict[str, Any] | None,
    pool_report: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Every tagger as a bundle (the shipped one as ``attack-model``), each with its ``MODEL_CARD.md``."""
    fingerprint = config_hash(config)
    bundles = {}
    for name, tagger in wrapped.items():
        folder = SHIPPED if name == shipped else f"{SHIPPED}-{name}"
        extra = {"role": name, "metrics": {"test": results[name]["test"]["sentences"]}, "config_hash": fingerprint}
        bundles[name] = tagger.save(run_dir / folder, extra=extra)
        card = attack_model_card(
            folder,
            role=name,
            config=config,
            result=results[name],
            data_report=data_report,
            audit=audit,
            distilled=name.removesuffix("-no-pool") in config.students,
            pool=pool_report if name in config.students else None,
        )
        (bundles[name] / MODEL_CARD).write_text(card, encoding="utf-8")
    write_manifest(run_dir, {"type": RUN_TYPE, "shipped": SHIPPED, "config_hash": fingerprint})
    return bundles


def _row(name: str, r: dict[str, Any], shipped: str) -> dict[str, Any]:
    s, t = r["test"]["sentences"], r["test"]
    return {
        "model": name + (" (shipped)" if name == shipped else ""),
        "top-1": s["top1"],
        "top-3": s["top3"],
        "parent top-1": s["parent_top1"],
        "macro-F1": s["macro_f1"],
        "passage micro-F1": t["passages"]["exact"]["micro_f1"],
        "passage macro-F1": t["passages"]["exact"]["macro_f1"],
        "false tags /1k negatives": t["negatives"]["false_tags_per_1000"],
        "parameters": r["n_parameters"],
        "sentences/s (1 thread)": r["sentences_per_s_1thread"],
    }


def _json_block(value: Any, limit: int = 6000) -> str:
    return "```json\n" + json.dumps(value, indent=1, default=str)[:limit] + "\n```"


def _write_run_report(run_dir: Path, config: Config, metrics: dict[str, Any]) -> None:
    from distilsec.evaluation.plots import plot_per_tactic

    results, shipped = metrics["models"], metrics["shipped"]
    table = markdown_table([_row(n, r, shipped) for n, r in results.items()])
    image = plot_per_tactic(
        {n: r["test"]["sentences"]["per_tactic_top1"] for n, r in results.items()}, run_dir / "per_tactic_top1.png"
    )
    decisions = [
        {
            "model": n,
            "back-off ratio": r["decisions"]["backoff_ratio"],
            "global threshold": r["decisions"]["threshold"],
            "per-technique thresholds": r["decisions"]["per_technique_thresholds"],
            "val top-1": r["val"]["top1"],
        }
        for n, r in results.items()
    ]
    d = metrics["data"]
    sections = [
        ("Held-out sources (test)", table + f"\n\n![top-1 per tactic]({image.name})\n"),
        ("Data and split", _json_block({k: v for k, v in d.items() if k != "read"})),
        ("Shortcut audit (the actor/software name alone)", _json_block(metrics["shortcut_audit"])),
        *(
            [("Unlabelled pool (semi-supervised)", _json_block(metrics["unlabelled"]))]
            if metrics.get("unlabelled")
            else []
        ),
        ("Decisions chosen on validation", markdown_table(decisions)),
        ("Timings (s)", markdown_table([{"stage": k, "seconds": v} for k, v in metrics["timings_s"].items()])),
    ]
    write_report(run_dir, title=f"ATT&CK technique tagging: {config.run.name}", sections=sections, metrics=metrics)
