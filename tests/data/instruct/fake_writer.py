"""A deterministic stand-in for a generating LLM: reads the quoted passage and answers one JSON record.

Per passage ID it can misbehave on purpose (``modes``): ``malformed`` (prose around the JSON), ``fields``
(a key missing), ``evidence`` (a quote the passage does not hold), ``foreign`` (names an ID the passage
does not), ``offtopic`` (an answer of words the passage lacks), ``truncated`` (cut at max_tokens),
``dup:<ID>`` (the question written for passage ``<ID>``), ``template`` (a template record's question),
``error`` (the call raises). ``kill_after`` raises KeyboardInterrupt on that call (a killed job); judge
prompts answer YES unless the passage is in ``judge_no``. Every call is logged in ``calls``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence

from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import make_generation

_HEAD = re.compile(r"^Passage \[(?P<pid>[^\]]+)\] (?P<title>.*?) \(source: ", re.M)
_TEXT = re.compile(r'"""\n(.*?)\n"""', re.S)
_VOCAB = [
    "adversary",
    "operator",
    "analyst",
    "defender",
    "payload",
    "registry",
    "kernel",
    "beacon",
    "implant",
    "sandbox",
    "telemetry",
    "exfiltration",
    "persistence",
    "loader",
    "dropper",
    "credential",
    "token",
    "privilege",
    "lateral",
    "discovery",
    "staging",
    "archive",
    "pipeline",
    "firmware",
    "browser",
    "cookie",
    "session",
    "endpoint",
    "gateway",
    "tunnel",
    "proxy",
    "scheduler",
    "service",
    "driver",
    "module",
    "library",
    "script",
    "macro",
]


def question_for(pid: str) -> str:
    """A question unlike every other passage's (seeded words), so only the ``dup`` mode makes duplicates."""
    rng = random.Random(int(hashlib.sha256(pid.encode()).hexdigest()[:8], 16))
    return f"In this entry, how do {' '.join(rng.sample(_VOCAB, 7))} relate to each other?"


class FakeWriter:
    model_id = "fake:writer"

    def __init__(
        self,
        modes: dict[str, str] | None = None,
        *,
        kill_after: int | None = None,
        judge_no: Sequence[str] = (),
        template_question: str = "What is the name of the ATT&CK technique T1000?",
        model_id: str = "fake:writer",
    ) -> None:
        self.modes = dict(modes or {})
        self.kill_after = kill_after
        self.judge_no = set(judge_no)
        self.template_question = template_question
        self.model_id = model_id
        self.calls: list[str] = []

    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> CallResult:
        if self.kill_after is not None and len(self.calls) >= self.kill_after:
            raise KeyboardInterrupt
        user = messages[-1]["content"]
        text = _TEXT.search(user).group(1)  # type: ignore[union-attr]
        if messages[0]["content"].startswith("You check answers"):
            self.calls.append("judge")
            q = re.search(r"^Question: (.*)$", user, re.M)
            pid = next((p for p in self.judge_no if q and question_for(p) == q.group(1)), "")
            return CallResult(make_generation("NO" if pid in self.judge_no else "YES", "stop"), seconds=0.01)
        m = _HEAD.search(user)
        assert m is not None, user
        pid = m.group("pid")
        self.calls.append(pid)
        mode = self.modes.get(pid, "")
        if mode == "error":
            raise RuntimeError("the model tripped")
        first = text.split("\n")[0].strip()
        evidence = first.rstrip(".")
        doc = {"question": question_for(pid), "answer": first, "evidence": evidence}
        if mode == "fields":
            del doc["evidence"]
        elif mode == "evidence":
            doc["evidence"] = "This sentence appears nowhere in the passage at all."
        elif mode == "foreign":
            doc["answer"] = f"{first} It is also tracked as CWE-9999."
        elif mode == "offtopic":
            doc["answer"] = "Quantum blockchain synergy leverages holistic paradigms."
        elif mode.startswith("dup:"):
            doc["question"] = question_for(mode[4:]).rstrip("?") + "."
        elif mode == "template":
            doc["question"] = self.template_question
        reply = json.dumps(doc)
        if mode == "truncated":
            return CallResult(make_generation(reply[:40], "length"), seconds=0.5)
        if mode == "malformed":
            reply = f"Sure! Here is the record:\n{reply}\nHope this helps."
        elif pid.endswith("5"):
            reply = f"```json\n{reply}\n```"  # a fenced object is still strict JSON
        return CallResult(
            make_generation(reply, "stop"), prompt_tokens=len(user) // 4, completion_tokens=40, seconds=0.5
        )

    def close(self) -> None:
        pass
