"""Ensemble weights chosen on validation: never worse there than the best member, stored in the bundle."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import ConfigError
from distilsec.teachers import EnsembleTeacher


class _View:
    positive, negative, target_fpr = "malicious", "benign", 0.01


def _texts(n: int = 120) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    x, y = [], []
    for i in range(n):
        bad = i % 3 == 0
        x.append(("powershell -enc " if bad else "ls -la ") + "".join(rng.choice(list("abcdef"), 6)))
        y.append("malicious" if bad else "benign")
    return x, y


def _fitted(weights: str) -> EnsembleTeacher:
    x, y = _texts()
    members = [
        {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 2},
        {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 2, "ngram_range": [1, 2]},
    ]
    return EnsembleTeacher(members=members, weights=weights).fit(x, y)


def test_weights_from_validation_never_lose_to_the_best_member():
    teacher = _fitted("validation")
    labels = ["malicious"] * 40 + ["benign"] * 160
    rng = np.random.default_rng(1)
    good = np.where(np.array(labels) == "malicious", 0.9, 0.1) + rng.normal(0, 0.05, 200)
    noise = rng.uniform(0, 1, 200)  # a useless member
    col = teacher.classes_.index("malicious")

    def proba(p):
        out = np.zeros((200, 2))
        out[:, col], out[:, 1 - col] = np.clip(p, 0.01, 0.99), 1 - np.clip(p, 0.01, 0.99)
        return out

    w = teacher.choose_weights(
        [proba(noise), proba(good)], labels, positive="malicious", negative="benign", target_fpr=0.01
    )
    assert w[1] == pytest.approx(1.0) and w[0] == pytest.approx(0.0)  # the useless member gets no say
    assert teacher.weights_ == w


def test_config_weights_are_kept_unless_asked():
    teacher = _fitted("config")
    before = list(teacher.weights_)
    x, y = _texts(60)
    teacher.tune(dict(zip(teacher.components(), teacher.member_probas(x), strict=True)), y, view=_View())
    assert teacher.weights_ == before == [0.5, 0.5]


def test_chosen_weights_round_trip_through_the_bundle(tmp_path):
    teacher = _fitted("validation")
    x, y = _texts(90)
    teacher.tune(dict(zip(teacher.components(), teacher.member_probas(x), strict=True)), y, view=_View())
    loaded = load_model(teacher.save(tmp_path / "t"))
    assert loaded.weights_ == pytest.approx(teacher.weights_)
    np.testing.assert_allclose(loaded.predict_proba(x), teacher.predict_proba(x), rtol=1e-6)


def test_unknown_weights_mode_is_a_config_error():
    x, y = _texts(30)
    with pytest.raises(ConfigError, match="weights must be one of"):
        EnsembleTeacher(members=[{"type": "hashed_linear.v1"}], weights="best").fit(x, y)


def test_a_member_view_wraps_that_member_only():
    x, y = _texts(60)
    members = [
        {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 1, "view": "decoded.v1"},
        {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 1},
    ]
    teacher = EnsembleTeacher(members=members).fit(x, y)
    assert [m.registry_name for m in teacher.members_] == ["viewed.v1", "hashed_linear.v1"]
    assert teacher.members_[0].view == "decoded.v1"


def test_weights_are_part_of_the_teacher_ledger_signature():
    """Two ensembles of the same members with other chosen weights answer differently: no shared ledger rows."""
    from distilsec.teachers.ledgered import teacher_signature

    teacher = _fitted("validation")
    before = teacher_signature(teacher)
    teacher.weights_ = [1.0, 0.0]
    assert teacher_signature(teacher) != before
