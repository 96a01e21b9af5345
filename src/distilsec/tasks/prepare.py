"""The task's data as a run sees it: read, normalise, curate, cap, split by group (or time), audit.

:func:`prepare_data` is the first stage of ``distilsec run`` and the data of every command that needs the
same splits (``data prepare``, ``export --parity``, synthesis seeds, the sweeps). Every figure of the run
report's data section comes from :attr:`PreparedData.report`: rows in = rows read + rows skipped.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.console import console
from distilsec.config import Config
from distilsec.data.example import Example
from distilsec.data.labels import (
    DetectionView,
    check_enough_classes,
    resolve_detection_view,
    small_split_warnings,
)
from distilsec.data.preprocess import get_preprocessor
from distilsec.data.skips import SkipCounter
from distilsec.data.stats import row_accounting_problems
from distilsec.data.subsample import cap_by_group, cap_per_group
from distilsec.errors import ConfigError, DataError
from distilsec.tasks.loaders import load_examples

__all__ = ["PreparedData", "prepare_data", "resolve_evaluation", "split_counts"]

log = logging.getLogger("distilsec.tasks.prepare")

#: the text normalisation each task trains and scores with (``curation.normalise: false`` turns it off).
_PREPROCESS = {"cmdline": "cmdline", "url": "url"}


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


def prepare_data(config: Config, *, data_dir: str | Path | None = None) -> PreparedData:
    """Read, normalise, curate and split the task's data as the config says."""
    raw, report = _read(config, data_dir)
    preprocess = _PREPROCESS.get(config.data.task, "none") if config.curation.normalise else "none"
    norm = get_preprocessor(preprocess)
    normalised = [ex.with_text(norm(ex.text)) for ex in raw]
    examples, counts = _curate(config, normalised, report)
    view = _detection_view(config, sorted(counts))
    if config.data.max_per_group:
        before = len(examples)
        examples = cap_per_group(examples, config.data.max_per_group, config.run.seed)
        report["capped_per_group"] = {"cap": config.data.max_per_group, "removed": before - len(examples)}
        log.info("data.max_per_group %d: %d examples removed", config.data.max_per_group, before - len(examples))
    if config.data.max_examples:
        examples = cap_by_group(examples, config.data.max_examples, config.run.seed)
        report["capped_to"] = len(examples)
    train, val, test = _split(config, examples, report)
    _shortcut_audit(config, report, {ex.id: ex.text for ex in raw}, train, test, counts, view)
    classes = sorted({ex.label for ex in train if ex.label is not None})
    check_enough_classes(Counter(str(ex.label) for ex in train), "the training split")
    val, test = _drop_unseen_labels(classes, val=val, test=test)
    report["warnings"] = small_split_warnings({"val": _labels(val), "test": _labels(test)}, classes)
    report["evaluation"] = {"positive": view.positive, "negative": view.negative, "note": view.note}
    return PreparedData(train, val, test, classes, preprocess, report, view)


def _read(config: Config, data_dir: str | Path | None) -> tuple[list[Example], dict[str, Any]]:
    """The task's examples and the report's row accounting (rows in = rows read + rows skipped, by reason)."""
    skips = SkipCounter()
    by_input: dict[str, dict[str, Any]] = {}
    raw = load_examples(config.data, data_dir=data_dir, skips=skips, by_input=by_input)
    report: dict[str, Any] = {
        "rows_in": len(raw) + skips.total,
        "read": len(raw),
        "read_skips": skips.as_dict(),
        "read_notes": skips.notes_dict(),
        "read_by_input": by_input,
    }
    row_accounting_problems(report)  # logs an error line for any gap
    return raw, report


def _curate(config: Config, examples: list[Example], report: dict[str, Any]) -> tuple[list[Example], Counter[str]]:
    """Exact / near duplicates and label conflicts removed; refused when fewer than two classes remain."""
    from distilsec.data.curate import curate

    curated = curate(
        examples,
        near_dup_threshold=config.curation.near_dup_threshold,
        num_perm=config.curation.num_perm,
        conflict_policy=config.curation.conflict_policy,
        shingle_max_chars=config.curation.shingle_max_chars,
    )
    report["curation"] = curated.report
    counts = Counter(str(ex.label) for ex in curated.examples)
    check_enough_classes(counts, f"the {config.data.task} data ({_source(config)})")
    return curated.examples, counts


def _split(
    config: Config, examples: list[Example], report: dict[str, Any]
) -> tuple[list[Example], list[Example], list[Example]]:
    """Train / val / test by group (or time), then val/test near-copies of training examples removed."""
    from distilsec.data.curate import drop_cross_split_near_duplicates
    from distilsec.data.split import split_by_group, split_by_time

    sp, seed = config.split, config.run.seed
    if sp.by == "time":
        if not sp.time_cutoff:  # validated with the config; kept for configs built without it
            raise ConfigError("split.by = 'time' needs split.time_cutoff (an ISO date)")
        split = split_by_time(examples, cutoff=sp.time_cutoff, val_fraction=sp.val_fraction, random_state=seed)
    else:
        split = split_by_group(
            examples, val_fraction=sp.val_fraction, test_fraction=sp.test_fraction, random_state=seed
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
    report["split"] = {name: split_counts(part) for name, part in (("train", train), ("val", val), ("test", test))}
    return train, val, test


def _shortcut_audit(
    config: Config,
    report: dict[str, Any],
    raw_text: dict[str, str],
    train: list[Example],
    test: list[Example],
    counts: Counter[str],
    view: DetectionView,
) -> None:
    """Cues a model could learn instead of the task (on the texts as read, before normalisation)."""
    from distilsec.data.shortcut import HTML_CUES, shortcut_audit

    if not config.curation.shortcut_audit:
        return
    # the audit's own default is "not benign" (or the second of two labels); other label sets need the view
    positive = None if "benign" in counts else view.positive if len(counts) == 2 else ""
    if positive == "":
        log.info("shortcut audit skipped: several classes and none named 'benign'")
        return

    def raw_of(part: list[Example]) -> list[Example]:
        return [ex.with_text(raw_text.get(ex.id, ex.text)) for ex in part]

    report["shortcut_audit"] = shortcut_audit(
        raw_of(train),
        raw_of(test),
        train,
        test,
        cues=HTML_CUES if config.data.task == "html" else None,
        positive=positive,
    )


def _drop_unseen_labels(
    classes: list[str], *, val: list[Example], test: list[Example]
) -> tuple[list[Example], list[Example]]:
    """Val/test rows whose label never occurs in train are dropped (no model can predict them), with a warning."""
    for name, part in (("val", val), ("test", test)):
        unknown = sorted({ex.label for ex in part} - set(classes))
        if unknown:
            log.warning("%s has labels unseen in train: %s (dropped)", name, unknown)
    return [ex for ex in val if ex.label in classes], [ex for ex in test if ex.label in classes]


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
    :func:`~distilsec.data.labels.resolve_detection_view`), checked before any training.

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


def split_counts(part: list[Example]) -> dict[str, Any]:
    """Size, labels, sources and number of groups of one split (the report's split table)."""
    return {
        "n": len(part),
        "by_label": dict(Counter(ex.label for ex in part)),
        "by_source": dict(Counter(ex.source for ex in part)),
        "n_groups": len({ex.group for ex in part}),
    }


def _labels(part: list[Example]) -> list[str]:
    return [str(ex.label) for ex in part]
