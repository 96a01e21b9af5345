"""The whole curation path on the real command-line data: normalise, curate, split, audit.

Run: ``pytest tests/data/curation -m integration -s`` to see the figures. Skipped when the data
is absent; set ``DISTILSEC_DATA`` to the folder holding ``cmdline/commands.jsonl.gz``.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from distilsec.data.curate import curate, drop_cross_split_near_duplicates
from distilsec.data.example import Example
from distilsec.data.placeholders import normalise_example
from distilsec.data.shortcut import format_shortcut_markdown, shortcut_audit
from distilsec.data.split import canonical_group, split_by_group

REPO = Path(__file__).resolve().parents[3]


def _data_dir() -> Path:
    env = os.environ.get("DISTILSEC_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def commands() -> list[Example]:
    path = _data_dir() / "cmdline" / "commands.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"real data not found at {path}: set DISTILSEC_DATA to the folder holding cmdline/")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append(
                Example(
                    r["text"], r["label"], group=r.get("group") or "", source=r.get("source") or "",
                    platform=r.get("platform") or "", id=r.get("id") or "",
                )
            )  # fmt: skip
    return out


@pytest.mark.integration
def test_cmdline_curation_end_to_end(commands: list[Example]) -> None:
    raw_by_id = {ex.id: ex for ex in commands}
    assert len(raw_by_id) == len(commands) > 40_000

    t0 = time.perf_counter()
    norm = [normalise_example(ex) for ex in commands]
    t_norm = time.perf_counter() - t0
    assert not any("{{" in ex.text or "#{" in ex.text or "/path/to/" in ex.text for ex in norm)

    res = curate(norm, near_dup_threshold=0.9, num_perm=64)
    rep = res.report
    near_s = rep["near_duplicates"]["seconds"]
    assert near_s < 60, f"near-duplicate step took {near_s:.1f} s"
    removed_total = sum(
        rep[k] for k in ("exact_duplicates_removed", "label_conflict_records_removed", "near_duplicates_removed")
    )
    assert rep["n_out"] == rep["n_in"] - removed_total
    assert rep["label_conflicts"] >= 40  # the README lists 51 before normalisation
    assert rep["near_duplicates_removed"] > 0

    split = split_by_group(res.examples, random_state=0)
    homes: dict[str, str] = {}
    for name, part in split.parts().items():
        for ex in part:
            assert homes.setdefault(canonical_group(ex), name) == name
    assert {ex.label for ex in split.test} == {"benign", "malicious"}

    t0 = time.perf_counter()
    kept, removed = drop_cross_split_near_duplicates(split.train, {"val": split.val, "test": split.test})
    t_cross = time.perf_counter() - t0
    assert t_cross < 60

    test = kept["test"]
    audit = shortcut_audit(
        [raw_by_id[ex.id] for ex in split.train], [raw_by_id[ex.id] for ex in test], split.train, test
    )
    raw_auc, norm_auc = audit["format_raw"]["auc"], audit["format_normalised"]["auc"]
    assert raw_auc > norm_auc
    assert audit["format_normalised"]["syntax_only_auc"] < 0.6  # placeholder syntax no longer informative

    summary = split.summary()
    print()
    print(f"records {rep['n_in']}, normalised in {t_norm:.1f} s")
    print(
        f"curation: exact duplicates removed {rep['exact_duplicates_removed']}, label conflicts "
        f"{rep['label_conflicts']} texts ({rep['label_conflict_records_removed']} records dropped), "
        f"near-duplicates removed {rep['near_duplicates_removed']} "
        f"in {rep['near_duplicate_clusters']} clusters ({near_s:.1f} s), kept {rep['n_out']}"
    )
    print("near-duplicates removed by source:", rep["near_duplicates"]["removed_by_source"])
    print("conflict examples:", [c["text"] for c in rep["label_conflict_examples"]])
    for name in ("train", "val", "test"):
        s = summary[name]
        print(f"{name}: {s['n']} examples, {s['n_groups']} groups, {s['by_label']}")
    print(f"cross-split near-duplicates removed: {removed} ({t_cross:.1f} s)")
    print(format_shortcut_markdown(audit))
