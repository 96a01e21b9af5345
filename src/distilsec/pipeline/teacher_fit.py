"""The configured teacher, fitted as every command fits it: ``view:`` keys honoured, weights chosen on validation.

``distilsec run`` scores the teacher's components once and reuses them (see :func:`stages.fit_teacher`); the
experiment commands (``semisup figure2``/``budget``, ``synth-tables`` with ``synth.judge: teacher``) call this,
so one teacher section means the same model in every command.
"""

from __future__ import annotations

from typing import Any

from distilsec._internal.console import console
from distilsec.config import Config
from distilsec.registry import create

__all__ = ["fit_configured_teacher"]


def fit_configured_teacher(
    config: Config,
    texts: list[str],
    y: list[str],
    classes: list[str],
    val: tuple[list[str], list[str]] | None = None,
) -> Any:
    """``config.teacher`` fitted on ``texts``/``y``; a model with components (an ensemble) then chooses what it
    chooses on the validation texts and labels ``val`` (its weights, for ``weights: validation``)."""
    from distilsec.teachers.viewed import with_view

    teacher = create(*with_view(config.teacher.type, {"random_state": config.run.seed, **config.teacher.params}))
    teacher.fit(texts, y, classes=classes)
    if val is not None and callable(getattr(teacher, "components", None)) and teacher.components():
        _, parts = teacher.predict_proba_components(val[0])
        teacher.tune(parts, val[1], view=config.evaluation)
        weights = getattr(teacher, "weights_", None)
        if weights is not None:
            console.print(f"teacher weights chosen on validation: {[round(float(w), 2) for w in weights]}")
    return teacher
