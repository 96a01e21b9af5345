"""Group and time splits: no group in two splits, deterministic, order-independent, stratified."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data.example import Example
from distilsec.data.split import Split, canonical_group, split_by_group, split_by_time
from distilsec.errors import ConfigError, DataError


def make(n_groups: int, per_group: int, label: str, prefix: str, source: str = "s") -> list[Example]:
    return [
        Example(f"{prefix}{g} --arg {i}", label, group=f"{prefix}{g}", source=source)
        for g in range(n_groups)
        for i in range(per_group)
    ]


def id_sets(split: Split) -> dict[str, set[str]]:
    return {k: set(v) for k, v in split.ids().items()}


def test_canonical_group_merges_sources() -> None:
    keys = {
        canonical_group(Example("x", "malicious", group=g))
        for g in ("Certutil.exe", "certutil", "C:\\Windows\\System32\\certutil.exe", "/usr/bin/CERTUTIL")
    }
    assert keys == {"certutil"}
    assert canonical_group(Example("x", "m", group="T1059.001")) == "t1059"
    assert canonical_group(Example("x", "m", group="mshta.EXE")) == "mshta"
    assert canonical_group(Example("x", "m", group="a.exe.dll")) == "a.exe"  # one suffix only
    no_group = Example("x", "m")
    assert canonical_group(no_group) == "id:" + no_group.id


group_rows = st.lists(st.tuples(st.integers(0, 15), st.sampled_from(["benign", "malicious"])), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(group_rows, st.integers(0, 5), st.randoms(use_true_random=False))
def test_no_group_in_two_splits(rows: list[tuple[int, str]], seed: int, rnd: random.Random) -> None:
    # group names vary in case and suffix, so canonical_group must merge them
    names = ["Bin{}.exe", "bin{}", "BIN{}"]
    examples = [
        Example(f"cmd {i}", lab, group=rnd.choice(names).format(g), source="s") for i, (g, lab) in enumerate(rows)
    ]
    split = split_by_group(examples, random_state=seed)
    where: dict[str, str] = {}
    for name, part in split.parts().items():
        for ex in part:
            assert where.setdefault(canonical_group(ex), name) == name
    all_ids = [i for part in split.ids().values() for i in part]
    assert sorted(all_ids) == sorted(ex.id for ex in examples)  # a partition
    shuffled = list(examples)
    rnd.shuffle(shuffled)
    assert id_sets(split_by_group(shuffled, random_state=seed)) == id_sets(split)  # order-independent
    assert split_by_group(examples, random_state=seed).ids() == split.ids()  # deterministic


def test_seed_changes_split_and_shares_are_about_right() -> None:
    examples = make(100, 3, "benign", "b") + make(50, 2, "malicious", "m")
    a = split_by_group(examples, random_state=0)
    b = split_by_group(examples, random_state=1)
    assert id_sets(a) != id_sets(b)
    for split in (a, b):
        s = split.summary()
        assert 0.17 <= s["test"]["n"] / len(examples) <= 0.23
        assert 0.07 <= s["val"]["n"] / len(examples) <= 0.13
        for part in ("train", "val", "test"):
            assert set(s[part]["by_label"]) == {"benign", "malicious"}


def test_test_gets_both_classes_with_few_groups() -> None:
    examples = make(20, 2, "benign", "b") + make(2, 5, "malicious", "m")
    for seed in range(10):
        split = split_by_group(examples, random_state=seed)
        assert {ex.label for ex in split.test} == {"benign", "malicious"}
        assert "malicious" in {ex.label for ex in split.train}


def test_single_group_goes_to_train() -> None:
    split = split_by_group(make(1, 4, "benign", "b"))
    assert len(split.train) == 4 and not split.val and not split.test


def test_mixed_group_follows_majority_and_stays_whole() -> None:
    examples = make(30, 2, "benign", "b") + make(10, 2, "malicious", "m")
    examples += [Example("certutil -decode a b", "benign", group="certutil", source="tldr")]
    examples += [Example(f"certutil -urlcache {i}", "malicious", group="Certutil.exe") for i in range(3)]
    split = split_by_group(examples)
    homes = {name for name, part in split.parts().items() for ex in part if canonical_group(ex) == "certutil"}
    assert len(homes) == 1


def test_bad_fractions() -> None:
    with pytest.raises(ConfigError):
        split_by_group(make(3, 1, "benign", "b"), val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError):
        split_by_group(make(3, 1, "benign", "b"), test_fraction=-0.1)


def test_ids_roundtrip_and_summary() -> None:
    examples = make(30, 2, "benign", "b", "tldr") + make(10, 2, "malicious", "m", "lolbas")
    split = split_by_group(examples)
    again = Split.from_ids(list(reversed(examples)), split.ids())
    assert again.ids() == split.ids()
    with pytest.raises(DataError):
        Split.from_ids(examples[:3], split.ids())
    s = split.summary()
    assert s["train"]["by_source"]["tldr"]["benign"] > 0
    assert s["info"]["strategy"] == "group"
    assert sum(s[p]["n_groups"] for p in ("train", "val", "test")) == 40


def test_split_by_time() -> None:
    old = [Example(f"old {i}", "malicious", group=f"g{i}", time="2016-05-01") for i in range(30)]
    old += [Example(f"oldb {i}", "benign", group=f"h{i}", time="2016-06-01T10:00:00") for i in range(30)]
    new = [Example(f"new {i}", "malicious", group=f"g{i}", time="2020-01-01") for i in range(5)]
    new += [Example("edge", "benign", group="e", time="2019-01-01")]
    undated = [Example("undated", "benign", group="u")]
    split = split_by_time(old + new + undated, cutoff="2019-01-01", val_fraction=0.2)
    assert {ex.text for ex in split.test} == {ex.text for ex in new}
    assert "undated" in {ex.text for ex in split.train + split.val}
    assert 8 <= len(split.val) <= 16
    assert split.info["undated_in_train_pool"] == 1
    assert split.info["n_test_groups"] == 6
    assert 0 < split.info["test_groups_seen_in_train"] <= 5
    with pytest.raises(ConfigError):
        split_by_time(old, cutoff="last year")
