"""One run, top to bottom: data -> curation -> split -> teacher -> students -> evaluation -> bundles -> report.

The CLI's ``distilsec run`` is a thin layer over :func:`run_experiment`; a Python user calls the same
function with a :class:`~distilsec.config.Config`. The stages themselves are in :mod:`distilsec.pipeline.stages`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilsec._internal.console import attach_run_log
from distilsec._internal.device import set_threads
from distilsec.config import Config, config_hash
from distilsec.errors import ConfigError, DistilsecError
from distilsec.pipeline import stages
from distilsec.pipeline.corrections import (
    Corrections,
    check_ledger,
    override_soft_targets,
    prepare_corrections,
    record_label_sources,
)
from distilsec.pipeline.noise import noise_experiment
from distilsec.pipeline.tracking import check_tracking, log_run
from distilsec.tasks.prepare import PreparedData, prepare_data, resolve_evaluation
from distilsec.teachers.viewed import check_views

__all__ = ["run_experiment", "RunResult", "prepare_data", "PreparedData", "resolve_evaluation", "RUN_FOLDER_MARKERS"]

log = logging.getLogger("distilsec.pipeline.run")

#: tasks whose run is a pipeline of its own (``module:function(config, run_dir, *, data_dir, benchmarks)
#: -> (metrics, bundles)``); every other task runs :func:`run_experiment`'s stages.
TASK_PIPELINES = {"cve": "distilsec.pipeline.cve:run_cve", "attack": "distilsec.pipeline.attack:run_attack"}

#: files every run writes first: a folder holding them is a distilsec run folder that ``--overwrite`` may clear.
RUN_FOLDER_MARKERS = ("config.yaml", "log.txt")


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    bundles: dict[str, Path]


def run_experiment(
    config: Config,
    *,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    decontaminate: list[str] | None = None,
    overwrite: bool = False,
    labels: str | Path | None = None,
    baseline: Path | None = None,
) -> RunResult:
    """Train the teacher, distil the students, evaluate them all on held-out groups, write the run.

    ``decontaminate`` names benchmark files whose records (IDs and near-copies) are removed from training
    (the CVE task, whose own pipeline :data:`TASK_PIPELINES` names). ``out`` must be new or empty;
    ``overwrite`` clears an earlier run folder there first. ``labels`` is an analyst label ledger: its
    labels outrank the teacher's and the original ones (:mod:`distilsec.pipeline.corrections`);
    ``baseline`` is the earlier run the report compares with (``distilsec retrain``), whose teacher is
    reused unless ``review.retrain_teacher`` is set.
    """
    set_threads(config.run.threads)
    check_tracking(config)  # a missing tracker fails now, not after training
    check_views({"type": config.teacher.type, **config.teacher.params})  # an unknown view too
    if labels is not None:
        check_ledger(labels)  # a damaged ledger fails now, not after reading the data
    existed = out is not None and Path(out).is_dir()
    run_dir = _make_run_dir(config, out, overwrite=overwrite)
    handler = attach_run_log(run_dir)
    try:
        own = _task_pipeline(config.data.task)
        if own is not None and labels is not None:
            _detach(handler)
            _clear_folder(run_dir) if existed else shutil.rmtree(run_dir, ignore_errors=True)
            raise ConfigError(f"--labels applies to classification runs, not to the {config.data.task} task")
        if own is not None:
            return RunResult(run_dir, *own(config, run_dir, data_dir=data_dir, benchmarks=decontaminate))
        try:  # a mistake found before training leaves no folder (and so needs no --overwrite)
            if decontaminate:
                raise ConfigError("--decontaminate applies to the CVE and ATT&CK tasks (data.task: cve, attack) only")
            config, data = stages.prepare(config, run_dir, data_dir=data_dir)
            corrections: Corrections | None = None
            if labels is not None:
                data, corrections = prepare_corrections(run_dir, data, labels)
        except DistilsecError:
            _detach(handler)
            _clear_folder(run_dir) if existed else shutil.rmtree(run_dir, ignore_errors=True)
            raise
        reuse = _reused_teacher(config, baseline)
        fitted = stages.fit_teacher(config, data, reuse=reuse)
        if corrections is not None and fitted.teacher_train_proba is not None:  # analyst outranks teacher
            classes = list(fitted.teacher.classes_)
            fitted.teacher_train_proba = override_soft_targets(
                classes, data.train, fitted.teacher_train_proba, corrections
            )
        stages.label_transfer_set(config, data, fitted)
        stages.train_students(config, data, fitted)
        reports = stages.evaluate_models(config, data, fitted)
        check = stages.check_teacher(config, data, fitted, reports)
        results = {name: r.metrics for name, r in reports.items()}
        record_label_sources(results, fitted.roles, len(data.train), corrections, teacher_reused=reuse is not None)
        stages.measure_throughput(config, data, fitted, results)
        noise_rows = noise_experiment(config, data, fitted, results)
        summary = None
        if corrections is not None:
            from distilsec.pipeline.comparison import corrections_summary

            summary = corrections_summary(config, data, fitted, reports, results, corrections, baseline)
        bundles = stages.write_bundles(run_dir, config, data, fitted, results, corrections=summary)
        metrics = stages.write_run_report(
            run_dir, config, data, reports, results, noise_rows, corrections=summary, teacher_check=check
        )
        log_run(run_dir, config, metrics, bundles)
        return RunResult(run_dir, metrics, bundles)
    finally:
        _detach(handler)


def _reused_teacher(config: Config, baseline: Path | None) -> Path | None:
    """The baseline run's teacher bundle when a retraining keeps it (``review.retrain_teacher`` unset/false)."""
    if baseline is None or (config.review is not None and config.review.retrain_teacher):
        return None
    teacher = baseline / "teacher"
    if not (teacher / "manifest.json").is_file():
        log.warning("%s has no teacher bundle: fitting the teacher again", baseline)
        return None
    return teacher


def _task_pipeline(task: str) -> Callable[..., tuple[dict[str, Any], dict[str, Path]]] | None:
    """The pipeline a task declares in :data:`TASK_PIPELINES` (None: the stages below); says which runs."""
    target = TASK_PIPELINES.get(task)
    if target is None:
        log.info("task %s: the distillation pipeline (distilsec.pipeline.stages) runs", task)
        return None
    module, _, function = target.partition(":")
    log.info("task %s: its own pipeline runs (%s)", task, target)
    return getattr(importlib.import_module(module), function)


def _detach(handler: logging.Handler) -> None:
    """Stop writing this run's log.txt (idempotent), so a second run in the process logs to its own folder."""
    logging.getLogger("distilsec").removeHandler(handler)
    handler.close()


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
        _check_clearable(run_dir, overwrite)
        _clear_folder(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"--out {run_dir}: cannot create the folder ({exc.strerror}: {exc.filename})") from None
    return run_dir


def _check_clearable(run_dir: Path, overwrite: bool) -> None:
    """Refuse to clear a non-empty folder without ``--overwrite``, or one that is not a distilsec run folder."""
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


def _clear_folder(folder: Path) -> None:
    """Delete a folder's contents (not the folder); links are removed, never followed."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
