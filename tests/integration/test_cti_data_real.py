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
