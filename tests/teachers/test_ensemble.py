"""The ensemble teacher: members fitted on the same labels, soft labels combined, bundle without code."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import ConfigError, NotFittedError
from distilsec.registry import create
from distilsec.teachers import EnsembleTeacher


def _ensemble(tiny_bert, combine="mean_logprob"):
    return EnsembleTeacher(
        members=[
            {
                "type": "encoder.v1",
                "model": str(tiny_bert),
                "max_length": 32,
                "epochs": 1,
                "batch_size": 16,
                "max_train_samples": None,
                "device": "cpu",
            },
            {"type": "hashed_linear.v1", "n_features": 2**12, "epochs": 2, "weight": 2.0},
        ],
        combine=combine,
        random_state=0,
    )


@pytest.mark.parametrize("combine", ["mean_logprob", "mean_proba"])
def test_ensemble_contract_and_combination(tiny_bert, tiny_texts, tmp_path, combine):
    x, y, _ = tiny_texts
    teacher = _ensemble(tiny_bert, combine)
    with pytest.raises(NotFittedError):
        teacher.predict_proba(x[:2])
    assert teacher.fit(x, y) is teacher
    proba = teacher.predict_proba(x)
    assert proba.shape == (len(x), len(teacher.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    members = teacher.member_probas(x)
    w = np.array([1.0, 2.0]) / 3.0
    if combine == "mean_proba":
        expected = w[0] * members[0] + w[1] * members[1]
    else:
        z = w[0] * np.log(members[0]) + w[1] * np.log(members[1])
        expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-7)
    assert teacher.n_parameters == sum(m.n_parameters for m in teacher.members_)
    loaded = load_model(teacher.save(tmp_path / "t"))
    assert isinstance(loaded, EnsembleTeacher)
    np.testing.assert_allclose(loaded.predict_proba(x), proba, rtol=1e-5, atol=1e-6)
    assert create("ensemble.v1", teacher.get_params()).get_params() == teacher.get_params()


@pytest.mark.parametrize(
    "members, combine",
    [
        ([], "mean_logprob"),
        ([{"weight": 1.0}], "mean_logprob"),
        ([{"type": "hashed_linear.v1", "weight": 0}], "mean_logprob"),
        ([{"type": "hashed_linear.v1"}], "vote"),
    ],
)
def test_bad_ensemble_configs_are_clear_errors(tiny_texts, members, combine):
    x, y, _ = tiny_texts
    with pytest.raises(ConfigError):
        EnsembleTeacher(members=members, combine=combine).fit(x, y)
