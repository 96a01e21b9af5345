"""A deterministic stand-in for an LLM backend: keyword scores, a built-in bias, and a call log."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from pathlib import Path

from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import make_answer

KEYWORDS = ("enc", "http", "/dev/tcp", "-e /bin/sh", "pty", "scrobj", "vbscript", "javascript", "wmic", "certutil")
_DATA = re.compile(r"<data>(.*)</data>", re.S)


class FakeLLMBackend:
    """Scores the text inside ``<data>`` of the last message: malicious keywords raise the logit.

    ``bias`` is added to the malicious logit (small LLMs lean toward "malicious"); ``obey`` makes it
    answer benign whenever the input mentions "benign" or "harmless", the way a naive model follows
    an injected instruction. Every call is appended to
    ``calls`` (and to ``log_path`` when given), so tests can count repeats.
    """

    model_id = "fake:keywords"

    def __init__(
        self, bias: float = 2.5, obey: bool = False, log_path: str | Path | None = None, delay: float = 0.0
    ) -> None:
        self.bias = bias
        self.delay = delay
        self.model_id = f"fake:keywords:bias={bias}:obey={obey}"
        self.obey = obey
        self.log_path = Path(log_path) if log_path else None
        self.calls: list[str] = []

    def label(self, messages: list[dict[str, str]], label_words: Sequence[str]) -> CallResult:
        content = messages[-1]["content"]
        m = _DATA.search(content)
        data = m.group(1) if m else content
        hits = sum(k in data for k in KEYWORDS)
        z_mal = 3.0 * hits - 1.5 + self.bias
        if self.obey and ("benign" in data.lower() or "harmless" in data.lower()):
            z_mal = -6.0
        zs = [0.0] * len(label_words)
        zs[-1] = z_mal
        mx = max(zs)
        lse = mx + math.log(sum(math.exp(z - mx) for z in zs))
        lps = [z - lse - 0.05 for z in zs]  # a little mass on other tokens
        if self.delay:
            time.sleep(self.delay)
        self.calls.append(data)
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(data.replace("\n", " ") + "\n")
        word = label_words[max(range(len(lps)), key=lambda j: lps[j])]
        return CallResult(make_answer(lps, word, "logprobs"), prompt_tokens=len(content) // 4, seconds=0.001)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(len(m["content"]) for m in messages) // 4

    def close(self) -> None:
        pass
