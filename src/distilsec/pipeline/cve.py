"""The CVE run, top to bottom: data -> baseline -> teacher -> distilled student -> encoder -> CVSS -> bundle.

``distilsec run configs/cve-cwe.yaml --out DIR --decontaminate BENCH.tsv`` lands here (``run_experiment``
dispatches on ``data.task == "cve"``). Every model is evaluated on the same time-split held-out CVEs with
the CTI-Bench metrics. The CWE model to ship is chosen on validation data; its recipe is then fit again on
every curated, decontaminated record up to ``cve.test_until`` (``cve.refit_on_all``), so the shipped
bundle (CWE model + CVSS heads + CWE names/parents) has seen the newest labelling practice. That bundle is
``DIR/cve-model`` and ``DIR/manifest.json`` points at it, so ``--model DIR`` works everywhere; the
time-split bundle the held-out figures come from is ``DIR/cve-model-heldout``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distilsec._internal.console import console
from distilsec._internal.device import limit_threads
from distilsec.bundle import write_manifest
from distilsec.config import Config, CveSection, config_hash, dump_config
from distilsec.data.example import Example
from distilsec.data.readers.cti_bench import write_bench_tsv
from distilsec.errors import ConfigError
from distilsec.evaluation.cve_metrics import evaluate_rcm, evaluate_vsp
from distilsec.evaluation.report import write_report
from distilsec.methods.distill import distill
from distilsec.registry import create
from distilsec.students.cve_model import RUN_TYPE, CveModel
from distilsec.students.cwe_hierarchy import CweIndex
from distilsec.tasks.cve import CveData, prepare_cve_data

__all__ = ["run_cve", "cve_sections", "SHIPPED", "HELDOUT"]

log = logging.getLogger("distilsec.pipeline.run")
SHIPPED = "cve-model"
HELDOUT = "cve-model-heldout"


def _stage(msg: str) -> None:
    console.rule(f"[bold cyan]{msg}")
    log.info("== %s", msg)


def _texts(part: list[Example]) -> list[str]:
    return [e.text for e in part]


def _labels(part: list[Example]) -> list[str]:
    return [str(e.label) for e in part]


def _params(spec: Any, config: Config) -> dict[str, Any]:
    params = dict(spec.params)
    params.setdefault("random_state", config.run.seed)
    return params


def _source_weights(part: list[Example], weights: dict[str, float], key: str) -> np.ndarray | None:
    """Per-record training weight from who chose its label (``meta[key]``: ``label_source``/``cvss_source``);
    the first prefix in ``weights`` that matches wins, others weigh 1. The weights are then scaled to mean 1,
    so that an SVM's ``C`` keeps its meaning (and its training time). None when no weights are set."""
    if not weights or not part:
        return None
    out = np.ones(len(part), dtype=np.float64)
    for i, e in enumerate(part):
        src = str(e.meta.get(key, ""))
        out[i] = next((w for prefix, w in weights.items() if src.startswith(prefix)), 1.0)
    return out / out.mean()


def _ranked(model: Any, texts: list[str], k: int = 3) -> list[list[str]]:
    proba = model.predict_proba(texts)
    cls = np.asarray(model.classes_)
    return [list(cls[row]) for row in np.argsort(-proba, axis=1, kind="stable")[:, :k]]


def _rcm(model: Any, part: list[Example]) -> dict[str, Any]:
    ranked = _ranked(model, _texts(part))
    m = evaluate_rcm(_labels(part), ranked)
    by_source: dict[str, list[bool]] = defaultdict(list)
    for e, r in zip(part, ranked, strict=True):
        src = str(e.meta.get("label_source", "")).split(":")[0] or "unknown"
        by_source[src].append(r[0] == e.label)
    m["accuracy_by_label_source"] = {
        k: {"n": len(v), "accuracy": round(float(np.mean(v)), 4)} for k, v in by_source.items()
    }
    return m


def _ms_per_text(fn: Any, texts: list[str]) -> float:
    """Median milliseconds of one call on one text, on one thread (the issue's latency figure)."""
    times = []
    with limit_threads(1):
        fn(texts[:5])  # warm-up
        for t in texts:
            t0 = time.perf_counter()
            fn([t])
            times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times)), 3)


def _write_data(run_dir: Path, data: CveData) -> None:
    splits = run_dir / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    for task in ("cwe", "cvss"):
        for name in ("train", "val", "test"):
            ids = [e.id for e in getattr(data, f"{task}_{name}")]
            (splits / f"{task}-{name}.txt").write_text("\n".join(ids) + "\n")
    (splits / "curation.json").write_text(json.dumps(data.report, indent=2, default=str))
    decon = {t: data.report[t].get("decontamination") for t in ("cwe", "cvss") if data.report[t].get("decontamination")}
    if decon:
        (run_dir / "decontamination.json").write_text(json.dumps(decon, indent=2, default=str))
    write_bench_tsv(run_dir / "bench" / "heldout-rcm.tsv", "rcm", [(e.id, e.text, str(e.label)) for e in data.cwe_test])
    write_bench_tsv(
        run_dir / "bench" / "heldout-vsp.tsv", "vsp", [(e.id, e.text, str(e.label)) for e in data.cvss_test]
    )


class _Clock:
    """Stage timings of one run (``metrics.json`` ``timings_s``), in the order the stages ran."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 1)


@dataclass
class _CweFits:
    """Every evaluated CWE model (``models``) and its held-out figures (``results``), by name."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)


def run_cve(
    config: Config,
    run_dir: Path,
    *,
    data_dir: str | Path | None = None,
    benchmarks: list[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Train and evaluate every CVE model in ``config``; returns (metrics, bundles).

    The stages, in order: data -> CWE models (baseline, teacher, students) -> encoder -> choose the shipped
    CWE model on validation -> CVSS -> refit on all records -> bundles -> latency -> report.
    """
    cve = _check_config(config)
    clock = _Clock()
    (run_dir / "config.yaml").write_text(dump_config(config))
    _stage("data: read NVD + CVE JSON 5, merge, curate, decontaminate, split by time")
    with clock.lap("data"):
        data = prepare_cve_data(config, data_dir=data_dir, benchmarks=benchmarks or [])
        _write_data(run_dir, data)
    console.print(
        f"CWE: train {len(data.cwe_train):,} ({len(data.classes)} classes), val {len(data.cwe_val):,}, "
        f"test {len(data.cwe_test):,}; CVSS: train {len(data.cvss_train):,}, test {len(data.cvss_test):,}"
    )
    fits = _fit_cwe_models(config, data, clock)
    if cve.encoder is not None:
        _fit_encoder(config, data, fits, clock)
    shipped_name = _pick_shipped(cve.shipped, cve.max_shipped_params, fits.results)
    console.print(f"shipped CWE model: {shipped_name!r} ({cve.shipped})")
    if cve.backoff_threshold is not None:
        fits.results[shipped_name]["backoff"] = _backoff_eval(
            fits.models[shipped_name],
            data.cwe_test,
            CweIndex.from_catalog(data.catalog, data.classes),
            data.catalog,
            cve.backoff_threshold,
        )
    cvss_model, cvss_results = _fit_cvss(config, data, clock)
    heldout = _cve_model(
        config, fits.models[shipped_name], cvss_model, data, data.classes, [*data.cwe_train, *data.cvss_train]
    )
    shipped, refit_info = heldout, None
    if cve.refit_on_all:
        with clock.lap("refit"):
            shipped, refit_info = _refit_on_all(config, data, shipped_name, fits.models[shipped_name], cvss_model)
    _stage("bundles and latency")
    bundles = _save_bundles(config, run_dir, fits, shipped_name, shipped, heldout, cvss_results)
    latency = _measure_latency(cve.latency_sample, data, fits.models, cvss_model, shipped)
    clock.timings["total"] = round(time.perf_counter() - clock.started, 1)
    metrics = {
        "cwe": fits.results,
        "cvss": cvss_results,
        "latency_ms_per_cve_1thread": latency,
        "shipped": {
            "bundle": SHIPPED,
            "cwe_model": shipped_name,
            "rule": cve.shipped,
            "n_parameters": shipped.n_parameters,
            "refit_on_all": cve.refit_on_all,
            "refit_records": refit_info,
            "heldout_bundle": HELDOUT if cve.refit_on_all else SHIPPED,
        },
        "timings_s": clock.timings,
        "data": data.report,
        "config_hash": config_hash(config),
    }
    _write_model_cards(config, metrics, bundles, shipped_name)
    title = f"distilsec CVE run: {config.run.name}"
    write_report(run_dir, title=title, sections=cve_sections(config, metrics), metrics=metrics)
    console.print(f"[bold green]done[/]: {run_dir}/report.md (shipped model: {run_dir / SHIPPED})")
    return metrics, bundles


def _write_model_cards(config: Config, metrics: dict[str, Any], bundles: dict[str, Path], shipped_name: str) -> None:
    """A ``MODEL_CARD.md`` in every bundle: the shipped pair name their CWE model, the others are their own."""
    from distilsec.evaluation.cve_model_card import cve_model_card

    for name, path in bundles.items():
        cwe_model = shipped_name if name in (SHIPPED, HELDOUT) else name
        card = cve_model_card(path.name, config=config, metrics=metrics, cwe_model=cwe_model)
        (path / "MODEL_CARD.md").write_text(card, encoding="utf-8")


def _check_config(config: Config) -> CveSection:
    """The ``cve`` section, after the checks a CVE run needs before reading any data."""
    if config.cve is None:
        raise ConfigError("data.task 'cve' needs a 'cve' section in the config")
    if config.split.by != "time" or not config.split.time_cutoff:
        raise ConfigError("the CVE task splits by time: set split.by: time and split.time_cutoff")
    return config.cve


def _record(fits: _CweFits, data: CveData, name: str, model: Any, role: str) -> None:
    """Score ``model`` on the held-out CWE test split (and validation, which picks the shipped model)."""
    m = _rcm(model, data.cwe_test)
    m["val"] = evaluate_rcm(_labels(data.cwe_val), _ranked(model, _texts(data.cwe_val))) if data.cwe_val else {}
    m["role"] = role
    m["params"] = int(getattr(model, "n_parameters", 0))
    fits.results[name], fits.models[name] = m, model
    console.print(
        f"{name:>14}: top-1 {m['accuracy']:.4f}  top-3 {m['top3_accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
        f"({m['params']:,} params)"
    )


def _fit_cwe_models(config: Config, data: CveData, clock: _Clock) -> _CweFits:
    """Baseline, teacher, each distilled student (and its hard-label twin), each scored as it is fitted."""
    cve = config.cve
    assert cve is not None
    classes = data.classes
    x_tr, y_tr = _texts(data.cwe_train), _labels(data.cwe_train)
    w_tr = _source_weights(data.cwe_train, cve.label_source_weights, "label_source")
    fits = _CweFits()
    if cve.baseline is not None:
        _stage(f"baseline: {cve.baseline.type} (hard labels)")
        with clock.lap("baseline"):
            baseline = _fit_cwe(config, "baseline", x_tr, y_tr, classes, w_tr)
        _record(fits, data, "baseline", baseline, "baseline")
    _stage(f"teacher: {config.teacher.type}")
    with clock.lap("teacher"):
        teacher = _fit_cwe(config, "teacher", x_tr, y_tr, classes, w_tr)
        teacher_proba = teacher.predict_proba(x_tr)
    _record(fits, data, "teacher", teacher, "teacher")
    for name, spec in config.students.items():
        _stage(f"student {name!r}: {spec.type}, distilled (T={config.method.temperature}, alpha={config.method.alpha})")
        with clock.lap(name):
            student = _fit_cwe(config, name, x_tr, y_tr, classes, w_tr, teacher=teacher, teacher_proba=teacher_proba)
        _record(fits, data, name, student, "distilled student")
        if config.method.hard_label_baseline:
            _stage(f"student {name!r}: hard labels only")
            with clock.lap(f"{name}-hard"):
                hard = _fit_cwe(config, f"{name}-hard", x_tr, y_tr, classes, w_tr)
            _record(fits, data, f"{name}-hard", hard, "hard-label student")
    return fits


def _fit_encoder(config: Config, data: CveData, fits: _CweFits, clock: _Clock) -> None:
    """The bounded encoder fine-tune, scored on a seeded test subsample (and the others on the same one)."""
    cve = config.cve
    assert cve is not None and cve.encoder is not None
    _stage(f"encoder: {cve.encoder.type} (bounded CPU fine-tune)")
    with clock.lap("encoder_train"):
        enc = create(cve.encoder.type, _params(cve.encoder, config)).fit(
            _texts(data.cwe_train), _labels(data.cwe_train), classes=data.classes
        )
    rng = np.random.default_rng(config.run.seed)
    n = min(cve.encoder_eval_samples, len(data.cwe_test))
    sub = [data.cwe_test[i] for i in sorted(rng.choice(len(data.cwe_test), size=n, replace=False))]
    with clock.lap("encoder_eval"):
        m = _rcm(enc, sub)
    m.update(role="encoder (test subsample)", params=int(enc.n_parameters), subsample=n)
    m["same_subsample"] = {k: _rcm(fits.models[k], sub)["accuracy"] for k in fits.models}
    fits.results["encoder"], fits.models["encoder"] = m, enc
    console.print(f"{'encoder':>14}: top-1 {m['accuracy']:.4f} on {n} test CVEs (others: {m['same_subsample']})")


def _fit_cvss_model(config: Config, part: list[Example]) -> Any:
    """The CVSS model of ``cve.cvss`` fitted on ``part`` (weighted by who chose each vector)."""
    cve = config.cve
    assert cve is not None and cve.cvss is not None
    return create(cve.cvss.type, _params(cve.cvss, config)).fit(
        _texts(part),
        _labels(part),
        sample_weight=_source_weights(part, cve.label_source_weights, "cvss_source"),
    )


def _fit_cvss(config: Config, data: CveData, clock: _Clock) -> tuple[Any, dict[str, Any]]:
    """The CVSS model and its held-out VSP figures next to the majority-vector baseline's (None, {}: none)."""
    cve = config.cve
    assert cve is not None
    if cve.cvss is None or not data.cvss_train or not data.cvss_test:
        return None, {}
    _stage(f"CVSS v3.1: {cve.cvss.type}")
    with clock.lap("cvss"):
        cvss_model = _fit_cvss_model(config, data.cvss_train)
    gt = _labels(data.cvss_test)
    results: dict[str, Any] = {"model": evaluate_vsp(gt, cvss_model.predict_vectors(_texts(data.cvss_test)))}
    results["model"]["params"] = cvss_model.n_parameters
    majority = Counter(_labels(data.cvss_train)).most_common(1)[0][0]
    results["majority_vector_baseline"] = evaluate_vsp(gt, [majority] * len(gt))
    results["majority_vector_baseline"]["vector"] = majority
    console.print(
        f"CVSS: MAD {results['model']['mad']:.3f} (majority vector {majority}: "
        f"{results['majority_vector_baseline']['mad']:.3f})"
    )
    return cvss_model, results


def _cve_model(
    config: Config, cwe: Any, cvss: Any, data: CveData, classes: list[str], trained_on: list[Example]
) -> CveModel:
    """The shippable bundle: CWE model + CVSS heads + the CWE names/parents of ``classes``."""
    cve = config.cve
    assert cve is not None
    index = CweIndex.from_catalog(data.catalog, classes)
    return CveModel(cwe, cvss, index, cve.top_k, cve.backoff_threshold, training_ids=[e.id for e in trained_on])


def _refit_on_all(
    config: Config, data: CveData, shipped_name: str, evaluated: Any, cvss_model: Any
) -> tuple[CveModel, dict[str, int]]:
    """Fit the shipped recipe again on every record up to ``cve.test_until`` (CWE and CVSS side by side)."""
    cve = config.cve
    assert cve is not None
    _stage(f"refit: {shipped_name!r} and CVSS on every record up to {cve.test_until or 'the end of the data'}")
    # more records bring more CWE classes; keep the most frequent ones that fit the size budget
    per_class = evaluated.n_parameters / len(data.classes)
    cwe_budget = cve.max_shipped_params - (cvss_model.n_parameters if cvss_model is not None else 0)
    refit_part, capped = _most_frequent_classes(data.cwe_refit, int(cwe_budget // per_class))
    refit_classes = sorted({str(e.label) for e in refit_part})
    x_all, y_all = _texts(refit_part), _labels(refit_part)
    w_all = _source_weights(refit_part, cve.label_source_weights, "label_source")
    # the two fits are independent and liblinear releases the GIL: on 2+ cores they run side by side
    with ThreadPoolExecutor(max_workers=1 if config.run.threads == 1 else 2) as pool:
        cvss_job = pool.submit(_fit_cvss_model, config, data.cvss_refit) if cvss_model is not None else None
        cwe_final = _fit_cwe(config, shipped_name, x_all, y_all, refit_classes, w_all)
        cvss_final = cvss_job.result() if cvss_job is not None else None
    shipped = _cve_model(config, cwe_final, cvss_final, data, refit_classes, [*refit_part, *data.cvss_refit])
    info = {"cwe": len(refit_part), "cwe_classes": len(refit_classes), "cvss": len(data.cvss_refit), **capped}
    console.print(f"refit: {info}")
    return shipped, info


def _save_bundles(
    config: Config,
    run_dir: Path,
    fits: _CweFits,
    shipped_name: str,
    shipped: CveModel,
    heldout: CveModel,
    cvss_results: dict[str, Any],
) -> dict[str, Path]:
    """The shipped bundle (and the time-split one when refit), every other model, and the run's manifest."""
    cve = config.cve
    assert cve is not None
    fingerprint = config_hash(config)
    held_metrics = {"cwe": _flat(fits.results[shipped_name]), "cvss": _flat(cvss_results.get("model", {}))}
    bundles: dict[str, Path] = {}
    bundles[SHIPPED] = shipped.save(
        run_dir / SHIPPED,
        {
            "metrics": held_metrics,
            "metrics_from": HELDOUT if cve.refit_on_all else SHIPPED,
            "trained_on": "all records up to cve.test_until" if cve.refit_on_all else "the time split's train part",
            "cwe_model": shipped_name,
            "config_hash": fingerprint,
        },
    )
    if cve.refit_on_all:
        bundles[HELDOUT] = heldout.save(
            run_dir / HELDOUT,
            {
                "metrics": held_metrics,
                "trained_on": f"records published before {config.split.time_cutoff}",
                "cwe_model": shipped_name,
                "config_hash": fingerprint,
            },
        )
    for name, model in fits.models.items():
        if name != shipped_name:
            bundles[name] = model.save(run_dir / name)
    write_manifest(run_dir, {"type": RUN_TYPE, "shipped": SHIPPED, "config_hash": fingerprint})
    return bundles


def _measure_latency(
    n_sample: int, data: CveData, models: dict[str, Any], cvss_model: Any, shipped: CveModel
) -> dict[str, float]:
    """Median ms per CVE on one thread for each model, the CVSS heads and the shipped bundle end to end."""
    latency: dict[str, float] = {}
    if not n_sample:
        return latency
    sample = _texts(data.cwe_test)[:n_sample]
    for name, model in models.items():
        n = min(len(sample), 200) if name in ("encoder", "teacher") else len(sample)
        latency[f"{name}_cwe"] = _ms_per_text(model.predict_proba, sample[:n])
    if cvss_model is not None:
        latency["cvss"] = _ms_per_text(cvss_model.predict_vectors, sample)
    latency["shipped_end_to_end"] = _ms_per_text(shipped.predict, sample)
    console.print(f"ms per CVE, one thread (median): {latency}")
    return latency


def _most_frequent_classes(part: list[Example], max_classes: int) -> tuple[list[Example], dict[str, int]]:
    """The records of the ``max_classes`` most frequent labels (ties: label order), and what was left out."""
    counts = Counter(str(e.label) for e in part)
    keep = {c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, max_classes)]}
    kept = [e for e in part if str(e.label) in keep]
    return kept, {"classes_over_size_budget": len(counts) - len(keep), "records_left_out": len(part) - len(kept)}


def _fit_cwe(
    config: Config,
    name: str,
    texts: list[str],
    labels: list[str],
    classes: list[str],
    sample_weight: np.ndarray | None,
    *,
    teacher: Any = None,
    teacher_proba: np.ndarray | None = None,
) -> Any:
    """Fit the CWE model called ``name`` (``baseline``, ``teacher``, a student, ``<student>-hard``) from its
    config recipe: one place, so that the refit repeats exactly what was evaluated. A distilled student
    learns from ``teacher`` (fitted here on the same data when not given)."""
    cve = config.cve
    assert cve is not None
    if name == "baseline" and cve.baseline is not None:
        spec = cve.baseline
    elif name == "teacher":
        spec = config.teacher
    elif name.endswith("-hard") and name.removesuffix("-hard") in config.students:
        spec = config.students[name.removesuffix("-hard")]
    elif name in config.students:
        if teacher is None:
            teacher = _fit_cwe(config, "teacher", texts, labels, classes, sample_weight)
        return distill(
            teacher,
            create(config.students[name].type, _params(config.students[name], config)),
            texts,
            labels,
            temperature=config.method.temperature,
            alpha=config.method.alpha,
            teacher_proba=teacher_proba,
            sample_weight=sample_weight,
        )
    else:
        raise ConfigError(f"cannot fit CWE model {name!r}: no recipe for it in the config")
    return create(spec.type, _params(spec, config)).fit(texts, labels, classes=classes, sample_weight=sample_weight)


def _pick_shipped(rule: str, max_params: int, results: dict[str, dict[str, Any]]) -> str:
    """The CWE model to ship: a named one, or the best *validation* top-1 within the size budget (never
    chosen on test data; the encoder, scored on a test subsample only, is not a candidate)."""
    if rule != "best_val":
        if rule not in results:
            raise ConfigError(f"cve.shipped names {rule!r}, which this run did not train ({sorted(results)})")
        return rule
    candidates = {k: m for k, m in results.items() if m.get("val") and 0 < m["params"] <= max_params}
    if not candidates:
        raise ConfigError(f"no CWE model within cve.max_shipped_params={max_params:,} has validation metrics")
    return max(candidates, key=lambda k: candidates[k]["val"]["accuracy"])


def _backoff_eval(model: Any, part: list[Example], index: CweIndex, catalog: Any, threshold: float) -> dict[str, Any]:
    """How back-off behaves on held-out CVEs: how often it answers with a parent, and how often the answer
    is right exactly (``exact``) or is the true CWE or one of its ancestors (``hierarchical``)."""
    from distilsec.students.cwe_hierarchy import backoff

    answers = backoff(model.predict_proba(_texts(part)), list(model.classes_), index, threshold)
    exact = [a["id"] == e.label for a, e in zip(answers, part, strict=True)]
    hier = [
        a["id"] == e.label or a["id"] in catalog.parent_chain(str(e.label)) for a, e in zip(answers, part, strict=True)
    ]
    fine = [i for i, a in enumerate(answers) if a["level"] == 0 and not a.get("uncertain")]
    return {
        "threshold": threshold,
        "backed_off": round(sum(a["level"] > 0 for a in answers) / len(answers), 4),
        "uncertain_kept": round(sum(bool(a.get("uncertain")) for a in answers) / len(answers), 4),
        "confident_fine_share": round(len(fine) / len(answers), 4),
        "confident_fine_accuracy": round(float(np.mean([exact[i] for i in fine])), 4) if fine else None,
        "hierarchical_accuracy": round(float(np.mean(hier)), 4),
    }


def _flat(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if isinstance(v, int | float | str)}


def cve_sections(config: Config, metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The CVE run's ``report.md`` sections: the numbers a reader checks first, then where they came from."""
    cwe = metrics["data"]["cwe"]
    split = (
        f"Time split: train/val before {config.split.time_cutoff}, test from it. "
        f"CWE: {cwe['split']['train']:,} train / {cwe['split']['val']:,} val / {cwe['split']['test']:,} test, "
        f"{cwe.get('n_classes')} classes; share of test labels among the training classes: "
        f"{cwe.get('test_label_coverage')}."
    )
    sections = [("Split", split), ("CWE (root-cause mapping), held-out test", _cwe_section(metrics["cwe"]))]
    if metrics["cvss"]:
        sections.append(("CVSS v3.1 (severity prediction), held-out test", _cvss_section(metrics["cvss"])))
    sections += [("Latency and size", _latency_section(metrics)), ("Data", _data_section(metrics["data"]))]
    return sections


def _cwe_section(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| model | role | top-1 | top-3 | macro-F1 | params |", "|---|---|---:|---:|---:|---:|"]
    for name, m in results.items():
        lines.append(
            f"| {name} | {m['role']} | {m['accuracy']:.4f} | {m['top3_accuracy']:.4f} | {m['macro_f1']:.4f} | "
            f"{m['params']:,} |"
        )
    for name, m in results.items():
        if "backoff" in m:
            b = m["backoff"]
            lines += [
                "",
                f"Back-off ({name}, threshold {b['threshold']}): {b['backed_off']:.1%} of answers are a parent CWE; "
                f"{b['confident_fine_share']:.1%} are confident fine answers, {b['confident_fine_accuracy']} of them "
                f"right; the answer is the true CWE or one of its ancestors for {b['hierarchical_accuracy']:.1%}.",
            ]
    if "encoder" in results:
        e = results["encoder"]
        lines += [
            "",
            f"The encoder is scored on a random subsample of {e['subsample']} test CVEs; on the same "
            f"subsample the others score {e['same_subsample']}.",
        ]
    return "\n".join(lines)


def _cvss_section(cvss: dict[str, Any]) -> str:
    c, b = cvss["model"], cvss["majority_vector_baseline"]
    return (
        f"MAD of base score {c['mad']:.3f} over {c['n']:,} CVEs (majority-vector baseline {b['mad']:.3f}); "
        f"severity accuracy {c['severity_accuracy']:.4f}; exact vector {c['exact_vector']:.4f}.\n\n"
        "Per-metric accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in c["metric_accuracy"].items())
    )


def _latency_section(metrics: dict[str, Any]) -> str:
    shipped = metrics["shipped"]
    refit = (
        f" Refit after evaluation on every record up to the data's end ({shipped['refit_records']}); "
        f"the held-out figures above are the time-split bundle `{shipped['heldout_bundle']}`'s."
        if shipped["refit_on_all"]
        else ""
    )
    return (
        f"Shipped: `{shipped['bundle']}` ({shipped['cwe_model']} + CVSS heads, chosen by {shipped['rule']}), "
        f"{shipped['n_parameters']:,} parameters.{refit}\n\n"
        "ms per CVE on one thread (median of single-description calls): "
        + ", ".join(f"{k} {v}" for k, v in metrics["latency_ms_per_cve_1thread"].items())
        + f"\n\nStage timings (s): {metrics['timings_s']}"
    )


def _data_section(d: dict[str, Any]) -> str:
    lines = [
        "```json",
        json.dumps({k: d[k] for k in ("read", "cwe_catalog", "benchmarks") if k in d}, indent=1, default=str)[:6000],
        "```",
        "",
        "Labels: " + json.dumps(d["cwe"] and d.get("cwe_labels"), default=str)[:3000],
        "",
    ]
    for task in ("cwe", "cvss"):
        dec = d[task].get("decontamination")
        if dec:
            lines.append(
                f"Decontamination ({task}): removed {dec['removed']} of {dec['n_in']} training records "
                f"{dec['removed_by_reason']}; left after removal: {dec['after']}."
            )
    return "\n".join(lines)
