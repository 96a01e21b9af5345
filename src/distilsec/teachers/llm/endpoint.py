"""An LLM teacher behind any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, hosted APIs).

The client asks for one token at temperature 0 with ``logprobs`` and ``top_logprobs``, and reads the
label-word probabilities from the returned candidates (:func:`~distilsec.teachers.llm.prompts.label_logprobs`).
For servers that return no log-probabilities, ``mode="json"`` constrains the answer with a JSON schema
(``{"label": <one of the label words>}``) and turns the parsed label into a near one-hot answer; a reply
that still does not parse is kept as raw text with ``logprobs`` set to ``None`` (counted, never guessed).
``generate`` asks for a sampled completion (temperature, top-p, seed, stop sequences) with the same
timeout and retries; it is what the synthetic-data generators call.

Notes
-----
``model_id`` is the URL plus the served model name: a hosted model can change behind one name, so keep
separate ledgers (or names) for results you need to reproduce. The API key is read from the
environment variable named by ``api_key_env`` and is never stored.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from typing import Any

from distilsec.errors import ConfigError, DistilsecError
from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import Messages, make_answer, make_generation
from distilsec.teachers.llm.prompts import label_logprobs, token_matches

__all__ = ["EndpointBackend", "EndpointError"]

log = logging.getLogger("distilsec.llm")

#: probability given to the parsed label in ``json`` mode (the rest is spread over the other labels).
JSON_MODE_CONFIDENCE = 0.98
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EndpointError(DistilsecError):
    """The endpoint refused or failed a request (the message holds its status and reply)."""


class EndpointBackend:
    """OpenAI-compatible ``/chat/completions`` client via httpx.

    Parameters
    ----------
    base_url : e.g. ``http://127.0.0.1:8080/v1`` (the part before ``/chat/completions``).
    model : the served model name.
    mode : ``"logprobs"`` (one token with top log-probabilities) or ``"json"`` (schema-constrained answer).
    top_logprobs : candidates requested per token (OpenAI allows up to 20).
    api_key_env : environment variable holding a bearer token (optional).
    timeout, max_retries : per request; retries back off exponentially on 429/5xx and connection errors.
    transport : an ``httpx`` transport (tests use ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        mode: str = "logprobs",
        top_logprobs: int = 20,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 3,
        transport: Any = None,
    ) -> None:
        import httpx

        if mode not in ("logprobs", "json"):
            raise ConfigError(f"endpoint mode must be 'logprobs' or 'json', not {mode!r}")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.mode = mode
        self.top_logprobs = top_logprobs
        self.max_retries = max_retries
        self.model_id = f"endpoint:{self.base_url}|{model}"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    # ---- requests ----
    def _body(self, messages: Messages, label_words: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0.0, "seed": 0}
        if self.mode == "logprobs":
            body.update(max_tokens=1, logprobs=True, top_logprobs=self.top_logprobs)
        else:
            body.update(
                max_tokens=16,
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": "label",
                        "strict": True,
                        "schema": {
                            "type": "object",
                            "properties": {"label": {"type": "string", "enum": list(label_words)}},
                            "required": ["label"],
                            "additionalProperties": False,
                        },
                    },
                },
            )
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/chat/completions"
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._client.post(url, json=body)
            except httpx.TransportError as exc:
                if attempt == self.max_retries:
                    raise EndpointError(f"cannot reach {url}: {exc}") from None
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()
                    except json.JSONDecodeError:
                        raise EndpointError(f"{url} answered 200 with non-JSON: {resp.text[:200]!r}") from None
                if resp.status_code not in _RETRY_STATUS or attempt == self.max_retries:
                    raise EndpointError(f"{url} answered HTTP {resp.status_code}: {resp.text[:300]}")
            log.info("endpoint attempt %d failed; retrying in %.1f s", attempt + 1, delay)
            time.sleep(delay)
            delay *= 2
        raise EndpointError(f"{url}: no answer after {self.max_retries + 1} attempts")  # pragma: no cover

    # ---- the backend contract ----
    def label(self, messages: Messages, label_words: Sequence[str]) -> CallResult:
        t0 = time.perf_counter()
        reply = self._post(self._body(messages, label_words))
        seconds = time.perf_counter() - t0
        usage = reply.get("usage") or {}
        try:
            choice = reply["choices"][0]
            text = choice.get("message", {}).get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"unexpected reply (no choices): {str(reply)[:300]}") from None
        top = _top_logprobs(choice)
        if self.mode == "logprobs" and top is not None:
            lps = label_logprobs(top, label_words)
            answer = make_answer(lps, text, "logprobs", floor=min(v for _, v in top))
        else:
            answer = make_answer(_parse_json_label(text, label_words), text, "json")
        return CallResult(answer, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), seconds)

    def generate(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> CallResult:
        """One sampled completion (``seed`` is passed on; servers that honour it answer reproducibly).

        Raises
        ------
        EndpointError
            The server refused, timed out after the retries, or answered without a choice.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": int(max_tokens),
            "temperature": float(temperature),
            "top_p": float(top_p),
            "seed": int(seed),
        }
        if stop:
            body["stop"] = list(stop)[:4]  # OpenAI accepts at most four stop sequences
        t0 = time.perf_counter()
        reply = self._post(body)
        seconds = time.perf_counter() - t0
        if not isinstance(reply, dict):
            raise EndpointError(f"unexpected reply (not a JSON object): {str(reply)[:300]}")
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        try:
            choice = reply["choices"][0]
            text = choice.get("message", {}).get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise EndpointError(f"unexpected reply (no choices): {str(reply)[:300]}") from None
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        return CallResult(
            make_generation(text if isinstance(text, str) else "", finish if isinstance(finish, str) else None),
            int(usage.get("prompt_tokens", 0) or 0),
            int(usage.get("completion_tokens", 0) or 0),
            seconds,
        )

    def count_tokens(self, messages: Messages) -> int:
        """An estimate (the server's tokenizer is not at hand): ~3.5 characters per token."""
        return int(sum(len(m["content"]) for m in messages) / 3.5) + 4 * len(messages)

    def close(self) -> None:
        self._client.close()


def _top_logprobs(choice: dict[str, Any]) -> list[tuple[str, float]] | None:
    """``(token, logprob)`` candidates of the first generated token, or None when absent."""
    lp = choice.get("logprobs")
    if not lp:
        return None
    content = lp.get("content")
    if content:  # chat format: [{token, logprob, top_logprobs: [{token, logprob}]}]
        first = content[0]
        cands = [(c["token"], float(c["logprob"])) for c in first.get("top_logprobs") or []]
        if not any(t == first.get("token") for t, _ in cands) and "token" in first:
            cands.append((first["token"], float(first["logprob"])))
        return cands or None
    top = lp.get("top_logprobs")  # completions format: [{token: logprob}]
    if top:
        return [(t, float(v)) for t, v in top[0].items()]
    return None


def _parse_json_label(text: str, label_words: Sequence[str]) -> list[float | None]:
    """Near one-hot log-probs from a ``{"label": ...}`` reply; all ``None`` when it does not parse."""
    word = None
    try:
        obj = json.loads(text)
        if isinstance(obj, dict) and isinstance(obj.get("label"), str):
            word = obj["label"]
    except json.JSONDecodeError:
        word = text.strip().strip('"') if text.strip() else None
    hits = [j for j, w in enumerate(label_words) if word is not None and token_matches(word, w, label_words)]
    if len(hits) != 1:
        return [None] * len(label_words)
    rest = math.log((1 - JSON_MODE_CONFIDENCE) / (len(label_words) - 1))
    return [math.log(JSON_MODE_CONFIDENCE) if j == hits[0] else rest for j in range(len(label_words))]
