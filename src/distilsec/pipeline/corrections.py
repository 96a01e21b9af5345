"""Analyst corrections in a run (``distilsec run --labels LEDGER``, ``distilsec retrain``).

Precedence (:mod:`distilsec.data.label_precedence`): the analyst's label replaces the original one on the
training and validation splits; on the training split it also replaces the teacher's soft label (the
student's target for that example becomes the analyst's class), so analyst > teacher > original. Test
labels are never changed: the run is measured on the same test set as before, and the corrected test
labels are evaluated separately (:func:`evaluate_corrected_test`), so a better score cannot come from
quietly relabelling the test set.

A record curation dropped as a label conflict, once an analyst decides it, rejoins training when its
group is a training group (its group's split is fixed; it never enters validation or test).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.config import Config
from distilsec.data.example import Example
from distilsec.data.label_ledger import LabelLedger
from distilsec.data.label_precedence import resolve_labels
from distilsec.data.review_items import LEDGER_NAME, REVIEW_DIR, read_review_cache
from distilsec.errors import DataError
from distilsec.tasks.prepare import PreparedData

__all__ = [
    "Corrections",
    "apply_corrections",
    "check_ledger",
    "copy_ledger",
    "evaluate_corrected_test",
    "label_sources",
    "override_soft_targets",
    "prepare_corrections",
    "record_label_sources",
]

log = logging.getLogger("distilsec.pipeline.corrections")


@dataclass
class Corrections:
    """What a ledger changed in a run; ``as_dict`` is its entry in ``metrics.json``."""

    ledger: str
    lines: int = 0
    decisions: int = 0
    #: split -> {"changed": n, "confirmed": n} (confirmed: the analyst kept the original label)
    by_split: dict[str, dict[str, int]] = field(default_factory=dict)
    #: test item id -> [original, analyst] for test labels the analyst changed (not applied)
    test: dict[str, list[str]] = field(default_factory=dict)
    rejoined: int = 0
    not_rejoined: int = 0
    unknown_items: int = 0
    unknown_labels: int = 0
    #: training item id -> analyst label (changed or confirmed): these targets come from the analyst
    analyst_train: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "ledger_lines": self.lines,
            "decisions": self.decisions,
            "by_split": self.by_split,
            "test_corrections": len(self.test),
            "rejoined_training": self.rejoined,
            "dropped_not_rejoined": self.not_rejoined,
            "unknown_items": self.unknown_items,
            "unknown_labels": self.unknown_labels,
        }


def check_ledger(ledger_path: str | Path) -> Path:
    """The ledger file, read and its hash chain checked (a run checks it before reading any data)."""
    path = Path(ledger_path)
    if not path.is_file():
        raise DataError(f"--labels {path}: no such ledger file (a run's review/{LEDGER_NAME})")
    LabelLedger(path).state()
    return path


def apply_corrections(data: PreparedData, ledger_path: str | Path) -> tuple[PreparedData, Corrections]:
    """``data`` with the ledger's analyst labels applied to train and val (see the module doc)."""
    path = check_ledger(ledger_path)
    state = LabelLedger(path).state()
    analyst = state.labels()
    c = Corrections(ledger=str(path), lines=len(state.entries), decisions=len(analyst))
    classes = set(data.classes)
    bad = {i for i, lab in analyst.items() if lab not in classes}
    if bad:
        c.unknown_labels = len(bad)
        log.warning("%d analyst labels are not classes of this run (%s): ignored", len(bad), sorted(classes))
    analyst = {i: lab for i, lab in analyst.items() if i not in bad}
    seen: set[str] = set()
    parts: dict[str, list[Example]] = {}
    for name in ("train", "val", "test"):
        part: list[Example] = getattr(data, name)
        counts = {"changed": 0, "confirmed": 0}
        resolved = resolve_labels([ex.id for ex in part], original={ex.id: ex.label for ex in part}, analyst=analyst)
        out = []
        for ex, lab, src in zip(part, resolved.labels, resolved.sources, strict=True):
            seen.add(ex.id)
            if src != "analyst":
                out.append(ex)
                continue
            counts["changed" if lab != ex.label else "confirmed"] += 1
            if name == "test":
                if lab != ex.label:
                    c.test[ex.id] = [str(ex.label), str(lab)]
                out.append(ex)  # never merged: see evaluate_corrected_test
                continue
            if name == "train":
                c.analyst_train[ex.id] = str(lab)
            out.append(ex.with_label(lab))
        c.by_split[name] = counts
        parts[name] = out
    rest = {i: lab for i, lab in analyst.items() if i not in seen}
    parts["train"] += _rejoin(data, path, rest, c)
    return replace(data, train=parts["train"], val=parts["val"], test=parts["test"]), c


def _rejoin(data: PreparedData, ledger: Path, rest: dict[str, str], c: Corrections) -> list[Example]:
    """Decided records outside the splits (curation's dropped conflicts) whose group trains: back in train."""
    if not rest:
        return []
    cached: dict[str, Any] = {}
    with contextlib.suppress(DataError):  # the review cache beside the ledger holds their texts and groups
        cached = read_review_cache(ledger.parent).items
    train_groups = {ex.group for ex in data.train}
    val_test_groups = {ex.group for ex in (*data.val, *data.test)}
    out = []
    for item_id, lab in rest.items():
        item = cached.get(item_id)
        if item is None:
            c.unknown_items += 1
        elif item.group in train_groups or (item.group not in val_test_groups and item.split == "dropped"):
            out.append(Example(item.text, lab, group=item.group, source=item.source, id=item.id))
            c.analyst_train[item.id] = lab
            c.rejoined += 1
        else:
            c.not_rejoined += 1
    if c.unknown_items:
        log.warning("%d analyst decisions name items that are not in this run's data: ignored", c.unknown_items)
    return out


def override_soft_targets(
    teacher_classes: list[str], train: list[Example], proba: np.ndarray, corrections: Corrections
) -> np.ndarray:
    """The teacher's soft labels on the training split with analyst-decided rows made one-hot on the
    analyst's class (analyst outranks teacher); other rows unchanged."""
    out = np.array(proba, dtype=np.float64, copy=True)
    index = {c: j for j, c in enumerate(teacher_classes)}
    for i, ex in enumerate(train):
        lab = corrections.analyst_train.get(ex.id)
        if lab is not None and lab in index:
            out[i] = 0.0
            out[i, index[lab]] = 1.0
    return out


def label_sources(role: str, n_train: int, corrections: Corrections | None, *, teacher_reused: bool = False) -> dict:
    """How many training examples each label source decided for a model of ``role``.

    A distilled student learns every non-analyst example from the teacher's soft label (mixed with the
    original label at weight ``1 - method.alpha``); a hard-label model and a teacher from the original
    label; analyst-decided examples from the analyst alone. A reused teacher saw no corrections.
    """
    analyst = 0 if corrections is None or teacher_reused else len(corrections.analyst_train)
    rest = n_train - analyst
    if role == "distilled student":
        return {"analyst": analyst, "teacher": rest, "original": 0}
    return {"analyst": analyst, "teacher": 0, "original": rest}


def evaluate_corrected_test(
    config: Config,
    data: PreparedData,
    probas: dict[str, np.ndarray],
    thresholds: dict[str, float | None],
    corrections: Corrections,
) -> dict[str, dict[str, Any]]:
    """Each model's headline metrics on the test set with the analyst's test labels, at its own threshold.

    ``probas`` maps model name to its test probabilities (rows in ``data.test`` order, columns in
    ``data.classes`` order). Empty without test corrections.
    """
    from distilsec.evaluation.metrics import evaluate as metrics_at

    if not corrections.test:
        return {}
    labels = [corrections.test.get(ex.id, [None, str(ex.label)])[1] for ex in data.test]
    ev = config.evaluation
    positive = ev.positive if ev.positive in data.classes or ev.negative in data.classes else None
    out = {}
    for name, proba in probas.items():
        thr = thresholds.get(name)
        m = metrics_at(labels, proba, data.classes, positive=positive, negative=ev.negative, threshold=thr)
        out[name] = {k: m.get(k) for k in ("macro_f1", "auc", "accuracy", "tp", "fp", "fn", "tn", "threshold")}
    return out


def copy_ledger(ledger: str | Path, run_dir: Path) -> Path:
    """The ledger copied into the new run's ``review/`` (the next review of that run continues it)."""
    dest = run_dir / REVIEW_DIR / LEDGER_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    if Path(ledger).resolve() != dest.resolve():
        shutil.copyfile(ledger, dest)
    return dest


def prepare_corrections(run_dir: Path, data: PreparedData, ledger: str | Path) -> tuple[PreparedData, Corrections]:
    """The corrections stage of a run: labels applied, the ledger copied into the run, ``splits/train.txt``
    rewritten when dropped records rejoined training."""
    data, corrections = apply_corrections(data, ledger)
    copy_ledger(ledger, run_dir)
    if corrections.rejoined:
        (run_dir / "splits" / "train.txt").write_text("\n".join(ex.id for ex in data.train) + "\n")
    log.info(
        "analyst labels: %d decisions; train %s, val %s; %d test corrections reported apart",
        corrections.decisions,
        corrections.by_split.get("train"),
        corrections.by_split.get("val"),
        len(corrections.test),
    )
    return data, corrections


def record_label_sources(
    results: dict[str, dict[str, Any]],
    roles: dict[str, str],
    n_train: int,
    corrections: Corrections | None,
    *,
    teacher_reused: bool = False,
) -> None:
    """Each model's ``label_sources`` in its results (metrics.json, manifest, model card)."""
    for name, role in roles.items():
        if name in results:
            reused = teacher_reused and role.startswith("teacher")
            results[name]["label_sources"] = label_sources(role, n_train, corrections, teacher_reused=reused)
