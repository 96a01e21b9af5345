"""The shipped CVE model: TF-IDF CWE classifier + CVSS heads + CWE index, save/load, top-k, back-off."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import BundleError, ConfigError, NotFittedError
from distilsec.students import SoftTargets, TfidfLinearStudent
from distilsec.students.cve_model import CveModel, load_cve_model, require_cve_model
from distilsec.students.cvss_linear import CvssLinearModel
from distilsec.students.cwe_hierarchy import CweIndex, backoff
from tests.tasks.cve_fixtures import FAMILIES, description


def _data(n: int = 12, start: int = 0) -> tuple[list[str], list[str], list[str]]:
    texts, cwes, vectors = [], [], []
    for fam, (cwe, _, vector) in enumerate(FAMILIES):
        for i in range(start, start + n):
            texts.append(description(fam, i))
            cwes.append(cwe)
            vectors.append(vector)
    return texts, cwes, vectors


INDEX = CweIndex(
    {
        "CWE-89": {"name": "SQL Injection", "abstraction": "Base", "parents": ["CWE-74", "CWE-707"]},
        "CWE-79": {"name": "XSS", "abstraction": "Base", "parents": ["CWE-74", "CWE-707"]},
        "CWE-787": {"name": "Out-of-bounds Write", "abstraction": "Base", "parents": ["CWE-119"]},
        "CWE-74": {"name": "Injection", "abstraction": "Class", "parents": ["CWE-707"]},
        "CWE-707": {"name": "Improper Neutralization", "abstraction": "Pillar", "parents": []},
        "CWE-119": {"name": "Memory Buffer", "abstraction": "Class", "parents": []},
    }
)


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_tfidf_linear_contract(loss, tmp_path):
    texts, y, _ = _data()
    make = lambda: TfidfLinearStudent(loss=loss, min_df=1, epochs=15, lr=0.1, random_state=3)  # noqa: E731
    with pytest.raises(NotFittedError):
        make().predict_proba(["x"])
    m = make()
    assert m.fit(texts, y) is m
    held, y_held, _ = _data(4, start=40)
    proba = m.predict_proba(held)
    assert proba.shape == (len(held), 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert m.classes_ == ["CWE-787", "CWE-79", "CWE-89"]
    assert (m.predict(held) == np.asarray(y_held)).mean() == 1.0
    np.testing.assert_allclose(make().fit(texts, y).predict_proba(held), proba, atol=1e-6)
    m.save(tmp_path / "b")
    assert not list(tmp_path.glob("b/*.pkl"))
    np.testing.assert_allclose(load_model(tmp_path / "b").predict_proba(held), proba, atol=1e-6)
    assert m.get_params()["loss"] == loss


def test_tfidf_softmax_learns_from_soft_targets_and_svm_refuses_them():
    texts, y, _ = _data()
    soft = SoftTargets(np.full((len(texts), 3), 1 / 3), temperature=2.0, alpha=0.5)
    TfidfLinearStudent(loss="softmax", min_df=1, epochs=2).fit(texts, y, soft_targets=soft)
    with pytest.raises(ConfigError, match="soft"):
        TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y, soft_targets=soft)
    with pytest.raises(ConfigError, match="loss"):
        TfidfLinearStudent(loss="hinge?", min_df=1).fit(texts, y)


def test_cvss_model_predicts_valid_vectors(tmp_path):
    texts, _, vectors = _data()
    m = CvssLinearModel(min_df=1).fit(texts, vectors)
    held, _, v_held = _data(3, start=50)
    preds = m.predict_vectors(held)
    assert preds == v_held
    out = m.predict(held[:1])[0]
    assert (
        out["base_score"] == 9.8
        and out["severity"] == "Critical"
        and set(out["metrics"]) == set(["AV", "AC", "PR", "UI", "S", "C", "I", "A"])
    )
    m.save(tmp_path / "cvss")
    assert load_model(tmp_path / "cvss").predict_vectors(held) == preds


def test_backoff_climbs_to_a_confident_parent():
    classes = ["CWE-787", "CWE-79", "CWE-89"]
    proba = np.array([[0.1, 0.45, 0.45], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33]])
    out = backoff(proba, classes, INDEX, threshold=0.6)
    assert out[0]["id"] == "CWE-74" and out[0]["level"] == 1 and out[0]["score"] == pytest.approx(0.9)
    assert out[1] == {"id": "CWE-787", "name": "Out-of-bounds Write", "score": 0.9, "level": 0}
    # the top class's own chain holds no confident ancestor: keep it, flagged (no jump to another branch)
    assert out[2]["id"] == "CWE-787" and out[2]["uncertain"] is True


def test_cve_model_bundle_roundtrip(tmp_path):
    texts, y, vectors = _data()
    cwe = TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y)
    cvss = CvssLinearModel(min_df=1).fit(texts, vectors)
    model = CveModel(cwe, cvss, INDEX, top_k=2, backoff_threshold=0.99)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    (p,) = loaded.predict([description(0, 77)])
    assert [c["id"] for c in p["cwe"]][0] == "CWE-89" and len(p["cwe"]) == 2
    assert p["cwe"][0]["parents"] == [
        {"id": "CWE-74", "name": "Injection"},
        {"id": "CWE-707", "name": "Improper Neutralization"},
    ]
    assert "cwe_backoff" in p and p["cvss"]["vector"] == FAMILIES[0][2]
    assert loaded.rank_cwes([description(1, 77)], k=1) == [["CWE-79"]]
    # a run folder pointing at the bundle loads too; a bad pointer is refused
    (tmp_path / "manifest.json").write_text(json.dumps({"type": "cve_run", "shipped": "m"}))
    assert load_model(tmp_path).classes_ == loaded.classes_
    (tmp_path / "manifest.json").write_text(json.dumps({"type": "cve_run", "shipped": "../etc"}))
    with pytest.raises(BundleError):
        load_model(tmp_path)
    (tmp_path / "m" / "cwe" / "evil.pkl").write_bytes(b"x")
    with pytest.raises(BundleError, match="pickle"):
        load_model(tmp_path / "m")


def test_cli_needs_a_cve_bundle(tmp_path):
    texts, y, _ = _data()
    TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y).save(tmp_path / "plain")
    with pytest.raises(BundleError, match="CVE model"):
        require_cve_model(load_model(tmp_path / "plain"), tmp_path / "plain")


def test_load_cve_model_is_a_deprecated_alias_of_the_one_loader(tmp_path):
    texts, y, _ = _data()
    CveModel(TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y), None, INDEX).save(tmp_path / "m")
    TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y).save(tmp_path / "plain")
    with pytest.warns(DeprecationWarning, match="load_model"):
        assert isinstance(load_cve_model(tmp_path / "m"), CveModel)
    with pytest.warns(DeprecationWarning), pytest.raises(BundleError, match="CVE model"):
        load_cve_model(tmp_path / "plain")


def test_cvss_decoders():
    texts, _, vectors = _data()
    held, _, _ = _data(3, start=60)
    for decode in ("argmax", "median"):
        preds = CvssLinearModel(min_df=1, decode=decode).fit(texts, vectors).predict_vectors(held)
        assert all(v.startswith("CVSS:3.1/") for v in preds) and len(preds) == len(held)
    with pytest.raises(ConfigError, match="decode"):
        CvssLinearModel(min_df=1, decode="mean").fit(texts, vectors).predict_vectors(held)


def test_training_ids_roundtrip_and_bad_files(tmp_path):
    texts, y, _ = _data()
    model = CveModel(TfidfLinearStudent(loss="svm", min_df=1).fit(texts, y), None, INDEX, training_ids=["B", "A", "A"])
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m").training_ids == ["A", "B"]
    for bad, why in (("{not json", "not JSON"), ('{"a": 1}', "list of CVE IDs"), ("[1, 2]", "list of CVE IDs")):
        (tmp_path / "m" / "training_ids.json").write_text(bad)
        with pytest.raises(BundleError, match=why):
            load_model(tmp_path / "m")
