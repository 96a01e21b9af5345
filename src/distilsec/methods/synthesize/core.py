"""Synthetic training data: a generator writes variations of seed examples, filters keep the good ones.

The method reads top to bottom: normalise the seeds as the training data is normalised; ask the
generator for ``n_per_seed`` variants of each seed (an LLM through the ledger, or a programmatic
mutator); normalise them the same way; then drop, counting each by name, the failed generations, the
samples that do not parse as the task's items, exact copies, near-copies of a seed, near-copies of the
protected set (the test split), near-copies of each other, and the samples the judge does not give
their intended label. Finally, an exact audit checks that no kept sample is a near-copy of the
protected set, so the share reported is a real 0.

Kept samples are :class:`~distilsec.data.example.Example` records that inherit the seed's label,
group and platform (a group split then keeps every variant on its seed's side, so a variant can never
leak its seed into the test set) and carry their provenance in ``meta["provenance"]``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distilsec.data.curate import dedup_key
from distilsec.data.example import Example
from distilsec.data.near_dup import ShingleCache
from distilsec.data.preprocess import get_preprocessor
from distilsec.errors import ConfigError, DataError, DistilsecError
from distilsec.methods.synthesize.base import TASK_KINDS, Candidate, Generator
from distilsec.methods.synthesize.filters import (
    FILTER_ORDER,
    Rejection,
    check_parse,
    dedup_generated,
    exact_near_copies,
    find_near_duplicates,
    judge_agreement,
)
from distilsec.teachers.labelling import rate_progress

__all__ = ["synthesize", "SynthResult"]

log = logging.getLogger("distilsec.methods.synthesize")


@dataclass
class SynthResult:
    """Kept samples, rejected ones with their reasons, and the filter statistics.

    ``stats`` holds ``generated`` (attempts), ``kept``, ``rejected``, ``rejected_by_filter`` (reason ->
    count, in filter order), ``kept_by_label``, ``kept_by_kind``, ``near_duplicate_share_protected``
    (exact, after filtering) and the settings used.
    """

    examples: list[Example]
    rejected: list[Rejection]
    stats: dict[str, Any] = field(default_factory=dict)
    #: the seeds as the generator saw them (normalised), for side-by-side review.
    seeds: list[Example] = field(default_factory=list)


def _preprocessor(preprocess: str | Callable[[str], str] | None, task: str) -> Callable[[str], str]:
    if callable(preprocess):
        return preprocess
    if preprocess is None:
        return get_preprocessor("none")
    if preprocess == "auto":
        return get_preprocessor({"cmdline": "cmdline", "url": "url"}.get(task, "none"))
    return get_preprocessor(preprocess)


def synthesize(
    generator: Generator,
    seeds: Sequence[Example],
    *,
    n_per_seed: int = 4,
    task: str | None = None,
    protected: Sequence[Example | str] = (),
    judge: Any = None,
    judge_threshold: float = 0.5,
    near_dup_threshold: float = 0.9,
    seed_near_dup_threshold: float | None = None,
    dedup_generated_near: bool = True,
    shingle_max_chars: int | None = 65536,
    preprocess: str | Callable[[str], str] | None = "auto",
    max_chars: int | None = None,
    random_state: int = 0,
    progress: bool = True,
) -> SynthResult:
    """Generate ``n_per_seed`` variations of every seed and keep those that pass every filter.

    Parameters
    ----------
    generator : any :class:`~distilsec.methods.synthesize.base.Generator` (``LLMGenerator``, ``CmdlineMutator``,
        ``HTMLTemplateMutator``, ``URLMutator``...).
    seeds : labelled examples to vary (every seed needs a label: the variants inherit it).
    n_per_seed : variants asked per seed.
    task : ``"cmdline"``, ``"url"`` or ``"html"``; default: the generator's ``task``.
    protected : texts no sample may be a near-copy of (the test split, and any benchmark).
    judge : a fitted model with ``predict_proba`` and ``classes_`` that must give a sample its intended
        label; ``None`` skips the label check (it is on whenever a judge is given).
    judge_threshold : minimum judge probability of the intended label.
    near_dup_threshold : Jaccard of character 5-grams at or above which a sample is a near-copy of a
        protected text (and of another sample); the curation default.
    seed_near_dup_threshold : the same against the seeds (default: ``near_dup_threshold``).
    dedup_generated_near : also drop samples that are near-copies of an earlier kept sample.
    shingle_max_chars : compare only the first that many (whitespace-collapsed) characters, as curation
        does (``curation.shingle_max_chars``): it bounds the cost on MB-sized pages and keeps one
        definition of "near-copy" for the data and the synthetic samples. ``None`` compares everything.
    preprocess : ``"auto"`` (the task's training normalisation: placeholders for command lines, URL
        normalisation for URLs), a preprocessor name, a callable, or ``None``. Applied to seeds,
        samples and protected texts alike, so novelty is judged on what the model will see.
    max_chars : size cap of a sample (default per task, see :data:`~distilsec.methods.synthesize.filters.MAX_CHARS`).
    random_state : seed of every random choice (and of the LLM's sampler): same seed, same samples.
    progress : show a progress bar (seeds done, samples per second).

    Returns
    -------
    SynthResult

    Raises
    ------
    ConfigError
        Unknown task or bad thresholds.
    DataError
        No seeds, or a seed without a label.
    """
    task = task or getattr(generator, "task", None)
    _check_args(task, n_per_seed, near_dup_threshold, judge_threshold, seeds)
    seed_threshold = seed_near_dup_threshold or near_dup_threshold
    t_start = time.perf_counter()
    norm = _preprocessor(preprocess, task)
    # 1. normalise the seeds as training data is normalised, and generate
    seeds = [s.with_text(norm(s.text)) if isinstance(s.text, str) else s for s in seeds]
    candidates = _generate_all(generator, seeds, n_per_seed, random_state, progress, t_start)
    f = _Filters(norm, shingle_max_chars)
    # 2. failed generations are rejections; the rest are normalised like the data
    alive = f.drop_failed(candidates)
    # 3. parse check: a well-formed item of the task
    parsed = f.drop_unparsable(alive, task, max_chars)
    # 4. exact copies of a seed or of an earlier sample
    fresh = f.drop_exact_copies(parsed, seeds)
    # 5. near-copies of the seeds, of the protected set, and of each other (MinHash LSH + exact Jaccard)
    prot_texts = [norm(p.text if isinstance(p, Example) else p) for p in protected]
    prot_texts = [f.cut(t) for t in prot_texts if isinstance(t, str) and t.strip()]
    novel = f.drop_near_copies(fresh, seeds, prot_texts, seed_threshold, near_dup_threshold)
    if dedup_generated_near and novel:
        novel = f.drop_generated_copies(novel, near_dup_threshold)
    # 6. the judge must give each sample its intended label
    kept = f.judge(novel, judge, judge_threshold) if judge is not None and novel else novel
    # 7. exact audit: no kept sample may be a near-copy of the protected set (MinHash has 99% recall)
    kept = f.audit(kept, prot_texts, near_dup_threshold)
    by_id = {s.id: s for s in seeds}
    examples = [_example(c, text, by_id[c.seed_id], generator) for c, text in kept]
    thresholds = {
        "near_dup": near_dup_threshold,
        "seed_near_dup": seed_threshold,
        "judge": judge_threshold if judge is not None else None,
        "shingle_max_chars": shingle_max_chars,
    }
    seconds = time.perf_counter() - t_start
    stats = _stats(
        task, generator, seeds, n_per_seed, random_state, len(candidates), examples, f, judge, seconds, thresholds
    )
    log.info("synth: %d generated, %d kept, rejected %s", len(candidates), len(examples), stats["rejected_by_filter"])
    return SynthResult(examples, f.rejected, stats, list(seeds))


def _check_args(
    task: str | None, n_per_seed: int, near_dup_threshold: float, judge_threshold: float, seeds: Sequence[Example]
) -> None:
    """Every argument mistake as one named error, before any generation is paid for."""
    if task not in TASK_KINDS:
        raise ConfigError(f"synthesis task must be one of {list(TASK_KINDS)}, got {task!r}")
    if n_per_seed < 1:
        raise ConfigError(f"n_per_seed must be >= 1, got {n_per_seed}")
    for name, t in (("near_dup_threshold", near_dup_threshold), ("judge_threshold", judge_threshold)):
        if not 0.0 < t <= 1.0:
            raise ConfigError(f"{name} must be in (0, 1], got {t}")
    if not seeds:
        raise DataError("no seed examples to generate from")
    unlabelled = [s.id for s in seeds if s.label is None]
    if unlabelled:
        raise DataError(f"{len(unlabelled)} seed(s) have no label (e.g. {unlabelled[0]}): variants inherit the label")


def _generate_all(
    generator: Generator, seeds: list[Example], n_per_seed: int, random_state: int, show: bool, t_start: float
) -> list[Candidate]:
    """Every seed's candidates, with a progress bar of seeds done and samples per second."""
    candidates: list[Candidate] = []
    with rate_progress(disable=not show) as bar:
        job = bar.add_task(f"synth ({getattr(generator, 'name', 'generator')})", total=len(seeds), rate="")
        for seed in seeds:
            candidates.extend(_generate(generator, seed, n_per_seed, random_state))
            elapsed = max(time.perf_counter() - t_start, 1e-9)
            bar.update(job, advance=1, rate=f"{len(candidates) / elapsed:.1f} samples/s")
    return candidates


_Alive = list[tuple[Candidate, str]]


class _Filters:
    """The filter stages 2-7 of :func:`synthesize` over (candidate, normalised text) pairs.

    Each stage returns the pairs it keeps and records every other one in :attr:`rejected` with its reason,
    in the order the stages run (``rejected.jsonl`` and the report list them in that order).
    """

    def __init__(self, norm: Callable[[str], str], shingle_max_chars: int | None) -> None:
        self.norm = norm
        self.shingle_max_chars = shingle_max_chars
        self.rejected: list[Rejection] = []
        self.cache = ShingleCache(num_perm=64)
        self.protected_size = 0  # set by audit()
        self.remaining_copies = 0

    def reject(self, c: Candidate, reason: str, detail: str = "", text: str | None = None) -> None:
        self.rejected.append(
            Rejection(text if text is not None else c.text, c.label, c.seed_id, reason, detail, c.provenance)
        )

    def cut(self, t: str) -> str:
        """What is shingled (see ``shingle_max_chars``)."""
        return dedup_key(t)[: self.shingle_max_chars] if self.shingle_max_chars else t

    def drop_failed(self, candidates: list[Candidate]) -> _Alive:
        alive: _Alive = []
        for c in candidates:
            if c.error is not None or c.text is None:
                self.reject(c, c.error or "empty_answer", c.detail)
            else:
                alive.append((c, self.norm(c.text) if isinstance(c.text, str) else c.text))
        return alive

    def drop_unparsable(self, pairs: _Alive, task: str, max_chars: int | None) -> _Alive:
        kept: _Alive = []
        for c, text in pairs:
            problem = check_parse(text, task, max_chars=max_chars)
            if problem:
                self.reject(c, "parse", problem, text)
            else:
                kept.append((c, text))
        return kept

    def drop_exact_copies(self, pairs: _Alive, seeds: list[Example]) -> _Alive:
        seen = {dedup_key(s.text) for s in seeds if isinstance(s.text, str)}
        fresh: _Alive = []
        for c, text in pairs:
            key = dedup_key(text)
            if key in seen:
                self.reject(c, "exact_duplicate", "same text as a seed or an earlier sample", text)
            else:
                seen.add(key)
                fresh.append((c, text))
        return fresh

    def drop_near_copies(
        self, pairs: _Alive, seeds: list[Example], prot_texts: list[str], seed_threshold: float, threshold: float
    ) -> _Alive:
        texts = [self.cut(t) for _, t in pairs]
        text_seeds = [s for s in seeds if isinstance(s.text, str)]
        seed_texts = [self.cut(s.text) for s in text_seeds]
        near_seed = find_near_duplicates(texts, seed_texts, threshold=seed_threshold, cache=self.cache)
        near_prot = find_near_duplicates(texts, prot_texts, threshold=threshold, cache=self.cache)
        novel: _Alive = []
        for i, (c, text) in enumerate(pairs):
            if i in near_seed:
                j, jac = near_seed[i]
                self.reject(c, "near_duplicate_seed", f"Jaccard {jac:.3f} with seed {text_seeds[j].id}", text)
            elif i in near_prot:
                self.reject(c, "near_duplicate_protected", f"Jaccard {near_prot[i][1]:.3f} with protected text", text)
            else:
                novel.append((c, text))
        return novel

    def drop_generated_copies(self, pairs: _Alive, threshold: float) -> _Alive:
        texts, labels = [self.cut(t) for _, t in pairs], [c.label for c, _ in pairs]
        copies = dedup_generated(texts, labels, threshold=threshold, cache=self.cache)
        for i in sorted(copies):
            c, text = pairs[i]
            detail = f"near-copy of another sample from seed {pairs[copies[i]][0].seed_id}"
            self.reject(c, "near_duplicate_generated", detail, text)
        return [x for i, x in enumerate(pairs) if i not in copies]

    def judge(self, pairs: _Alive, judge: Any, threshold: float) -> _Alive:
        verdicts = judge_agreement(judge, [t for _, t in pairs], [c.label for c, _ in pairs], threshold=threshold)
        kept: _Alive = []
        for (c, text), (reason, detail) in zip(pairs, verdicts, strict=True):
            if reason is None:
                kept.append((c, text))
            else:
                self.reject(c, reason, detail, text)
        return kept

    def audit(self, pairs: _Alive, prot_texts: list[str], threshold: float) -> _Alive:
        """Exact check against the protected set; sets :attr:`remaining_copies` (near-copies left after it)."""
        audit = exact_near_copies([self.cut(t) for _, t in pairs], prot_texts, threshold=threshold, cache=self.cache)
        for i in sorted(audit):
            c, text = pairs[i]
            self.reject(
                c, "near_duplicate_protected", f"Jaccard {audit[i][1]:.3f} with protected text (exact audit)", text
            )
        kept = [x for i, x in enumerate(pairs) if i not in audit]
        remaining = exact_near_copies([self.cut(t) for _, t in kept], prot_texts, threshold=threshold, cache=self.cache)
        self.protected_size, self.remaining_copies = len(prot_texts), len(remaining)
        return kept


def _stats(
    task: str,
    generator: Generator,
    seeds: list[Example],
    n_per_seed: int,
    random_state: int,
    generated: int,
    examples: list[Example],
    filters: _Filters,
    judge: Any,
    seconds: float,
    thresholds: dict[str, Any],
) -> dict[str, Any]:
    """``stats.json``: counts per filter (in filter order), what was kept, thresholds, speed, LLM cost."""
    rejected = filters.rejected
    counts = Counter(r.reason for r in rejected)
    order = [r for r in FILTER_ORDER if r in counts] + sorted(set(counts) - set(FILTER_ORDER))
    stats: dict[str, Any] = {
        "task": task,
        "generator": getattr(generator, "name", type(generator).__name__),
        "n_seeds": len(seeds),
        "n_per_seed": n_per_seed,
        "random_state": random_state,
        "generated": generated,
        "kept": len(examples),
        "rejected": len(rejected),
        "rejected_by_filter": {r: counts[r] for r in order},
        "kept_by_label": dict(Counter(str(e.label) for e in examples)),
        "kept_by_kind": dict(Counter(str(e.meta["provenance"].get("variation")) for e in examples)),
        "protected_size": filters.protected_size,
        "near_duplicate_share_protected": filters.remaining_copies / len(examples) if examples else 0.0,
        "thresholds": thresholds,
        "judge": type(judge).__name__ if judge is not None else None,
        "seconds": round(seconds, 3),
        "samples_per_second": round(generated / max(seconds, 1e-9), 2),
    }
    if hasattr(generator, "cost"):
        stats["llm"] = generator.cost()
    return stats


def _generate(generator: Generator, seed: Example, n: int, random_state: int) -> list[Candidate]:
    """The generator's candidates for one seed; an unexpected failure on one seed (hostile input that
    trips a mutator) becomes ``n`` counted ``seed_error`` rejections instead of ending the run.

    Deliberate errors (:class:`~distilsec.errors.DistilsecError`: a dead LLM backend, a call budget)
    still stop the job: every answer so far is in the ledger, so the rerun resumes.
    """
    try:
        return list(generator.generate(seed, n, random_state=random_state))
    except DistilsecError:
        raise
    except Exception as exc:
        msg = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("generator failed on seed %s (%s); counted as %d rejections", seed.id, msg, n)
        return [
            Candidate(None, seed.label, seed.id, {"seed_ids": [seed.id], "variant": i}, "seed_error", msg)
            for i in range(n)
        ]


def _example(c: Candidate, text: str, seed: Example, generator: Any) -> Example:
    """A kept sample as a record: the seed's label, group and platform, its provenance in ``meta``."""
    return Example(
        text=text,
        label=c.label,
        group=seed.group,
        source=f"synth:{getattr(generator, 'name', 'generator')}",
        platform=seed.platform,
        meta={"provenance": c.provenance},
    )
