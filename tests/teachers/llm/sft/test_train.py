"""The training loop on a tiny random Qwen2: loss falls, a killed run resumes to the same adapter."""

from __future__ import annotations

import pytest

from distilsec.teachers.llm.sft.config import SftConfig
from distilsec.teachers.llm.sft.data import encode_all, read_chat_jsonl
from distilsec.teachers.llm.sft.model import add_lora, load_base
from distilsec.teachers.llm.sft.trainer import train


def _setup(tiny_model, chat_dir, *, dropout=0.1, targets=("q_proj", "v_proj")):
    loaded = load_base(str(tiny_model), "cpu")
    data = read_chat_jsonl(chat_dir / "train.jsonl")
    enc, _ = encode_all(loaded.tokenizer, data.records, 128)
    model = add_lora(
        loaded.model, r=4, alpha=8, dropout=dropout, target_modules=list(targets), gradient_checkpointing=False
    )
    return model, enc, loaded


def _train(model, enc, loaded, out, **kw):
    args = dict(
        out_dir=out,
        pad_id=loaded.tokenizer.pad_token_id,
        device="cpu",
        lr=5e-2,
        epochs=1,
        max_steps=4,
        batch_size=2,
        grad_accum=1,
        warmup_steps=0,
        weight_decay=0.0,
        seed=7,
        save_every=1,
        keep_checkpoints=2,
    )
    args.update(kw)
    return train(model, enc, enc[:2], **args)


def test_loss_falls_on_a_memorisable_set(tiny_model, chat_dir, tmp_path):
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    model, enc, loaded = _setup(tiny_model, chat_dir, dropout=0.0, targets=targets)
    result = _train(model, enc, loaded, tmp_path / "run", max_steps=None, epochs=8, lr=3e-2, save_every=100)
    assert result.steps == 24 and len(result.val_loss) == 8
    first, last = sum(result.train_loss[:3]) / 3, sum(result.train_loss[-3:]) / 3  # one epoch each
    assert last < first * 0.7
    assert result.val_loss[-1] < result.val_loss[0] * 0.7
    assert result.tokens > 0 and result.tokens_per_s > 0


def _adapter(model):
    from peft import get_peft_model_state_dict

    return {k: v.clone() for k, v in get_peft_model_state_dict(model).items()}


def test_killed_run_resumes_to_the_same_adapter(tiny_model, chat_dir, tmp_path):
    import torch

    model, enc, loaded = _setup(tiny_model, chat_dir)
    full = _train(model, enc, loaded, tmp_path / "full", max_steps=5)
    want = _adapter(model)

    class Killed(Exception):
        pass

    def kill_after_3(step, _loss):
        if step == 3:
            raise Killed

    model2, enc2, loaded2 = _setup(tiny_model, chat_dir)
    with pytest.raises(Killed):
        _train(model2, enc2, loaded2, tmp_path / "part", max_steps=5, on_step=kill_after_3)
    model3, enc3, loaded3 = _setup(tiny_model, chat_dir)  # a fresh process: fresh model, RNG elsewhere
    torch.manual_seed(12345)
    resumed = _train(model3, enc3, loaded3, tmp_path / "part", max_steps=5)
    assert resumed.resumed_from == 3 and resumed.steps == 5
    got = _adapter(model3)
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), k
    assert resumed.train_loss == full.train_loss
    ckpts = sorted(p.name for p in (tmp_path / "part" / "checkpoints").iterdir())
    assert ckpts == ["step-000004", "step-000005"]  # keep_checkpoints=2, no temp folder left


def test_config_rejects_unknown_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SftConfig.model_validate({"lora": {"rank": 8}})


def test_gradient_checkpointing_trains(tiny_model, chat_dir, tmp_path):
    loaded = load_base(str(tiny_model), "cpu")
    enc, _ = encode_all(loaded.tokenizer, read_chat_jsonl(chat_dir / "train.jsonl").records, 128)
    model = add_lora(loaded.model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj"], gradient_checkpointing=True)
    result = _train(model, enc, loaded, tmp_path / "run", max_steps=2)
    assert result.steps == 2 and all(x == x for x in result.train_loss)  # finite, not NaN


def test_shipped_sft_config_loads_and_overrides_apply():
    from pathlib import Path

    from distilsec.teachers.llm.sft.config import load_sft_config

    path = Path(__file__).resolve().parents[4] / "configs" / "sft" / "cti-sft.yaml"
    cfg = load_sft_config(path, {"train.max_steps": "2", "export.gguf": "[q4_0]"})
    assert cfg.model.name == "qwen2.5-coder-0.5b" and cfg.data.train == "runs/cti-data"
    assert cfg.train.max_steps == 2 and cfg.export.gguf == ["q4_0"]
