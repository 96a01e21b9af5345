"""The stages of ``distilsec run``, in the order they run; :func:`distilsec.pipeline.run.run_experiment` composes them.

prepare (read, curate, split; write the splits) -> fit the teacher -> train the students via the method
(distillation, plus a hard-label baseline) -> evaluate (threshold on val, figures on test) -> throughput
-> write the bundles -> write the report. Each stage is one function taking what the earlier ones made.
"""

from __future__ import annotations

import json
import logging
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distilsec import __version__
from distilsec._internal.console import console
from distilsec._internal.device import resolve_device
from distilsec.config import Config, ModelSpec, config_hash, dump_config
from distilsec.evaluation.evaluate import Probas, Report, Split, evaluate
from distilsec.evaluation.throughput import events_per_second
from distilsec.methods.distill import distill
from distilsec.registry import create
from distilsec.serving.export.fast_path import export_fast_path
from distilsec.students.base import ClassifierMixin
from distilsec.tasks.prepare import PreparedData, prepare_data, resolve_evaluation, split_counts

__all__ = [
    "Fitted",
    "announce",
    "evaluate_models",
    "fit_teacher",
    "measure_throughput",
    "model_params",
    "prepare",
    "train_students",
    "check_teacher",
    "dev_split",
    "write_bundles",
    "write_run_report",
]

log = logging.getLogger("distilsec.pipeline.run")


def announce(msg: str) -> None:
    """A stage heading: a rule on the console and a ``==`` line in log.txt."""
    console.rule(f"[bold cyan]{msg}")
    log.info("== %s", msg)


def model_params(spec: ModelSpec, config: Config) -> dict[str, Any]:
    """A model's constructor arguments: its config section, seeded with ``run.seed`` unless it sets its own."""
    params = dict(spec.params)
    params.setdefault("random_state", config.run.seed)
    return params


@dataclass
class Fitted:
    """The run's models by name (the teacher first), what each one is, and its val/test probabilities."""

    models: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    probas: dict[str, Probas] = field(default_factory=dict)
    #: the teacher's soft labels on the training split: what every distilled student learns from.
    teacher_train_proba: np.ndarray | None = None
    #: perturbed training texts and the teacher's probabilities on them (``method.transfer_copies``), or None.
    transfer: tuple[list[str], np.ndarray] | None = None

    def add(self, name: str, model: Any, role: str, probas: Probas | None = None) -> None:
        self.models[name], self.roles[name] = model, role
        if probas is not None:
            self.probas[name] = probas

    @property
    def teacher(self) -> Any:
        return self.models["teacher"]


# ------------------------------------------------------------------------------------------ prepare


def prepare(config: Config, run_dir: Path, *, data_dir: str | Path | None = None) -> tuple[Config, PreparedData]:
    """Data read, curated and split, the label that alerts decided; splits, curation and env written.

    Returns the config with ``evaluation.positive``/``negative`` resolved from the data (it is what the
    run folder's config.yaml records). Every user mistake found here comes before any training.
    """
    (run_dir / "config.yaml").write_text(dump_config(config))
    announce("data: read, normalise, curate, split by group")
    data = prepare_data(config, data_dir=data_dir)
    config = resolve_evaluation(config, data)  # which label alerts: decided before any training
    (run_dir / "config.yaml").write_text(dump_config(config))
    print_warnings(data.report.get("warnings", []), log_them=True)
    splits = run_dir / "splits"
    splits.mkdir(exist_ok=True)
    for name in ("train", "val", "test"):
        (splits / f"{name}.txt").write_text("\n".join(ex.id for ex in getattr(data, name)) + "\n")
    (splits / "curation.json").write_text(json.dumps(data.report, indent=2, default=str))
    (run_dir / "env.json").write_text(json.dumps(_env(config, data), indent=2))
    for name in ("train", "val", "test"):
        part = getattr(data, name)
        console.print(f"{name}: {len(part)} examples, {split_counts(part)['by_label']}")
    return config, data


def print_warnings(warnings: list[str], *, log_them: bool = False) -> None:
    """The data's warnings on the console (at the start and again at the end, where readers look)."""
    for w in warnings:
        console.print(f"[bold yellow]warning:[/] {w}")
        if log_them:
            log.info("warning: %s", w)  # to log.txt once; the console has it already


def _env(config: Config, data: PreparedData) -> dict[str, Any]:
    """What the run ran on (env.json): versions, commit, device, threads and the data's fingerprint."""
    import importlib.metadata as md

    import torch

    def ver(p: str) -> str | None:
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return None

    return {
        "distilsec": __version__,
        "git_sha": _git_sha(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(resolve_device(config.run.device)),
        "torch_threads": torch.get_num_threads(),
        "packages": {p: ver(p) for p in ("torch", "transformers", "scikit-learn", "numpy", "datasketch")},
        "data_fingerprint": data.fingerprint(),
    }


def _git_sha() -> str | None:
    """The commit of the installed source, when it is a git checkout."""
    try:
        cmd = ["git", "rev-parse", "HEAD"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# ------------------------------------------------------------------------------------------ models


def _texts(part: list[Any]) -> list[str]:
    return [ex.text for ex in part]


def _labels(part: list[Any]) -> list[str]:
    return [str(ex.label) for ex in part]


def fit_teacher(config: Config, data: PreparedData, *, reuse: Path | None = None) -> Fitted:
    """The teacher fitted on the training split, scored on train (soft labels), val and test.

    A teacher made of components (an ensemble, see :meth:`ClassifierMixin.components`) scores each once;
    the components are evaluated beside it as ``teacher-<name>``. ``reuse`` is an earlier run's teacher
    bundle to score with instead of fitting one (``distilsec retrain`` without ``review.retrain_teacher``).
    """
    x_tr = _texts(data.train)
    if reuse is not None:
        from distilsec.bundle import load_model

        announce(f"teacher: reused from {reuse} (review.retrain_teacher is false)")
        teacher = load_model(reuse)
    else:
        from distilsec.teachers.viewed import with_view

        announce(f"teacher: {config.teacher.type}")
        teacher = create(*with_view(config.teacher.type, model_params(config.teacher, config)))
        teacher.fit(x_tr, _labels(data.train), classes=data.classes)
    components = teacher.components() if isinstance(teacher, ClassifierMixin) else {}
    if not components:
        fitted = Fitted(teacher_train_proba=teacher.predict_proba(x_tr))
        fitted.add("teacher", teacher, "teacher", _probas(teacher, data))
        return fitted
    _, dev_parts = teacher.predict_proba_components(_texts(data.val))
    _, test_parts = teacher.predict_proba_components(_texts(data.test))
    if reuse is None:  # what the teacher chooses on validation (an ensemble's weights), before any soft label
        teacher.tune(dev_parts, _labels(data.val), view=config.evaluation)
    dev_proba, test_proba = (
        teacher.combine_probas(list(dev_parts.values())),
        teacher.combine_probas(list(test_parts.values())),
    )
    fitted = Fitted(teacher_train_proba=teacher.predict_proba(x_tr))
    fitted.add("teacher", teacher, "teacher", Probas(test=test_proba, dev=dev_proba))
    for name, member in components.items():
        role = f"teacher member ({member.registry_name})"
        fitted.add(f"teacher-{name}", member, role, Probas(test=test_parts[name], dev=dev_parts[name]))
    return fitted


def label_transfer_set(config: Config, data: PreparedData, fitted: Fitted) -> None:
    """The teacher's soft labels on ``method.transfer_copies`` perturbed copies of the training texts.

    Scored once per run (the noise experiment's students learn from the same set): see
    :mod:`distilsec.methods.transfer_set` for why a student learns more from these than from the training rows.
    """
    copies = config.method.transfer_copies
    if not copies:
        return
    from distilsec.methods.transfer_set import VERSION, transfer_texts

    texts = transfer_texts(_texts(data.train), copies, seed=config.run.seed)
    announce(f"transfer set: {len(texts):,} perturbed training texts ({VERSION}, {copies} per row), teacher-labelled")
    fitted.transfer = (texts, fitted.teacher.predict_proba(texts))


def _probas(model: Any, data: PreparedData) -> Probas:
    """A model's val (dev) and test probabilities, val first."""
    dev = model.predict_proba(_texts(data.val))
    return Probas(test=model.predict_proba(_texts(data.test)), dev=dev)


def train_students(config: Config, data: PreparedData, fitted: Fitted) -> None:
    """Every configured student, distilled from the teacher (and, if asked, a hard-label baseline beside it)."""
    x_tr, y_tr = _texts(data.train), _labels(data.train)
    m = config.method
    for name, spec in config.students.items():
        announce(f"student {name!r}: {spec.type}, distilled (T={m.temperature}, alpha={m.alpha})")
        student = create(spec.type, model_params(spec, config))
        distill(
            fitted.teacher,
            student,
            x_tr,
            y_tr,
            temperature=m.temperature,
            alpha=m.alpha,
            teacher_proba=fitted.teacher_train_proba,
            transfer=fitted.transfer,
        )
        fitted.add(name, student, "distilled student")
        if m.hard_label_baseline:
            announce(f"student {name!r}: hard labels only (baseline)")
            hard = create(spec.type, model_params(spec, config)).fit(x_tr, y_tr, classes=data.classes)
            fitted.add(f"{name}-hard", hard, "hard-label student")
    for name, model in fitted.models.items():
        if name not in fitted.probas:
            fitted.probas[name] = _probas(model, data)


# ------------------------------------------------------------------------------------------ evaluate


def dev_split(config: Config, data: PreparedData) -> Split:
    """The validation split the threshold is chosen on (with its sources when the budget holds per source)."""
    dev = Split.from_examples(data.val, metadata=False)
    if config.evaluation.threshold_scope == "per_source":
        dev = Split(dev.texts, dev.labels, sources=[ex.source for ex in data.val])
    return dev


def evaluate_models(config: Config, data: PreparedData, fitted: Fitted) -> dict[str, Report]:
    """Every model on the held-out test groups, at the threshold chosen on val for ``evaluation.target_fpr``.

    Each report's metrics also carry the model's ``role`` and ``params`` (the report's comparison table).
    """
    announce("evaluation on held-out groups")
    test, dev = Split.from_examples(data.test), dev_split(config, data)
    reports: dict[str, Report] = {}
    for name, model in fitted.models.items():
        r = evaluate(fitted.probas[name], test, dev, classes=data.classes, view=config.evaluation)
        r.metrics["role"] = fitted.roles[name]
        r.metrics["params"] = int(getattr(model, "n_parameters", 0))
        reports[name] = r
        m = r.metrics
        console.print(
            f"{name:>24}: AUC {_f(m['auc'])}  macro-F1 {_f(m['macro_f1'])}  "
            f"TPR@1e-3 {_f(m['tpr_at_fpr_0.001'])}  threshold {_f(r.threshold)}"
        )
    return reports


def check_teacher(config: Config, data: PreparedData, fitted: Fitted, reports: dict[str, Report]) -> dict[str, Any]:
    """The teacher against the best student (validation and test) and the threshold's transfer per source.

    Logged, and returned for the report: its warnings join the run's (see :mod:`distilsec.evaluation.teacher_check`).
    """
    from distilsec.evaluation.teacher_check import teacher_check, threshold_transfer

    test_metrics = {name: r.metrics for name, r in reports.items()}
    dev = {name: p.dev for name, p in fitted.probas.items()}
    check = teacher_check(
        dev, fitted.roles, _labels(data.val), test_metrics, classes=data.classes, view=config.evaluation
    )
    check["threshold_transfer"] = threshold_transfer(test_metrics, target_fpr=config.evaluation.target_fpr)
    if check.get("best_student"):
        log.info(
            "teacher check: teacher minus best student (%s) TPR@target: val %+.4f, test %s",
            check["best_student"],
            check["margin_val"],
            check.get("margin_test"),
        )
    return check


def _f(v: Any) -> str:
    """Format a metric that may be None (e.g. AUC on a single-class split)."""
    return "n/a" if v is None else f"{v:.4f}"


def measure_throughput(config: Config, data: PreparedData, fitted: Fitted, results: dict[str, dict[str, Any]]) -> None:
    """Events/s on one thread for every model, side by side (teachers on at most 1,000 texts)."""
    if not config.evaluation.throughput_sample:
        return
    announce("throughput (one thread, side by side)")
    sample = _texts(data.test)[: config.evaluation.throughput_sample]
    for name, model in fitted.models.items():
        texts = sample[:1000] if name.startswith("teacher") else sample
        results[name]["events_per_s_1thread"] = round(events_per_second(model, texts), 1)
        console.print(f"{name:>24}: {results[name]['events_per_s_1thread']:,.0f} events/s")


# ------------------------------------------------------------------------------------------ write


def write_bundles(
    run_dir: Path,
    config: Config,
    data: PreparedData,
    fitted: Fitted,
    results: dict[str, dict[str, Any]],
    *,
    corrections: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """One bundle per model (an ensemble's members inside the teacher's), each with its fast ONNX path and
    its ``MODEL_CARD.md`` (``corrections``: the run's analyst-ledger summary, for the card).

    The manifest is complete when ``save`` returns: the run's entries go in through ``save(extra=...)``.
    """
    from distilsec.bundle import read_manifest
    from distilsec.evaluation.model_card import MODEL_CARD, model_card

    announce("bundles, plots, report")
    bundles = {}
    fingerprint = data.fingerprint()
    for name, model in fitted.models.items():
        if name.startswith("teacher-"):
            continue  # a teacher's component: saved inside the teacher's bundle
        bundle = run_dir / name
        model.save(bundle, extra=_manifest_entries(config, data, results[name], fitted.roles[name], fingerprint))
        bundles[name] = bundle
        export_fast_path(bundle, _texts(data.val), console)  # model.onnx: `score` is fast by default
        card = model_card(
            name,
            config=config,
            manifest=read_manifest(bundle),
            metrics=results[name],
            data_report=data.report,
            label_sources=results[name].get("label_sources"),
            corrections=corrections,
        )
        (bundle / MODEL_CARD).write_text(card, encoding="utf-8")
    return bundles


def _manifest_entries(
    config: Config, data: PreparedData, metrics: dict[str, Any], role: str, fingerprint: str
) -> dict[str, Any]:
    """What ``distilsec score`` needs beside the model: operating point, labels, preprocessing, provenance."""
    ev = config.evaluation
    return {
        "threshold": metrics["threshold"],
        "target_fpr": ev.target_fpr,
        "positive": ev.positive,
        "negative": ev.negative,
        "preprocess": data.preprocess,
        "max_text_chars": config.data.max_text_chars,
        "text_column": config.data.text_column if config.data.task == "table" else None,  # what `score` reads
        "role": role,
        "task": config.data.task,
        "data_fingerprint": fingerprint,
        "metrics": {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))},
        "label_sources": metrics.get("label_sources"),
    }


def write_run_report(
    run_dir: Path,
    config: Config,
    data: PreparedData,
    reports: dict[str, Report],
    results: dict[str, dict[str, Any]],
    noise_rows: list[dict[str, Any]],
    *,
    corrections: dict[str, Any] | None = None,
    teacher_check: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``metrics.json`` and ``report.md`` (with its plots) through the one report writer; returns the metrics.

    ``corrections``: the analyst-ledger summary of a run trained with ``--labels`` (its own section).
    ``teacher_check``: :func:`check_teacher`'s result (its warnings join the data's, its section follows
    the models').
    """
    from distilsec.evaluation.report import write_report
    from distilsec.evaluation.run_report import run_sections

    ev = config.evaluation
    warnings = list(data.report.get("warnings", []))
    if teacher_check:
        warnings += [w for w in [teacher_check.get("warning")] if w]
        warnings += teacher_check.get("threshold_transfer", {}).get("warnings", [])
    metrics = {
        "warnings": warnings,
        "evaluation": {"positive": ev.positive, "negative": ev.negative},
        "models": results,
        "noise_experiment": noise_rows,
        "data": data.report,
        "config_hash": config_hash(config),
    }
    curves = {name: r.curve for name, r in reports.items() if r.curve is not None}
    sections = run_sections(run_dir, config, data, results, curves, noise_rows, warnings=warnings)
    if teacher_check and teacher_check.get("rows"):
        from distilsec.evaluation.teacher_check import teacher_check_markdown

        metrics["teacher_check"] = teacher_check
        at = next((i + 1 for i, (title, _) in enumerate(sections) if title.startswith("Models")), len(sections))
        sections.insert(
            at, ("Teacher check", teacher_check_markdown(teacher_check, teacher_check.get("threshold_transfer")))
        )
    if corrections is not None:
        from distilsec.evaluation.corrections_report import corrections_section

        metrics["analyst_corrections"] = corrections
        sections.insert(1 if warnings else 0, corrections_section(corrections))
    write_report(run_dir, title=f"distilsec run: {config.run.name}", sections=sections, metrics=metrics)
    print_warnings(warnings)  # again at the end, where the reader of the console looks
    console.print(f"[bold green]done[/]: {run_dir}/report.md")
    return metrics
