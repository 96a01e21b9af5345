"""Integration on the real data in ../shared/data (skipped with a message when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilsec.config import load_config
from distilsec.data.split import canonical_group
from distilsec.pipeline.run import prepare_data, run_experiment

pytestmark = pytest.mark.integration
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def cmdline_data(request):
    from tests.conftest import shared_data_dir

    root = shared_data_dir()
    if root is None or not (root / "cmdline").is_dir():
        pytest.skip("real data not found: set DISTILSEC_DATA or place shared/data beside the repo")
    cfg = load_config(CONFIGS / "cmdline-distill.yaml", {"data.data_dir": str(root)})
    return prepare_data(cfg)


def test_cmdline_split_has_no_leakage(cmdline_data):
    d = cmdline_data
    groups = {name: {canonical_group(e) for e in getattr(d, name)} for name in ("train", "val", "test")}
    assert not groups["train"] & groups["test"]
    assert not groups["train"] & groups["val"]
    texts_train = {e.text for e in d.train}
    assert not texts_train & {e.text for e in d.test}
    for part in (d.train, d.test):
        labels = {e.label for e in part}
        assert labels == {"benign", "malicious"}
    # the placeholder styles are gone from every split
    for e in d.train + d.val + d.test:
        assert "{{" not in e.text and "#{" not in e.text


def test_cmdline_shortcut_audit_drops_after_normalisation(cmdline_data):
    audit = cmdline_data.report["shortcut_audit"]
    text = json.dumps(audit)
    assert "auc" in text
    raw, norm = _format_aucs(audit)
    assert norm < raw


def _format_aucs(audit):
    """The raw and normalised format-only AUCs, wherever the audit stores them."""
    flat = {}

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = node

    walk("", audit)
    raw = [v for k, v in flat.items() if "raw" in k and k.endswith("auc") and isinstance(v, float)]
    norm = [v for k, v in flat.items() if "norm" in k and k.endswith("auc") and isinstance(v, float)]
    assert raw and norm, flat
    return raw[0], norm[0]


def test_smoke_run_on_real_cmdline(tmp_path, tiny_bert, real_data):
    """The whole pipeline on a capped real subset with a tiny teacher: plumbing, not quality."""
    overrides = {
        "data.data_dir": str(real_data),
        "data.max_examples": 3000,
        "teacher.members.0.model": str(tiny_bert),
        "teacher.members.0.max_train_samples": 300,
        "teacher.members.0.max_length": 32,
        "noise.rates": [0.3],
        "students.student.epochs": 1,
        "students.linear.epochs": 1,
        "evaluation.throughput_sample": 200,
    }
    cfg = load_config(CONFIGS / "cmdline-distill.yaml", overrides)
    result = run_experiment(cfg, out=tmp_path / "run")
    m = result.metrics["models"]
    assert set(m) >= {"teacher", "student", "student-hard", "linear", "linear-hard"}
    assert m["student"]["n"] > 100
    assert (result.run_dir / "report.md").read_text().count("|") > 20


def test_url_data_prepares_with_domain_groups(real_data):
    cfg = load_config(CONFIGS / "url-distill.yaml", {"data.data_dir": str(real_data), "data.max_examples": 8000})
    d = prepare_data(cfg)
    train_domains = {e.group for e in d.train if e.group}  # a URL without a domain is its own group (split.py)
    assert not train_domains & {e.group for e in d.test if e.group}
    assert all(not e.text.startswith(("http://", "https://")) for e in d.train[:500])
