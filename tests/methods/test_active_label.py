"""Budget-aware labelling: the teacher is asked only within the budget, where the student is unsure."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.errors import ConfigError
from distilsec.methods.active_label import budget_label, disagreement_scores, uncertainty_scores
from distilsec.students import HashedLinearStudent
from tests.conftest import make_texts


class CountingTeacher:
    """Wraps a teacher and records every text it was asked about."""

    def __init__(self, inner):
        self.inner, self.classes_, self.asked = inner, inner.classes_, []

    def predict_proba(self, texts):
        self.asked.extend(texts)
        return self.inner.predict_proba(texts)


def _factory(seed=0):
    return lambda: HashedLinearStudent(n_features=4096, epochs=3, random_state=seed)


def test_scores():
    p = np.array([[0.5, 0.5], [0.9, 0.1], [0.99, 0.01]])
    u = uncertainty_scores(p)
    assert u[0] == pytest.approx(1.0) and u[0] > u[1] > u[2]
    d = disagreement_scores([p, p[::-1]])
    assert d[1] == pytest.approx(0.0) and d[0] > 0.1 and d[2] > 0.1  # the middle rows agree, the others do not
    assert (disagreement_scores([p, p]) == 0).all() and (d >= 0).all()
    with pytest.raises(ConfigError):
        disagreement_scores([p])


@pytest.mark.parametrize("strategy", ["uncertainty", "disagreement", "random"])
def test_budget_is_respected_and_no_row_is_asked_twice(strategy, fake_teacher):
    texts, labels, _ = make_texts(40, seed=0)
    pool, _, _ = make_texts(150, seed=1)
    pool = [f"{t} #{i}" for i, t in enumerate(pool)]
    teacher = CountingTeacher(fake_teacher)
    res = budget_label(
        teacher,
        _factory(),
        texts,
        labels,
        pool,
        budget=30,
        rounds=3,
        strategy=strategy,
        committee_factory=_factory(1),
        self_label_threshold=0.9,
    )
    assert len(teacher.asked) == len(set(teacher.asked)) == 30 == len(res.queried)
    assert set(teacher.asked) == {pool[i] for i in res.queried}
    assert [r["queried_total"] for r in res.rounds] == [10, 20, 30]
    assert res.teacher_proba.shape == (30, 2)


def test_uncertainty_picks_less_certain_rows_than_random(fake_teacher):
    texts, labels, _ = make_texts(40, seed=0)
    pool, _, _ = make_texts(300, seed=4)
    pool = [f"{t} #{i}" for i, t in enumerate(pool)]
    student = _factory()().fit(texts, labels)
    u_pool = uncertainty_scores(student.predict_proba(pool))
    picked = {}
    for strategy in ("uncertainty", "random"):
        res = budget_label(fake_teacher, _factory(), texts, labels, pool, budget=30, rounds=1, strategy=strategy)
        picked[strategy] = u_pool[res.queried].mean()
    assert picked["uncertainty"] > picked["random"]


def test_errors(fake_teacher):
    with pytest.raises(ConfigError, match="committee"):
        budget_label(fake_teacher, _factory(), ["a"], ["benign"], ["b"], budget=1, strategy="disagreement")
    with pytest.raises(ConfigError, match="unknown strategy"):
        budget_label(fake_teacher, _factory(), ["a"], ["benign"], ["b"], budget=1, strategy="greedy")
