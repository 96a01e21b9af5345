"""Decontamination: shared IDs and near-copies of benchmark texts leave training; the audit finds none left."""

from __future__ import annotations

import pytest

from distilsec.data.decontaminate import BenchText, check_contamination, decontaminate
from distilsec.data.example import Example
from distilsec.errors import ConfigError
from tests.tasks.cve_fixtures import description


def _train() -> list[Example]:
    return [Example(description(i % 3, i), f"CWE-{i % 3}", id=f"CVE-2019-{1000 + i}") for i in range(60)]


def test_removes_ids_and_near_copies_only():
    train = _train()
    bench = [
        BenchText("CVE-2019-1003", "a completely different text about something else", "b.tsv"),  # shared ID
        BenchText("CVE-2024-0001", train[10].text.replace("allows", "lets") + " Fixed in 2.0.", "b.tsv"),  # near-copy
        BenchText("CVE-2024-0002", "Race condition in the kernel scheduler of FooOS.", "b.tsv"),  # unrelated
    ]
    kept, report = decontaminate(train, bench, threshold=0.7)
    removed = set(report["removed_ids"])
    assert "CVE-2019-1003" in removed and train[10].id in removed
    assert report["removed_by_reason"]["shared_id"] == 1 and report["removed_by_reason"]["near_duplicate"] >= 1
    assert report["after"] == {"shared_ids": 0, "near_duplicates": 0, "shared_ngrams": 0}
    assert len(kept) == len(train) - report["removed"]
    # records of the same template but other products are not near-copies at 0.7
    assert report["removed"] <= 4
    assert check_contamination(train, bench)["shared_ids"] == 1


def test_ngram_option_and_bad_settings():
    train = _train()
    bench = [BenchText("", "allows remote attackers to execute arbitrary SQL commands via the", "x")]
    kept, report = decontaminate(train, bench, threshold=0.99, ngram=8)
    assert report["removed_by_reason"].get("shared_8gram", 0) == 20  # every SQL record shares that run of words
    assert report["after"]["shared_ngrams"] == 0
    with pytest.raises(ConfigError):
        decontaminate(train, bench, threshold=0.0)
    with pytest.raises(ConfigError):
        decontaminate(train, bench, ngram=1)
