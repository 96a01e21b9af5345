"""A tiny random Qwen2 model with a byte-level BPE tokenizer and a ChatML template, saved to a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

QA = [
    ("Which tactic is T1548?", "Privilege Escalation"),
    ("What CWE is SQL injection?", "CWE-89"),
    ("Which mitigation applies to T1110?", "M1032 Multi-factor Authentication"),
    ("What CWE is cross-site scripting?", "CWE-79"),
    ("Which data source detects T1059?", "Command Execution"),
    ("What CWE is an out-of-bounds write?", "CWE-787"),
]


def chat(q: str, a: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You are a CTI assistant."},
            {"role": "user", "content": q},
            {"role": "assistant", "content": a},
        ],
        "meta": {"source": "test"},
    }


def build_tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [f"{q} {a} You are a CTI assistant. system user assistant" for q, a in QA] * 3
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    vocab = 64 * ((len(fast) + 63) // 64)
    torch.manual_seed(0)
    cfg = Qwen2Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=vocab,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        initializer_range=0.3,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.pad_token_id,
    )
    Qwen2ForCausalLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2") / "model")


@pytest.fixture
def chat_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "train.jsonl").write_text("".join(json.dumps(chat(q, a)) + "\n" for q, a in QA))
    (d / "val.jsonl").write_text("".join(json.dumps(chat(q, a)) + "\n" for q, a in QA[:2]))
    return d
