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
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from distilsec import __version__
from distilsec._internal.device import resolve_device
from distilsec.bundle import update_manifest
from distilsec.config import Config, config_hash, dump_config
from distilsec.data.example import Example
from distilsec.data.preprocess import get_preprocessor
from distilsec.data.skips import SkipCounter
from distilsec.data.stats import row_accounting_problems
from distilsec.data.subsample import cap_by_group
from distilsec.errors import ConfigError, DataError, DistilsecError
from distilsec.evaluation.labels import (
    DetectionView,
    check_enough_classes,
    resolve_detection_view,
    small_split_warnings,
)
from distilsec.evaluation.throughput import events_per_second
from distilsec.methods.distill import distill
from distilsec.methods.noise import flip_labels
from distilsec.registry import create
from distilsec.serving.runtime.fast_path import export_fast_path
from distilsec.tasks.loaders import load_examples

__all__ = ["run_experiment", "RunResult", "prepare_data", "PreparedData", "resolve_evaluation", "RUN_FOLDER_MARKERS"]

log = logging.getLogger("distilsec.pipeline.run")
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
    #: the alert / all-clear labels, resolved from the labels before any training (None: not resolved yet).
    view: DetectionView | None = None

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
    by_input: dict[str, dict[str, Any]] = {}
    raw = load_examples(config.data, data_dir=data_dir, skips=skips, by_input=by_input)
    report: dict[str, Any] = {
        "rows_in": len(raw) + skips.total,  # rows in = rows read + rows skipped (by reason)
        "read": len(raw),
        "read_skips": skips.as_dict(),
        "read_notes": skips.notes_dict(),
        "read_by_input": by_input,
    }
    row_accounting_problems(report)  # logs an error line for any gap
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
    counts = Counter(str(ex.label) for ex in examples)
    check_enough_classes(counts, f"the {config.data.task} data ({_source(config)})")
    view = _detection_view(config, sorted(counts))
    if config.data.max_examples:
        examples = cap_by_group(examples, config.data.max_examples, seed)
        report["capped_to"] = len(examples)

    if config.split.by == "time":
        if not config.split.time_cutoff:  # validated with the config; kept for configs built without it
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
    # the audit's own default is "not benign" (or the second of two labels); other label sets need the view
    audit_positive = None if "benign" in counts else view.positive if len(counts) == 2 else ""
    if config.curation.shortcut_audit and audit_positive == "":
        log.info("shortcut audit skipped: several classes and none named 'benign'")
    elif config.curation.shortcut_audit:

        def raw_of(part: list[Example]) -> list[Example]:
            return [ex.with_text(raw_text.get(ex.id, ex.text)) for ex in part]

        report["shortcut_audit"] = shortcut_audit(
            raw_of(train),
            raw_of(test),
            train,
            test,
            cues=HTML_CUES if config.data.task == "html" else None,
            positive=audit_positive,
        )
    classes = sorted({ex.label for ex in train if ex.label is not None})
    check_enough_classes(Counter(str(ex.label) for ex in train), "the training split")
    for name, part in (("val", val), ("test", test)):
        unknown = sorted({ex.label for ex in part} - set(classes))
        if unknown:
            log.warning("%s has labels unseen in train: %s (dropped)", name, unknown)
    val = [ex for ex in val if ex.label in classes]
    test = [ex for ex in test if ex.label in classes]
    report["warnings"] = small_split_warnings({"val": _labels(val), "test": _labels(test)}, classes)
    report["evaluation"] = {"positive": view.positive, "negative": view.negative, "note": view.note}
    return PreparedData(train, val, test, classes, preprocess, report, view)


def _detection_view(config: Config, classes: list[str]) -> DetectionView:
    """Which label alerts (printed when inferred); a ConfigError naming evaluation.positive if unknowable."""
    ev = config.evaluation
    view = resolve_detection_view(classes, ev.positive, ev.negative, explicit=ev.model_fields_set)
    if view.note:
        console.print(f"[bold]note:[/] {view.note}")
        log.info("%s", view.note)
    return view


def _source(config: Config) -> str:
    """What was read, for messages: the table's file and label column, or the task's data folder."""
    if config.data.path:
        return f"{config.data.path}, label column {config.data.label_column!r}"
    return f"data.task {config.data.task!r}"


def resolve_evaluation(config: Config, data: PreparedData) -> Config:
    """The config with ``evaluation.positive``/``negative`` spelled as in the data's classes (see
    :func:`~distilsec.evaluation.labels.resolve_detection_view`), checked before any training.

    Also refuses splits the evaluation cannot use: an empty val/test split, or a val split without the
    negative class (the operating threshold is chosen for a false-positive rate on it).
    """
    ev = config.evaluation
    view = data.view or _detection_view(config, data.classes)
    for name in ("val", "test"):
        if not getattr(data, name):
            raise DataError(
                f"the {name} split is empty ({len(data.train)} training rows): add data or raise split.{name}_fraction"
            )
    if view.negative in data.classes and not any(ex.label == view.negative for ex in data.val):
        raise DataError(
            f"the val split has no {view.negative!r} examples, so no threshold can be chosen for "
            f"evaluation.target_fpr: add data or raise split.val_fraction"
        )
    resolved = ev.model_copy(update={"positive": view.positive, "negative": view.negative})
    return config.model_copy(update={"evaluation": resolved})


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


#: files every run writes first: a folder holding them is a distilsec run folder that ``--overwrite`` may clear.
RUN_FOLDER_MARKERS = ("config.yaml", "log.txt")


def _make_run_dir(config: Config, out: str | Path | None, *, overwrite: bool = False) -> Path:
    """The run folder: new, or an old run folder cleared with ``overwrite`` (never one that holds other files).

    A re-run into a used folder would otherwise leave the old run's bundles beside the new ones.
    """
    if out is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        run_dir = Path("runs") / config.data.task / f"{stamp}-{config_hash(config)[:8]}"
    else:
        run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file, not a folder: pass a folder path for the run")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not overwrite:
            raise ConfigError(
                f"--out {run_dir} already holds files (an earlier run?): pass --overwrite to replace that run, "
                "or choose a new folder"
            )
        if not all((run_dir / m).is_file() for m in RUN_FOLDER_MARKERS):
            raise ConfigError(
                f"--out {run_dir} is not empty and is not a distilsec run folder (no {' + '.join(RUN_FOLDER_MARKERS)}):"
                " refusing to delete its files even with --overwrite; choose a new folder"
            )
        _clear_folder(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"--out {run_dir}: cannot create the folder ({exc.strerror}: {exc.filename})") from None
    return run_dir


def _clear_folder(folder: Path) -> None:
    """Delete a folder's contents (not the folder); links are removed, never followed."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


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
    overwrite: bool = False,
) -> RunResult:
    """Train the teacher, distil the students, evaluate them all on held-out groups, write the run.

    ``decontaminate`` names benchmark files whose records (IDs and near-copies) are removed from training
    (the CVE task; see :mod:`distilsec.pipeline.cve`, to which ``data.task == "cve"`` is dispatched).
    ``out`` must be new or empty; ``overwrite`` clears an earlier run folder there first.
    """
    from distilsec.evaluation.metrics import binary_labels, binary_scores, choose_threshold, evaluate
    from distilsec.evaluation.report import write_report

    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    existed = out is not None and Path(out).is_dir()
    run_dir = _make_run_dir(config, out, overwrite=overwrite)
    handler = _attach_log(run_dir)
    checking = config.data.task != "cve"  # True until training starts: a mistake found by then leaves no folder
    try:
        if config.data.task == "cve":
            from distilsec.pipeline.cve import run_cve

            cve_metrics, cve_bundles = run_cve(config, run_dir, data_dir=data_dir, benchmarks=decontaminate)
            return RunResult(run_dir, cve_metrics, cve_bundles)
        if decontaminate:
            raise ConfigError("--decontaminate applies to the CVE task (data.task: cve) only")
        (run_dir / "config.yaml").write_text(dump_config(config))

        _stage("data: read, normalise, curate, split by group")
        data = prepare_data(config, data_dir=data_dir)
        config = resolve_evaluation(config, data)  # which label alerts: decided before any training
        ev = config.evaluation
        (run_dir / "config.yaml").write_text(dump_config(config))
        warnings = list(data.report.get("warnings", []))
        for w in warnings:
            console.print(f"[bold yellow]warning:[/] {w}")
            log.info("warning: %s", w)  # to log.txt; the console has it already
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

        checking = False
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
                text_column=config.data.text_column if config.data.task == "table" else None,  # what `score` reads
                role=roles[name],
                task=config.data.task,
                data_fingerprint=fingerprint,
                metrics={k: v for k, v in results[name].items() if not isinstance(v, (dict, list))},
            )
            bundles[name] = bundle
            export_fast_path(bundle, _texts(data.val), console)  # model.onnx: `score` is fast by default
        metrics = {
            "warnings": warnings,
            "evaluation": {"positive": ev.positive, "negative": ev.negative},
            "models": results,
            "noise_experiment": noise_rows,
            "data": data.report,
            "config_hash": config_hash(config),
        }
        from distilsec.evaluation.run_report import build_report

        sections = build_report(run_dir, config, data, results, curves, noise_rows)
        if warnings:
            sections.insert(0, ("Warnings", "\n".join(f"- **{w}**" for w in warnings)))
        write_report(run_dir, title=f"distilsec run: {config.run.name}", sections=sections, metrics=metrics)
        for w in warnings:  # again at the end, where the reader of the console looks
            console.print(f"[bold yellow]warning:[/] {w}")
        console.print(f"[bold green]done[/]: {run_dir}/report.md")
        return RunResult(run_dir, metrics, bundles)
    except DistilsecError:
        if checking:  # the data or labels were refused before training: nothing to keep, and no --overwrite
            logging.getLogger("distilsec").removeHandler(handler)
            handler.close()
            _clear_folder(run_dir) if existed else shutil.rmtree(run_dir, ignore_errors=True)
        raise
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
