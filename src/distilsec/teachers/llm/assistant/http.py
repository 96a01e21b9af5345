"""A thin OpenAI-compatible ``/v1/chat/completions`` endpoint that answers open-book, streaming over SSE.

llama.cpp's own server speaks the same protocol but knows nothing of the knowledge index. This endpoint
takes the last user message as the retrieval query, adds the top-k passages to the system prompt, and
runs the same backend as ``distilsec ask``; any OpenAI client (``stream: true`` included) works unchanged.
The cited passages come back in an extra ``distilsec`` field (the last chunk when streaming).

One model instance answers one request at a time (llama.cpp's context is not thread-safe), so calls are
serialised by a lock; a SOC analyst's private assistant has few concurrent users.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from distilsec.teachers.llm.assistant.answer import Searcher, extract_citations, retrieve, stream_chat
from distilsec.teachers.llm.assistant.prompts import SYSTEM_OPEN, format_passages
from distilsec.teachers.llm.backend import Messages

__all__ = ["create_app", "open_book_messages"]


def open_book_messages(messages: Messages, passages: list[Any], max_chars: int = 500) -> Messages:
    """The client's messages with the reference passages added to (or as) the system prompt."""
    if not passages:
        return messages
    refs = f"{SYSTEM_OPEN}\n\nReference passages:\n\n{format_passages(passages, max_chars)}"
    if messages and messages[0].get("role") == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{refs}"}, *messages[1:]]
    return [{"role": "system", "content": refs}, *messages]


def _last_user(messages: Messages) -> str:
    for m in reversed(messages):
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    return ""


def create_app(backend: Any, index: Searcher | None = None, *, k: int = 4, model_name: str = "distilsec-cti") -> Any:
    """A FastAPI app serving ``backend`` (open-book when ``index`` is given; a request may send
    ``"open_book": false`` to turn it off, or ``"k"`` to change the number of passages)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import StreamingResponse

    app = FastAPI(title="distilsec CTI assistant", version="1")
    lock = threading.Lock()

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "open_book": index is not None}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "distilsec"}]}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> Any:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise HTTPException(status_code=422, detail="messages must be a non-empty list of {role, content}")
        use_index = index if body.get("open_book", True) else None
        n = int(body.get("k", k))
        passages = retrieve(_last_user(messages), use_index, n)
        prompt = open_book_messages([{"role": str(m.get("role")), "content": str(m.get("content") or "")}
                                     for m in messages], passages)  # fmt: skip
        max_tokens = int(body.get("max_tokens") or 384)
        temperature = float(body.get("temperature") or 0.0)
        seed = int(body.get("seed") or 0)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def cited(text: str) -> dict[str, Any]:
            by_id = {p.id: p for p in passages}
            ids = extract_citations(text, passages)
            return {
                "passages": [p.id for p in passages],
                "cited": [{"id": i, "title": by_id[i].title, "url": by_id[i].url} for i in ids],
            }

        def chunk(delta: dict[str, Any], finish: str | None, extra: dict[str, Any] | None = None) -> str:
            obj: dict[str, Any] = {
                "id": cid, "object": "chat.completion.chunk", "created": created, "model": model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }  # fmt: skip
            if extra is not None:
                obj["distilsec"] = extra
            return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

        if body.get("stream"):

            def events() -> Iterator[str]:
                parts: list[str] = []
                with lock:
                    yield chunk({"role": "assistant"}, None)
                    for piece in stream_chat(
                        backend, prompt, max_tokens=max_tokens, temperature=temperature, seed=seed
                    ):
                        parts.append(piece)
                        yield chunk({"content": piece}, None)
                yield chunk({}, "stop", cited("".join(parts)))
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        with lock:
            text = "".join(stream_chat(backend, prompt, max_tokens=max_tokens, temperature=temperature, seed=seed))
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "distilsec": cited(text),
        }  # fmt: skip

    return app
