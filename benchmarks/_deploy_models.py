"""Shared set-up of the deployment benchmarks: real events and bundles to run them through.

Events come from the real data folder (``../shared/data`` or ``$DISTILSEC_DATA``): command lines from
``cmdline/commands.jsonl.gz`` and URLs from ``url/urls.csv.gz``. Bundles come from a finished run
(``--run DIR`` with ``student/``, ``linear/``, ``teacher/``) when there is one; otherwise students with the
shipped configs' architectures are trained briefly on real events (1 epoch, hard labels) and the teacher
is MiniLM fine-tuned on 64 events. Speed depends on the architecture and the events, not on how well
the weights were trained; quality figures belong to ``distilsec run``, not to these scripts.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    env = os.environ.get("DISTILSEC_DATA")
    p = Path(env) if env else REPO.parent / "shared" / "data"
    if not p.is_dir():
        raise SystemExit(f"real data not found at {p}: set DISTILSEC_DATA")
    return p


def real_events(task: str, n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` random real (text, label) pairs of ``task`` ("cmdline" or "url"), raw (not normalised)."""
    rows: list[tuple[str, str]] = []
    if task == "cmdline":
        with gzip.open(data_dir() / "cmdline" / "commands.jsonl.gz", "rt", encoding="utf-8") as f:
            rows = [(r["text"], r["label"]) for r in map(json.loads, f)]
    elif task == "url":
        with gzip.open(data_dir() / "url" / "urls.csv.gz", "rt", encoding="utf-8", newline="") as f:
            rows = [(r["url"], "benign" if r["label"] == "benign" else "malicious") for r in csv.DictReader(f)]
    else:
        raise SystemExit(f"unknown task {task!r}")
    random.Random(seed).shuffle(rows)
    rows = rows[:n]
    return [t for t, _ in rows], [y for _, y in rows]


def quick_bundles(task: str, out: Path, n_train: int = 20000, teacher: bool = True) -> dict[str, Path]:
    """Bundles ``student`` (char-CNN), ``linear`` (hashed n-grams) and ``teacher`` for ``task`` under ``out``."""
    from distilsec.bundle import update_manifest
    from distilsec.config import load_config
    from distilsec.data.preprocess import get_preprocessor
    from distilsec.registry import create

    cfg = load_config(REPO / "configs" / f"{task}-distill.yaml")
    prep = get_preprocessor(task)
    texts, labels = real_events(task, n_train, seed=1)
    texts = [prep(t) for t in texts]
    bundles = {}
    for name, spec in cfg.students.items():
        params = {**spec.params, "epochs": 1, "random_state": 0}
        if "device" in params or spec.type == "char_cnn.v1":
            params["device"] = "cpu"
        path = out / task / name
        if not (path / "manifest.json").is_file():
            create(spec.type, params).fit(texts, labels).save(path)
            update_manifest(path, threshold=0.5, preprocess=task, task=task, positive="malicious", negative="benign")
        bundles[name] = path
    if teacher:
        path = out / task / "teacher"
        if not (path / "manifest.json").is_file():
            params = {**cfg.teacher.params, "epochs": 1, "max_train_samples": 64, "device": "cpu"}
            create(cfg.teacher.type, params).fit(texts[:2000], labels[:2000]).save(path)
            update_manifest(path, threshold=0.5, preprocess=task, task=task, positive="malicious", negative="benign")
        bundles["teacher"] = path
    return bundles


def run_bundles(run: Path) -> dict[str, Path]:
    """The bundles of a finished ``distilsec run`` folder."""
    found = {p.parent.name: p.parent for p in run.glob("*/manifest.json")}
    wanted = {k: v for k, v in found.items() if k in ("student", "linear", "teacher")}
    if not wanted:
        raise SystemExit(f"no student/linear/teacher bundles in {run}")
    return wanted


def silence() -> None:
    """Quiet third-party logging and progress bars during timing."""
    import logging

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("torch", "torch.onnx", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)


def jsonl_file(texts: list[str], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "text": t}) + "\n")
    return path


__all__ = ["real_events", "quick_bundles", "run_bundles", "silence", "jsonl_file"]
