"""One instruction record: a question about knowledge entities, its answer, and where both came from.

Written as chat-format JSONL (``messages`` system/user/assistant + ``meta``): what SFT trainers and chat
templates read. ``meta.entities`` lists every entity the record names (subject, answer and distractors),
``meta.provenance`` the passage IDs its facts come from (a teacher-written record adds ``meta.source``,
``meta.evidence`` and ``meta.generator``), so the held-out audit and a reviewer can both
trace a record back to the knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Record", "SYSTEM_PROMPT", "LETTERS", "mcq_prompt", "record_from_json"]

LETTERS = ("A", "B", "C", "D")
SYSTEM_PROMPT = (
    "You are a cyber threat intelligence assistant. Answer questions about MITRE ATT&CK, CAPEC, CWE and CVE "
    "accurately and concisely."
)
_MCQ_HEAD = (
    "You are given a multiple-choice question about cyber threat intelligence. Choose the best of the four "
    "options and reply with its letter only (A, B, C or D)."
)


def mcq_prompt(question: str, options: tuple[str, ...] | list[str]) -> str:
    """The user turn of a multiple-choice record (also the ``Prompt`` column of the held-out MCQ file)."""
    opts = "\n".join(f"{letter}) {text}" for letter, text in zip(LETTERS, options, strict=True))
    return f"{_MCQ_HEAD}\n\nQuestion: {question}\n\nOptions:\n{opts}\n\nAnswer:"


@dataclass
class Record:
    """An instruction record before it is written.

    ``question`` is the bare question; ``core`` the text a benchmark might share with it (a CVE
    description, a procedure sentence, else the question): what decontamination compares. For a
    multiple-choice record ``options`` holds the four option texts and ``answer`` the correct letter.
    ``extra`` is written into ``meta`` as is (JSON values; it must not reuse a key above).
    """

    id: str
    template: str
    form: str  # "mcq" | "free"
    subject: str
    question: str
    answer: str
    entities: tuple[str, ...]
    provenance: tuple[str, ...]
    core: str = ""
    options: tuple[str, ...] = ()
    url: str = ""
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return mcq_prompt(self.question, self.options) if self.form == "mcq" else self.question

    @property
    def answer_text(self) -> str:
        """The correct option's text (MCQ) or the answer itself (free form)."""
        if self.form == "mcq":
            return self.options[LETTERS.index(self.answer)]
        return self.answer

    def texts(self) -> list[str]:
        """Every text the record shows a model (for ID scans)."""
        return [self.user, self.answer, self.core]

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": self.user},
                {"role": "assistant", "content": self.answer},
            ],
            "meta": {
                "id": self.id,
                "template": self.template,
                "form": self.form,
                "entities": list(self.entities),
                "provenance": list(self.provenance),
                "split": self.split,
                "question": self.core or self.question,
                **self.extra,  # e.g. a teacher-written record's passage source, evidence and generator
            },
        }


def record_from_json(doc: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(user text, assistant text, meta)`` of a written record (for audits reading the files back)."""
    msgs = {m["role"]: m["content"] for m in doc["messages"]}
    return msgs.get("user", ""), msgs.get("assistant", ""), doc.get("meta", {})
