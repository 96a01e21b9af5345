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
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from distilsec.config import SynthArm, SynthSection
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.errors import ConfigError, DataError

__all__ = ["run_synth_job", "synth_settings", "GENERATORS"]

log = logging.getLogger("distilsec.methods.synthesize")

GENERATORS = ("mutate", "llm")

#: ``distilsec synth`` option -> (``synth`` section or arm, its key there): the CLI and a config's ``synth``
#: section are one schema, so ``--near-dup-threshold`` is checked exactly as ``synth.near_dup_threshold``.
_OPTIONS = {
    "task": ("section", "task"),
    "judge_threshold": ("section", "judge_threshold"),
    "near_dup_threshold": ("section", "near_dup_threshold"),
    "model": ("section", "llm_model"),
    "endpoint": ("section", "llm_endpoint"),
    "temperature": ("section", "llm_temperature"),
    "ledger": ("section", "ledger"),
    "generator": ("arm", "generator"),
    "n_per_seed": ("arm", "n_per_seed"),
    "max_seeds": ("arm", "max_seeds"),
}


def synth_settings(**options: Any) -> tuple[SynthSection, SynthArm]:
    """The ``synth`` section and the one arm that ``distilsec synth``'s options (see ``_OPTIONS``) describe.

    A bad value is one :class:`~distilsec.errors.ConfigError` naming the option (``--n-per-seed: ...``).
    """
    if options.get("generator", "mutate") not in GENERATORS:
        raise ConfigError(f"--generator must be one of {list(GENERATORS)}, not {options['generator']!r}")
    parts: dict[str, dict[str, Any]] = {"section": {}, "arm": {}}
    for name, value in options.items():
        part, key = _OPTIONS[name]
        parts[part][key] = value
    try:
        return SynthSection(**parts["section"]), SynthArm(**parts["arm"])
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0])
        option = next(o for o, (_, k) in _OPTIONS.items() if k == key)
        raise ConfigError(f"--{option.replace('_', '-')}: {err['msg']} (got {err.get('input')!r})") from None


def _guess_task(seeds: Sequence[Example]) -> str:
    from distilsec.methods.synthesize.filters import check_url

    if sum(1 for s in seeds if re.match(r"\s*<(?:!doctype|!--|[a-z])", s.text, re.I)) > len(seeds) / 2:
        return "html"  # commands and URLs do not start with a tag
    if sum(1 for s in seeds if check_url(s.text) is None and " " not in s.text) > len(seeds) / 2:
        return "url"
    return "cmdline"


def _make_generator(section: SynthSection, arm: SynthArm, task: str, max_calls: int | None) -> Any:
    from distilsec.methods.synthesize import LLMGenerator, make_mutator

    if arm.generator == "mutate":
        return make_mutator(task)
    return LLMGenerator(
        task,
        model=section.llm_model,
        endpoint=section.llm_endpoint,
        ledger=section.ledger,
        temperature=section.llm_temperature,
        max_calls=max_calls,
    )


def run_synth_job(
    section: SynthSection,
    arm: SynthArm,
    *,
    seeds: Sequence[str] = (),
    out: str = "runs/synth",
    label: str | None = None,
    config: str | None = None,
    groups: Sequence[str] = (),
    protect: Sequence[str] = (),
    judge: str | None = None,
    max_calls: int | None = None,
    random_state: int = 0,
    progress: bool = True,
) -> tuple[Path, Any]:
    """Generate ``arm`` variants of the seeds with ``section``'s filters; returns the run folder and the result.

    The keyword arguments are what only the CLI says: seed files (or ``config``'s training split, filtered
    by ``groups``), the texts no sample may near-copy, the judge bundle, the run folder and the call budget.
    """
    from distilsec.methods.synthesize import synthesize
    from distilsec.methods.synthesize.report import write_synth_run
    from distilsec.methods.synthesize.seeds import read_seeds, seeds_from_config

    skips = SkipCounter()
    picked: list[Example] = []
    protected: list[Example] = []
    task = section.task
    if config:
        picked, protected, cfg_task = seeds_from_config(config, groups=groups)
        task = task or cfg_task
    elif groups:
        raise ConfigError("--group filters the labelled set of a run config: give --config too")
    if seeds:
        picked += [s for s in read_seeds(seeds, label=label, skips=skips) if not groups or s.group in set(groups)]
    if not picked:
        raise DataError("no seeds: give seed files, or --config with --group")
    if arm.max_seeds is not None:
        picked = picked[: arm.max_seeds]
    if protect:
        protected += read_seeds(protect, skips=SkipCounter())
    task = task or _guess_task(picked)
    judge_model = None
    if judge:
        from distilsec.bundle import load_model

        judge_model = load_model(judge)
    generator = _make_generator(section, arm, task, max_calls)
    try:
        result = synthesize(
            generator,
            picked,
            n_per_seed=arm.n_per_seed,
            task=task,
            protected=protected,
            judge=judge_model,
            judge_threshold=section.judge_threshold,
            near_dup_threshold=section.near_dup_threshold,
            random_state=random_state,
            progress=progress,
        )
    finally:
        if hasattr(generator, "close"):
            generator.close()
        if judge_model is not None and hasattr(judge_model, "close"):
            judge_model.close()
    result.stats["seed_skips"] = skips.as_dict()
    result.stats["seed_notes"] = skips.notes_dict()
    # stats.json keeps the keys (and their order) it had when a job was a flat record of the CLI's options
    settings = {
        "seeds": list(seeds),
        "out": out,
        "task": task,
        "generator": arm.generator,
        "n_per_seed": arm.n_per_seed,
        "label": label,
        "config": config,
        "groups": list(groups),
        "protect": list(protect),
        "judge": judge,
        "judge_threshold": section.judge_threshold,
        "model": section.llm_model,
        "endpoint": section.llm_endpoint,
        "ledger": section.ledger,
        "temperature": section.llm_temperature,
        "max_calls": max_calls,
        "near_dup_threshold": section.near_dup_threshold,
        "max_seeds": arm.max_seeds,
        "random_state": random_state,
    }
    run_dir = write_synth_run(
        out, result.examples, result.rejected, result.stats, seeds=result.seeds, settings=settings
    )
    return run_dir, result
