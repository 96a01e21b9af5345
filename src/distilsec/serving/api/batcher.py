"""Micro-batching: texts of concurrent requests are scored together in one model call.

A model call has a fixed cost (preprocessing set-up, ONNX Runtime dispatch, Python overhead) that a
single URL cannot amortise. The batcher keeps one worker thread per model: while it scores a batch,
new requests queue up, and the next call takes everything queued (up to ``max_batch`` texts). Under
light load a request is scored at once (``max_wait_ms`` = 0 adds no latency); under heavy load batches
grow by themselves. The queue is bounded, so an overloaded server answers 503 instead of growing
without limit.

A caller's ``timeout_s`` bounds its wait for scoring to *start*: a request still queued at its deadline is
dropped unscored (the caller gets :class:`TimeoutError`), one whose batch has started is finished. Giving
up on a batch half-way would throw away the CPU an overloaded server lacks most (4,096 texts scored, then
answered 504), and the wait after the start is bounded by one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MicroBatcher", "Overloaded"]


class Overloaded(Exception):
    """The queue holds ``max_queue`` texts already: the caller should answer 503 and the client retry."""


@dataclass
class _Item:
    texts: list[str]
    future: asyncio.Future[Any]
    started: bool = False  # taken into a batch: its deadline no longer applies
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Collects texts from concurrent callers into batches for ``fn(texts) -> (scores, labels, proba)``.

    Parameters
    ----------
    fn : the batch scorer (``ScoringModel.score_batch``); runs in one dedicated thread.
    max_batch : most texts per call (a single request larger than this is scored alone).
    max_wait_ms : how long the first text of a batch may wait for company (0 = never wait).
    max_queue : most texts waiting; beyond it :meth:`submit` raises :class:`Overloaded`.
    """

    def __init__(
        self, fn: Callable[[list[str]], Any], *, max_batch: int = 256, max_wait_ms: float = 0.0, max_queue: int = 8192
    ) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.max_queue = max_queue
        self.queued = 0
        self.n_calls = 0
        self.n_texts = 0
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="distilsec-score")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str], timeout_s: float | None = None) -> Any:
        """Score ``texts`` in some batch; returns this request's slice of ``fn``'s result.

        Raises :class:`Overloaded` when the queue is full and :class:`TimeoutError` when scoring has not
        started within ``timeout_s`` seconds (once started, the batch is finished and returned).
        """
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not awaited")
        if self.queued + len(texts) > self.max_queue and self.queued > 0:
            raise Overloaded(f"{self.queued} texts are waiting to be scored")
        loop = asyncio.get_running_loop()
        item = _Item(texts, loop.create_future())
        if timeout_s is not None:
            timer = loop.call_later(timeout_s, self._expire, item)
            item.future.add_done_callback(lambda _: timer.cancel())
        self.queued += len(texts)
        self._queue.put_nowait(item)
        return await item.future

    @staticmethod
    def _expire(item: _Item) -> None:
        """Deadline reached: an item not yet taken into a batch is answered TimeoutError (and skipped)."""
        if not item.future.done() and not item.started:
            item.future.set_exception(TimeoutError())

    async def _next_batch(self) -> list[_Item]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        n = len(batch[0].texts)
        deadline = time.perf_counter() + self.max_wait_ms / 1000.0
        while n < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except TimeoutError:
                    break
            batch.append(item)
            n += len(item.texts)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            self.queued -= sum(len(it.texts) for it in batch)
            live = [it for it in batch if not it.future.done()]  # callers that timed out or left are skipped
            if not live:
                continue
            for it in live:
                it.started = True
            texts = [t for it in live for t in it.texts]
            try:
                scores, labels, proba = await loop.run_in_executor(self._executor, self.fn, texts)
            except Exception as exc:  # every caller of the batch gets the error, the loop goes on
                for it in live:
                    if not it.future.done():
                        it.future.set_exception(exc)
                continue
            self.n_calls += 1
            self.n_texts += len(texts)
            start = 0
            for it in live:
                end = start + len(it.texts)
                if not it.future.done():
                    it.future.set_result((scores[start:end], labels[start:end], proba[start:end]))
                start = end
