"""One run, top to bottom: data -> curation -> split -> teacher -> students -> evaluation -> report.

The CLI's ``distilsec run`` is a thin layer over :func:`run_experiment`; a Python user calls the same
function with a :class:`~distilsec.config.Config`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from distilsec import __version__
from distilsec.bundle import update_manifest
from distilsec.config import Config, config_hash, dump_config
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.data.subsample import cap_by_group
from distilsec.data.tasks import load_examples
from distilsec.device import resolve_device
from distilsec.methods.distill import distill
from distilsec.methods.noise import flip_labels
from distilsec.preprocess import get_preprocessor
from distilsec.registry import create
from distilsec.throughput import events_per_second

__all__ = ["run_experiment", "RunResult", "prepare_data", "PreparedData"]

log = logging.getLogger("distilsec.run")
console = Console(stderr=True)


@dataclass
class PreparedData:
    """Curated, normalised, split data plus the reports that explain how it was made."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    classes: list[str]
    preprocess: str
    report: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name in ("train", "val", "test"):
            h.update(name.encode())
            for ex in sorted(getattr(self, name), key=lambda e: e.id):
                h.update(ex.id.encode())
                h.update(hashlib.sha1(ex.text.encode("utf-8", "surrogatepass")).digest())
        return h.hexdigest()


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    bundles: dict[str, Path]


def _stage(msg: str) -> None:
    console.rule(f"[bold cyan]{msg}")
    log.info("== %s", msg)


def prepare_data(config: Config, *, data_dir: str | Path | None = None) -> PreparedData:
    """Read, normalise, curate and split the task's data as the config says."""
    from distilsec.data.curate import curate, drop_cross_split_near_duplicates
    from distilsec.data.shortcut import HTML_CUES, shortcut_audit
    from distilsec.data.split import split_by_group, split_by_time

    seed = config.run.seed
    skips = SkipCounter()
    raw = load_examples(config.data, data_dir=data_dir, skips=skips)
    report: dict[str, Any] = {"read": len(raw), "read_skips": skips.as_dict(), "read_notes": skips.notes_dict()}
    preprocess = {"cmdline": "cmdline", "url": "url"}.get(config.data.task, "none")
    if not config.curation.normalise:
        preprocess = "none"
    norm = get_preprocessor(preprocess)
    normalised = [ex.with_text(norm(ex.text)) for ex in raw]
    raw_text = {ex.id: ex.text for ex in raw}

    curated = curate(
        normalised,
        near_dup_threshold=config.curation.near_dup_threshold,
        num_perm=config.curation.num_perm,
        conflict_policy=config.curation.conflict_policy,
        shingle_max_chars=config.curation.shingle_max_chars,
    )
    report["curation"] = curated.report
    examples = curated.examples
    if config.data.max_examples:
        examples = cap_by_group(examples, config.data.max_examples, seed)
        report["capped_to"] = len(examples)

    if config.split.by == "time":
        if not config.split.time_cutoff:
            from distilsec.errors import ConfigError

            raise ConfigError("split.by = 'time' needs split.time_cutoff (an ISO date)")
        split = split_by_time(
            examples,
            cutoff=config.split.time_cutoff,
            val_fraction=config.split.val_fraction,
            random_state=seed,
        )
    else:
        split = split_by_group(
            examples,
            val_fraction=config.split.val_fraction,
            test_fraction=config.split.test_fraction,
            random_state=seed,
        )
    kept, removed = drop_cross_split_near_duplicates(
        split.train,
        {"val": split.val, "test": split.test},
        threshold=config.curation.near_dup_threshold,
        num_perm=config.curation.num_perm,
        shingle_max_chars=config.curation.shingle_max_chars,
    )
    report["cross_split_near_duplicates_removed"] = removed
    train, val, test = split.train, kept["val"], kept["test"]
    report["split"] = {name: _counts(part) for name, part in (("train", train), ("val", val), ("test", test))}
    if config.curation.shortcut_audit:

        def raw_of(part: list[Example]) -> list[Example]:
            return [ex.with_text(raw_text.get(ex.id, ex.text)) for ex in part]

        report["shortcut_audit"] = shortcut_audit(
            raw_of(train), raw_of(test), train, test, cues=HTML_CUES if config.data.task == "html" else None
        )
    classes = sorted({ex.label for ex in train if ex.label is not None})
    for name, part in (("val", val), ("test", test)):
        unknown = sorted({ex.label for ex in part} - set(classes))
        if unknown:
            log.warning("%s has labels unseen in train: %s (dropped)", name, unknown)
    val = [ex for ex in val if ex.label in classes]
    test = [ex for ex in test if ex.label in classes]
    return PreparedData(train, val, test, classes, preprocess, report)


def _counts(part: list[Example]) -> dict[str, Any]:
    from collections import Counter

    return {
        "n": len(part),
        "by_label": dict(Counter(ex.label for ex in part)),
        "by_source": dict(Counter(ex.source for ex in part)),
        "n_groups": len({ex.group for ex in part}),
    }


def _f(v: Any) -> str:
    """Format a metric that may be None (e.g. AUC on a single-class split)."""
    return "n/a" if v is None else f"{v:.4f}"


def _texts(part: list[Example]) -> list[str]:
    return [ex.text for ex in part]


def _labels(part: list[Example]) -> list[str]:
    return [str(ex.label) for ex in part]


def _env(config: Config, data: PreparedData) -> dict[str, Any]:
    import importlib.metadata as md

    def ver(p: str) -> str | None:
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return None

    try:
        sha = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(__file__).parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        sha = None
    return {
        "distilsec": __version__,
        "git_sha": sha,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(resolve_device(config.run.device)),
        "torch_threads": torch.get_num_threads(),
        "packages": {p: ver(p) for p in ("torch", "transformers", "scikit-learn", "numpy", "datasketch")},
        "data_fingerprint": data.fingerprint(),
    }


def _make_run_dir(config: Config, out: str | Path | None) -> Path:
    if out is not None:
        run_dir = Path(out)
    else:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        run_dir = Path("runs") / config.data.task / f"{stamp}-{config_hash(config)[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _attach_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "log.txt", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("distilsec")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def _model_params(spec: Any, config: Config) -> dict[str, Any]:
    params = dict(spec.params)
    params.setdefault("random_state", config.run.seed)
    return params


def run_experiment(
    config: Config,
    *,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    decontaminate: list[str] | None = None,
) -> RunResult:
    """Train the teacher, distil the students, evaluate them all on held-out groups, write the run.

    ``decontaminate`` names benchmark files whose records (IDs and near-copies) are removed from training
    (the CVE task; see :mod:`distilsec.vuln.run`, to which ``data.task == "cve"`` is dispatched).
    """
    from distilsec.evaluation.metrics import binary_labels, binary_scores, choose_threshold, evaluate
    from distilsec.evaluation.report import write_report

    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    run_dir = _make_run_dir(config, out)
    handler = _attach_log(run_dir)
    try:
        if config.data.task == "cve":
            from distilsec.vuln.run import run_cve

            cve_metrics, cve_bundles = run_cve(config, run_dir, data_dir=data_dir, benchmarks=decontaminate)
            return RunResult(run_dir, cve_metrics, cve_bundles)
        if decontaminate:
            from distilsec.errors import ConfigError

            raise ConfigError("--decontaminate applies to the CVE task (data.task: cve) only")
        (run_dir / "config.yaml").write_text(dump_config(config))
        ev = config.evaluation

        _stage("data: read, normalise, curate, split by group")
        data = prepare_data(config, data_dir=data_dir)
        (run_dir / "splits").mkdir(exist_ok=True)
        for name in ("train", "val", "test"):
            ids = [ex.id for ex in getattr(data, name)]
            (run_dir / "splits" / f"{name}.txt").write_text("\n".join(ids) + "\n")
        (run_dir / "splits" / "curation.json").write_text(json.dumps(data.report, indent=2, default=str))
        (run_dir / "env.json").write_text(json.dumps(_env(config, data), indent=2))
        for name in ("train", "val", "test"):
            part = getattr(data, name)
            console.print(f"{name}: {len(part)} examples, {_counts(part)['by_label']}")
        x_tr, y_tr = _texts(data.train), _labels(data.train)
        parts = {"val": data.val, "test": data.test}

        _stage(f"teacher: {config.teacher.type}")
        teacher = create(config.teacher.type, _model_params(config.teacher, config))
        teacher.fit(x_tr, y_tr, classes=data.classes)
        models: dict[str, Any] = {"teacher": teacher}
        roles: dict[str, str] = {"teacher": "teacher"}
        probas: dict[str, dict[str, np.ndarray]] = {}
        teacher_proba = {"train": teacher.predict_proba(x_tr)}
        if hasattr(teacher, "member_probas"):  # an ensemble: its members are evaluated beside it
            member_probas = {k: teacher.member_probas(_texts(p)) for k, p in parts.items()}
            for i, member in enumerate(teacher.members_):
                key = f"teacher-member-{i}"
                models[key], roles[key] = member, f"teacher member ({member.registry_name})"
                probas[key] = {k: member_probas[k][i] for k in parts}
            for k in parts:
                teacher_proba[k] = teacher.combine_probas(member_probas[k])
        else:
            for name, part in parts.items():
                teacher_proba[name] = teacher.predict_proba(_texts(part))
        probas["teacher"] = {k: teacher_proba[k] for k in parts}
        for name, spec in config.students.items():
            _stage(
                f"student {name!r}: {spec.type}, distilled (T={config.method.temperature}, alpha={config.method.alpha})"
            )
            student = distill(
                teacher,
                create(spec.type, _model_params(spec, config)),
                x_tr,
                y_tr,
                temperature=config.method.temperature,
                alpha=config.method.alpha,
                teacher_proba=teacher_proba["train"],
            )
            models[name], roles[name] = student, "distilled student"
            if config.method.hard_label_baseline:
                _stage(f"student {name!r}: hard labels only (baseline)")
                hard = create(spec.type, _model_params(spec, config)).fit(x_tr, y_tr, classes=data.classes)
                models[f"{name}-hard"], roles[f"{name}-hard"] = hard, "hard-label student"
        for name, model in models.items():
            if name not in probas:
                probas[name] = {k: model.predict_proba(_texts(p)) for k, p in parts.items()}

        _stage("evaluation on held-out groups")
        y_val, y_test = _labels(data.val), _labels(data.test)
        yb_val = binary_labels(y_val, data.classes, negative=ev.negative, positive=ev.positive)
        results: dict[str, dict[str, Any]] = {}
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in models:
            threshold = choose_threshold(
                yb_val,
                binary_scores(probas[name]["val"], data.classes, negative=ev.negative, positive=ev.positive),
                ev.target_fpr,
            )
            m = evaluate(
                y_test,
                probas[name]["test"],
                data.classes,
                positive=ev.positive,
                negative=ev.negative,
                threshold=threshold,
                groups=[e.group for e in data.test],
                sources=[e.source for e in data.test],
                platforms=[e.platform for e in data.test],
            )
            m["role"] = roles[name]
            m["params"] = int(getattr(models[name], "n_parameters", 0))
            results[name] = m
            curves[name] = (
                binary_labels(y_test, data.classes, negative=ev.negative, positive=ev.positive),
                binary_scores(probas[name]["test"], data.classes, negative=ev.negative, positive=ev.positive),
            )
            console.print(
                f"{name:>24}: AUC {_f(m['auc'])}  macro-F1 {_f(m['macro_f1'])}  "
                f"TPR@1e-3 {_f(m['tpr_at_fpr_0.001'])}  threshold {_f(threshold)}"
            )

        if ev.throughput_sample:
            _stage("throughput (one thread, side by side)")
            sample = _texts(data.test)[: ev.throughput_sample]
            for name, model in models.items():
                texts = sample[:1000] if name.startswith("teacher") else sample
                results[name]["events_per_s_1thread"] = round(events_per_second(model, texts), 1)
                console.print(f"{name:>24}: {results[name]['events_per_s_1thread']:,.0f} events/s")

        noise_rows = []
        if config.noise.rates:
            noise_rows = _noise_experiment(config, data, teacher, teacher_proba["train"], yb_val, results)

        _stage("bundles, plots, report")
        bundles = {}
        fingerprint = data.fingerprint()
        for name, model in models.items():
            if name.startswith("teacher-member-"):
                continue  # saved inside the teacher's bundle
            bundle = run_dir / name
            model.save(bundle)
            update_manifest(
                bundle,
                threshold=results[name]["threshold"],
                target_fpr=ev.target_fpr,
                positive=ev.positive,
                negative=ev.negative,
                preprocess=data.preprocess,
                max_text_chars=config.data.max_text_chars,
                role=roles[name],
                task=config.data.task,
                data_fingerprint=fingerprint,
                metrics={k: v for k, v in results[name].items() if not isinstance(v, (dict, list))},
            )
            bundles[name] = bundle
        metrics = {
            "models": results,
            "noise_experiment": noise_rows,
            "data": data.report,
            "config_hash": config_hash(config),
        }
        from distilsec.report_builder import build_report

        sections = build_report(run_dir, config, data, results, curves, noise_rows)
        write_report(run_dir, title=f"distilsec run: {config.run.name}", sections=sections, metrics=metrics)
        console.print(f"[bold green]done[/]: {run_dir}/report.md")
        return RunResult(run_dir, metrics, bundles)
    finally:
        logging.getLogger("distilsec").removeHandler(handler)
        handler.close()


def _noise_experiment(
    config: Config,
    data: PreparedData,
    teacher: Any,
    teacher_train_proba: np.ndarray,
    yb_val: np.ndarray,
    results: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Flip a share of the student's training labels; train hard-label and distilled students on them.

    The teacher stays the one fine-tuned on the clean labels: the seed's setting, where a model trained
    on expert-labelled data teaches a student on a large, noisily labelled set.
    """
    from distilsec.evaluation.metrics import binary_scores, choose_threshold, evaluate

    ev = config.evaluation
    name = config.noise.student or next(iter(config.students))
    spec = config.students[name]
    x_tr, y_tr = _texts(data.train), _labels(data.train)
    x_val, x_test, y_test = _texts(data.val), _texts(data.test), _labels(data.test)
    rows = []
    for rate in config.noise.rates:
        noisy = flip_labels(y_tr, rate, data.classes, random_state=config.run.seed)
        for mode in ("hard labels", "distilled"):
            _stage(f"noise experiment: {rate:.0%} flipped labels, {mode}")
            student = create(spec.type, _model_params(spec, config))
            if mode == "distilled":
                distill(
                    teacher,
                    student,
                    x_tr,
                    noisy,
                    temperature=config.method.temperature,
                    alpha=config.method.alpha,
                    teacher_proba=teacher_train_proba,
                )
            else:
                student.fit(x_tr, noisy, classes=data.classes)
            thr = choose_threshold(
                yb_val,
                binary_scores(student.predict_proba(x_val), data.classes, negative=ev.negative, positive=ev.positive),
                ev.target_fpr,
            )
            m = evaluate(
                y_test,
                student.predict_proba(x_test),
                data.classes,
                positive=ev.positive,
                negative=ev.negative,
                threshold=thr,
            )
            rows.append(
                {
                    "noise_rate": rate,
                    "mode": mode,
                    "student": name,
                    "auc": m["auc"],
                    "macro_f1": m["macro_f1"],
                    "tpr_at_fpr_0.001": m["tpr_at_fpr_0.001"],
                    "accuracy": m["accuracy"],
                }
            )
            console.print(f"noise {rate:.0%} {mode:>12}: AUC {_f(m['auc'])} macro-F1 {_f(m['macro_f1'])}")
    teacher_m = results.get("teacher", {})
    for mode, key in (("hard labels", f"{name}-hard"), ("distilled", name)):
        if key in results:
            rows.insert(
                0,
                {
                    "noise_rate": 0.0,
                    "mode": mode,
                    "student": name,
                    "auc": results[key]["auc"],
                    "macro_f1": results[key]["macro_f1"],
                    "tpr_at_fpr_0.001": results[key]["tpr_at_fpr_0.001"],
                    "accuracy": results[key]["accuracy"],
                },
            )
    rows.append(
        {
            "noise_rate": None,
            "mode": "teacher",
            "student": "teacher",
            "auc": teacher_m.get("auc"),
            "macro_f1": teacher_m.get("macro_f1"),
            "tpr_at_fpr_0.001": teacher_m.get("tpr_at_fpr_0.001"),
            "accuracy": teacher_m.get("accuracy"),
        }
    )
    return rows
