"""Scoring batches on several cores, in input order, with a bounded number of batches in flight.

Each worker process loads the bundle once and scores whole batches; the parent only parses input and
writes output. At most ``2 * workers`` batches are queued, so memory stays bounded on inputs of any
size (``multiprocessing.Pool.imap`` would read the whole input ahead).
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = ["score_batches"]

T = TypeVar("T")
Result = tuple[np.ndarray, list[str], np.ndarray]

_WORKER_MODEL: Any = None


def _init_worker(model_class: type, bundle_dir: str, runtime: str) -> None:
    """Load the bundle once per worker process, with the parent's class (pickled by name, imported there).

    Taking the class instead of importing :class:`~distilsec.serving.model.ScoringModel` keeps this module
    free of the model layer above it (no import cycle), and runs whatever scoring class the parent uses.
    """
    global _WORKER_MODEL
    _WORKER_MODEL = model_class(bundle_dir, runtime=runtime, threads=1)


def _score_in_worker(texts: list[str]) -> Result:
    return _WORKER_MODEL.score_batch(texts)


def _texts(items: list[tuple[dict[str, Any], str | None]]) -> list[str]:
    return [t for _, t in items if t is not None]


def score_batches(
    model: Any, batches: Iterator[list[tuple[dict[str, Any], str | None]]], workers: int = 0
) -> Iterator[tuple[list[tuple[dict[str, Any], str | None]], Result]]:
    """Yield ``(items, (scores, labels, proba))`` per batch, in order; ``workers`` <= 1 scores inline.

    ``model`` is a :class:`~distilsec.serving.model.ScoringModel`; workers rebuild it from its bundle folder
    and concrete runtime, so every process runs the same engine.
    """
    empty: Result = (np.zeros(0), [], np.zeros((0, len(model.classes))))
    if workers <= 1:
        for items in batches:
            texts = _texts(items)
            yield items, (model.score_batch(texts) if texts else empty)
        return
    ctx = mp.get_context("spawn")  # fork after torch/ORT thread pools start can deadlock
    with ProcessPoolExecutor(
        workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(type(model), str(Path(model.bundle_dir)), model.runtime),
    ) as pool:
        window: deque[tuple[list[tuple[dict[str, Any], str | None]], Future[Result] | None]] = deque()
        for items in batches:
            texts = _texts(items)
            window.append((items, pool.submit(_score_in_worker, texts) if texts else None))
            if len(window) >= 2 * workers:
                done_items, fut = window.popleft()
                yield done_items, (fut.result() if fut is not None else empty)
        while window:
            done_items, fut = window.popleft()
            yield done_items, (fut.result() if fut is not None else empty)
