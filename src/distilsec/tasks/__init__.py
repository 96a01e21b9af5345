"""Tasks: one module per task (cmdline, url, html, table, cve), each declaring a :class:`Task` record.

A task says what it reads (its ``inputs``), how texts are normalised before training and scoring (a name
of :data:`distilsec.data.preprocess.PREPROCESSORS`), what one group is (the unit the splits keep whole, so
that near-copies of one site or binary never straddle train and test), and which metric family scores it.
``data.task`` in a config is looked up here. A new task is one module with a ``TASK`` record, its name in
:data:`TASK_MODULES`, and a config.

Task modules are imported only when their task is asked for, so that reading a config imports no reader.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from distilsec.data.skips import SkipCounter
    from distilsec.tasks.loaders import Input

__all__ = ["Task", "TASK_MODULES", "get_task", "task_names"]

#: ``inputs(data_section, data_dir, skips)``: the task's inputs (files or upstream sources), in reading order.
InputsFn = Callable[[Any, "str | Path | None", "SkipCounter"], Iterator["Input"]]


@dataclass(frozen=True)
class Task:
    """What one task declares: where its examples come from and how they are prepared and scored."""

    name: str
    #: the inputs of this task (see :func:`distilsec.tasks.loaders.load_examples`); None: the task has its
    #: own reading pipeline (cve: records merged by CVE ID, see :mod:`distilsec.tasks.cve`).
    inputs: InputsFn | None
    #: the text normalisation applied in training and scoring (``curation.normalise: false`` turns it off).
    preprocess: str
    #: what :attr:`~distilsec.data.example.Example.group` holds for this task: the unit a split keeps whole.
    split_unit: str
    #: how its models are scored: ``detection`` (threshold at a target FPR, PR/ROC), ``cwe`` (top-k + CVSS) or
    #: ``attack`` (technique top-k, parent back-off, passage-level multi-label F1).
    metric_family: Literal["detection", "cwe", "attack"] = "detection"


#: task name -> the module that declares its ``TASK`` record
TASK_MODULES: dict[str, str] = {
    "cmdline": "distilsec.tasks.cmdline",
    "url": "distilsec.tasks.url",
    "html": "distilsec.tasks.html",
    "table": "distilsec.tasks.table",
}

#: the CVE task reads and splits its data in its own pipeline (:mod:`distilsec.tasks.cve`,
#: :mod:`distilsec.pipeline.cve`); its record lives here so that looking it up imports neither.
_CVE = Task(
    name="cve",
    inputs=None,
    preprocess="none",
    split_unit="time (train/val published before split.time_cutoff, test from it)",
    metric_family="cwe",
)

#: the ATT&CK task reads, splits and purges its data in its own pipeline (:mod:`distilsec.tasks.attack`);
#: like CVE, its record lives here so that looking it up imports no reader.
_ATTACK = Task(
    name="attack",
    inputs=None,
    preprocess="none",
    split_unit="source (group/software/campaign, cited reports purged)",
    metric_family="attack",
)
#: the tasks with a pipeline of their own, by name
_OWN_PIPELINE: dict[str, Task] = {_CVE.name: _CVE, _ATTACK.name: _ATTACK}

_MISSING: Any = object()


def task_names() -> list[str]:
    """Every task a config's ``data.task`` may name."""
    return [*TASK_MODULES, *_OWN_PIPELINE]


def get_task(name: str, missing: Any = _MISSING) -> Task:
    """The :class:`Task` record of ``name`` (imports its module); ``missing`` is returned for an unknown name
    when given, else a :class:`~distilsec.errors.ConfigError` lists the known tasks."""
    if name in _OWN_PIPELINE:
        return _OWN_PIPELINE[name]
    module = TASK_MODULES.get(name)
    if module is None:
        if missing is not _MISSING:
            return missing
        from distilsec.errors import ConfigError

        raise ConfigError(f"unknown task {name!r} in data.task; known: {', '.join(task_names())}")
    task: Task = importlib.import_module(module).TASK
    return task
