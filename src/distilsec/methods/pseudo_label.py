"""Semi-supervised training: a teacher fitted on the labelled set pseudo-labels the unlabelled pool.

The method reads top to bottom: fit the teacher on labelled data; label the pool; keep the labels the
teacher is confident about (a probability threshold, optionally capped per class so the majority
class cannot crowd the others out); optionally refit the teacher on labelled + kept pseudo-labelled
data and label again (self-training rounds); finally train the student on labelled + pseudo-labelled
data, on hard labels or on the teacher's soft targets. Like :func:`~distilsec.methods.distill.distill`
it ends in ``student.fit`` and never names a student class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from distilsec.errors import ConfigError, DataError
from distilsec.methods.distill import align_proba
from distilsec.students.base import SoftTargets

__all__ = ["pseudo_label", "select_confident", "PseudoLabelResult", "fresh_copy"]

log = logging.getLogger("distilsec.pseudo_label")


@dataclass
class PseudoLabelResult:
    """The trained student and teacher, and what each round kept."""

    student: Any
    teacher: Any
    kept: np.ndarray
    pseudo_labels: list[str]
    pool_proba: np.ndarray
    rounds: list[dict[str, Any]] = field(default_factory=list)


def fresh_copy(model: Any) -> Any:
    """An unfitted model with the same constructor arguments (scikit-learn's ``clone``, for our contract)."""
    return type(model)(**model.get_params())


def select_confident(
    proba: np.ndarray,
    *,
    threshold: float = 0.9,
    max_per_class: int | None = None,
) -> np.ndarray:
    """Indices of rows whose top probability is at least ``threshold``.

    With ``max_per_class``, each predicted class keeps at most that many rows (the most confident
    first), because confident predictions are mostly of the majority class and a student trained on
    them alone would learn a skewed prior.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"pseudo-label threshold must be in [0, 1], got {threshold}")
    proba = np.asarray(proba, dtype=np.float64)
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    keep = np.flatnonzero(conf >= threshold)
    if max_per_class is None:
        return keep
    out = []
    for c in np.unique(pred[keep]):
        rows = keep[pred[keep] == c]
        out.append(rows[np.argsort(-conf[rows], kind="stable")][:max_per_class])
    return np.sort(np.concatenate(out)) if out else keep[:0]


def _accuracy(pred: Sequence[str], truth: Sequence[str] | None, idx: np.ndarray) -> float | None:
    if truth is None or len(idx) == 0:
        return None
    return float(np.mean([pred[i] == truth[i] for i in idx]))


def pseudo_label(
    teacher: Any,
    student: Any,
    texts: Sequence[str],
    y: Sequence[str],
    pool: Sequence[str],
    *,
    threshold: float = 0.9,
    max_per_class: int | None = None,
    rounds: int = 1,
    targets: Literal["soft", "hard"] = "soft",
    temperature: float = 2.0,
    alpha: float = 0.5,
    classes: Sequence[str] | None = None,
    fit_teacher: bool = True,
    pool_truth: Sequence[str] | None = None,
    teacher_proba: np.ndarray | None = None,
) -> PseudoLabelResult:
    """Train ``student`` on labelled data plus the teacher's confident labels for ``pool``.

    Parameters
    ----------
    teacher : a teacher (unfitted when ``fit_teacher``; else already fitted on the labelled set).
    student : an unfitted student.
    texts, y : the labelled set.  pool : unlabelled texts.
    threshold, max_per_class : confidence selection (:func:`select_confident`).
    rounds : 1 = label once; each further round refits a fresh teacher on labelled + kept
        pseudo-labelled data and labels the pool again.
    targets : ``"soft"`` trains the student on the teacher's distribution (with ``temperature`` and
        ``alpha`` as in distillation), ``"hard"`` on the argmax labels only.
    classes : class order (default: sorted labels of ``y``).
    pool_truth : true labels of the pool, used only to report pseudo-label accuracy per round.
    teacher_proba : the fitted teacher's probabilities on ``pool`` (columns in ``classes`` order) when
        already computed; used in round 1 instead of labelling the pool again (needs ``fit_teacher=False``).

    Returns
    -------
    PseudoLabelResult
    """
    if rounds < 1:
        raise ConfigError(f"rounds must be >= 1, got {rounds}")
    if targets not in ("soft", "hard"):
        raise ConfigError(f"targets must be 'soft' or 'hard', not {targets!r}")
    texts, y, pool = list(texts), [str(v) for v in y], list(pool)
    if not pool:
        raise DataError("the unlabelled pool is empty")
    classes = list(classes) if classes is not None else sorted(set(y))
    history: list[dict[str, Any]] = []
    current = teacher
    if fit_teacher:
        current.fit(texts, y, classes=classes)
    kept = np.zeros(0, dtype=np.int64)
    labels: list[str] = []
    proba = np.zeros((len(pool), len(classes)))
    for r in range(rounds):
        if r > 0:
            current = fresh_copy(teacher)
            current.fit(texts + [pool[i] for i in kept], y + [labels[i] for i in kept], classes=classes)
        if r == 0 and teacher_proba is not None and not fit_teacher:
            proba = np.asarray(teacher_proba, dtype=np.float64)
        else:
            proba = align_proba(np.asarray(current.predict_proba(pool)), current.classes_, classes)
        labels = [classes[j] for j in proba.argmax(axis=1)]
        kept = select_confident(proba, threshold=threshold, max_per_class=max_per_class)
        row = {
            "round": r + 1,
            "pool": len(pool),
            "kept": len(kept),
            "kept_by_class": {c: int(sum(labels[i] == c for i in kept)) for c in classes},
            "pseudo_label_accuracy_kept": _accuracy(labels, pool_truth, kept),
            "pseudo_label_accuracy_all": _accuracy(labels, pool_truth, np.arange(len(pool))),
        }
        history.append(row)
        log.info("pseudo-label round %d: kept %d of %d", r + 1, len(kept), len(pool))
    train_texts = texts + [pool[i] for i in kept]
    train_y = y + [labels[i] for i in kept]
    soft = None
    if targets == "soft":
        lab_proba = align_proba(np.asarray(current.predict_proba(texts)), current.classes_, classes)
        soft = SoftTargets(np.vstack([lab_proba, proba[kept]]), temperature=temperature, alpha=alpha)
    student.fit(train_texts, train_y, soft_targets=soft, classes=classes)
    return PseudoLabelResult(student, current, kept, labels, proba, history)
