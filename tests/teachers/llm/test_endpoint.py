"""The OpenAI-compatible endpoint client, against a mock transport (no server, no network)."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from distilsec.teachers.llm.endpoint import EndpointBackend, EndpointError
from distilsec.teachers.llm.prompts import PromptTemplate

WORDS = ("benign", "malicious")
MSGS = PromptTemplate("cmdline", WORDS).messages("git status")


def _chat_reply(top: list[tuple[str, float]], content: str = "mal") -> dict:
    return {
        "choices": [
            {
                "message": {"role": "assistant", "content": content},
                "logprobs": {
                    "content": [
                        {
                            "token": top[0][0],
                            "logprob": top[0][1],
                            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top],
                        }
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 1},
    }


def _backend(handler, **kw) -> EndpointBackend:
    return EndpointBackend("http://127.0.0.1:9/v1", "qwen", transport=httpx.MockTransport(handler), **kw)


def test_logprobs_mode_reads_label_words_from_top_candidates():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(json.loads(request.content))
        assert request.url.path == "/v1/chat/completions"
        return httpx.Response(200, json=_chat_reply([("mal", -0.1), ("ben", -2.4), ("Ben", -4.0), ("The", -6.0)]))

    res = _backend(handler).label(MSGS, WORDS)
    assert seen["max_tokens"] == 1 and seen["logprobs"] is True and seen["temperature"] == 0.0
    lp = res.answer["logprobs"]
    assert lp[1] == pytest.approx(-0.1)
    assert lp[0] == pytest.approx(math.log(math.exp(-2.4) + math.exp(-4.0)), abs=1e-6)
    assert res.answer["floor"] == pytest.approx(-6.0) and res.prompt_tokens == 120


def test_missing_label_is_none_and_json_mode_parses_or_refuses_to_guess():
    only_mal = _backend(lambda r: httpx.Response(200, json=_chat_reply([("mal", -0.01), ("M", -5.0)])))
    assert only_mal.label(MSGS, WORDS).answer["logprobs"][0] is None

    def json_handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == list(WORDS)
        return httpx.Response(200, json={"choices": [{"message": {"content": '{"label": "benign"}'}}]})

    lp = _backend(json_handler, mode="json").label(MSGS, WORDS).answer["logprobs"]
    assert lp[0] > lp[1]
    garbage = _backend(
        lambda r: httpx.Response(200, json={"choices": [{"message": {"content": "maybe?"}}]}), mode="json"
    )
    assert garbage.label(MSGS, WORDS).answer["logprobs"] == [None, None]


def test_retries_then_succeeds_and_reports_errors(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    attempts = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json=_chat_reply([("ben", -0.2), ("mal", -1.8)]))

    assert _backend(flaky).label(MSGS, WORDS).answer["logprobs"][0] == pytest.approx(-0.2)
    assert len(attempts) == 3
    with pytest.raises(EndpointError, match="HTTP 401"):
        _backend(lambda r: httpx.Response(401, text="no key")).label(MSGS, WORDS)
    with pytest.raises(EndpointError, match="no choices"):
        _backend(lambda r: httpx.Response(200, json={"error": "x"})).label(MSGS, WORDS)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(EndpointError, match="cannot reach"):
        _backend(down, max_retries=1).label(MSGS, WORDS)


def test_api_key_from_environment_and_bad_urls(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sekrit")
    got = {}

    def handler(request: httpx.Request) -> httpx.Response:
        got["auth"] = request.headers.get("authorization")
        return httpx.Response(200, json=_chat_reply([("ben", -0.2), ("mal", -1.8)]))

    b = _backend(handler, api_key_env="MY_KEY")
    b.label(MSGS, WORDS)
    assert got["auth"] == "Bearer sekrit" and "sekrit" not in b.model_id
    from distilsec.errors import ConfigError

    with pytest.raises(ConfigError):
        EndpointBackend("localhost:8080", "m")
    with pytest.raises(ConfigError):
        EndpointBackend("http://h/v1", "m", mode="text")
