"""Answer a CTI question with a local LLM, closed- or open-book, streaming, with the passages it cited.

Citations are checked against what was retrieved: an ID in square brackets counts only when a passage with
that ID (or about that entity) was in the prompt, so a hallucinated ``[T9999]`` is never shown as a source.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from distilsec.data.knowledge.passage import Passage
from distilsec.data.knowledge.retrieval import query_weights
from distilsec.teachers.llm.assistant.prompts import question_messages
from distilsec.teachers.llm.backend import Messages

__all__ = ["Answer", "AnswerStream", "Searcher", "answer", "extract_citations", "stream_chat"]

_BRACKETS = re.compile(r"\[([^\[\]\n]{1,120})\]")


class Searcher(Protocol):
    """What open-book answering needs of an index (:class:`~distilsec.data.knowledge.retrieval.BM25Index`)."""

    def search(self, query: str, k: int = 4) -> list[tuple[Passage, float]]: ...


@dataclass
class Answer:
    """The answer text, the passages given to the model, and the IDs of those it cited."""

    text: str
    cited: list[str] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0
    completion_tokens: int = 0

    def cited_passages(self) -> list[Passage]:
        by_id = {p.id: p for p in self.passages}
        return [by_id[c] for c in self.cited if c in by_id]

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "cited": [{"id": p.id, "title": p.title, "url": p.url} for p in self.cited_passages()],
            "passages": [p.id for p in self.passages],
            "seconds": round(self.seconds, 3),
        }


def extract_citations(text: str, passages: Sequence[Passage]) -> list[str]:
    """Passage IDs cited in ``text`` as ``[ID]`` (or ``[ID1, ID2]``), in first-cited order, given ones only.

    A citation of an entity (``[T1548]``) when the passage ID is ``T1548#mitigations`` counts for that
    entity's first given passage; anything not given is ignored.
    """
    exact = {p.id.upper(): p.id for p in passages}
    by_entity: dict[str, str] = {}
    for p in passages:
        by_entity.setdefault(p.entity.upper(), p.id)
        by_entity.setdefault(p.id.split("#", 1)[0].upper(), p.id)
    out: dict[str, None] = {}
    for m in _BRACKETS.finditer(text):
        for part in re.split(r"[,;]|\band\b", m.group(1)):
            key = part.strip().strip("`*'\" ").upper()
            pid = exact.get(key) or by_entity.get(key)
            if pid is not None:
                out.setdefault(pid, None)
    return list(out)


def stream_chat(
    backend: Any, messages: Messages, *, max_tokens: int = 384, temperature: float = 0.0, seed: int = 0
) -> Iterator[str]:
    """Text pieces of the completion as the backend produces them.

    A backend with a public ``stream`` method (the in-process llama.cpp backend, the test fakes) streams
    through it; any other backend (an endpoint) answers in one piece through ``generate``.
    """
    if hasattr(backend, "stream"):
        yield from backend.stream(messages, max_tokens=max_tokens, temperature=temperature, seed=seed)
        return
    res = backend.generate(messages, max_tokens=max_tokens, temperature=temperature, seed=seed)
    yield str(res.answer.get("text") or "")


class AnswerStream:
    """Iterate to get the answer's text pieces as they come; :meth:`result` then gives the :class:`Answer`."""

    def __init__(self, pieces: Iterator[str], passages: list[Passage]) -> None:
        self._pieces = pieces
        self.passages = passages
        self._text: list[str] = []
        self._t0 = time.perf_counter()
        self._seconds: float | None = None
        self._n = 0

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self._text.append(piece)
            self._n += 1
            yield piece
        self._seconds = time.perf_counter() - self._t0

    def result(self) -> Answer:
        """The whole answer (consumes what is left of the stream first)."""
        if self._seconds is None:
            for _ in self:
                pass
        text = "".join(self._text)
        return Answer(text, extract_citations(text, self.passages), self.passages, self._seconds or 0.0, self._n)


def retrieve(question: str, index: Searcher | None, k: int) -> list[Passage]:
    """The top-``k`` passages for ``question`` (none closed-book)."""
    if index is None or k <= 0:
        return []
    return [p for p, _ in index.search(question, k)]


def answer(
    question: str,
    backend: Any,
    index: Searcher | None = None,
    k: int = 4,
    stream: bool = False,
    *,
    max_tokens: int = 384,
    max_chars: int = 500,
    excerpt: str = "head",
    on_token: Callable[[str], None] | None = None,
) -> Answer | AnswerStream:
    """Answer ``question``: open-book when an ``index`` is given (top-``k`` passages quoted), else closed-book.

    Returns an :class:`Answer`, or with ``stream=True`` an :class:`AnswerStream` to iterate (text pieces as
    the model writes them) before calling ``result()``. ``on_token`` is called with every piece either way.
    ``excerpt="focused"`` quotes each passage's ``max_chars`` window that best matches the question (terms
    weighted by the index's IDF when it has ``term_weights``) instead of its first ``max_chars`` characters.
    """
    if not question.strip():
        from distilsec.errors import DataError

        raise DataError("the question is empty")
    passages = retrieve(question, index, k)
    weights = query_weights(index, question) if passages and excerpt == "focused" else None
    messages = question_messages(question, passages, max_chars, excerpt=excerpt, weights=weights)
    pieces = stream_chat(backend, messages, max_tokens=max_tokens)
    if on_token is not None:
        pieces = _tap(pieces, on_token)
    out = AnswerStream(pieces, passages)
    return out if stream else out.result()


def _tap(pieces: Iterator[str], fn: Callable[[str], None]) -> Iterator[str]:
    for p in pieces:
        fn(p)
        yield p
