"""How good and how biased an LLM teacher is, before and after calibration, and how injection-proof.

For one task (a run config: cmdline, url, ...): the few-shot examples come from the training split; a
sample of the validation split is labelled once through the ledger; each calibration method is then
*cross-fitted* (2 folds by group: fitted on one half, applied to the other), so the "after" numbers
never score data the calibrator saw. Finally the calibrated teacher labels injected copies of the
malicious samples it catches, which gives the flip rate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from distilsec._internal.console import console
from distilsec.config import load_config
from distilsec.data.example import Example
from distilsec.errors import DataError
from distilsec.evaluation.report import write_report
from distilsec.students.base import encode_labels
from distilsec.teachers.llm.calibration import Calibrator, bias_report
from distilsec.teachers.llm.injection import FRESH_INJECTIONS, HELD_OUT_INJECTIONS, INJECTIONS, flip_rate
from distilsec.teachers.llm.teacher import CONTENT_FREE_INPUTS, LLMTeacher

__all__ = ["run_llm_eval", "llm_eval_sections", "sample_validation", "cross_fit"]
METHODS = ("none", "contextual", "bias", "affine")


def sample_validation(val: list[Example], n: int, min_per_class: int, seed: int) -> list[Example]:
    """``n`` validation examples at the split's class shares, each class topped up to ``min_per_class``."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[Example]] = {}
    for ex in val:
        by_class.setdefault(str(ex.label), []).append(ex)
    total = len(val)
    want = {c: max(min_per_class, round(n * len(v) / total)) for c, v in by_class.items()}
    extra = sum(want.values()) - n
    if extra > 0:  # take the top-up from the largest class
        big = max(want, key=lambda c: want[c])
        want[big] = max(min_per_class, want[big] - extra)
    out = []
    for c in sorted(by_class):
        rows = by_class[c]
        out += [rows[i] for i in rng.permutation(len(rows))[: want[c]]]
    return [out[i] for i in rng.permutation(len(out))]


def cross_fit(method: str, logp: np.ndarray, y: np.ndarray, folds: np.ndarray, cf_logp: np.ndarray) -> np.ndarray:
    """Out-of-fold calibrated probabilities: each fold is calibrated on the other folds only."""
    out = np.zeros_like(logp)
    for f in np.unique(folds):
        test, train = folds == f, folds != f
        cal = Calibrator(method)  # type: ignore[arg-type]
        cal.fit_contextual(cf_logp) if method == "contextual" else cal.fit(logp[train], y[train])
        out[test] = cal.transform(logp[test])
    return out


def run_llm_eval(
    config_path: str | Path,
    *,
    out: str | Path,
    teacher_params: dict[str, Any],
    n_val: int = 240,
    min_per_class: int = 60,
    n_inject: int = 20,
    data_dir: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    backend: Any = None,
) -> dict[str, Any]:
    """Evaluate an LLM teacher on one task's validation split; writes ``llm_eval.json`` and ``report.md``.

    ``backend`` injects a ready LLM backend (tests pass a fake); by default the teacher opens its own.
    """
    from distilsec.pipeline.run import prepare_data

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    config = load_config(config_path, overrides)
    seed = config.run.seed
    console.rule(f"[bold cyan]data: {config.data.task}")
    data = prepare_data(config, data_dir=data_dir)
    sample = sample_validation(data.val, n_val, min_per_class, seed)
    if len({ex.label for ex in sample}) < 2:
        raise DataError("the validation sample has a single class")
    texts = [ex.text for ex in sample]
    classes, y = encode_labels([str(ex.label) for ex in sample], data.classes)
    groups = sorted({ex.group or ex.id for ex in sample})
    fold_of = {g: i % 2 for i, g in enumerate(np.random.default_rng(seed).permutation(groups))}
    folds = np.array([fold_of[ex.group or ex.id] for ex in sample])

    console.rule("[bold cyan]LLM teacher: few-shot examples from train; label the validation sample")
    task = config.data.task if config.data.task in ("cmdline", "url") else "text"
    teacher = LLMTeacher(**{"task": task, "random_state": seed, **teacher_params, "calibration": "none"})
    if backend is not None:
        teacher.connect(backend)
    teacher.fit([ex.text for ex in data.train], [str(ex.label) for ex in data.train], classes=classes)
    labelled = _label_sample(teacher, texts)
    reports = _calibration_reports(labelled["logp"], y, folds, labelled["cf"], classes)
    injection: dict[str, Any] = {}
    if n_inject and "malicious" in classes and "benign" in classes:
        injection = _injection_report(teacher, texts, labelled["logp"], y, classes, task, n_inject)
    run = labelled["run"]
    result = {
        "config": str(config_path),
        "task": config.data.task,
        "teacher": teacher.get_params() | {"model_id": labelled["model_id"]},
        "shots": teacher.shots_,
        "sample": {"n": len(sample), "by_label": {c: int((y == j).sum()) for j, c in enumerate(classes)}},
        "calls": run.calls,
        "cached": run.cached,
        "call_seconds": round(run.call_seconds, 1),
        "label_seconds": round(labelled["seconds"], 1),
        "seconds_per_call": round(run.call_seconds / run.calls, 3) if run.calls else None,
        "recorded_seconds_per_call": labelled["recorded_spc"],
        "calibration": reports,
        "guard_hits_on_clean_sample": labelled["guard_hits"],
        "injection": injection,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    title = f"LLM teacher on the {result['task']} validation split"
    write_report(out, title=title, sections=llm_eval_sections(result), metrics=result, metrics_name="llm_eval.json")
    teacher.close()
    return result


def _label_sample(teacher: LLMTeacher, texts: list[str]) -> dict[str, Any]:
    """Raw log-probabilities of the sample and of the content-free inputs, with the run's call accounting."""
    t0 = time.perf_counter()
    logp = teacher.raw_logprobs(texts, desc="LLM teacher: validation sample")
    run, guard_hits = teacher.last_run_, teacher.guard_hits_
    model_id, template_id = teacher.signature.rsplit("/", 1)
    recorded = teacher.ledger_.get_many(model_id, template_id, texts) if teacher.ledger_ is not None else {}
    recorded_spc = float(np.mean([e.seconds for e in recorded.values()])) if recorded else None
    cf = teacher.raw_logprobs(list(CONTENT_FREE_INPUTS), desc="content-free inputs")
    return {
        "logp": logp,
        "cf": cf,
        "run": run,
        "guard_hits": guard_hits,
        "model_id": model_id,
        "recorded_spc": None if recorded_spc is None else round(recorded_spc, 3),
        "seconds": time.perf_counter() - t0,
    }


def _calibration_reports(
    logp: np.ndarray, y: np.ndarray, folds: np.ndarray, cf: np.ndarray, classes: list[str]
) -> dict[str, dict[str, Any]]:
    """:func:`bias_report` of the raw teacher and of each cross-fitted calibration method."""
    reports = {}
    for method in METHODS:
        proba = np.exp(logp) if method == "none" else cross_fit(method, logp, y, folds, cf)
        reports[method] = bias_report(proba, y, classes)
        r = reports[method]
        # each fold has its own calibrator, so the pooled AUC also counts the offsets between the two;
        # the mean AUC inside the folds is the ranking a single calibrator would keep
        fold_aucs = [bias_report(proba[folds == f], y[folds == f], classes)["auc"] for f in np.unique(folds)]
        r["auc_within_folds"] = None if None in fold_aucs else float(np.mean(fold_aucs))
        console.print(
            f"{method:>10}: accuracy {r['accuracy']:.3f} balanced {r['balanced_accuracy']:.3f} AUC {r['auc']:.3f} "
            f"predicted malicious {r['predicted_share'].get('malicious', float('nan')):.2f} "
            f"(true {r['true_share'].get('malicious', float('nan')):.2f})"
        )
    return reports


def _injection_report(
    teacher: LLMTeacher,
    texts: list[str],
    logp: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    task: str,
    n_inject: int,
) -> dict[str, Any]:
    """Flip rate of the caught malicious samples under each payload set, without and with the guard."""
    console.rule("[bold cyan]prompt injection: flip rate of caught malicious samples")
    injection: dict[str, Any] = {}
    teacher.calibrator_ = Calibrator("affine").fit(logp, y)  # calibrated on the whole sample
    proba = teacher.calibrator_.transform(logp)
    caught = [t for t, p, yy in zip(texts, proba, y, strict=True) if classes[yy] == "malicious" and p.argmax() == yy]
    for guard in ("none", "max"):
        teacher.injection_guard = guard
        sets = (("design", INJECTIONS), ("held-out", HELD_OUT_INJECTIONS), ("fresh", FRESH_INJECTIONS))
        for name, payloads in sets:
            if caught:
                r = flip_rate(teacher, caught[:n_inject], task=task, payloads=payloads)
                injection[f"{name} payloads, guard {guard}"] = r
                console.print(f"{name:>8} payloads, guard {guard:>4}: flip rate {r['flip_rate']:.3f}")
    return injection


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def llm_eval_sections(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``report.md`` sections of an LLM-teacher evaluation: calibration, then prompt injection."""
    lines = [
        f"Model `{r['teacher']['model']}` ({r['teacher']['model_id']}), {r['teacher']['n_shots']} shots per class; "
        f"sample {r['sample']['by_label']}; {r['calls']} calls made, {r['cached']} from the ledger, "
        f"{_f(r['recorded_seconds_per_call'])} s per call as recorded in the ledger when first made. "
        'Calibration is cross-fitted (2 folds by group): "AUC" pools the scores of both folds (each fold has '
        'its own calibrator), "AUC within folds" is the mean of the two folds\' own AUCs.',
        "",
        "| calibration | accuracy | balanced acc. | AUC | AUC within folds | log-loss | predicted mal. | true mal. "
        "| FPR | TPR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m, b in r["calibration"].items():
        lines.append(
            f"| {m} | {_f(b['accuracy'])} | {_f(b['balanced_accuracy'])} | {_f(b['auc'])} | "
            f"{_f(b.get('auc_within_folds'))} | {_f(b['log_loss'])} | "
            f"{_f(b['predicted_share'].get('malicious'))} | {_f(b['true_share'].get('malicious'))} | "
            f"{_f(b.get('fpr'))} | {_f(b.get('tpr'))} |"
        )
    sections = [("Calibration", "\n".join(lines))]
    if r.get("injection"):
        sections.append(("Prompt injection", _injection_section(r)))
    return sections


def _injection_section(r: dict[str, Any]) -> str:
    inj = r["injection"]
    first = next(iter(inj.values()))
    lines = [
        f"Prompt injection: {first['n_samples']} caught malicious samples, each payload placed as a prefix and "
        f"as a suffix; the guard found instruction-like text in {r['guard_hits_on_clean_sample']} of the "
        f"{r['sample']['n']} clean validation inputs.",
        "",
        "| payload set, guard | injected inputs | flipped to benign | flip rate | mean P(mal.) before -> after |",
        "|---|---|---|---|---|",
    ]
    for name, v in inj.items():
        lines.append(
            f"| {name} | {v['n_injected']} | {v['flips']} | {v['flip_rate']:.3f} | "
            f"{v['mean_p_positive_before']:.3f} -> {v['mean_p_positive_after']:.3f} |"
        )
    for name, v in inj.items():
        lines += ["", f"Per payload ({name}):", "", "| payload | flip rate |", "|---|---|"]
        lines += [f"| `{p.replace('|', '/').replace(chr(10), ' ')}` | {x:.3f} |" for p, x in v["by_payload"].items()]
    return "\n".join(lines)
