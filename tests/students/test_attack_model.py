"""The ATT&CK tagger: parent back-off, thresholds, tagging, report aggregation, its bundle and technique index."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import BundleError, DataError
from distilsec.students.attack_model import INDEX_FILE, AttackModel, require_attack_model
from distilsec.students.technique_index import NONE, TechniqueIndex, parent_id
from tests.conftest import ATTACK_SENTENCES

CLASSES = ["T1059", "T1059.001", "T1059.003", "T1105", NONE]
INDEX = TechniqueIndex.from_records(
    [
        ("T1059", "Command and Scripting Interpreter", ["execution"], None),
        ("T1059.001", "PowerShell", ["execution"], "T1059"),
        ("T1059.003", "Windows Command Shell", ["execution"], "T1059"),
        ("T1105", "Ingress Tool Transfer", ["command-and-control"], None),
    ]
)


class FixedClassifier:
    """Returns the rows of ``proba`` for the texts "0", "1", ...: decisions tested without any training."""

    classes_ = CLASSES

    def __init__(self, proba: list[list[float]]) -> None:
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.proba[[int(t) for t in texts]]


def _model(rows: list[list[float]], **kwargs) -> AttackModel:
    return AttackModel(FixedClassifier(rows), INDEX, **kwargs)


# columns:          T1059 .001  .003  T1105 none
SPREAD = [0.05, 0.30, 0.30, 0.25, 0.10]  # the T1059 family holds 0.65, split evenly between two subs
PARENT_BEST = [0.40, 0.10, 0.10, 0.30, 0.10]  # the family's best member is the parent itself
FAMILY_BEATS_ARGMAX = [0.05, 0.16, 0.16, 0.34, 0.29]  # T1105 is the arg-max, the T1059 family holds more
CONFIDENT_SUB = [0.02, 0.80, 0.03, 0.05, 0.10]
NEGATIVE = [0.01, 0.03, 0.01, 0.04, 0.91]


def test_top_ids_backs_off_to_the_parent_when_no_sub_technique_holds_enough_of_the_family():
    model = _model([SPREAD, PARENT_BEST, FAMILY_BEATS_ARGMAX, CONFIDENT_SUB])
    proba = model.predict_proba(["0", "1", "2", "3"])
    ids, scores = model.top_ids(proba, 0.5)
    assert ids == ["T1059", "T1059", "T1059", "T1059.001"]
    np.testing.assert_allclose(scores, [0.65, 0.40, 0.37, 0.80])  # a backed-off score is the family's mass
    # a lower ratio keeps the sub-technique (0.30 >= 0.3 * 0.65), with its own score
    ids, scores = model.top_ids(proba, 0.3)
    assert ids == ["T1059.001", "T1059", "T1059.001", "T1059.001"]
    np.testing.assert_allclose(scores, [0.30, 0.40, 0.16, 0.80])


def test_top_ids_plain_argmax_ignores_families_and_never_answers_none():
    model = _model([SPREAD, FAMILY_BEATS_ARGMAX, NEGATIVE], backoff_ratio=0.5)
    proba = model.predict_proba(["0", "1", "2"])
    ids, scores = model.top_ids(proba, None)
    assert ids == ["T1059.001", "T1105", "T1105"]  # the negative row still has a best technique
    np.testing.assert_allclose(scores, [0.30, 0.34, 0.04])
    # without an override the model's own ratio applies
    assert model.top_ids(proba)[0] == ["T1059", "T1059", "T1059.001"]


def test_above_threshold_uses_per_technique_thresholds_inclusive_and_orders_best_first():
    model = _model([[0.30, 0.30, 0.05, 0.30, 0.05], NEGATIVE], threshold=0.3, thresholds={"T1059.001": 0.31})
    hits = model.above_threshold(model.predict_proba(["0", "1"]))
    assert hits[0] == [("T1059", 0.30), ("T1105", 0.30)]  # at the threshold counts; T1059.001 needs 0.31
    assert hits[1] == []  # "none" is never a tag, however likely
    assert model.threshold_of("T1059.001") == 0.31 and model.threshold_of("T1105") == 0.3


def test_tag_proba_gives_top_candidates_techniques_and_none_per_sentence():
    model = _model([CONFIDENT_SUB, NEGATIVE], threshold=0.5, backoff_ratio=0.5, top_k=2)
    tags = model.tag(["0", "1"])
    assert [set(t) for t in tags] == [{"top", "candidates", "techniques", "none"}] * 2
    first, negative = tags
    assert first["top"] == {
        "id": "T1059.001",
        "name": "PowerShell",
        "tactic": "execution",
        "tactics": ["execution"],
        "score": 0.8,
    }
    assert [c["id"] for c in first["candidates"]] == ["T1059.001", "T1105"]
    assert [t["id"] for t in first["techniques"]] == ["T1059.001"] and first["none"] == 0.1
    assert negative["techniques"] == [] and negative["none"] == 0.91 and negative["top"]["id"] == "T1059.001"
    assert len(model.tag(["0"], top_k=4)[0]["candidates"]) == 4  # "none" is never a candidate
    assert model.tag([]) == [] and model.tag_proba(np.zeros((0, len(CLASSES)))) == []


def test_tag_refuses_a_single_string():
    with pytest.raises(DataError, match="single string"):
        _model([CONFIDENT_SUB]).tag("0")


def test_aggregate_collects_each_technique_with_best_score_count_and_evidence():
    model = _model([CONFIDENT_SUB, NEGATIVE, [0.0, 0.6, 0.0, 0.35, 0.05], [0.0, 0.7, 0.0, 0.0, 0.3]], threshold=0.3)
    sentences = ["0", "1", "2", "3"]
    report = model.aggregate(sentences, model.tag(sentences), max_evidence=2)
    assert [(r["id"], r["count"], r["score"]) for r in report] == [("T1059.001", 3, 0.8), ("T1105", 1, 0.35)]
    assert [e["sentence"] for e in report[0]["evidence"]] == [0, 3]  # best two, best first
    assert report[0]["evidence"][0] == {"sentence": 0, "text": "0", "score": 0.8}
    assert model.aggregate([], []) == []


# ---- the bundle ----------------------------------------------------------------------------------------


@pytest.fixture
def bundle(tiny_attack_bundle, tmp_path):
    """A copy of the session's tiny tagger, with decisions of its own, that a test may damage."""
    model = AttackModel.load(tiny_attack_bundle)
    model.thresholds = {"T1071": 0.7}
    model.backoff_ratio = 0.5
    model.top_k = 2
    return model.save(tmp_path / "tagger")


def test_save_and_load_keep_the_decisions_and_the_tags(bundle):
    sentences = [v[0] for v in ATTACK_SENTENCES.values()]
    loaded = load_model(bundle)  # through the one loader, by the manifest's type
    assert isinstance(loaded, AttackModel)
    assert (loaded.threshold, loaded.thresholds, loaded.backoff_ratio, loaded.top_k) == (0.4, {"T1071": 0.7}, 0.5, 2)
    assert loaded.classes_ == ["T1059.001", "T1071", "T1566.001", NONE]
    assert loaded.index.name("T1566.001") == "Spearphishing Attachment"
    tags = loaded.tag(sentences)
    assert [t["top"]["id"] for t in tags[:3]] == ["T1059.001", "T1071", "T1566.001"]
    assert tags[3]["techniques"] == []
    assert AttackModel.load(bundle).tag(sentences) == tags
    assert json.loads((bundle / "manifest.json").read_text())["task"] == "attack"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "missing or not JSON"),
        ('["T1059"]', "expected"),
        ('{"T1059": {"tactics": []}}', "expected"),  # no name
        (None, "missing or not JSON"),
    ],
)
def test_a_tampered_technique_index_is_a_bundle_error(bundle, content, match):
    if content is None:
        (bundle / INDEX_FILE).unlink()
    else:
        (bundle / INDEX_FILE).write_text(content)
    with pytest.raises(BundleError, match=match):
        load_model(bundle)


def test_manifest_classes_that_differ_from_the_classifier_are_a_bundle_error(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["classes"] = ["T1071", "T1059.001", "T1566.001", NONE]  # same set, other order: columns would swap
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="classes differ"):
        load_model(bundle)


def test_a_missing_classifier_is_a_bundle_error(bundle):
    shutil.rmtree(bundle / "classifier")
    with pytest.raises(BundleError):
        load_model(bundle)


def test_require_attack_model_refuses_other_bundles(bundle):
    assert require_attack_model(load_model(bundle), bundle).classes_[0] == "T1059.001"
    classifier = load_model(bundle / "classifier")
    with pytest.raises(BundleError, match="needs an ATT&CK tagger"):
        require_attack_model(classifier, bundle / "classifier")
    with pytest.raises(BundleError, match="not 'attack_model.v1'"):
        AttackModel.load(bundle / "classifier")


# ---- the technique index -------------------------------------------------------------------------------


def test_parent_id_and_index_parents():
    assert parent_id("T1055.011") == "T1055" and parent_id("T1055") == "T1055" and parent_id(NONE) == NONE
    index = TechniqueIndex({"T9.001": {"name": "Sub", "tactics": [], "parent": "T8"}, "T7": {"name": "Top"}})
    assert index.parent("T9.001") == "T8"  # the recorded parent wins over the ID's prefix
    assert index.parent("T7") == "T7" and index.parent("T5.002") == "T5"  # unknown: from the ID


def test_describe_gives_the_first_tactic_and_copes_with_unknown_ids():
    index = TechniqueIndex.from_records([("T1", "One", ("defense-evasion", "privilege-escalation"), None)])
    assert index.describe("T1", 0.1234567) == {
        "id": "T1",
        "name": "One",
        "tactic": "defense-evasion",
        "tactics": ["defense-evasion", "privilege-escalation"],
        "score": 0.123457,
    }
    assert index.describe("T404", 1) == {"id": "T404", "name": "", "tactic": "", "tactics": [], "score": 1.0}


def test_index_json_round_trip_and_checks():
    data = INDEX.to_json()
    assert list(data) == sorted(data) and TechniqueIndex.from_json(json.loads(json.dumps(data))) == INDEX
    for bad in ([], {"T1": "name"}, {"T1": {"name": 3}}, {1: {"name": "x"}}, {"T1": {"name": "x", "parent": 1}}):
        with pytest.raises(BundleError, match="x.json"):
            TechniqueIndex.from_json(bad, "x.json")
    # tactics and parent may be left out or null
    assert TechniqueIndex.from_json({"T1": {"name": "x", "tactics": None, "parent": None}}).tactics("T1") == []


@pytest.mark.parametrize("tactics", ["execution", [1], {"a": "b"}])
def test_index_with_tactics_not_a_list_of_strings_is_a_bundle_error(tactics):
    """Regression: ``"tactics": "execution"`` loaded, and every technique was reported under tactic "e"."""
    with pytest.raises(BundleError, match="techniques.json"):
        TechniqueIndex.from_json({"T1059": {"name": "CSI", "tactics": tactics, "parent": None}})
