"""Multiple-choice answering: strict letter parsing of a generated answer, or the letters' log-probabilities.

Two ways to read the model's choice:

* ``generate`` (the default): the model writes its answer and :func:`parse_letter` reads it strictly, as the
  benchmark's protocol does. Published CTI-Bench figures are of this kind, so ours compare with them; an
  answer that names no single letter is a *parse failure*, counted and scored wrong, never guessed.
* ``logprob``: the next-token log-probabilities of the tokens ``A``..``D`` after the prompt; one forward
  pass, no decoding, no parse failure. Cheaper and often as accurate, but it reads the model's preference
  rather than its answer, so it is the alternative, not the benchmark figure.

Measured on the 0.5B (10 ATT&CK/CWE questions, 2 threads): both modes chose the same letters in every
setting tried, at the same cost (prompt evaluation dominates; the 1-3 generated tokens are cheap), so the
default is the benchmark's own protocol.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distilsec.data.knowledge.passage import Passage
from distilsec.data.knowledge.retrieval import query_weights
from distilsec.teachers.llm.assistant.prompts import EXCERPTS, LETTERS, mcq_messages
from distilsec.teachers.llm.backend import Messages

__all__ = [
    "MCQChoice",
    "MCQ_K",
    "MCQ_PASSAGE_CHARS",
    "MCQ_EXCERPT",
    "MCQ_MAIN_FIRST",
    "MCQ_COMPACT",
    "SCORING",
    "parse_letter",
    "letter_logprobs",
    "choose",
    "retrieval_query",
]

SCORING = ("generate", "logprob")

_PREFIX = r"(?:(?:the\s+)?(?:correct\s+|best\s+|final\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:\-]?\s*)?"
_ONLY = re.compile(rf"^{_PREFIX}[\*_`(\[\s]*([A-D])[\*_`)\]\s]*[.:)]?[\*_`\s]*$", re.IGNORECASE)
_WITH_TEXT = re.compile(rf"^{_PREFIX}[\*_`(\[\s]*([A-D])[\*_`\]\s]*[.:)][\*_`]*\s+(\S.*)$", re.IGNORECASE)
_OTHER_LETTER = re.compile(r"\b[B-D]\b|\b(?:or|and|option|answer)\s+\(?A\b")


def parse_letter(text: str) -> str | None:
    """The letter A-D a generated answer gives, or None when it gives no single unambiguous letter.

    Accepted: ``A``, ``A.``, ``(A)``, ``**A**``, ``Answer: A``, ``The answer is B.``, ``C) option text`` on
    the first non-empty line. Refused: prose (``A technique that...``), two letters (``A or B``), a
    lowercase bare letter that could be a word, anything else. The prefix forms match case-insensitively,
    the letter itself must be uppercase.
    """
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    first = lines[0]
    m = _ONLY.match(first)
    if m and m.group(1).isupper():
        return m.group(1)
    m = _WITH_TEXT.match(first)
    if m and m.group(1).isupper() and not _OTHER_LETTER.search(m.group(2)):
        return m.group(1)
    return None


def retrieval_query(question: str, options: Sequence[str]) -> str:
    """What open-book MCQ retrieves with: the question and its options (the options name the entities)."""
    return " ".join([question, *options])


def letter_logprobs(backend: Any, messages: Messages) -> list[float | None]:
    """Log-probability of each of A-D as the next token.

    A backend with a public ``letter_logprobs`` (the in-process llama.cpp backend) is read on tokens that are
    *exactly* the letter: generic label matching counts any token a label word starts (``"Answer"`` for
    ``A``, ``"because"`` for ``B``), which would bias the choice. Other backends go through their ``label``
    call.
    """
    if callable(getattr(backend, "letter_logprobs", None)):
        return list(backend.letter_logprobs(messages, LETTERS))
    res = backend.label(messages, list(LETTERS))
    return list(res.answer.get("logprobs") or [None] * 4)


#: open-book defaults of :func:`choose` (passages quoted, characters each); see BENCHMARKS.md section 13:
#: 3 x 100 focused, main first, compact = 0.844 on the 45 held-out questions at ~238 prompt tokens (3.4 s per
#: question for the 1.5B on 2 idle cores), vs 0.733 for the first 200 characters of 2 passages
MCQ_K = 3
MCQ_PASSAGE_CHARS = 100
#: how each quoted passage is cut: ``head`` (first characters) or ``focused`` (best window for the query)
MCQ_EXCERPT = "focused"
#: open-book: a named entity's own passage before its parts (``BM25Index.search(main_first=True)``)
MCQ_MAIN_FIRST = True
#: open-book: the short passage header (``mcq_messages(compact=True)``)
MCQ_COMPACT = True


@dataclass
class MCQChoice:
    """The letter chosen (None = parse failure), the raw text or log-probs, the passages given, the time.

    ``retrieval_seconds`` is the part of ``seconds`` spent searching the index; ``prompt_tokens`` is what the
    model read (0 when the backend does not say).
    """

    letter: str | None
    raw: str
    logprobs: list[float | None] | None
    passages: list[Passage]
    seconds: float
    completion_tokens: int = 0
    prompt_tokens: int = 0
    retrieval_seconds: float = 0.0


def choose(
    backend: Any,
    question: str,
    options: Sequence[str],
    *,
    prompt: str = "",
    index: Any | None = None,
    k: int = MCQ_K,
    scoring: str = "generate",
    max_tokens: int = 16,
    style: str = "benchmark",
    max_chars: int = MCQ_PASSAGE_CHARS,
    excerpt: str = MCQ_EXCERPT,
    main_first: bool = MCQ_MAIN_FIRST,
    compact: bool = MCQ_COMPACT,
) -> MCQChoice:
    """One multiple-choice question: closed-book, or open-book with the question + options retrieved.

    Open-book quotes the top ``k`` passages, ``max_chars`` characters each: prompt evaluation of the passages
    is most of the cost of an answer on a CPU. ``excerpt="head"`` quotes each passage's first characters,
    ``"focused"`` its window that best matches the retrieval query (terms weighted by the index's IDF when it
    has ``term_weights``). ``main_first``: a named entity's own passage (its definition) before its parts;
    ``compact``: the short passage header of :func:`mcq_messages`.
    """
    if scoring not in SCORING:
        raise ValueError(f"scoring must be one of {SCORING}, not {scoring!r}")
    if excerpt not in EXCERPTS:
        raise ValueError(f"excerpt must be one of {EXCERPTS}, not {excerpt!r}")
    t0 = time.perf_counter()
    query = retrieval_query(question, options)
    extra = {"main_first": True} if main_first else {}
    passages = [p for p, _ in index.search(query, k, **extra)] if index is not None else []
    weights = query_weights(index, query) if passages and excerpt == "focused" else None
    t_search = time.perf_counter() - t0
    messages = mcq_messages(
        question, options, prompt, passages, max_chars=max_chars, style=style, excerpt=excerpt, query=query,
        weights=weights, compact=compact,
    )  # fmt: skip
    if scoring == "logprob":
        lps = letter_logprobs(backend, messages)
        scored = [(v, letter) for v, letter in zip(lps, LETTERS, strict=True) if v is not None]
        letter = max(scored)[1] if scored else None
        return MCQChoice(letter, "", lps, passages, time.perf_counter() - t0, retrieval_seconds=t_search)
    res = backend.generate(messages, max_tokens=max_tokens, temperature=0.0, seed=0)
    text = str(res.answer.get("text") or "")
    return MCQChoice(
        parse_letter(text), text, None, passages, time.perf_counter() - t0, res.completion_tokens,
        res.prompt_tokens, t_search,
    )  # fmt: skip
