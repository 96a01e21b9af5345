"""The CTI instruction-data build on the real knowledge in ../shared/data (skipped when absent); ~1 min."""

from __future__ import annotations

import json
import time

import pytest

from distilsec.data.instruct.split import mentioned_ids
from distilsec.data.instruct.templates import family
from distilsec.pipeline.cti_data import build_cti_data

pytestmark = pytest.mark.integration


@pytest.fixture
def knowledge_dir(real_data):
    missing = [p for p in ("attack", "cwe", "capec", "cve") if not (real_data / p).is_dir()]
    if missing:
        pytest.skip(
            f"knowledge folders {missing} not found under {real_data}: set DISTILSEC_DATA to a folder holding them"
        )
    return real_data


def test_real_build_counts_split_and_audits(knowledge_dir, tmp_path):
    t0 = time.perf_counter()
    rep = build_cti_data(knowledge_dir, tmp_path / "cti", max_per_template=300, max_cves=1000)
    seconds = time.perf_counter() - t0
    assert seconds < 180
    assert rep["audit"]["shared_cve_ids"] == 0 and rep["audit"]["near_copies"] == 0
    assert rep["audit"]["heldout_mentions"] == 0
    assert rep["knowledge"]["parts"]["attack"]["links"]["mitigates_pairs"] > 1000
    assert all(n > 0 for n in rep["counts"]["train"].values()) and len(rep["counts"]["train"]) == 9
    assert sum(rep["counts"]["heldout_mcq"].values()) > 100
    held = {e for ids in rep["heldout"]["entities"].values() for e in ids}
    with open(tmp_path / "cti" / "train.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            ents = {family(e) for e in doc["meta"]["entities"]}
            assert not ents & held
            assert not mentioned_ids(" ".join(m["content"] for m in doc["messages"])) & held


@pytest.mark.llm
def test_real_teacher_written_records(knowledge_dir, tmp_path):
    """Three passages asked of the shipped 0.5B GGUF (one thread; ~1-2 min on a busy 2-core machine); a rerun
    reads every answer back from the ledger."""
    import importlib.util

    from distilsec.data.instruct.teacher_written import TEMPLATE, TeacherWriting
    from distilsec.errors import ConfigError

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the optional extra 'llm' (llama-cpp-python) is not installed")
    cfg = TeacherWriting(3, generator="qwen2.5-coder-0.5b", ledger=str(tmp_path / "l.sqlite"), n_threads=1)
    try:
        rep = build_cti_data(knowledge_dir, tmp_path / "a", max_per_template=50, max_cves=300, teacher=cfg)
    except ConfigError as exc:
        pytest.skip(f"the shipped GGUF is not installed: {exc}")
    t = rep["teacher"]
    assert t["asked"] == 3 == t["calls"] and t["model_id"].startswith("gguf:")
    assert t["kept"] + sum(t["rejected"].values()) == 3
    docs = [json.loads(x) for f in ("train.jsonl", "val.jsonl") for x in (tmp_path / "a" / f).open()]
    for d in (d for d in docs if d["meta"]["template"] == TEMPLATE):
        assert d["meta"]["provenance"] and d["meta"]["source"] and d["meta"]["evidence"]
    rep = build_cti_data(knowledge_dir, tmp_path / "b", max_per_template=50, max_cves=300, teacher=cfg)
    assert rep["teacher"]["calls"] == 0 and rep["teacher"]["cached"] == 3
