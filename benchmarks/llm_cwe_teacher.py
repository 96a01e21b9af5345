"""The fine-tuned-or-not LLM as a CWE teacher: classifier top-k candidates, re-ranked as a multiple-choice question.

Measures, on a seeded sample of the CVE pipeline's held-out CVEs (time split of ``configs/cve-cwe.yaml``:
train/val published before 2023, test 2023-2024), the top-1 accuracy of

* the classifier alone (the config's ``cve.baseline``: TF-IDF word 1-2-grams + linear SVM, fit on the
  pipeline's training split with its label-source weights),
* the LLM alone re-ranking the classifier's top-k (``k`` candidates as letters A..; letter log-probabilities),
* the two combined (:class:`~distilsec.teachers.llm.cwe_rerank.CweRerankTeacher`: temperature and weight
  chosen on a validation sample of the pipeline's validation split),

and the seconds per CVE of the LLM call on one thread. Every LLM answer is kept in the teacher-call ledger
(``OUT/ledger.sqlite``), so a re-run costs nothing and a killed run resumes; the candidates (data reading,
curation and the classifier fit: the slow part before any LLM call) are cached in ``OUT/candidates.json``.

Command (the figures reported for issue 15 item 6)::

    .venv/bin/python benchmarks/llm_cwe_teacher.py --out runs/llm-cwe-teacher \\
        --model qwen2.5-coder-0.5b --n-test 150 --n-val 40 --k 5 --threads 1

``--model qwen2.5-coder-1.5b`` for the larger model (same candidates, same ledger file, other ledger key).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from distilsec._internal.device import limit_threads
from distilsec.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _sample(part: list, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    n = min(n, len(part))
    return [part[i] for i in sorted(rng.choice(len(part), size=n, replace=False))]


def prepare(args: argparse.Namespace) -> dict:
    """Read + curate + split the CVE data as the pipeline does, fit the baseline, score the two samples."""
    path = Path(args.out) / "candidates.json"
    if path.is_file():
        return json.loads(path.read_text())
    from distilsec.pipeline.cve import _fit_cwe, _source_weights
    from distilsec.tasks.cve import prepare_cve_data

    config = load_config(args.config)
    t0 = time.perf_counter()
    data = prepare_cve_data(config, data_dir=args.data)
    t_data = time.perf_counter() - t0
    print(f"data: {len(data.cwe_train)} train, {len(data.cwe_val)} val, {len(data.cwe_test)} test "
          f"({len(data.classes)} classes) in {t_data:.0f} s", flush=True)  # fmt: skip
    classes = data.classes
    x = [e.text for e in data.cwe_train]
    y = [str(e.label) for e in data.cwe_train]
    w = _source_weights(data.cwe_train, config.cve.label_source_weights, "label_source")
    t0 = time.perf_counter()
    with limit_threads(args.threads):
        clf = _fit_cwe(config, "baseline", x, y, classes, w)
    t_fit = time.perf_counter() - t0
    print(f"classifier fit in {t_fit:.0f} s", flush=True)
    out: dict = {
        "classes": list(clf.classes_),
        "names": {c: data.catalog.name(c) for c in clf.classes_},
        "info": {"train": len(data.cwe_train), "val": len(data.cwe_val), "test": len(data.cwe_test),
                 "data_seconds": round(t_data, 1), "fit_seconds": round(t_fit, 1),
                 "classifier": config.cve.baseline.type if config.cve.baseline else None},
    }  # fmt: skip
    known = set(out["classes"])
    for name, part, n in (("val", data.cwe_val, args.n_val_pool), ("test", data.cwe_test, args.n_test_pool)):
        part = [e for e in part if str(e.label) in known]
        rows = _sample(part, n, args.seed)
        proba = clf.predict_proba([e.text for e in rows])
        out[name] = [
            {"id": e.id, "text": e.text, "label": str(e.label), "proba": [round(float(v), 7) for v in p]}
            for e, p in zip(rows, proba, strict=True)
        ]
        # the classifier on the whole split, for reference (the sample's figure should be close to it)
        all_proba = clf.predict_proba([e.text for e in part])
        top = np.asarray(out["classes"])[all_proba.argmax(axis=1)]
        out["info"][f"{name}_full_top1"] = round(float(np.mean(top == np.array([str(e.label) for e in part]))), 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def _top1(proba: np.ndarray, y: np.ndarray) -> float:
    return round(float(np.mean(proba.argmax(axis=1) == y)), 4)


def run_llm(args: argparse.Namespace, cand: dict) -> int:
    """Fit the combination on the validation sample, score the test sample, print and save the table."""
    from distilsec.teachers.ledger import TeacherLedger
    from distilsec.teachers.llm.assistant.model import load_backend
    from distilsec.teachers.llm.cwe_rerank import RERANK_LETTERS, CweRerankTeacher, combine

    classes, names = cand["classes"], cand["names"]
    idx = {c: i for i, c in enumerate(classes)}
    val, test = cand["val"][: args.n_val], cand["test"][: args.n_test]
    out = Path(args.out)
    t0 = time.perf_counter()
    backend = load_backend(args.model, n_ctx=2048, n_threads=args.threads)
    if callable(getattr(backend, "exact_token_ids", None)):  # the letters' token ids, once, before any timing
        backend.exact_token_ids(RERANK_LETTERS[: args.k])
    t_load = time.perf_counter() - t0
    ledger = TeacherLedger(out / "ledger.sqlite")
    teacher = CweRerankTeacher(None, names, classes=classes, k=args.k, max_chars=args.max_chars,
                               backend=backend, ledger=ledger)  # fmt: skip

    def arrays(rows: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
        return ([r["text"] for r in rows], np.array([r["proba"] for r in rows]),
                np.array([idx[r["label"]] for r in rows]))  # fmt: skip

    xv, pv, yv = arrays(val)
    t0 = time.perf_counter()
    teacher.fit(xv, [classes[i] for i in yv], base_proba=pv)
    t_val = time.perf_counter() - t0
    calls_val, secs_val = teacher.calls, teacher.call_seconds
    xt, pt, yt = arrays(test)
    t0 = time.perf_counter()
    s = teacher.score(xt, base_proba=pt)
    t_test = time.perf_counter() - t0
    calls_test, secs_test = teacher.calls - calls_val, teacher.call_seconds - secs_val
    cand_t = s["candidates"]
    in_cand = np.array([y in row for row, y in zip(cand_t, yt, strict=True)])
    llm_pick = cand_t[np.arange(len(yt)), s["llm"].argmax(axis=1)]
    nll = lambda p: round(float(-np.mean(np.log(np.clip(p[np.arange(len(yt)), yt], 1e-12, None)))), 4)  # noqa: E731
    # letter chosen by the LLM alone (position bias check): how often each letter wins
    letters = np.bincount(s["llm"].argmax(axis=1), minlength=cand_t.shape[1]).tolist()
    table = {
        "model": args.model,
        "k": args.k,
        "n_test": len(yt),
        "n_val": len(yv),
        "threads": args.threads,
        "test_label_in_topk": round(float(in_cand.mean()), 4),
        "top1": {
            "classifier": _top1(pt, yt),
            "llm_rerank": round(float(np.mean(llm_pick == yt)), 4),
            "combined": _top1(s["proba"], yt),
        },
        "log_loss": {"classifier_sharpened": nll(s["base"]), "combined": nll(s["proba"])},
        "llm_rerank_top1_when_label_in_topk": round(float(np.mean((llm_pick == yt)[in_cand])), 4)
        if in_cand.any()
        else None,
        "llm_letter_wins": letters,
        "fit": teacher.fit_report_,
        "seconds": {
            "model_load": round(t_load, 1),
            "val_wall": round(t_val, 1),
            "test_wall": round(t_test, 1),
            "llm_calls_val": calls_val,
            "llm_calls_test": calls_test,
            "per_cve_llm_call_this_run": round((secs_val + secs_test) / max(1, calls_val + calls_test), 3),
            # every answer of this model + template in the ledger, as measured when it was first made
            "ledger": ledger.cost(backend.model_id, teacher.template_id),
        },
        # what other weights would have given on the test sample: a diagnostic, never used to choose the weight
        "test_top1_by_weight_not_for_selection": {
            str(w): _top1(combine(s["base"], cand_t, s["llm"], w), yt) for w in (0.0, 0.25, 0.5, 1.0, 2.0, 3.0)
        },
        "prep": cand["info"],
    }
    led = table["seconds"]["ledger"]
    if led["calls"]:
        table["seconds"]["per_cve_llm_call_ledger"] = round(led["seconds"] / led["calls"], 3)
    slug = args.model.replace("/", "_")
    (out / f"results-{slug}-k{args.k}.json").write_text(json.dumps(table, indent=1))
    print(json.dumps(table, indent=1))
    print(f"\n| {args.model} (k={args.k}, n={len(yt)}) | top-1 |\n|---|---|")
    for kname, v in table["top1"].items():
        print(f"| {kname} | {v:.3f} |")
    ledger.close()
    backend.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "cve-cwe.yaml"))
    ap.add_argument("--data", default=None, help="data folder (default: the config's / $DISTILSEC_DATA)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "llm-cwe-teacher"))
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--n-test", type=int, default=150)
    ap.add_argument("--n-val", type=int, default=40)
    ap.add_argument("--n-test-pool", type=int, default=400, help="test CVEs scored by the classifier (cached)")
    ap.add_argument("--n-val-pool", type=int, default=200, help="val CVEs scored by the classifier (cached)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=600, help="description characters in the prompt")
    ap.add_argument("--prepare-only", action="store_true")
    args = ap.parse_args(argv)
    cand = prepare(args)
    print(json.dumps(cand["info"]), flush=True)
    if args.prepare_only:
        return 0
    return run_llm(args, cand)


if __name__ == "__main__":
    sys.exit(main())
