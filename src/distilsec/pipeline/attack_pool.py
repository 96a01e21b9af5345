"""The unlabelled pool of an ATT&CK run: sentences the teacher labels for the students (semi-supervised).

Two sources, which may be combined:

- ``attack.unlabelled``: report files or folders, read and split into sentences exactly as ``distilsec attack``
  reads a report, so the students learn from sentences shaped like those they will tag. A folder of reports
  can hold the very reports ATT&CK cites, hence the held-out sentences: pool sentences inside or nearly
  copying a validation or test sentence are dropped (the benchmark decontamination test), counted.
- ``attack.unlabelled_share``: a measurement of the method on ATT&CK itself. The labels of that share of the
  training *sources* are hidden (hashed, reproducible); their sentences become the pool, and the teacher and
  the baseline learn from the rest only. Their true labels are kept aside to report how accurate the kept
  pseudo-labels were, never used to train.

Rows in = rows kept + rows dropped, per reason, in :attr:`Pool.report`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distilsec.config import AttackSection
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from distilsec.tasks.attack import TRAINING_ONLY, AttackData, decontaminate_records

__all__ = ["Pool", "build_pool", "hide_sources"]

log = logging.getLogger("distilsec.pipeline.run")


@dataclass
class Pool:
    """Unlabelled sentences for the teacher to label; ``truth`` only where the pool is simulated."""

    texts: list[str] = field(default_factory=list)
    truth: list[str | None] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    #: ids of the training rows whose labels were hidden (``splits/unlabelled.txt`` of the run)
    hidden_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def _hidden(group: str, share: float, seed: int) -> bool:
    digest = hashlib.sha1(f"unlabelled\0{seed}\0{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def hide_sources(
    train: Sequence[Example], share: float, seed: int
) -> tuple[list[Example], list[Example], dict[str, Any]]:
    """``(labelled, hidden, report)``: every row of a hidden source goes to ``hidden``; technique descriptions
    and CAPEC patterns (training-only knowledge, not report text) stay labelled."""
    labelled, hidden = [], []
    for e in train:
        (hidden if e.source not in TRAINING_ONLY and _hidden(e.group, share, seed) else labelled).append(e)
    report = {
        "share": share,
        "sources_hidden": len({e.group for e in hidden}),
        "sources_labelled": len({e.group for e in labelled if e.source not in TRAINING_ONLY}),
        "rows_hidden": len(hidden),
        "rows_labelled": len(labelled),
        "hidden_negatives": sum(e.label == "none" for e in hidden),
    }
    return labelled, hidden, report


def _report_sentences(paths: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    from distilsec.serving.reports import read_reports

    skips = SkipCounter()
    sentences, n_reports = [], 0
    for report in read_reports(list(paths), skips=skips):
        n_reports += 1
        sentences.extend(report.sentences)
    if not sentences:
        raise DataError(
            f"attack.unlabelled: no sentence in {', '.join(paths)} (skipped: {dict(skips.counts) or 'nothing'}); "
            "give report files or folders of .txt, .md or .html"
        )
    unique = list(dict.fromkeys(sentences))
    return unique, {
        "reports": n_reports,
        "reports_skipped": dict(skips.counts),
        "sentences": len(sentences),
        "duplicate_sentences": len(sentences) - len(unique),
    }


def build_pool(section: AttackSection, data: AttackData, seed: int) -> tuple[AttackData, Pool | None]:
    """The data the labelled models learn from, and the pool (None when the config asks for none)."""
    if not section.unlabelled and not section.unlabelled_share:
        return data, None
    pool = Pool()
    if section.unlabelled_share:
        labelled, hidden, rep = hide_sources(data.train, section.unlabelled_share, seed)
        if not any(e.label != "none" for e in labelled if e.source not in TRAINING_ONLY):
            raise DataError(f"attack.unlabelled_share {section.unlabelled_share} hid every labelled source: lower it")
        data = dataclasses.replace(data, train=labelled)
        pool.texts += [e.text for e in hidden]
        pool.truth += [str(e.label) for e in hidden]
        pool.hidden_ids = [e.id for e in hidden]
        pool.report["simulated"] = rep
        log.info("unlabelled pool: labels of %d of the training sources hidden (%d rows)", rep["sources_hidden"],
                 rep["rows_hidden"])  # fmt: skip
    if section.unlabelled:
        sentences, rep = _report_sentences(section.unlabelled)
        held_out = [e.text for e in (*data.val, *data.test)]
        as_examples = [Example(text=s, label=None, source="unlabelled") for s in sentences]
        kept, deco = decontaminate_records(as_examples, held_out, threshold=section.decontamination.threshold)
        rep["dropped_copying_held_out"] = deco["removed"]
        rep["kept"] = len(kept)
        pool.texts += [e.text for e in kept]
        pool.truth += [None] * len(kept)
        pool.report["reports"] = rep
        log.info(
            "unlabelled pool: %d sentences from %d report(s), %d dropped as copies of held-out sentences",
            len(kept),
            rep["reports"],
            deco["removed"],
        )
    pool.report["pool"] = len(pool)
    return data, pool


def pseudo_label_report(pool: Pool, labels: Sequence[str], kept: Sequence[int], threshold: float) -> dict[str, Any]:
    """What the teacher kept of the pool, and how often a kept or any pseudo-label was right (simulated rows)."""
    known = [i for i, t in enumerate(pool.truth) if t is not None]
    kept_known = [i for i in kept if pool.truth[i] is not None]

    def accuracy(rows: Sequence[int]) -> float | None:
        return round(sum(labels[i] == pool.truth[i] for i in rows) / len(rows), 4) if rows else None

    by_label = Counter(labels[i] for i in kept)
    return pool.report | {
        "threshold": threshold,
        "kept": len(kept),
        "kept_share": round(len(kept) / max(1, len(pool)), 4),
        "kept_negatives": by_label.get("none", 0),
        "kept_techniques": len([k for k in by_label if k != "none"]),
        "pseudo_label_accuracy_kept": accuracy(kept_known),
        "pseudo_label_accuracy_all": accuracy(known),
    }
