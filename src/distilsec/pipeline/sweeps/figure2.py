"""The seed's Figure 2: student quality against the share of teacher-labelled training data.

A teacher is fine-tuned on a small analyst-labelled set. Every student then trains on the same fixed
number of pool examples (the training budget); a share of them carries the teacher's labels, the rest
the analyst's. If the curve stays flat up to 100%, the teacher can label the data no analyst will ever
label. Whole groups (registrable domains) are held out: the labelled set, the pool, val and test share
no site. Two further arms: each student on the analyst-labelled rows alone (what the teacher's rows
add), and semi-supervised pseudo-labelling (labelled set + the teacher's confident pool labels).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from distilsec._internal.console import console
from distilsec._internal.device import set_threads
from distilsec.errors import DataError
from distilsec.pipeline.sweeps.semisup_config import SemisupConfig
from distilsec.pipeline.sweeps.semisup_data import SemisupData, prepare_semisup_data
from distilsec.pipeline.teacher_fit import fit_configured_teacher
from distilsec.registry import create
from distilsec.students.base import SoftTargets
from distilsec.teachers.ledgered import LedgeredTeacher

__all__ = ["run_figure2", "evaluate_model", "open_ledger", "fit_or_load_teacher"]

log = logging.getLogger("distilsec.semisup")

#: the headline figures a sweep row keeps (at the argmax / 0.5 decision; TPR@FPR from the test ROC)
_HEADLINE = ("accuracy", "macro_f1", "auc", "auc_ovr_macro", "tpr_at_fpr_0.001", "tpr_at_fpr_0.01")


def open_ledger(setting: str | None) -> Any:
    """The ledger a ``semisup.ledger`` setting names (``None`` = no ledger)."""
    from distilsec.teachers.ledger import TeacherLedger, default_ledger_path

    if setting is None:
        return None
    return TeacherLedger(default_ledger_path() if setting == "default" else setting)


def fit_or_load_teacher(
    config: SemisupConfig,
    texts: list[str],
    y: list[str],
    classes: list[str],
    val: tuple[list[str], list[str]] | None = None,
) -> Any:
    """The teacher: loaded from ``semisup.teacher_bundle`` when set (its classes must match), else fitted.

    A fitted teacher is built as ``distilsec run`` builds it (:func:`fit_configured_teacher`: ``view:`` keys,
    an ensemble's weights chosen on the validation texts and labels ``val`` when given).
    """
    from distilsec.bundle import load_model

    if config.semisup.teacher_bundle:
        teacher = load_model(config.semisup.teacher_bundle)
        if list(teacher.classes_) != list(classes):
            raise DataError(f"teacher bundle classes {teacher.classes_} differ from this data's {classes}")
        return teacher
    return fit_configured_teacher(config, texts, y, classes, val)


def evaluate_model(
    proba_val: np.ndarray, proba_test: np.ndarray, y_val: list[str], y_test: list[str], classes: list[str], ev: Any
) -> dict[str, Any]:
    """Headline metrics on test: macro-F1 and accuracy at the argmax/0.5 decision, AUC, TPR@FPR from the
    test ROC, and the TPR/FPR at the operating threshold chosen on validation data for ``target_fpr``
    (two-class tasks with a detection view only: :func:`distilsec.evaluation.evaluate` chooses it)."""
    from distilsec.evaluation import Probas, Split, evaluate

    dev = Split([], y_val) if len(classes) == 2 else None
    report = evaluate(Probas(proba_test, proba_val), Split([], y_test), dev, classes=classes, view=ev, at_default=True)
    assert report.at_default is not None
    out = {k: report.at_default.get(k) for k in _HEADLINE}
    if report.threshold is not None:
        out |= {
            "threshold": report.threshold,
            "tpr_at_val_threshold": report.metrics["tpr_at_threshold"],
            "fpr_at_val_threshold": report.metrics["fpr_at_threshold"],
        }
    return out


def _onehot(y: list[str], classes: list[str]) -> np.ndarray:
    return np.eye(len(classes))[[classes.index(v) for v in y]]


def _student_rows(
    config: SemisupConfig, data: SemisupData, pool_proba: np.ndarray
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train and evaluate every student at every share (and the truth-only baseline)."""
    s, ev = config.semisup, config.evaluation
    classes = data.classes
    texts = [ex.text for ex in data.pool]
    truth = [str(ex.label) for ex in data.pool]
    t_labels = [classes[j] for j in pool_proba.argmax(axis=1)]
    order = np.random.default_rng(config.run.seed).permutation(len(texts))
    x_val, y_val = [ex.text for ex in data.val], [str(ex.label) for ex in data.val]
    x_test, y_test = [ex.text for ex in data.test], [str(ex.label) for ex in data.test]
    rows: list[dict[str, Any]] = []
    models: dict[str, Any] = {}
    for name, spec in config.students.items():
        params = {"random_state": config.run.seed, **spec.params}
        for share in s.shares:
            n_teacher = int(round(share * len(texts)))
            teacher_rows = order[:n_teacher]
            y_mix = list(truth)
            for i in teacher_rows:
                y_mix[i] = t_labels[i]
            arms = [(t, None) for t in s.targets if not (t == "soft" and n_teacher == 0)]
            if s.truth_only_baseline and 0 < n_teacher < len(texts):
                arms.append(("truth-only", order[n_teacher:]))
            for target, subset in arms:
                student = create(spec.type, params)
                t0 = time.perf_counter()
                if subset is not None:
                    student.fit([texts[i] for i in subset], [truth[i] for i in subset], classes=classes)
                else:
                    soft = None
                    if target == "soft":
                        proba = _onehot(truth, classes)
                        proba[teacher_rows] = pool_proba[teacher_rows]
                        soft = SoftTargets(proba, temperature=config.method.temperature, alpha=config.method.alpha)
                    student.fit(texts, y_mix, soft_targets=soft, classes=classes)
                fit_s = time.perf_counter() - t0
                m = evaluate_model(
                    student.predict_proba(x_val), student.predict_proba(x_test), y_val, y_test, classes, ev
                )
                n_train = len(subset) if subset is not None else len(texts)
                row = {"student": name, "type": spec.type, "targets": target, "share": share, "n_train": n_train}
                row |= {"n_teacher_labelled": 0 if subset is not None else n_teacher, "fit_seconds": round(fit_s, 1)}
                rows.append(row | m)
                models[f"{name}/{target}/{share}"] = student
                console.print(
                    f"{name:>8} {target:>10} share {share:4.0%}: macro-F1 {_f(m['macro_f1'])} "
                    f"AUC {_f(m['auc'] if m['auc'] is not None else m.get('auc_ovr_macro'))} "
                    f"TPR@1e-3 {_f(m.get('tpr_at_fpr_0.001'))} ({fit_s:.0f} s)"
                )
    return rows, models


def _f(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"


def _pseudo_label_rows(config: SemisupConfig, data: SemisupData, teacher: Any, pool_proba: np.ndarray) -> list[dict]:
    """Semi-supervised arm: each student on the labelled set + the teacher's confident pool labels."""
    from distilsec.methods.pseudo_label import pseudo_label

    s, ev, classes = config.semisup, config.evaluation, data.classes
    if s.pseudo_label_threshold is None:
        return []
    x_l, y_l = [ex.text for ex in data.labelled], [str(ex.label) for ex in data.labelled]
    x_val, y_val = [ex.text for ex in data.val], [str(ex.label) for ex in data.val]
    x_test, y_test = [ex.text for ex in data.test], [str(ex.label) for ex in data.test]
    pool_texts, pool_truth = [ex.text for ex in data.pool], [str(ex.label) for ex in data.pool]
    pl_rows = []
    for name, spec in config.students.items():
        console.rule(f"[bold cyan]pseudo-labelling: {name}, threshold {s.pseudo_label_threshold}")
        res = pseudo_label(
            teacher,
            create(spec.type, {"random_state": config.run.seed, **spec.params}),
            x_l,
            y_l,
            pool_texts,
            threshold=s.pseudo_label_threshold,
            rounds=s.pseudo_label_rounds,
            targets="soft",
            temperature=config.method.temperature,
            alpha=config.method.alpha,
            classes=classes,
            fit_teacher=False,
            pool_truth=pool_truth,
            teacher_proba=pool_proba,
        )
        m = evaluate_model(
            res.student.predict_proba(x_val), res.student.predict_proba(x_test), y_val, y_test, classes, ev
        )
        pl_rows.append({"student": name, "rounds": res.rounds, "n_train": len(x_l) + len(res.kept)} | m)
        console.print(f"{name:>8} labelled + {len(res.kept)} pseudo-labelled: macro-F1 {_f(m['macro_f1'])}")
    return pl_rows


def run_figure2(config: SemisupConfig, *, out: str | Path, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Run the Figure-2 experiment; writes ``metrics.json``, ``report.md`` and ``figure2.png`` to ``out``."""
    from distilsec.pipeline.sweeps.figure2_report import write_figure2_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    set_threads(config.run.threads)
    console.rule("[bold cyan]data: labelled set, unlabelled pool, val, test (by group)")
    data = prepare_semisup_data(config, data_dir=data_dir)
    if not data.pool:
        raise DataError("the unlabelled pool is empty: lower semisup.labelled or raise data.max_examples")
    classes, ev = data.classes, config.evaluation
    console.print(json.dumps(data.report["semisup_split"]))
    x_l, y_l = [ex.text for ex in data.labelled], [str(ex.label) for ex in data.labelled]
    x_val, y_val = [ex.text for ex in data.val], [str(ex.label) for ex in data.val]
    x_test, y_test = [ex.text for ex in data.test], [str(ex.label) for ex in data.test]

    console.rule(f"[bold cyan]teacher: {config.teacher.type} on {len(x_l)} labelled examples")
    t0 = time.perf_counter()
    teacher = fit_or_load_teacher(config, x_l, y_l, classes, val=(x_val, y_val))
    teacher_fit_s = time.perf_counter() - t0
    if not config.semisup.teacher_bundle:
        teacher.save(out / "teacher")  # reusable by `semisup budget` (semisup.teacher_bundle)
    ledger = open_ledger(config.semisup.ledger)
    labeller = LedgeredTeacher(teacher, ledger)
    pool_texts = [ex.text for ex in data.pool]
    t0 = time.perf_counter()
    pool_proba = labeller.predict_proba(pool_texts)
    label_s, pool_calls = time.perf_counter() - t0, labeller.calls
    pool_truth = [str(ex.label) for ex in data.pool]
    teacher_pool_acc = float(
        np.mean([classes[j] == t for j, t in zip(pool_proba.argmax(axis=1), pool_truth, strict=True)])
    )
    teacher_m = evaluate_model(
        labeller.predict_proba(x_val), labeller.predict_proba(x_test), y_val, y_test, classes, ev
    )
    teacher_m |= {
        "fit_seconds": round(teacher_fit_s, 1),
        "pool_label_accuracy": teacher_pool_acc,
        "pool_calls": pool_calls,
        "pool_labelling_seconds": round(label_s, 1),
        "signature": labeller.signature,
    }
    console.print(f"teacher: macro-F1 {_f(teacher_m['macro_f1'])}, pool label accuracy {teacher_pool_acc:.4f}")

    console.rule("[bold cyan]students at each share of teacher-labelled data")
    rows, _ = _student_rows(config, data, pool_proba)

    pl_rows = _pseudo_label_rows(config, data, teacher, pool_proba)
    result = {
        "config": config.model_dump(mode="json"),
        "data": data.report,
        "classes": classes,
        "teacher": teacher_m,
        "students": rows,
        "pseudo_label": pl_rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_figure2_report(out, result)
    if ledger is not None:
        ledger.close()
    console.print(f"[bold green]done[/]: {out}/report.md")
    return result
