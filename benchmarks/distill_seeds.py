"""Distilled vs hard-label student over several seeds, from one run's teacher (issue 13).

One run compares one distilled student with one hard-label student; the char-CNN's run-to-run spread at
TPR@FPR 1e-3 is about ±0.02, the size of the effect the issue asks for (+0.03). This script reloads a finished
run's teacher bundle (no teacher is refitted), rebuilds the run's split from its config (same data, same
seed: the same groups), and trains the run's student three ways for every seed:

* ``hard``: hard labels only;
* ``distilled``: hard + the teacher's soft labels on the training rows (``method.temperature``/``alpha``);
* ``distilled + transfer xK``: the same plus K teacher-labelled perturbed copies of every training text
  (:mod:`distilsec.methods.transfer_set`), learnt from the soft labels alone.

Each student is evaluated as ``distilsec run`` evaluates it (threshold chosen on validation for the
config's target FPR). Writes ``results.json`` and ``results.md`` under ``--out``; prints the mean and
the per-seed differences.

    python benchmarks/distill_seeds.py runs/cmdline-strong-transfer2 --seeds 1 2 3 --transfer-copies 2 \\
        --out runs/distill-seeds --threads 1

Needs ``../shared/data`` (``--data-dir`` or ``DISTILSEC_DATA``); says so and exits 0 when it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

FIGURES = ("auc", "macro_f1", "tpr_at_fpr_0.001", "tpr_at_threshold", "fpr_at_threshold")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a finished `distilsec run` folder (its config.yaml and teacher/)")
    ap.add_argument("--student", default="student", help="which student of the config to train")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--transfer-copies", type=int, default=2)
    ap.add_argument("--only-transfer", action="store_true", help="train only the transfer arm (the others known)")
    ap.add_argument("--data-dir", default=os.environ.get("DISTILSEC_DATA", "../shared/data"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/distill-seeds"))
    args = ap.parse_args()
    if not Path(args.data_dir).is_dir():
        print(f"skipped: no data at {args.data_dir} (set --data-dir or DISTILSEC_DATA)")
        return
    from distilsec._internal.device import set_threads
    from distilsec.bundle import load_model
    from distilsec.config import load_config
    from distilsec.evaluation.evaluate import Split, evaluate
    from distilsec.methods.distill import distill
    from distilsec.methods.transfer_set import transfer_texts
    from distilsec.pipeline.stages import dev_split
    from distilsec.registry import create
    from distilsec.tasks.prepare import prepare_data, resolve_evaluation

    set_threads(args.threads)
    config = load_config(args.run / "config.yaml")
    data = prepare_data(config, data_dir=args.data_dir)
    config = resolve_evaluation(config, data)
    teacher = load_model(args.run / "teacher")
    x_tr, y_tr = [e.text for e in data.train], [str(e.label) for e in data.train]
    test, dev = Split.from_examples(data.test, metadata=False), dev_split(config, data)
    t0 = time.perf_counter()
    soft = teacher.predict_proba(x_tr)
    extra = transfer_texts(x_tr, args.transfer_copies, seed=config.run.seed) if args.transfer_copies else []
    transfer = (extra, teacher.predict_proba(extra)) if extra else None
    print(f"teacher scored {len(x_tr) + len(extra):,} texts in {time.perf_counter() - t0:.0f} s", flush=True)
    spec, m = config.students[args.student], config.method
    arms = ["hard", "distilled"] + ([f"distilled + transfer x{args.transfer_copies}"] if transfer else [])
    if args.only_transfer:
        arms = arms[2:]
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        for arm in arms:
            student = create(spec.type, {**spec.params, "random_state": seed})
            t0 = time.perf_counter()
            if arm == "hard":
                student.fit(x_tr, y_tr, classes=data.classes)
            else:
                distill(
                    teacher, student, x_tr, y_tr, temperature=m.temperature, alpha=m.alpha, teacher_proba=soft,
                    transfer=transfer if "transfer" in arm else None,
                )  # fmt: skip
            metrics = evaluate(student, test, dev, classes=data.classes, view=config.evaluation).metrics
            rows.append({"seed": seed, "arm": arm, "fit_s": round(time.perf_counter() - t0, 1)} | {
                k: metrics.get(k) for k in FIGURES
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
            (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    (args.out / "results.md").write_text(_markdown(rows, arms))
    print(_markdown(rows, arms))


def _markdown(rows: list[dict[str, Any]], arms: list[str]) -> str:
    seeds = sorted({r["seed"] for r in rows})
    by = {(r["seed"], r["arm"]): r for r in rows}
    head = "| arm | " + " | ".join(f"seed {s}: AUC / TPR@1e-3" for s in seeds) + " | mean TPR@1e-3 | mean vs hard |"
    lines = [head, "|---|" + "---|" * (len(seeds) + 2)]
    hard = [by[(s, "hard")]["tpr_at_fpr_0.001"] for s in seeds if (s, "hard") in by]  # empty: no "vs hard"
    for arm in arms:
        cells, tprs = [], []
        for s in seeds:
            r = by.get((s, arm))
            cells.append("" if r is None else f"{r['auc']:.4f} / {r['tpr_at_fpr_0.001']:.4f}")
            if r is not None:
                tprs.append(r["tpr_at_fpr_0.001"])
        mean = float(np.mean(tprs)) if tprs else float("nan")
        delta = mean - float(np.mean(hard)) if hard and len(tprs) == len(hard) else float("nan")
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {mean:.4f} | {delta:+.4f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
