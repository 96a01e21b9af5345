"""Pseudo-labelling: confidence selection, rounds, hard and soft targets, on tiny data with fast models."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.errors import ConfigError, DataError
from distilsec.methods.pseudo_label import fresh_copy, pseudo_label, select_confident
from distilsec.students import HashedLinearStudent
from tests.conftest import make_texts


def _linear(**kw):
    return HashedLinearStudent(n_features=4096, epochs=4, **kw)


def test_select_confident_threshold_and_cap():
    p = np.array([[0.99, 0.01], [0.95, 0.05], [0.6, 0.4], [0.02, 0.98], [0.5, 0.5]])
    assert select_confident(p, threshold=0.9).tolist() == [0, 1, 3]
    assert select_confident(p, threshold=0.9, max_per_class=1).tolist() == [0, 3]  # most confident benign kept
    assert select_confident(p, threshold=1.0).tolist() == []
    with pytest.raises(ConfigError):
        select_confident(p, threshold=1.5)


@pytest.mark.parametrize("targets", ["hard", "soft"])
def test_pseudo_label_trains_student_on_labelled_plus_confident(targets, fake_teacher):
    texts, labels, _ = make_texts(60, seed=0)
    pool, pool_truth, _ = make_texts(200, seed=1)
    res = pseudo_label(
        fake_teacher,
        _linear(),
        texts,
        labels,
        pool,
        threshold=0.9,
        targets=targets,
        fit_teacher=False,
        pool_truth=pool_truth,
    )
    r = res.rounds[0]
    assert r["kept"] == len(res.kept) and 0 < r["kept"] <= 200
    assert sum(r["kept_by_class"].values()) == r["kept"]
    assert 0.0 <= r["pseudo_label_accuracy_kept"] <= 1.0
    test, test_y, _ = make_texts(80, seed=2)
    acc = (res.student.predict(test) == np.array(test_y)).mean()
    assert acc > 0.8


def test_rounds_refit_a_fresh_teacher():
    texts, labels, _ = make_texts(80, seed=0)
    pool, truth, _ = make_texts(160, seed=3)
    teacher = _linear(random_state=1)
    res = pseudo_label(teacher, _linear(), texts, labels, pool, threshold=0.6, rounds=2, pool_truth=truth)
    assert [r["round"] for r in res.rounds] == [1, 2]
    assert res.teacher is not teacher and res.teacher.get_params() == teacher.get_params()
    assert fresh_copy(teacher).get_params() == teacher.get_params() and not hasattr(fresh_copy(teacher), "classes_")


def test_errors(fake_teacher):
    with pytest.raises(DataError, match="empty"):
        pseudo_label(fake_teacher, _linear(), ["a"], ["benign"], [], fit_teacher=False)
    with pytest.raises(ConfigError):
        pseudo_label(fake_teacher, _linear(), ["a"], ["benign"], ["b"], rounds=0, fit_teacher=False)
    with pytest.raises(ConfigError):
        pseudo_label(fake_teacher, _linear(), ["a"], ["benign"], ["b"], targets="fuzzy", fit_teacher=False)
