"""A scripted stand-in for an LLM backend: fixed replies, streamed in pieces, with a call log."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from distilsec.data.knowledge.passage import Passage
from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import Messages, make_answer, make_generation

PASSAGES = [
    Passage("T1548", "T1548", "technique", "Abuse Elevation Control Mechanism",
            "Adversaries may circumvent mechanisms designed to control elevated privileges to gain higher-level "
            "permissions.", "attack:test", "https://attack.mitre.org/techniques/T1548/"),
    Passage("T1548.002", "T1548.002", "technique", "Bypass User Account Control",
            "Adversaries may bypass UAC mechanisms to elevate process privileges on a Windows system.",
            "attack:test", "https://attack.mitre.org/techniques/T1548/002/"),
    Passage("M1026", "M1026", "mitigation", "Privileged Account Management",
            "Manage the creation, modification, use, and permissions associated to privileged accounts, "
            "including SYSTEM and root. Mitigates T1548.", "attack:test", "https://attack.mitre.org/mitigations/M1026/"),
    Passage("CWE-79", "CWE-79", "cwe", "Improper Neutralization of Input During Web Page Generation",
            "Cross-site scripting: the product does not neutralize user-controllable input before it is placed "
            "in output that is used as a web page.", "cwe:test", "https://cwe.mitre.org/data/definitions/79.html"),
    Passage("CWE-89", "CWE-89", "cwe", "SQL Injection",
            "Improper neutralization of special elements used in an SQL command.", "cwe:test", ""),
    Passage("T1003", "T1003", "technique", "OS Credential Dumping",
            "Adversaries may attempt to dump credentials such as password hashes from the operating system, "
            "for example from LSASS memory.", "attack:test", ""),
]  # fmt: skip


class ScriptedBackend:
    """Replies with ``reply(messages)`` (a string or a callable), streamed in ``chunk``-character pieces.

    ``letter_logprobs`` answers ``label`` calls; every call's messages are kept in ``calls``.
    """

    model_id = "fake:scripted"

    def __init__(
        self,
        reply: str | Callable[[Messages], str] = "A",
        chunk: int = 4,
        letter_logprobs: Sequence[float] = (-3.0, -0.1, -4.0, -5.0),
    ) -> None:
        self.reply = reply
        self.chunk = chunk
        self.label_logprobs = list(letter_logprobs)
        self.calls: list[Messages] = []

    def _text(self, messages: Messages) -> str:
        self.calls.append(messages)
        return self.reply(messages) if callable(self.reply) else self.reply

    def stream(self, messages: Messages, **_: object) -> Iterator[str]:
        text = self._text(messages)
        for i in range(0, len(text), self.chunk):
            yield text[i : i + self.chunk]

    def generate(self, messages: Messages, **_: object) -> CallResult:
        text = self._text(messages)
        return CallResult(make_generation(text, "stop"), completion_tokens=len(text.split()))

    def label(self, messages: Messages, label_words: Sequence[str]) -> CallResult:
        self.calls.append(messages)
        return CallResult(make_answer(self.label_logprobs[: len(label_words)], "", "logprobs"))

    def count_tokens(self, messages: Messages) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def close(self) -> None:
        return None
