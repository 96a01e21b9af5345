"""The review queue of a run: every item of its splits, what each label source says, ranked for an analyst.

``distilsec review RUN_DIR`` calls :func:`build_review_cache` once: it prepares the run's data again (same
config, same seed: the same splits, checked against ``splits/*.txt``), scores every item with the run's
teacher and shipped student bundles, adds the out-of-fold label doubt, similar training examples and the
label conflicts curation found, ranks the queue (:mod:`distilsec.methods.review_queue`) and writes it to
``RUN_DIR/review/`` (:mod:`distilsec.data.review_items`). Later calls reuse the cache while the run's
config, splits and bundles are unchanged (``--rebuild`` forces a new one); the analyst's ledger beside it
is never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.bundle import MANIFEST, load_model, read_manifest
from distilsec.config import Config, load_config
from distilsec.data.example import Example
from distilsec.data.review_items import REVIEW_DIR, ReviewCache, ReviewItem, read_review_cache, write_review_cache
from distilsec.errors import ConfigError, DataError, DistilsecError
from distilsec.methods.distill import align_proba
from distilsec.methods.label_doubt import label_doubt
from distilsec.methods.review_queue import QueueInputs, predicted_labels, rank_queue
from distilsec.methods.similar_examples import similar_examples
from distilsec.tasks.prepare import PreparedData, prepare_data

__all__ = ["build_review_cache", "check_run_folder", "load_run_config", "dropped_conflicts", "RunItems"]

log = logging.getLogger("distilsec.pipeline.review")

#: what makes a folder a run folder the review can use
RUN_FILES = ("config.yaml", "splits/train.txt", "splits/val.txt", "splits/test.txt")
#: a training text at least this similar to an item, with another label, is a label conflict
CONFLICT_SIMILARITY = 0.9
SPLITS = ("train", "val", "test")


def check_run_folder(run_dir: str | Path) -> Path:
    """The run folder, or a ConfigError saying what it lacks (one line)."""
    p = Path(run_dir).expanduser()
    if not p.is_dir():
        raise ConfigError(f"{p} is not a folder: pass a run folder (the path `distilsec run` printed)")
    missing = [f for f in RUN_FILES if not (p / f).is_file()]
    if missing:
        raise ConfigError(
            f"{p} is not a distilsec run folder (it lacks {', '.join(missing)}): pass the folder `distilsec run` wrote"
        )
    return p


def load_run_config(run_dir: Path) -> Config:
    """The run's resolved config (``config.yaml``); the review covers the classification runs, not the
    tasks with a pipeline of their own (CVE, ATT&CK: :data:`~distilsec.pipeline.run.TASK_PIPELINES`)."""
    from distilsec.pipeline.run import TASK_PIPELINES

    config = load_config(run_dir / "config.yaml")
    if config.data.task in TASK_PIPELINES:
        raise ConfigError(
            f"{run_dir}: review covers classification runs (cmdline, url, html, table), not {config.data.task} runs"
        )
    return config


@dataclass
class RunItems:
    """The run's examples by split (``dropped``: curation's label conflicts) with each conflict's note."""

    data: PreparedData
    dropped: list[Example]
    conflict_notes: dict[str, dict[str, list[str]]]

    def by_split(self) -> list[tuple[str, Example]]:
        out = [(name, ex) for name in SPLITS for ex in getattr(self.data, name)]
        return out + [("dropped", ex) for ex in self.dropped]


def _run_stamp(run_dir: Path, student: str) -> str:
    """What the cache was computed from: config, splits and the two bundles' manifests."""
    h = hashlib.sha256()
    for rel in (*RUN_FILES, f"teacher/{MANIFEST}", f"{student}/{MANIFEST}"):
        f = run_dir / rel
        h.update(rel.encode())
        h.update(f.read_bytes() if f.is_file() else b"-")
    return h.hexdigest()


def build_review_cache(
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    queue_size: int = 1000,
    neighbours: int = 3,
    rebuild: bool = False,
) -> ReviewCache:
    """The run's review cache: read when current, else computed and written (see the module doc)."""
    from distilsec.pipeline.stages import announce

    run = check_run_folder(run_dir)
    config = load_run_config(run)
    student = next(iter(config.students))
    stamp = _run_stamp(run, student)
    folder = run / REVIEW_DIR
    if not rebuild and (folder / "queue.json").is_file():
        try:
            cache = read_review_cache(folder)
            if cache.meta.get("run_stamp") == stamp:
                return cache
            log.info("the review queue is older than the run's bundles or splits: rebuilding it")
        except DataError as exc:
            log.warning("rebuilding the review queue: %s", exc)
    announce("review queue: the run's data and what its models say about every item")
    items = load_run_items(run, config, data_dir=data_dir)
    models = _load_models(run, config, student)
    meta, review_items = _score_and_rank(run, config, items, models, queue_size=queue_size, k=neighbours)
    meta["run_stamp"] = stamp
    write_review_cache(folder, meta, review_items)
    log.info("review queue: %d items, %d queued (%s)", len(review_items), len(meta["queue"]), folder)
    return read_review_cache(folder)


def load_run_items(run: Path, config: Config, *, data_dir: str | Path | None = None) -> RunItems:
    """The run's data prepared again, checked to be the run's splits, plus curation's dropped conflicts."""
    data = prepare_data(config, data_dir=data_dir)
    for name in SPLITS:
        want = set((run / "splits" / f"{name}.txt").read_text().split())
        got = {ex.id for ex in getattr(data, name)}
        if want != got:
            raise DataError(
                f"the data read now is not what {run} was trained on ({len(want ^ got)} {name} ids differ): "
                "pass the run's --data-dir, or re-run the training"
            )
    dropped, notes = dropped_conflicts(config, data, data_dir=data_dir)
    return RunItems(data, dropped, notes)


def dropped_conflicts(
    config: Config, data: PreparedData, *, data_dir: str | Path | None = None
) -> tuple[list[Example], dict[str, dict[str, list[str]]]]:
    """Curation's label conflicts: texts read with several labels. Returns the records curation dropped
    (one per text; its ``label`` is None: the sources disagree) and, for every conflict, item id -> label
    -> sources. Reads the task's data once more (the prepared data no longer holds them)."""
    from distilsec.data.curate import dedup_key
    from distilsec.data.preprocess import get_preprocessor
    from distilsec.tasks.loaders import load_examples

    norm = get_preprocessor(data.preprocess)
    copies: dict[str, list[Example]] = defaultdict(list)
    for ex in load_examples(config.data, data_dir=data_dir):
        if ex.label is not None and isinstance(ex.text, str) and ex.text.strip():
            copies[dedup_key(norm(ex.text))].append(ex.with_text(norm(ex.text)))
    kept = {ex.id for name in SPLITS for ex in getattr(data, name)}
    dropped: list[Example] = []
    notes: dict[str, dict[str, list[str]]] = {}
    for group in copies.values():
        labels = {ex.label for ex in group}
        if len(labels) < 2:
            continue
        by_label: dict[str, list[str]] = defaultdict(list)
        for ex in group:
            by_label[str(ex.label)].append(ex.source or "?")
        inside = [ex for ex in group if ex.id in kept]
        target = inside[0] if inside else group[0].with_label(None)
        if not inside:
            dropped.append(target)
        notes[target.id] = dict(by_label)
    return dropped, notes


@dataclass
class _Model:
    name: str
    model: Any
    manifest: dict[str, Any]
    version: str


def _load_models(run: Path, config: Config, student: str) -> dict[str, _Model]:
    """The run's teacher and shipped student bundles (a missing one is left out, with a log line)."""
    out: dict[str, _Model] = {}
    for role, folder in (("teacher", run / "teacher"), ("student", run / student)):
        if not (folder / MANIFEST).is_file():
            log.warning("%s has no %s bundle: the queue goes without its view", run, role)
            continue
        manifest = read_manifest(folder)
        version = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()[:12]
        out[role] = _Model(folder.name, load_model(folder), manifest, f"{folder.name}:{manifest['type']}@{version}")
    if not out:
        raise DistilsecError(f"{run} holds neither a teacher nor a student bundle: nothing to compare")
    return out


def _score_and_rank(
    run: Path, config: Config, items: RunItems, models: dict[str, _Model], *, queue_size: int, k: int
) -> tuple[dict[str, Any], list[ReviewItem]]:
    from distilsec.pipeline.stages import announce

    data = items.data
    rows = items.by_split()
    texts = [ex.text for _, ex in rows]
    classes = list(data.classes)
    negative = config.evaluation.negative if config.evaluation.negative in classes else None
    proba: dict[str, np.ndarray] = {}
    for role, m in models.items():
        announce(f"review queue: {role} ({m.manifest['type']}) on {len(texts)} items")
        proba[role] = align_proba(m.model.predict_proba(texts), list(m.model.classes_), classes)
    n_train = len(data.train)
    train_texts = [ex.text for ex in data.train]
    announce("review queue: out-of-fold label doubt, similar training examples")
    d_train, d_other = label_doubt(
        train_texts,
        [str(ex.label) for ex in data.train],
        texts[n_train:],
        [ex.label for _, ex in rows[n_train:]],
        seed=config.run.seed,
    )
    doubt = np.concatenate([d_train, d_other])
    itself = [i if i < n_train else None for i in range(len(rows))]
    near = similar_examples(train_texts, texts, k=max(k, 1), exclude=itself)
    conflicts = _conflict_notes(rows, items.conflict_notes, near, data.train)
    thresholds = {role: m.manifest.get("threshold") for role, m in models.items()}
    ranking = rank_queue(
        QueueInputs(
            split=[s for s, _ in rows],
            label=[ex.label for _, ex in rows],
            classes=classes,
            negative=negative,
            teacher_proba=proba.get("teacher"),
            student_proba=proba.get("student"),
            teacher_threshold=thresholds.get("teacher"),
            student_threshold=thresholds.get("student"),
            doubt=doubt,
            conflict=conflicts,
        ),
        size=queue_size,
    )
    rank_of = {i: r for r, i in enumerate(ranking.order)}
    predicted = {role: predicted_labels(p, classes, negative, thresholds.get(role)) for role, p in proba.items()}
    out = []
    for i, (split, ex) in enumerate(rows):
        out.append(
            ReviewItem(
                id=ex.id,
                split=split,
                text=ex.text,
                label=ex.label,
                group=ex.group,
                source=ex.source,
                scores={r: round(_alert(p[i], classes, negative), 6) for r, p in proba.items()},
                proba={r: [round(float(v), 6) for v in p[i]] for r, p in proba.items()},
                predicted={r: predicted[r][i] for r in proba},
                doubt=None if np.isnan(doubt[i]) else round(float(doubt[i]), 6),
                value=round(float(ranking.value[i]), 6),
                reasons=ranking.reasons[i],
                rank=rank_of.get(i),
                neighbours=[
                    {"id": data.train[j].id, "similarity": round(float(s), 3)}
                    for j, s in zip(near.index[i][:k], near.similarity[i][:k], strict=True)
                    if j >= 0 and s > 0
                ],
                rationale=ex.meta.get("rationale") if isinstance(ex.meta.get("rationale"), str) else None,
                conflict=items.conflict_notes.get(ex.id),
            )
        )
    counts = {s: sum(1 for x, _ in rows if x == s) for s in (*SPLITS, "dropped")}
    meta = {
        "run": str(run.resolve()),
        "run_name": config.run.name,
        "task": config.data.task,
        "classes": classes,
        "positive": config.evaluation.positive,
        "negative": negative,
        "target_fpr": config.evaluation.target_fpr,
        "models": {
            role: {"bundle": m.name, "type": m.manifest["type"], "threshold": thresholds[role], "version": m.version}
            for role, m in models.items()
        },
        "queue": [rows[i][1].id for i in ranking.order],
        "counts": counts,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return meta, out


def _alert(row: np.ndarray, classes: list[str], negative: str | None) -> float:
    """The alert score of one probability row: ``1 - P(negative)``, or the top probability without a view."""
    return float(1.0 - row[classes.index(negative)]) if negative is not None else float(row.max())


def _conflict_notes(
    rows: list[tuple[str, Example]], curation: dict[str, dict[str, list[str]]], near: Any, train: list[Example]
) -> list[str | None]:
    """Why each item is a label conflict (None: it is not): curation's finding, or a near-identical
    training text with another label."""
    out: list[str | None] = []
    for i, (_, ex) in enumerate(rows):
        if ex.id in curation:
            parts = "; ".join(f"{lab!r} by {', '.join(sorted(set(src)))}" for lab, src in curation[ex.id].items())
            out.append(f"label conflict in curation: {parts}")
            continue
        j, s = int(near.index[i][0]), float(near.similarity[i][0])
        if j >= 0 and s >= CONFLICT_SIMILARITY and ex.label is not None and train[j].label != ex.label:
            out.append(f"a near-identical training text (similarity {s:.2f}) is labelled {train[j].label!r}")
        else:
            out.append(None)
    return out
