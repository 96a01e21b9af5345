"""The noise experiment of ``distilsec run`` (``noise.rates``): does distillation resist noisy labels?

A share of the student's training labels is flipped at random; a hard-label student and a distilled one
train on them. The teacher stays the one fitted on the clean labels: the seed's setting, where a model
trained on expert-labelled data teaches a student on a large, noisily labelled set.
"""

from __future__ import annotations

from typing import Any

from distilsec._internal.console import console
from distilsec.config import Config
from distilsec.evaluation.evaluate import Split, evaluate
from distilsec.methods.distill import distill
from distilsec.methods.noise import flip_labels
from distilsec.pipeline.stages import Fitted, announce, dev_split, model_params
from distilsec.registry import create
from distilsec.tasks.prepare import PreparedData

__all__ = ["noise_experiment"]

#: the figures each row of the noise table carries.
_FIGURES = ("auc", "macro_f1", "tpr_at_fpr_0.001", "accuracy")
_MODES = ("hard labels", "distilled")


def noise_experiment(
    config: Config, data: PreparedData, fitted: Fitted, results: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per (noise rate, mode), after the clean-label rows (rate 0) and before the teacher's row."""
    if not config.noise.rates:
        return []
    name = config.noise.student or next(iter(config.students))
    rows = [_row(0.0, mode, name, results[key]) for mode, key in _clean_rows(name) if key in results]
    for rate in config.noise.rates:
        for mode in _MODES:
            rows.append(_row(rate, mode, name, _noisy_student_metrics(config, data, fitted, name, rate, mode)))
    rows.append(_row(None, "teacher", "teacher", results.get("teacher", {})))
    return rows


def _clean_rows(name: str) -> list[tuple[str, str]]:
    """The run's own students (0% flipped): distilled first, as the table has always shown them."""
    return [("distilled", name), ("hard labels", f"{name}-hard")]


def _row(rate: float | None, mode: str, student: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"noise_rate": rate, "mode": mode, "student": student, **{k: metrics.get(k) for k in _FIGURES}}


def _noisy_student_metrics(
    config: Config, data: PreparedData, fitted: Fitted, name: str, rate: float, mode: str
) -> dict[str, Any]:
    """Student ``name`` trained on labels with ``rate`` flipped (by ``mode``), evaluated as every model is."""
    announce(f"noise experiment: {rate:.0%} flipped labels, {mode}")
    x_tr = [ex.text for ex in data.train]
    noisy = flip_labels([str(ex.label) for ex in data.train], rate, data.classes, random_state=config.run.seed)
    spec = config.students[name]
    student = create(spec.type, model_params(spec, config))
    if mode == "distilled":
        m = config.method
        distill(
            fitted.teacher,
            student,
            x_tr,
            noisy,
            temperature=m.temperature,
            alpha=m.alpha,
            teacher_proba=fitted.teacher_train_proba,
            transfer=fitted.transfer,
        )
    else:
        student.fit(x_tr, noisy, classes=data.classes)
    test, dev = Split.from_examples(data.test, metadata=False), dev_split(config, data)
    metrics = evaluate(student, test, dev, classes=data.classes, view=config.evaluation).metrics
    console.print(f"noise {rate:.0%} {mode:>12}: AUC {_f(metrics['auc'])} macro-F1 {_f(metrics['macro_f1'])}")
    return metrics


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.4f}"
