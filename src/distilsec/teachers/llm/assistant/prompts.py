"""Prompts of the CTI assistant: closed-book and open-book questions, multiple-choice in the benchmark's style.

Open-book prompts quote each retrieved passage under its ID (``[T1548] Abuse Elevation Control Mechanism``)
and ask the model to cite those IDs, so an answer can be traced to the passage it used. Passages are cut to
``max_chars`` each: on 2 CPU cores prompt evaluation (measured ~90-100 tokens/s for the 0.5B model, ~45-58
for the 1.5B) is most of the cost of an answer, and the first few hundred characters of a knowledge passage
carry its definition (BENCHMARKS.md section 13 measures k and the cut).
"""

from __future__ import annotations

from collections.abc import Sequence

from distilsec.data.knowledge.passage import Passage
from distilsec.teachers.llm.backend import Messages

__all__ = [
    "SYSTEM_CLOSED",
    "SYSTEM_OPEN",
    "MCQ_INSTRUCTION",
    "LETTERS",
    "MCQ_STYLES",
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


def format_passages(passages: Sequence[Passage], max_chars: int = 500) -> str:
    """The passages as quoted reference blocks, each headed by its citable ID and title."""
    return "\n\n".join(f"[{p.id}] {p.title}\n{_cut(p.text, max_chars)}" for p in passages)


def question_messages(question: str, passages: Sequence[Passage] | None = None, max_chars: int = 500) -> Messages:
    """Chat messages for a free question: closed-book when ``passages`` is None (or empty), else open-book."""
    if not passages:
        return [{"role": "system", "content": SYSTEM_CLOSED}, {"role": "user", "content": question.strip()}]
    refs = format_passages(passages, max_chars)
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
) -> Messages:
    """One user turn holding the benchmark prompt; open-book puts the reference passages before it.

    ``style="benchmark"`` adds no system rules closed-book, so the model sees what the benchmark's authors
    sent. ``style="plain"`` ignores the file's prompt and sends an expert system line, the question, the
    options and "reply with the letter" *last*: the CTI-Bench instruction ends its first paragraph with
    "A, B, C, or D", and a 0.5B model copies that last letter (measured: 2/10 right, 6 of 10 answers "D", vs
    7/10 plain on our sample). Open-book adds only the passages (the letter-only format is kept).
    """
    if style not in MCQ_STYLES:
        raise ValueError(f"style must be one of {MCQ_STYLES}, not {style!r}")
    refs = (
        f"Reference passages (they may help):\n\n{format_passages(passages, max_chars)}\n\n---\n\n" if passages else ""
    )
    if style == "plain":
        if len(options) != 4:
            raise ValueError(f"a multiple-choice question needs 4 options, got {len(options)}")
        opts = "\n".join(f"{letter}. {text.strip()}" for letter, text in zip(LETTERS, options, strict=True))
        body = f"{refs}{question.strip()}\n{opts}\n\n{_PLAIN_ASK}"
        return [{"role": "system", "content": _PLAIN_SYSTEM}, {"role": "user", "content": body}]
    return [{"role": "user", "content": refs + mcq_prompt(question, options, prompt)}]
