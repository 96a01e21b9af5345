"""ATT&CK figures, hand-computed: set F1, sentence top-k and per tactic, thresholds, false tags, passages."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.evaluation.attack_metrics import (
    choose_thresholds,
    false_tags_per_1000,
    passage_metrics,
    sentence_metrics,
    set_f1,
)
from distilsec.students.technique_index import NONE, TechniqueIndex

INDEX = TechniqueIndex.from_records(
    [
        ("T1059", "Command and Scripting Interpreter", ["execution"], None),
        ("T1059.001", "PowerShell", ["execution"], "T1059"),
        ("T1055", "Process Injection", ["defense-evasion", "privilege-escalation"], None),
        ("T1105", "Ingress Tool Transfer", ["command-and-control"], None),
    ]
)


def test_set_f1_by_hand():
    # tp: A, C; fp: D; fn: B.  micro = 2*2 / (2*2 + 1 + 1); per label F1: A 1, B 0, C 1, D 0
    out = set_f1([{"A", "B"}, {"C"}], [{"A"}, {"C", "D"}])
    assert out == {
        "micro_f1": round(4 / 6, 4),
        "macro_f1": 0.5,
        "exact_match": 0.0,
        "precision": 0.75,  # 1/1 and 1/2
        "recall": 0.75,  # 1/2 and 1/1
        "n": 2,
    }


def test_set_f1_empty_sets():
    quiet = set_f1([set(), set()], [set(), set()])  # nothing to find and nothing found: perfect
    assert quiet["micro_f1"] == 1.0 and quiet["exact_match"] == 1.0 and quiet["precision"] == 1.0
    noisy = set_f1([set(), {"A"}], [{"B"}, {"A"}])  # a tag on a passage with no technique costs precision
    assert noisy["precision"] == 0.5 and noisy["recall"] == 0.5 and noisy["exact_match"] == 0.5
    assert noisy["micro_f1"] == round(2 / 3, 4) and noisy["macro_f1"] == 0.5
    assert set_f1([], [])["n"] == 0
    with pytest.raises(ValueError):
        set_f1([{"A"}], [])


def test_sentence_metrics_by_hand():
    gold = ["T1059.001", "T1059.001", "T1055", "T1105"]
    top = ["T1059.001", "T1059", "T1105", "T1105"]
    ranked = [["T1059.001"], ["T1059", "T1105", "T1059.001"], ["T1105", "T1059", "T1059.001", "T1055"], ["T1105"]]
    out = sentence_metrics(top, ranked, gold, INDEX)
    assert out["n"] == 4 and out["top1"] == 0.5
    assert out["top3"] == 0.75  # T1055 is fourth in its list
    assert out["parent_top1"] == 0.75  # T1059 for T1059.001 is right at the parent level
    # macro-F1 over the gold techniques: T1059.001 2/3, T1055 0, T1105 2/3 (one right, one wrong T1105)
    assert out["macro_f1"] == round((2 / 3 + 0 + 2 / 3) / 3, 4)
    assert out["per_tactic_top1"] == {
        "command-and-control": {"top1": 1.0, "n": 1},
        "defense-evasion": {"top1": 0.0, "n": 1},  # a technique of two tactics counts in both
        "execution": {"top1": 0.5, "n": 2},
        "privilege-escalation": {"top1": 0.0, "n": 1},
    }
    assert sentence_metrics([], [], [], INDEX) == {"n": 0}
    unknown = sentence_metrics(["T9999"], [["T9999"]], ["T9999"], INDEX)
    assert unknown["per_tactic_top1"] == {"(unknown)": {"top1": 1.0, "n": 1}}


CLASSES = ["T1059.001", "T1105", NONE]


def _val_set(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Positives score 0.6-0.9 on their technique; negatives at most 0.3 on any technique."""
    rows, gold = [], []
    for label in ["T1059.001"] * 6 + ["T1105"] * 2 + [NONE] * 12:
        if label == NONE:
            p = [*rng.uniform(0.05, 0.3, 2)]
        else:
            hi = rng.uniform(0.6, 0.9)
            p = [hi, rng.uniform(0.0, 0.2)] if label == "T1059.001" else [rng.uniform(0.0, 0.2), hi]
        rows.append([*p, max(0.0, 1 - sum(p))])
        gold.append(label)
    return np.array(rows), gold


def test_choose_thresholds_separates_a_constructed_validation_set():
    proba, gold = _val_set(np.random.default_rng(0))
    best, per = choose_thresholds(proba, gold, CLASSES, min_support=3)
    negatives, positives = proba[[g == NONE for g in gold], :2], proba[[g != NONE for g in gold], :2]
    assert negatives.max() < best <= positives.max(axis=1).min()
    tagged = proba[:, :2] >= best
    truth = np.array([[g == "T1059.001", g == "T1105"] for g in gold])
    assert (tagged == truth).all()  # every positive tagged, every negative quiet
    # only T1059.001 has 3+ validation sentences: it gets a threshold of its own, T1105 keeps the global one
    assert set(per) == {"T1059.001"}
    assert per["T1059.001"] == best  # among equally good thresholds, the one closest to the global one
    assert choose_thresholds(proba, gold, CLASSES, min_support=2)[1].keys() == {"T1059.001", "T1105"}


def test_per_technique_threshold_moves_where_that_technique_needs_it():
    # negatives score 0.25 on T1059.001, so one global threshold must sit above 0.25; T1105 scores only 0.18
    # when right (its negatives 0.08 at most): the global threshold would never tag it
    proba = np.array(
        [[0.8, 0.1, 0.1]] * 4 + [[0.1, 0.18, 0.72]] * 4 + [[0.25, 0.08, 0.67]] * 8 + [[0.25, 0.05, 0.7]] * 4
    )
    gold = ["T1059.001"] * 4 + ["T1105"] * 4 + [NONE] * 12
    best, per = choose_thresholds(proba, gold, CLASSES, min_support=3)
    assert best == 0.3  # the first grid point above 0.25
    assert per == {"T1059.001": 0.3, "T1105": 0.18}  # T1105's own: tags its 4, not its negatives


def test_false_tags_per_1000():
    assert false_tags_per_1000([["T1105"], [], ["T1105", "T1059"], []]) == 750.0
    assert false_tags_per_1000([[], []]) == 0.0 and false_tags_per_1000([]) == 0.0


def test_passage_metrics_exact_and_parent_level():
    gold = ["T1059.001", NONE, "T1105", "T1055", NONE]
    tagged = [["T1059"], ["T1105"], [], ["T1055"], []]
    passages = {"report A": [0, 1, 2], "report B": [3], "report C": [4]}
    exact = passage_metrics(passages, gold, tagged, "exact")
    # A: gold {T1059.001, T1105}, tagged {T1059, T1105}: one of two right; B right; C empty and quiet
    assert exact["exact_match"] == round(2 / 3, 4) and exact["n"] == 3
    assert exact["micro_f1"] == round(2 * 2 / (2 * 2 + 1 + 1), 4)
    parent = passage_metrics(passages, gold, tagged, "parent")
    assert parent["micro_f1"] == 1.0 and parent["exact_match"] == 1.0  # T1059 is T1059.001's parent
