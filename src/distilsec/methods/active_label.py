"""Budget-aware labelling: ask the teacher only where the current student is unsure or disagrees.

Teacher calls are the cost of semi-supervised learning with a big model. Most of an unlabelled pool
is easy: the student, trained on the small labelled set, already gets it right. This method spends a
fixed budget of teacher calls in rounds; each round it scores the pool with the current student, asks
the teacher about the rows the student is least sure of (uncertainty sampling, Lewis & Gale 1994) or
where two different students disagree (query by committee, Seung et al. 1992), and retrains. Rows the
teacher was never asked about can still teach: with ``self_label_threshold`` the student's own
confident predictions join the training set (self-training), so the teacher is spent only at the margin.

The teacher is any object with ``predict_proba`` (wrap it in
:class:`~distilsec.teachers.ledgered.LedgeredTeacher` to count calls and seconds); the students come
from factories, because each round trains a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from distilsec.errors import ConfigError, DataError
from distilsec.methods.distill import align_proba
from distilsec.students.base import SoftTargets

__all__ = ["budget_label", "BudgetResult", "uncertainty_scores", "disagreement_scores", "STRATEGIES"]

log = logging.getLogger("distilsec.active_label")

STRATEGIES = ("uncertainty", "disagreement", "random")
Strategy = Literal["uncertainty", "disagreement", "random"]


@dataclass
class BudgetResult:
    """The final student, which pool rows the teacher labelled (in query order), and per-round stats."""

    student: Any
    queried: np.ndarray
    teacher_proba: np.ndarray
    rounds: list[dict[str, Any]] = field(default_factory=list)


def uncertainty_scores(proba: np.ndarray) -> np.ndarray:
    """``1 - (p_top1 - p_top2)``: 1 where the top two classes tie, 0 where the student is certain."""
    p = np.sort(np.asarray(proba, dtype=np.float64), axis=1)
    return 1.0 - (p[:, -1] - p[:, -2])


def disagreement_scores(probas: Sequence[np.ndarray]) -> np.ndarray:
    """Query-by-committee: mean KL divergence of each member from the committee's mean (>= 0)."""
    ps = [np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0) for p in probas]
    if len(ps) < 2:
        raise ConfigError("disagreement needs a committee of at least two models")
    mean = np.mean(ps, axis=0)
    return np.mean([(p * (np.log(p) - np.log(mean))).sum(axis=1) for p in ps], axis=0)


def _fit(
    factory: Callable[[], Any],
    texts: list[str],
    y: list[str],
    proba: np.ndarray | None,
    classes: list[str],
    temperature: float,
    alpha: float,
) -> Any:
    soft = SoftTargets(proba, temperature=temperature, alpha=alpha) if proba is not None else None
    return factory().fit(texts, y, soft_targets=soft, classes=classes)


def budget_label(
    teacher: Any,
    student_factory: Callable[[], Any],
    texts: Sequence[str],
    y: Sequence[str],
    pool: Sequence[str],
    *,
    budget: int,
    rounds: int = 4,
    strategy: Strategy = "uncertainty",
    committee_factory: Callable[[], Any] | None = None,
    self_label_threshold: float | None = None,
    targets: Literal["soft", "hard"] = "soft",
    temperature: float = 2.0,
    alpha: float = 0.5,
    classes: Sequence[str] | None = None,
    random_state: int = 0,
) -> BudgetResult:
    """Spend at most ``budget`` teacher calls on ``pool``, where they help the student most.

    Parameters
    ----------
    teacher : fitted; its ``predict_proba`` is called only on the selected pool rows.
    student_factory : returns a fresh unfitted student.
    texts, y : the labelled set (ground truth; never sent to the teacher).
    pool : unlabelled texts.
    budget : teacher calls (pool rows) to spend in total.
    rounds : selection rounds; each spends ``budget / rounds`` calls.
    strategy : ``"uncertainty"`` (student margin), ``"disagreement"`` (student vs a committee member
        from ``committee_factory``, plus the margin of their mean), or ``"random"`` (the baseline).
    self_label_threshold : also train on the student's own predictions for unqueried pool rows whose
        confidence reaches this value (``None``: teacher-labelled and labelled rows only).
    targets : train on the teacher's soft distribution (``"soft"``) or argmax labels (``"hard"``).
    classes : class order (default: sorted labels of ``y``).
    random_state : seed for the random strategy and tie-breaking.

    Returns
    -------
    BudgetResult
    """
    _check_args(strategy, committee_factory, budget, rounds, pool)
    texts, y, pool = list(texts), [str(v) for v in y], list(pool)
    classes = list(classes) if classes is not None else sorted(set(y))
    k = len(classes)
    rng = np.random.default_rng(random_state)
    budget = min(budget, len(pool))
    onehot = np.eye(k)[[classes.index(v) for v in y]]
    queried: list[int] = []
    t_proba = np.zeros((len(pool), k))
    history: list[dict[str, Any]] = []
    committee = committee_factory if strategy == "disagreement" else None

    def train(self_rows: np.ndarray, self_proba: np.ndarray) -> tuple[Any, Any]:
        q = np.array(queried, dtype=np.int64)
        tr_texts = texts + [pool[i] for i in q] + [pool[i] for i in self_rows]
        parts = [onehot, t_proba[q], self_proba]
        proba = np.vstack(parts) if targets == "soft" else None
        tr_y = [classes[j] for j in np.vstack(parts).argmax(axis=1)]
        tr_y[: len(y)] = y
        main = _fit(student_factory, tr_texts, tr_y, proba, classes, temperature, alpha)
        second = None if committee is None else _fit(committee, tr_texts, tr_y, proba, classes, temperature, alpha)
        return main, second

    student, second = train(np.zeros(0, dtype=np.int64), np.zeros((0, k)))
    per_round = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    for r, n_new in enumerate(per_round):
        open_rows = np.setdiff1d(np.arange(len(pool)), np.array(queried, dtype=np.int64))
        p_pool = align_proba(np.asarray(student.predict_proba(pool)), student.classes_, classes)
        score = _selection_scores(strategy, rng, p_pool, second, pool, classes)
        tie = rng.random(len(pool)) * 1e-9
        pick = open_rows[np.argsort(-(score[open_rows] + tie[open_rows]), kind="stable")][:n_new]
        if len(pick):
            t_proba[pick] = align_proba(
                np.asarray(teacher.predict_proba([pool[i] for i in pick])), teacher.classes_, classes
            )
            queried.extend(pick.tolist())
        self_rows, self_proba = _self_labelled(p_pool, queried, self_label_threshold)
        student, second = train(self_rows, self_proba)
        history.append(
            {
                "round": r + 1,
                "queried_total": len(queried),
                "new_queries": len(pick),
                "self_labelled": len(self_rows),
                "mean_uncertainty_of_picked": float(uncertainty_scores(p_pool[pick]).mean()) if len(pick) else None,
            }
        )
        log.info("budget round %d: %d teacher calls so far, %d self-labelled", r + 1, len(queried), len(self_rows))
    q = np.array(queried, dtype=np.int64)
    return BudgetResult(student, q, t_proba[q], history)


def _check_args(
    strategy: str, committee_factory: Callable[[], Any] | None, budget: int, rounds: int, pool: Sequence[str]
) -> None:
    """Every argument mistake as one named error, before a student is trained or a teacher called."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; known: {list(STRATEGIES)}")
    if strategy == "disagreement" and committee_factory is None:
        raise ConfigError("strategy 'disagreement' needs a committee_factory (a second, different student)")
    if budget < 0 or rounds < 1:
        raise ConfigError(f"need budget >= 0 and rounds >= 1, got {budget} and {rounds}")
    if not len(pool):
        raise DataError("the unlabelled pool is empty")


def _selection_scores(
    strategy: str, rng: np.random.Generator, p_pool: np.ndarray, second: Any, pool: list[str], classes: list[str]
) -> np.ndarray:
    """How much a teacher label is worth for each pool row under ``strategy`` (higher = query first)."""
    if strategy == "random":
        return rng.random(len(pool))
    if strategy == "uncertainty":
        return uncertainty_scores(p_pool)
    p2 = align_proba(np.asarray(second.predict_proba(pool)), second.classes_, classes)
    return disagreement_scores([p_pool, p2]) + 0.1 * uncertainty_scores((p_pool + p2) / 2)


def _self_labelled(p_pool: np.ndarray, queried: list[int], threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Unqueried pool rows the student labels itself at confidence >= ``threshold``, with its probabilities."""
    if threshold is None:
        return np.zeros(0, dtype=np.int64), np.zeros((0, p_pool.shape[1]))
    rest = np.setdiff1d(np.arange(len(p_pool)), np.array(queried, dtype=np.int64))
    rows = rest[p_pool[rest].max(axis=1) >= threshold]
    return rows, p_pool[rows]
