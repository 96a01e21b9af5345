"""Chat JSONL reading, exact answer-only labels, and seeded length buckets."""

from __future__ import annotations

import json

from distilsec.teachers.llm.sft.data import IGNORE, bucket_batches, encode_chat, read_chat_jsonl

from .conftest import QA, chat


def test_malformed_lines_are_counted_and_skipped(tmp_path):
    lines = [
        json.dumps(chat(*QA[0])),
        "{not json",
        json.dumps({"messages": "oops"}),
        json.dumps({"messages": [{"role": "user", "content": "q"}]}),  # no answer
        json.dumps({"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "a"}]}),
        json.dumps(chat(*QA[1])),
        "",
    ]
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines) + "\n")
    got = read_chat_jsonl(p)
    assert len(got.records) == 2 and got.skipped == 4
    assert len(got.records) + got.skipped == 6  # rows in (non-blank) = read + skipped
    assert got.reasons["not JSON"] == 1 and got.reasons["no assistant answer"] == 1


def test_labels_cover_exactly_the_answer_and_its_end_marker(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    msgs = chat(*QA[0])["messages"]
    enc = encode_chat(tok, msgs, 256)
    prefix = tok.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    n_prefix = len(tok(prefix, add_special_tokens=False)["input_ids"])
    answer = tok("Privilege Escalation<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert enc.labels[:n_prefix] == [IGNORE] * n_prefix
    assert enc.labels[n_prefix:] == answer == enc.input_ids[n_prefix:]
    assert tok.decode(enc.input_ids) == tok.apply_chat_template(msgs, tokenize=False)


def test_multi_turn_labels_every_answer_and_no_question(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    msgs = chat(*QA[0])["messages"] + [
        {"role": "user", "content": QA[1][0]},
        {"role": "assistant", "content": QA[1][1]},
    ]
    enc = encode_chat(tok, msgs, 512)
    labelled = tok.decode([t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE])
    assert labelled == "Privilege Escalation<|im_end|>\nCWE-89<|im_end|>\n"


def test_truncation_that_drops_the_answer_gives_none(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert encode_chat(tok, chat(*QA[0])["messages"], 5) is None


def test_buckets_are_seeded_cover_every_record_and_group_lengths():
    lengths = [5, 50, 6, 51, 7, 52, 8, 53]
    a = bucket_batches(lengths, 2, seed=3)
    assert a == bucket_batches(lengths, 2, seed=3)
    assert sorted(i for b in a for i in b) == list(range(8))
    assert all(abs(lengths[b[0]] - lengths[b[1]]) < 10 for b in a)
