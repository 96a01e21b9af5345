"""Which teacher is worth learning from? Candidate teachers against the hard-label student, side by side (issue 13).

Two checks, each candidate trained once per setting:

* ``groups``: the run's own split (whole binaries / techniques / pages held out), threshold on validation;
* ``holdout:<source>``: one whole source removed from train and validation (e.g. every Atomic Red Team
  command), then scored: the detection rate on that source at the validation threshold, and the FPR on the
  benign test rows. This is the "data from elsewhere" check: a teacher that only memorises one source's
  style drops here, as the shipped one did on commands collected in the wild.

Ensembles are combined from the members' probabilities (each member is fitted once): the configured
geometric mean and the weights chosen on validation (``ensemble.v1 weights: validation``).

    python benchmarks/teacher_selection.py --config configs/cmdline-distill.yaml \\
        --holdout-source atomic-red-team --skip-groups --candidates ngram-decoded,cnn-11,cnn-12 \\
        --distil "ngram-decoded + cnn x2, weights on validation" --noise 0.3 --out runs/teacher-selection

Writes ``results.json`` and ``results.md`` under ``--out``. Needs ``../shared/data`` (``--data-dir`` or
``DISTILSEC_DATA``); says so and exits 0 when it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.config import load_config
from distilsec.evaluation.evaluate import Probas, Split, evaluate
from distilsec.evaluation.metrics import fpr_key
from distilsec.registry import create
from distilsec.teachers.ensemble import EnsembleTeacher
from distilsec.teachers.viewed import with_view

NGRAM = {"type": "hashed_linear.v1", "n_features": 1048576, "ngram_range": [1, 5], "epochs": 4}
FROZEN = {"type": "embedding_linear.v1", "model": "minilm", "max_length": 64}
CNN_WIDE = {
    "type": "char_cnn.v1",
    "max_len": 256,
    "embedding_dim": 32,
    "kernel_sizes": [2, 3, 4, 5, 7],
    "n_filters": 96,
    "hidden_dims": [128],
    "epochs": 6,
    "lr": 2.0e-3,
}
STUDENT = {
    "type": "char_cnn.v1",
    "max_len": 128,
    "embedding_dim": 16,
    "kernel_sizes": [2, 3, 4, 5],
    "n_filters": 32,
    "hidden_dims": [64],
    "dropout": 0.2,
    "epochs": 6,
    "batch_size": 128,
    "lr": 3.0e-3,
}
#: name -> model spec (``view`` turns into viewed.v1); "minilm-ft" is the shipped fine-tuned member (slow).
CANDIDATES: dict[str, dict[str, Any]] = {
    "ngram": NGRAM,
    "ngram-decoded": NGRAM | {"view": "decoded.v1"},
    "minilm-frozen": FROZEN,
    "minilm-frozen-decoded": FROZEN | {"view": "decoded.v1"},
    "cnn-11": STUDENT | {"random_state": 11},  # the student's architecture, other seeds (as in the strong config)
    "cnn-12": STUDENT | {"random_state": 12},
    "cnn-wide": CNN_WIDE,
    "minilm-ft": {
        "type": "encoder.v1",
        "model": "minilm",
        "max_length": 64,
        "epochs": 1,
        "batch_size": 32,
        "lr": 1.0e-4,
        "max_train_samples": 6000,
        "prior_correction": True,
    },
}
#: ensembles of the candidates above: name -> (members, weights mode); skipped when a member was not run
ENSEMBLES: dict[str, tuple[list[str], str]] = {
    "shipped (minilm-ft + ngram, geometric mean)": (["minilm-ft", "ngram"], "config"),
    "minilm-ft + ngram, weights on validation": (["minilm-ft", "ngram"], "validation"),  # the URL config now
    "minilm-ft + cnn x2, weights on validation": (["minilm-ft", "cnn-11", "cnn-12"], "validation"),
    "strong (minilm-ft + ngram-decoded + cnn x2, weights on validation)": (
        ["minilm-ft", "ngram-decoded", "cnn-11", "cnn-12"],
        "validation",
    ),
    "ngram-decoded + cnn x2, weights on validation": (["ngram-decoded", "cnn-11", "cnn-12"], "validation"),
    "cnn x2": (["cnn-11", "cnn-12"], "config"),
}


def _split(examples: list[Any]) -> Split:
    return Split([e.text for e in examples], [str(e.label) for e in examples])


def _settings(data: Any, holdouts: list[str], negative: str) -> dict[str, tuple[list, list, list]]:
    """setting -> (train, val, test) examples."""
    out = {"groups": (data.train, data.val, data.test)}
    everything = data.train + data.val + data.test
    for source in holdouts:
        kept = [e for e in data.train if e.source != source], [e for e in data.val if e.source != source]
        held = [e for e in everything if e.source == source and str(e.label) != negative]
        if not held:
            sys.exit(f"--holdout-source {source}: no positive rows from that source in the data")
        test = held + [e for e in data.test if str(e.label) == negative]
        out[f"holdout:{source}"] = (kept[0], kept[1], test)
    return out


def _row(name: str, probas: Probas, test: Split, val: Split, classes: list[str], view: Any, **extra: Any) -> dict:
    m = evaluate(probas, test, val, classes=classes, view=view, breakdowns=False).metrics
    return {
        "model": name,
        "auc": m["auc"],
        "tpr_at_target_test_fpr": m[fpr_key(view.target_fpr)],
        "tpr_at_val_threshold": m["tpr_at_threshold"],
        "fpr_at_val_threshold": m["fpr_at_threshold"],
        "tp": m["tp"],
        "fp": m["fp"],
    } | extra


def run_setting(
    name: str,
    train: list,
    val: list,
    test: list,
    classes: list[str],
    view: Any,
    candidates: list[str],
    seed: int,
    distil: list[str] = (),
    noise: float = 0.0,
    transfer_copies: int = 0,
) -> list[dict[str, Any]]:
    x_tr, y_tr = [e.text for e in train], [str(e.label) for e in train]
    s_val, s_test = _split(val), _split(test)
    rows, probas, fitted = [], {}, {}
    for cand in [*candidates, "student (hard labels)"]:
        spec = dict(STUDENT if cand.startswith("student") else CANDIDATES[cand])
        kind, params = with_view(spec.pop("type"), spec)
        params.setdefault("random_state", seed)
        t0 = time.perf_counter()
        model = create(kind, params).fit(x_tr, y_tr, classes=classes)
        fit_s = time.perf_counter() - t0
        p = Probas(test=model.predict_proba(s_test.texts), dev=model.predict_proba(s_val.texts))
        probas[cand], fitted[cand] = p, model
        rows.append(_row(cand, p, s_test, s_val, classes, view, fit_s=round(fit_s, 1)))
        print(f"[{name}] {cand}: {json.dumps(rows[-1])}", flush=True)
    for ens_name, (members, mode) in ENSEMBLES.items():
        if not all(m in fitted for m in members):
            continue
        ens = EnsembleTeacher(members=[{"type": fitted[m].registry_name} for m in members], weights=mode)
        ens.members_, ens.classes_ = [fitted[m] for m in members], list(fitted[members[0]].classes_)
        ens.weights_ = [1.0 / len(members)] * len(members)
        if name == "groups" or mode == "validation":
            ens.choose_weights(
                [probas[m].dev for m in members],
                s_val.labels,
                positive=view.positive,
                negative=view.negative,
                target_fpr=view.target_fpr,
            )
        p = Probas(
            test=ens.combine_probas([probas[m].test for m in members]),
            dev=ens.combine_probas([probas[m].dev for m in members]),
        )
        weights = dict(zip(members, ens.weights_, strict=True))
        rows.append(_row(ens_name, p, s_test, s_val, classes, view, weights=weights))
        print(f"[{name}] {ens_name}: {json.dumps(rows[-1])}", flush=True)
        if ens_name in distil:
            rows += _distilled(
                name, ens_name, ens, members, fitted, x_tr, y_tr, s_val, s_test, classes, view, seed, noise,
                transfer_copies,
            )  # fmt: skip
    return rows


def _distilled(
    setting: str,
    ens_name: str,
    ens: EnsembleTeacher,
    members: list[str],
    fitted: dict[str, Any],
    x_tr: list[str],
    y_tr: list[str],
    s_val: Split,
    s_test: Split,
    classes: list[str],
    view: Any,
    seed: int,
    noise: float,
    transfer_copies: int = 0,
) -> list[dict[str, Any]]:
    """The shipped char-CNN distilled from this ensemble (T=2, alpha=0.5), beside it on hard labels at ``noise``.

    With ``transfer_copies`` each distillation is run twice: plain, and with that many perturbed copies of
    every training text labelled by the teacher (:mod:`distilsec.methods.transfer_set`).
    """
    from distilsec.methods.distill import distill
    from distilsec.methods.noise import flip_labels
    from distilsec.methods.transfer_set import transfer_texts

    spec = dict(STUDENT)
    kind = spec.pop("type")
    soft = ens.combine_probas([fitted[m].predict_proba(x_tr) for m in members])
    transfers: dict[str, Any] = {"": None}
    if transfer_copies:
        extra = transfer_texts(x_tr, transfer_copies, seed=seed)
        transfers[f" + transfer set x{transfer_copies}"] = (
            extra, ens.combine_probas([fitted[m].predict_proba(extra) for m in members])
        )  # fmt: skip
    rows = []
    labels = {"clean": y_tr}
    if noise:
        labels[f"{noise:.0%} noise"] = flip_labels(y_tr, noise, classes=classes, random_state=seed)
    for what, y in labels.items():
        for suffix, transfer in transfers.items():
            student = create(kind, spec | {"random_state": seed})
            distill(ens, student, x_tr, y, temperature=2.0, alpha=0.5, teacher_proba=soft, transfer=transfer)
            p = Probas(test=student.predict_proba(s_test.texts), dev=student.predict_proba(s_val.texts))
            rows.append(_row(f"student distilled from {ens_name}{suffix}, {what}", p, s_test, s_val, classes, view))
            print(f"[{setting}] {rows[-1]['model']}: {json.dumps(rows[-1])}", flush=True)
        if what != "clean":
            hard = create(kind, spec | {"random_state": seed}).fit(x_tr, y, classes=classes)
            p = Probas(test=hard.predict_proba(s_test.texts), dev=hard.predict_proba(s_val.texts))
            rows.append(_row(f"student (hard labels), {what}", p, s_test, s_val, classes, view))
            print(f"[{setting}] {rows[-1]['model']}: {json.dumps(rows[-1])}", flush=True)
    return rows


def _markdown(results: dict[str, list[dict[str, Any]]], target: float) -> str:
    lines = []
    for setting, rows in results.items():
        header = f"| model | AUC | TPR@test FPR {target:g} | TPR / FPR at val threshold | TP / FP | fit s |"
        lines += [f"### {setting}", "", header]
        lines.append("|---|---|---|---|---|---|")
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['auc']:.4f} | {r['tpr_at_target_test_fpr']:.4f} | "
                f"{r['tpr_at_val_threshold']:.4f} / {r['fpr_at_val_threshold']:.4f} | {r['tp']} / {r['fp']} | "
                f"{r.get('fit_s', '')} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/cmdline-distill.yaml")
    ap.add_argument("--data-dir", default=os.environ.get("DISTILSEC_DATA", "../shared/data"))
    ap.add_argument("--holdout-source", action="append", default=[])
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated names from CANDIDATES")
    ap.add_argument("--out", default="runs/teacher-selection")
    ap.add_argument("--distil", action="append", default=[], help="an ENSEMBLES name to distil the student from")
    ap.add_argument("--skip-groups", action="store_true", help="only the source-held-out settings")
    ap.add_argument("--noise", type=float, default=0.0, help="also distil vs hard labels at this label-noise rate")
    ap.add_argument(
        "--transfer-copies", type=int, default=0, help="also distil with this many teacher-labelled perturbed copies"
    )
    args = ap.parse_args()
    if not Path(args.data_dir).is_dir():
        print(f"skipped: no data at {args.data_dir} (set --data-dir or DISTILSEC_DATA)")
        return
    from distilsec.tasks.prepare import prepare_data, resolve_evaluation

    config = load_config(args.config)
    data = prepare_data(config, data_dir=args.data_dir)
    config = resolve_evaluation(config, data)
    view = config.evaluation
    candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidate(s) {unknown}; known: {list(CANDIDATES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}
    for setting, (train, val, test) in _settings(data, args.holdout_source, view.negative).items():
        if args.skip_groups and setting == "groups":
            continue
        print(f"== {setting}: {len(train)} train / {len(val)} val / {len(test)} test", flush=True)
        results[setting] = run_setting(
            setting, train, val, test, list(data.classes), view, candidates, config.run.seed, args.distil, args.noise,
            args.transfer_copies,
        )  # fmt: skip
        (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    (out / "results.md").write_text(_markdown(results, view.target_fpr))
    print(_markdown(results, view.target_fpr))
    print(f"wrote {out}/results.md; {np.__name__} seed {config.run.seed}")


if __name__ == "__main__":
    main()
