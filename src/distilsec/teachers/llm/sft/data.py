"""Chat-format JSONL → token ids with the loss on the assistant answers only, grouped into length buckets.

Only answer tokens (and the end-of-turn marker after them, so the model learns to stop) carry labels; the
system prompt, the question and the template's role markers get -100, since the model should learn to
answer, not to write questions. Label positions are exact: the text is tokenized segment by segment at the
boundaries the chat template itself renders (prefix with ``add_generation_prompt`` vs the turn's end).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.errors import DataError

__all__ = ["ChatData", "Encoded", "read_chat_jsonl", "encode_chat", "encode_all", "bucket_batches", "collate", "IGNORE"]

log = logging.getLogger(__name__)

#: the label value torch's cross-entropy ignores
IGNORE = -100
_ROLES = {"system", "user", "assistant"}


@dataclass
class ChatData:
    """Records read from one JSONL file, and how many lines were skipped (rows in = read + skipped)."""

    path: str
    records: list[list[dict[str, str]]]
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]


def _messages(obj: Any) -> list[dict[str, str]] | str:
    """The record's messages, or why it is malformed."""
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return "no messages list"
    msgs = obj["messages"]
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            return "a message lacks a known role or text content"
    if not any(m["role"] == "assistant" and m["content"].strip() for m in msgs):
        return "no assistant answer"
    return [{"role": m["role"], "content": m["content"]} for m in msgs]


def read_chat_jsonl(path: str | Path, *, limit: int | None = None) -> ChatData:
    """Read ``{"messages": [...], "meta": {...}}`` lines; a malformed line is counted and skipped, not fatal."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"chat data file not found: {p}")
    out = ChatData(path=str(p), records=[])
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            if limit is not None and len(out.records) >= limit:
                break
            try:
                got = _messages(json.loads(line))
            except json.JSONDecodeError:
                got = "not JSON"
            if isinstance(got, str):
                out.skipped += 1
                out.reasons[got] = out.reasons.get(got, 0) + 1
            else:
                out.records.append(got)
    if out.skipped:
        log.warning("%s: skipped %d malformed lines (%s)", p, out.skipped, out.reasons)
    return out


def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> Encoded | None:
    """Token ids and labels (answer tokens only); ``None`` when truncation left no answer token."""
    full = _render(tokenizer, messages, generation_prompt=False)
    segments: list[tuple[str, bool]] = []  # (text, is_answer)
    pos = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = _render(tokenizer, messages[:i], generation_prompt=True)
        end = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if not (full.startswith(prefix) and full.startswith(end) and len(prefix) >= pos):
            raise DataError("the chat template does not render turns as prefixes of the whole chat")
        segments += [(full[pos : len(prefix)], False), (full[len(prefix) : len(end)], True)]
        pos = len(end)
    segments.append((full[pos:], False))
    ids: list[int] = []
    labels: list[int] = []
    for text, is_answer in segments:
        if not text:
            continue
        toks = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += toks
        labels += toks if is_answer else [IGNORE] * len(toks)
    ids, labels = ids[:max_length], labels[:max_length]
    if all(x == IGNORE for x in labels[1:]):  # the first label is never predicted (no token before it)
        return None
    return Encoded(ids, labels)


def encode_all(tokenizer: Any, records: list[list[dict[str, str]]], max_length: int) -> tuple[list[Encoded], int]:
    """Encode every record; returns the encoded ones and how many lost all answer tokens to ``max_length``."""
    out: list[Encoded] = []
    too_long = 0
    for msgs in records:
        enc = encode_chat(tokenizer, msgs, max_length)
        if enc is None:
            too_long += 1
        else:
            out.append(enc)
    if too_long:
        log.warning("%d records had no answer token left within max_length=%d; skipped", too_long, max_length)
    return out, too_long


def bucket_batches(lengths: list[int], batch_size: int, *, seed: int, grouping: str = "bucket") -> list[list[int]]:
    """Batches of record indices in a seeded order: with ``bucket``, similar lengths share a batch.

    Shuffle, cut into windows of 50 batches, sort each window by length, batch it, shuffle the batches: little
    padding, yet no fixed short-to-long order across the epoch. The same seed gives the same batches (resume).
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if grouping == "bucket":
        window = batch_size * 50
        order = [
            i for s in range(0, len(order), window) for i in sorted(order[s : s + window], key=lengths.__getitem__)
        ]
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(items: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask and labels (-100 on padding)."""
    import torch

    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, e in enumerate(items):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
