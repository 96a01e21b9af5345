"""Decisions tuned on validation (back-off vs arg-max, thresholds) and every held-out figure of a tagger."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.data.example import Example
from distilsec.evaluation.attack_evaluate import evaluate_attack, passages_of, tune_decisions
from distilsec.students.attack_model import AttackModel
from distilsec.students.technique_index import NONE, TechniqueIndex

CLASSES = ["T1059", "T1059.001", "T1059.003", "T1105", NONE]
INDEX = TechniqueIndex.from_records(
    [
        ("T1059", "Command and Scripting Interpreter", ["execution"], None),
        ("T1059.001", "PowerShell", ["execution"], "T1059"),
        ("T1059.003", "Windows Command Shell", ["execution"], "T1059"),
        ("T1105", "Ingress Tool Transfer", ["command-and-control"], None),
    ]
)


class NoScoring:
    """A classifier that must not be asked: the tests pass the probabilities in."""

    classes_ = CLASSES

    def predict_proba(self, texts):
        raise AssertionError("predict_proba called although proba was given")


def _tagger(**kwargs) -> AttackModel:
    return AttackModel(NoScoring(), INDEX, **kwargs)


def _examples(labels: list[str], cites: list[tuple[str, ...]] | None = None) -> list[Example]:
    cites = cites or [()] * len(labels)
    return [
        Example(f"sentence {i}", lab, f"G{i}", "intrusion-set", id=f"r{i}", meta={"citations": c})
        for i, (lab, c) in enumerate(zip(labels, cites, strict=True))
    ]


#                      T1059 .001  .003  T1105 none
SPREAD_SUBS = [0.05, 0.30, 0.29, 0.16, 0.20]  # the family is sure, the sub-technique is not
NEGATIVE = [0.01, 0.02, 0.01, 0.06, 0.90]


def test_tune_decisions_backs_off_when_validation_is_labelled_at_the_parent():
    val = _examples(["T1059"] * 4 + [NONE] * 2)
    proba = np.array([SPREAD_SUBS] * 4 + [NEGATIVE] * 2)
    model = _tagger()
    out = tune_decisions(model, val, ratios=(0.3, 0.5, 0.7), proba=proba)
    # arg-max answers T1059.001 (wrong); 0.3 keeps the sub (0.30 >= 0.3 * 0.75); 0.5 and 0.7 answer T1059
    assert out["val_top1_by_backoff"] == {"argmax": 0.0, "0.3": 0.0, "0.5": 1.0, "0.7": 1.0}
    assert out["backoff_ratio"] == 0.5 and model.backoff_ratio == 0.5  # the first of the best
    assert model.top_ids(proba[:1])[0] == ["T1059"]


def test_tune_decisions_keeps_argmax_when_the_sub_technique_is_right():
    val = _examples(["T1059.001"] * 4 + [NONE] * 2)
    proba = np.array([SPREAD_SUBS] * 4 + [NEGATIVE] * 2)
    model = _tagger(backoff_ratio=0.7)
    out = tune_decisions(model, val, ratios=(0.3, 0.5), proba=proba)
    assert out["val_top1_by_backoff"] == {"argmax": 1.0, "0.3": 1.0, "0.5": 0.0}
    assert out["backoff_ratio"] is None and model.backoff_ratio is None  # a tie goes to plain arg-max


def test_tune_decisions_sets_the_thresholds_from_validation():
    labels = ["T1105"] * 3 + [NONE] * 3
    proba = np.array([[0.0, 0.0, 0.0, 0.7, 0.3]] * 3 + [[0.0, 0.0, 0.0, 0.1, 0.9]] * 3)
    model = _tagger(threshold=0.9)
    out = tune_decisions(model, _examples(labels), proba=proba, min_support=3)
    assert 0.1 < model.threshold <= 0.7 and out["threshold"] == model.threshold
    assert set(model.thresholds) == {"T1105"} and out["per_technique_thresholds"] == 1
    tagged = model.above_threshold(proba)
    assert [bool(t) for t in tagged] == [True] * 3 + [False] * 3


ROWS = [
    ("T1059.001", ("R1",), [0.02, 0.80, 0.03, 0.05, 0.10]),  # right, tagged
    ("T1105", ("R1", "R9"), [0.05, 0.10, 0.05, 0.60, 0.20]),  # right, tagged; the first citation groups it
    ("T1059.003", ("R2",), [0.05, 0.55, 0.25, 0.05, 0.10]),  # wrong sub-technique, right parent, in top-3
    (NONE, ("R2",), [0.00, 0.60, 0.00, 0.00, 0.40]),  # a false tag
    (NONE, (), [0.00, 0.10, 0.00, 0.10, 0.80]),  # quiet
    ("T1105", (), [0.00, 0.00, 0.00, 0.30, 0.70]),  # right top, but under the threshold: untagged
]


def test_evaluate_attack_figures_by_hand():
    part = _examples([r[0] for r in ROWS], [r[1] for r in ROWS])
    proba = np.array([r[2] for r in ROWS])
    out = evaluate_attack(_tagger(threshold=0.5), part, proba=proba)
    s = out["sentences"]
    assert (s["n"], s["top1"], s["top3"], s["parent_top1"]) == (4, 0.75, 1.0, 1.0)
    assert out["negatives"] == {"n": 2, "false_tags_per_1000": 500.0, "quiet_share": 0.5}
    assert out["positives_tagged_share"] == 0.75
    # passages: R1 {T1059.001, T1105} found; R2 {T1059.003} tagged T1059.001; row r5 {T1105} found nothing
    exact, parent = out["passages"]["exact"], out["passages"]["parent"]
    assert exact["n"] == 3 and exact["exact_match"] == round(1 / 3, 4)
    assert exact["micro_f1"] == round(2 * 2 / (2 * 2 + 1 + 2), 4)
    assert parent["exact_match"] == round(2 / 3, 4) and parent["micro_f1"] == round(2 * 3 / (2 * 3 + 0 + 1), 4)


def test_evaluate_attack_on_a_part_without_negatives():
    part = _examples(["T1105"], [("R1",)])
    out = evaluate_attack(_tagger(), part, proba=np.array([ROWS[1][2]]))
    assert out["negatives"] == {"n": 0, "false_tags_per_1000": 0.0, "quiet_share": None}
    assert out["sentences"]["top1"] == 1.0


def test_passages_of_groups_positives_by_their_first_citation():
    part = _examples([r[0] for r in ROWS], [r[1] for r in ROWS])
    assert passages_of(part) == {"R1": [0, 1], "R2": [2], "row:r5": [5]}  # negatives belong to no passage


@pytest.mark.parametrize("ratio", [None, 0.5])
def test_evaluate_attack_scores_top_with_the_models_back_off(ratio):
    part = _examples(["T1059"])
    out = evaluate_attack(_tagger(backoff_ratio=ratio), part, proba=np.array([SPREAD_SUBS]))
    assert out["sentences"]["top1"] == (0.0 if ratio is None else 1.0)
