"""Tagging sentences with ATT&CK techniques in batches, and the records ``distilsec attack`` writes.

Shared by the command line and ``/v1/attack`` so that both answer the same thing for the same sentence:

- :func:`sentence_record`: the per-sentence record. Its shape is an interface other tools rely on (the
  ``--per-line --json`` output): ``top`` is ``{id, name, tactic, score}`` of the best technique whatever its
  score, ``techniques`` those at or above their own threshold, best first (empty for a sentence that
  describes no technique); a blank line is :data:`BLANK`.
- :class:`TechniqueTally`: the report-level aggregate (best score, count and evidence per technique), built
  sentence by sentence in bounded memory, so that a million-line input is never held at once. It gives the
  same records as :meth:`~distilsec.students.attack_model.AttackModel.aggregate`.

This module imports no model code: the tagger is passed in (anything with ``tag(sentences, top_k=...)``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["BLANK", "BRIEF_KEYS", "Tagger", "brief", "sentence_record", "tag_batches", "TechniqueTally"]

#: The keys of a technique in a per-sentence record (``tactics`` and the rest stay in the report aggregate).
BRIEF_KEYS = ("id", "name", "tactic", "score")


def _blank() -> dict[str, Any]:
    return {"top": None, "techniques": []}


#: The record of a blank input line (``--per-line``): no technique, and the line numbers stay aligned.
BLANK: Mapping[str, Any] = _blank()


class Tagger(Protocol):
    """What tagging needs from a model: :meth:`AttackModel.tag <distilsec.students.attack_model.AttackModel.tag>`."""

    def tag(self, sentences: Sequence[str], *, top_k: int | None = None) -> list[dict[str, Any]]: ...


def brief(technique: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{id, name, tactic, score}`` of a technique record (None stays None)."""
    if technique is None:
        return None
    return {k: technique[k] for k in BRIEF_KEYS}


def sentence_record(tag: Mapping[str, Any], *, candidates: bool = False) -> dict[str, Any]:
    """The per-sentence record: ``top`` and ``techniques`` (and the top-k ``candidates`` when asked for)."""
    rec: dict[str, Any] = {"top": brief(tag["top"]), "techniques": [brief(t) for t in tag["techniques"]]}
    if candidates:
        rec["candidates"] = [brief(t) for t in tag["candidates"]]
    return rec


def tag_batches(
    model: Tagger, sentences: Iterable[str], *, batch_size: int = 1024, top_k: int | None = None
) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """``(sentences, tags)`` per batch of at most ``batch_size`` sentences, in input order.

    Only one batch is held at a time, so the input may be a generator over a file of any length.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    it = iter(sentences)
    while batch := list(itertools.islice(it, batch_size)):
        yield batch, model.tag(batch, top_k=top_k)


class TechniqueTally:
    """Report-level aggregate, one sentence at a time: per technique its best score, count and best evidence.

    Parameters
    ----------
    describe : technique ID and score -> the technique's record (``TechniqueIndex.describe``).
    max_evidence : evidence sentences kept per technique (the best-scored; ties: the earlier sentence).
    max_evidence_chars : characters kept of each evidence sentence (None: all).
    """

    def __init__(
        self,
        describe: Callable[[str, float], dict[str, Any]],
        max_evidence: int = 3,
        max_evidence_chars: int | None = None,
    ) -> None:
        self.describe = describe
        self.max_evidence = max_evidence
        self.max_evidence_chars = max_evidence_chars
        self.best: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.sources: dict[str, set[str]] = {}
        self._evidence: dict[str, list[tuple[float, int, dict[str, Any]]]] = {}
        self._seq = 0
        self.n_sentences = 0
        self.n_tagged = 0

    def add(self, sentence: int, text: str, tag: Mapping[str, Any], report: str | None = None) -> None:
        """Count one tagged sentence (``sentence``: its position in its report or input)."""
        self.n_sentences += 1
        if tag["techniques"]:
            self.n_tagged += 1
        for tech in tag["techniques"]:
            tid, score = tech["id"], float(tech["score"])
            self._seq += 1
            self.best[tid] = max(score, self.best.get(tid, score))
            self.count[tid] = self.count.get(tid, 0) + 1
            if report is not None:
                self.sources.setdefault(tid, set()).add(report)
            if self.max_evidence <= 0:
                continue
            cut = text if self.max_evidence_chars is None else text[: self.max_evidence_chars]
            ev: dict[str, Any] = {"sentence": int(sentence), "text": cut, "score": round(score, 6)}
            if report is not None:
                ev["report"] = report
            heap = self._evidence.setdefault(tid, [])
            item = (score, -self._seq, ev)  # the smallest is dropped first: lowest score, then the latest
            if len(heap) < self.max_evidence:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)

    def add_many(
        self, start: int, sentences: Sequence[str], tags: Sequence[Mapping[str, Any]], report: str | None = None
    ) -> None:
        """:meth:`add` for a batch whose first sentence is number ``start``."""
        for i, (text, tag) in enumerate(zip(sentences, tags, strict=True)):
            self.add(start + i, text, tag, report)

    def results(self) -> list[dict[str, Any]]:
        """Every technique tagged at least once: its record, ``count``, ``evidence`` (best first) and, when
        reports were named, ``reports``; sorted by best score, then ID."""
        out = []
        for tid, best in self.best.items():
            rec = self.describe(tid, best)
            rec["count"] = self.count[tid]
            ev = sorted(self._evidence.get(tid, []), key=lambda h: (-h[0], -h[1]))
            rec["evidence"] = [e for _, _, e in ev]
            if tid in self.sources:
                rec["reports"] = sorted(self.sources[tid])
            out.append(rec)
        out.sort(key=lambda r: (-r["score"], r["id"]))
        return out
