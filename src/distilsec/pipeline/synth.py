"""A file-level synthesis job behind ``distilsec synth``: seeds and protected set in, a run folder out.

It only wires the library together: read the seeds (files, or a run config's training split filtered
by group) and the protected set (files, plus the config's validation and test splits), build the
generator, load the judge bundle, run :func:`~distilsec.methods.synthesize.synthesize` and write the
run folder (:func:`~distilsec.methods.synthesize.report.write_synth_run`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.errors import ConfigError, DataError

__all__ = ["SynthJob", "run_synth_job", "GENERATORS"]

log = logging.getLogger("distilsec.methods.synthesize")

GENERATORS = ("mutate", "llm")


@dataclass
class SynthJob:
    """Everything ``distilsec synth`` was asked to do (the CLI's arguments, as data)."""

    seeds: Sequence[str] = ()
    out: str = "runs/synth"
    task: str | None = None
    generator: str = "mutate"
    n_per_seed: int = 4
    label: str | None = None
    config: str | None = None
    groups: Sequence[str] = ()
    protect: Sequence[str] = ()
    judge: str | None = None
    judge_threshold: float = 0.5
    model: str = "qwen2.5-coder-0.5b"
    endpoint: str | None = None
    ledger: str | None = "default"
    temperature: float = 0.8
    max_calls: int | None = None
    near_dup_threshold: float = 0.9
    max_seeds: int | None = None
    random_state: int = 0
    progress: bool = True


def _guess_task(seeds: Sequence[Example]) -> str:
    from distilsec.methods.synthesize.filters import check_url

    if sum(1 for s in seeds if re.match(r"\s*<(?:!doctype|!--|[a-z])", s.text, re.I)) > len(seeds) / 2:
        return "html"  # commands and URLs do not start with a tag
    if sum(1 for s in seeds if check_url(s.text) is None and " " not in s.text) > len(seeds) / 2:
        return "url"
    return "cmdline"


def _make_generator(job: SynthJob, task: str) -> Any:
    from distilsec.methods.synthesize import LLMGenerator, make_mutator

    if job.generator == "mutate":
        return make_mutator(task)
    if job.generator == "llm":
        return LLMGenerator(
            task,
            model=job.model,
            endpoint=job.endpoint,
            ledger=job.ledger,
            temperature=job.temperature,
            max_calls=job.max_calls,
        )
    raise ConfigError(f"--generator must be one of {list(GENERATORS)}, not {job.generator!r}")


def run_synth_job(job: SynthJob) -> tuple[Path, Any]:
    """Run ``job``; returns the run folder and the :class:`~distilsec.methods.synthesize.SynthResult`."""
    from distilsec.data.seeds import read_seeds, seeds_from_config
    from distilsec.methods.synthesize import synthesize
    from distilsec.methods.synthesize.report import write_synth_run

    skips = SkipCounter()
    seeds: list[Example] = []
    protected: list[Example] = []
    task = job.task
    if job.config:
        seeds, protected, cfg_task = seeds_from_config(job.config, groups=job.groups)
        task = task or cfg_task
    elif job.groups:
        raise ConfigError("--group filters the labelled set of a run config: give --config too")
    if job.seeds:
        seeds += [
            s
            for s in read_seeds(job.seeds, label=job.label, skips=skips)
            if not job.groups or s.group in set(job.groups)
        ]
    if not seeds:
        raise DataError("no seeds: give seed files, or --config with --group")
    if job.max_seeds is not None:
        seeds = seeds[: job.max_seeds]
    if job.protect:
        protected += read_seeds(job.protect, skips=SkipCounter())
    task = task or _guess_task(seeds)
    judge = None
    if job.judge:
        from distilsec.bundle import load_model

        judge = load_model(job.judge)
    generator = _make_generator(job, task)
    try:
        result = synthesize(
            generator,
            seeds,
            n_per_seed=job.n_per_seed,
            task=task,
            protected=protected,
            judge=judge,
            judge_threshold=job.judge_threshold,
            near_dup_threshold=job.near_dup_threshold,
            random_state=job.random_state,
            progress=job.progress,
        )
    finally:
        if hasattr(generator, "close"):
            generator.close()
        if judge is not None and hasattr(judge, "close"):
            judge.close()
    result.stats["seed_skips"] = skips.as_dict()
    result.stats["seed_notes"] = skips.notes_dict()
    settings = {k: v for k, v in vars(job).items() if k != "progress"}
    settings["task"] = task
    out = write_synth_run(
        job.out, result.examples, result.rejected, result.stats, seeds=result.seeds, settings=settings
    )
    return out, result
