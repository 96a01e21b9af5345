"""Prompts of the CTI assistant: closed-book and open-book questions, multiple-choice in the benchmark's style.

Open-book prompts quote each retrieved passage under its ID (``[T1548] Abuse Elevation Control Mechanism``)
and ask the model to cite those IDs, so an answer can be traced to the passage it used. Passages are cut to
``max_chars`` each: on 2 CPU cores prompt evaluation (measured ~90-100 tokens/s for the 0.5B model, ~45-58
for the 1.5B) is most of the cost of an answer, and the first few hundred characters of a knowledge passage
carry its definition (BENCHMARKS.md section 13 measures k and the cut). ``excerpt="focused"`` quotes instead
the ``max_chars`` window of each passage that best matches the question (and options): more of what the
question is about per prompt token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from distilsec.data.knowledge.passage import Passage
from distilsec.data.knowledge.retrieval import excerpt as focused_excerpt
from distilsec.teachers.llm.backend import Messages

__all__ = [
    "SYSTEM_CLOSED",
    "SYSTEM_OPEN",
    "MCQ_INSTRUCTION",
    "LETTERS",
    "MCQ_STYLES",
    "EXCERPTS",
    "format_passages",
    "question_messages",
    "mcq_prompt",
    "mcq_messages",
]

LETTERS = ("A", "B", "C", "D")

SYSTEM_CLOSED = (
    "You are a cyber threat intelligence assistant for a security operations team. Answer questions about "
    "MITRE ATT&CK, CWE, CAPEC and CVEs accurately and concisely. If you do not know, say so."
)
SYSTEM_OPEN = (
    "You are a cyber threat intelligence assistant for a security operations team. Answer from the reference "
    "passages below when they are relevant, and cite the passages you use by their ID in square brackets, "
    "like [T1548] or [CWE-79]. Cite only IDs that appear in the passages. If the passages do not contain the "
    "answer, say so and answer from your own knowledge without a citation. Be concise."
)

#: CTI-Bench's multiple-choice instruction (used when a file has no ``Prompt`` column).
MCQ_INSTRUCTION = (
    "You are given a multiple-choice question (MCQ) from a Cyber Threat Intelligence (CTI) knowledge benchmark "
    "dataset. Your task is to choose the best option among the four provided. Return your answer as a single "
    "uppercase letter: A, B, C, or D."
)


#: ``benchmark``: the file's Prompt verbatim (else CTI-Bench's instruction); ``plain``: an expert system line,
#: the question, the options, and "reply with the letter" last (see :func:`mcq_messages`).
MCQ_STYLES = ("benchmark", "plain")
_PLAIN_SYSTEM = "You are a cyber threat intelligence expert."
_PLAIN_ASK = "Reply with the letter of the correct option only."


def _cut(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return cut + " ..."


#: how a passage is cut to ``max_chars``: ``head`` its first characters, ``focused`` the window that best
#: matches the query (:func:`distilsec.data.knowledge.retrieval.excerpt`; ``head`` when no query is given)
EXCERPTS = ("head", "focused")


def format_passages(
    passages: Sequence[Passage],
    max_chars: int = 500,
    *,
    query: str = "",
    excerpt: str = "head",
    weights: Mapping[str, float] | None = None,
) -> str:
    """The passages as quoted reference blocks, each headed by its citable ID and title.

    ``excerpt="focused"`` with a ``query`` quotes each passage's best-matching window of ``max_chars``
    (``weights``: per-term weights, e.g. the index's IDF) instead of its first ``max_chars`` characters;
    terms of the passage's title (shown in its header) do not count, and a text that opens with its title
    does not repeat it.
    """
    if excerpt not in EXCERPTS:
        raise ValueError(f"excerpt must be one of {EXCERPTS}, not {excerpt!r}")

    def body(p: Passage) -> str:
        if excerpt == "focused" and query.strip():
            text = " ".join(p.text.split())
            if p.title and text.startswith(p.title):  # the header already shows it
                text = text[len(p.title) :].lstrip(" .:-")
            return focused_excerpt(text, query, max_chars, weights, known=p.title)
        return _cut(p.text, max_chars)

    return "\n\n".join(f"[{p.id}] {p.title}\n{body(p)}" for p in passages)


def question_messages(
    question: str,
    passages: Sequence[Passage] | None = None,
    max_chars: int = 500,
    *,
    excerpt: str = "head",
    weights: Mapping[str, float] | None = None,
) -> Messages:
    """Chat messages for a free question: closed-book when ``passages`` is None (or empty), else open-book.

    ``excerpt="focused"`` quotes each passage's window that best matches the question (see
    :func:`format_passages`).
    """
    if not passages:
        return [{"role": "system", "content": SYSTEM_CLOSED}, {"role": "user", "content": question.strip()}]
    refs = format_passages(passages, max_chars, query=question, excerpt=excerpt, weights=weights)
    return [
        {"role": "system", "content": f"{SYSTEM_OPEN}\n\nReference passages:\n\n{refs}"},
        {"role": "user", "content": question.strip()},
    ]


def mcq_prompt(question: str, options: Sequence[str], prompt: str = "") -> str:
    """The benchmark's own prompt when the file gives one, else CTI-Bench's instruction + question + options."""
    if prompt.strip():
        return prompt.strip()
    if len(options) != 4:
        raise ValueError(f"a multiple-choice question needs 4 options, got {len(options)}")
    opts = "\n".join(f"{letter}) {text.strip()}" for letter, text in zip(LETTERS, options, strict=True))
    return f"{MCQ_INSTRUCTION}\n\nQuestion: {question.strip()}\n\nOptions:\n{opts}\n\nAnswer:"


def mcq_messages(
    question: str,
    options: Sequence[str],
    prompt: str = "",
    passages: Sequence[Passage] | None = None,
    max_chars: int = 400,
    style: str = "benchmark",
    *,
    excerpt: str = "head",
    query: str = "",
    weights: Mapping[str, float] | None = None,
    compact: bool = False,
) -> Messages:
    """One user turn holding the benchmark prompt; open-book puts the reference passages before it.

    ``style="benchmark"`` adds no system rules closed-book, so the model sees what the benchmark's authors
    sent. ``style="plain"`` ignores the file's prompt and sends an expert system line, the question, the
    options and "reply with the letter" *last*: the CTI-Bench instruction ends its first paragraph with
    "A, B, C, or D", and a 0.5B model copies that last letter (measured: 2/10 right, 6 of 10 answers "D", vs
    7/10 plain on our sample). Open-book adds only the passages (the letter-only format is kept).
    ``excerpt="focused"`` quotes each passage's window that best matches ``query`` (default: the question and
    its options, what open-book retrieval searches with) instead of its head. ``compact`` heads the passages
    ``Reference:`` and separates them from the question by a blank line only (6 prompt tokens fewer than
    ``Reference passages (they may help):`` and ``---`` in Qwen2.5's tokenizer).
    """
    if style not in MCQ_STYLES:
        raise ValueError(f"style must be one of {MCQ_STYLES}, not {style!r}")
    if passages:
        q = query or " ".join([question, *options])
        quoted = format_passages(passages, max_chars, query=q, excerpt=excerpt, weights=weights)
        refs = f"Reference:\n{quoted}\n\n" if compact else f"Reference passages (they may help):\n\n{quoted}\n\n---\n\n"
    else:
        refs = ""
    if style == "plain":
        if len(options) != 4:
            raise ValueError(f"a multiple-choice question needs 4 options, got {len(options)}")
        opts = "\n".join(f"{letter}. {text.strip()}" for letter, text in zip(LETTERS, options, strict=True))
        body = f"{refs}{question.strip()}\n{opts}\n\n{_PLAIN_ASK}"
        return [{"role": "system", "content": _PLAIN_SYSTEM}, {"role": "user", "content": body}]
    return [{"role": "user", "content": refs + mcq_prompt(question, options, prompt)}]
