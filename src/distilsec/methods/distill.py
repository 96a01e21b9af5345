"""Knowledge distillation: the student learns from hard labels plus the teacher's soft distribution.

Methods differ only in how they build targets; every one ends in the same ``student.fit``. This
method never names a student class and a student never knows which method trained it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from distilsec.students.base import SoftTargets

__all__ = ["distill", "align_proba"]


def align_proba(proba: np.ndarray, from_classes: Sequence[str], to_classes: Sequence[str]) -> np.ndarray:
    """Reorder teacher probability columns to the student's class order (missing classes get 0)."""
    out = np.zeros((proba.shape[0], len(to_classes)), dtype=np.float64)
    for j, c in enumerate(to_classes):
        if c in from_classes:
            out[:, j] = proba[:, list(from_classes).index(c)]
    return out


def distill(
    teacher: Any,
    student: Any,
    texts: Sequence[str],
    y: Sequence[str],
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
    teacher_proba: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    transfer: tuple[Sequence[str], np.ndarray] | None = None,
) -> Any:
    """Train ``student`` on ``texts`` with ``alpha*T^2*KL(teacher^T || student^T) + (1-alpha)*CE(y)``.

    Parameters
    ----------
    teacher : a fitted model with ``predict_proba`` and ``classes_``.
    student : an unfitted student (scikit-learn contract with ``soft_targets`` in ``fit``).
    texts, y : the student's training set; ``y`` may be noisy (the teacher corrects it).
    temperature, alpha : Hinton's T and the soft-loss weight.
    teacher_proba : the teacher's probabilities on ``texts`` if already computed (they are cached
        per run, because scoring a large set with the teacher is the expensive part).
    sample_weight : per-text weights of both loss terms (None = all 1).
    transfer : extra texts and the teacher's probabilities on them (:mod:`distilsec.methods.transfer_set`):
        learnt from the soft labels alone (``alpha = 1``; their hard label, the teacher's argmax, has
        weight 0), at weight 1 each.

    Returns
    -------
    The fitted student.
    """
    classes = list(teacher.classes_)
    proba = teacher.predict_proba(texts) if teacher_proba is None else teacher_proba
    proba = align_proba(proba, teacher.classes_, classes)
    texts, y, alphas = list(texts), [str(v) for v in y], np.full(len(texts), alpha)
    if transfer is not None and len(transfer[0]):
        extra = align_proba(transfer[1], teacher.classes_, classes)
        texts += list(transfer[0])
        y += [classes[i] for i in extra.argmax(axis=1)]
        proba, alphas = np.vstack([proba, extra]), np.concatenate([alphas, np.ones(len(extra))])
        if sample_weight is not None:
            sample_weight = np.concatenate([sample_weight, np.ones(len(extra))])
    soft = SoftTargets(proba, temperature=temperature, alpha=alphas if transfer is not None else alpha)
    return student.fit(texts, y, soft_targets=soft, classes=classes, sample_weight=sample_weight)
