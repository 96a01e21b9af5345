"""Events per second of a model on one CPU thread, measured the same way for every model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from distilsec._internal.device import limit_threads

__all__ = ["events_per_second"]


def events_per_second(
    model: Any,
    texts: Sequence[str],
    *,
    threads: int = 1,
    preprocess: Callable[[str], str] | None = None,
    min_seconds: float = 1.0,
) -> float:
    """Throughput of ``preprocess + predict_proba`` over ``texts`` (repeated to run >= min_seconds).

    Side-by-side ratios from one run are what to report: absolute numbers depend on the machine.
    """
    texts = list(texts)
    if not texts:
        return float("nan")
    with limit_threads(threads, blas=False):
        model.predict_proba(texts[: min(64, len(texts))])  # warm-up (allocations, lazy init)
        n, start = 0, time.perf_counter()
        while True:
            batch = [preprocess(t) for t in texts] if preprocess else texts
            model.predict_proba(batch)
            n += len(texts)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return n / elapsed
