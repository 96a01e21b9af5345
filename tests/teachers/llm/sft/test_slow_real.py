"""Two real LoRA steps on the shipped Qwen2.5-Coder-0.5B GGUF (minutes on CPU: only with DISTILSEC_SLOW=1)."""

from __future__ import annotations

import json
import os

import pytest

from distilsec.pipeline.sft import run_sft
from distilsec.teachers.llm.sft.config import load_sft_config

pytestmark = pytest.mark.skipif(
    os.environ.get("DISTILSEC_SLOW") != "1",
    reason="loads and trains the 0.5B GGUF (~65-95 s load + ~20-40 s/step on 2 cores): set DISTILSEC_SLOW=1",
)


def test_two_real_steps_on_the_shipped_gguf(chat_dir, tmp_path):
    cfg = load_sft_config(
        None,
        {
            "model.name": "qwen2.5-coder-0.5b",
            "data.train": str(chat_dir),
            "train.max_steps": 2,
            "train.batch_size": 2,
            "train.save_every": 1,
            "export.merged": False,
            "export.gguf": [],
        },
    )
    report = run_sft(cfg, out=tmp_path / "run")
    assert report["training"]["steps"] == 2 and report["model"]["kind"] == "gguf"
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "sft-report.json").read_text())["cost"]["tokens_per_s"] > 0
