"""Curation: exact and near-duplicate removal, label conflicts, and near-duplicates across splits.

Why each step matters for a security classifier:

* **Exact duplicates** inflate some commands' weight and, once split, put the same text in train
  and test. The key is the text with whitespace runs collapsed, so ``a  b`` and ``a b`` are one text.
* **Label conflicts** (the same text labelled benign by tldr and malicious by Atomic Red Team, e.g.
  ``hostname``) are label noise by construction: the label came from the source, not the command.
* **Near-duplicates** (LOLBAS and Atomic entries for the same binary; commands that differ in a
  path) are detected with MinHash LSH over character 5-grams and confirmed with the exact Jaccard
  similarity of the shingle sets. Within a dataset they are collapsed to one example per label;
  across the train/test boundary, :func:`drop_cross_split_near_duplicates` removes them from
  val/test, because a near-copy of a training text measures memorisation, not generalisation.
  For long documents (HTML pages of up to megabytes) only the first ``shingle_max_chars`` characters
  are shingled, which keeps the step linear in that cap instead of in the page size.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.data.stats import breakdown_counts, label_key
from distilsec.errors import ConfigError

__all__ = [
    "CurationResult",
    "curate",
    "drop_cross_split_near_duplicates",
    "breakdown_counts",
    "dedup_key",
    "shingles",
    "CONFLICT_POLICIES",
]

log = logging.getLogger("distilsec.data")

CONFLICT_POLICIES = ("drop", "keep_malicious", "first")
SHINGLE = 5
MAX_EXAMPLES_IN_REPORT = 10
_EXAMPLE_CHARS = 200


@dataclass
class CurationResult:
    """The kept examples, a JSON-ready report, and the ids removed per reason (for audits).

    ``report`` has top-level integers (``n_in``, ``n_out``, ``exact_duplicates_removed``,
    ``label_conflicts``, ``label_conflict_records_removed``, ``near_duplicate_clusters``,
    ``near_duplicates_removed``) and details: ``label_conflict_examples``, ``near_duplicates``
    (threshold, timing, removals by source, cross-label pairs), ``counts_in`` / ``counts_out``
    (:func:`breakdown_counts`) and ``skipped``.
    """

    examples: list[Example]
    report: dict[str, Any]
    removed_ids: dict[str, list[str]] = field(default_factory=dict)


def dedup_key(text: str) -> str:
    """The exact-duplicate key: the text with every whitespace run collapsed to one space."""
    return " ".join(text.split())


def shingles(text: str, k: int = SHINGLE, max_chars: int | None = None) -> set[bytes]:
    """Character ``k``-grams of the whitespace-collapsed, lower-cased text (the whole text if shorter).

    Lower-casing makes ``Certutil.exe`` and ``certutil.exe`` near-identical, as Windows treats them.
    ``max_chars`` keeps only the first that many characters of the collapsed text (``None``: all).
    """
    t = dedup_key(text)
    if max_chars is not None:
        t = t[:max_chars]
    t = t.lower()
    if len(t) <= k:
        return {t.encode("utf-8", "surrogatepass")}
    return {t[i : i + k].encode("utf-8", "surrogatepass") for i in range(len(t) - k + 1)}


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    """Exact Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _lsh_params(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows) such that a pair at exactly ``threshold`` becomes a candidate with prob >= recall.

    Candidates are confirmed with the exact Jaccard, so the LSH may be generous: false candidates
    cost one set intersection, missed ones leave a duplicate in the data.
    """
    for r in range(num_perm, 0, -1):
        b = num_perm // r
        if 1.0 - (1.0 - threshold**r) ** b >= recall:
            return b, r
    return num_perm, 1


def _new_lsh(threshold: float, num_perm: int) -> Any:
    from datasketch import MinHashLSH

    return MinHashLSH(num_perm=num_perm, params=_lsh_params(threshold, num_perm))


def _minhashes(sets: Sequence[set[bytes]], num_perm: int) -> list[Any]:
    from datasketch import MinHash

    return MinHash.bulk(sets, num_perm=num_perm, seed=1)


def _short(text: str) -> str:
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "..."


def _check(threshold: float, num_perm: int) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"near_dup_threshold must be in (0, 1], got {threshold}")
    if num_perm < 2:
        raise ConfigError(f"num_perm must be >= 2, got {num_perm}")


def _resolve_conflict(copies: list[Example], policy: str) -> Example | None:
    if policy == "drop":
        return None
    if policy == "keep_malicious":
        bad = [ex for ex in copies if ex.label is not None and ex.label != "benign"]
        return bad[0] if bad else copies[0]
    return copies[0]


def _exact_dedup(
    examples: list[Example], policy: str, report: dict[str, Any], removed: dict[str, list[str]]
) -> list[Example]:
    by_key: dict[str, list[Example]] = {}
    for ex in examples:
        by_key.setdefault(dedup_key(ex.text), []).append(ex)
    kept: list[Example] = []
    n_dup = n_conflicts = n_conflict_removed = 0
    conflict_examples: list[dict[str, Any]] = []
    for copies in by_key.values():
        labelled = [ex for ex in copies if ex.label is not None] or copies
        labels = {ex.label for ex in labelled}
        if len(labels) <= 1:
            keep: Example | None = labelled[0]
        else:
            n_conflicts += 1
            keep = _resolve_conflict(labelled, policy)
            n_conflict_removed += len(copies) - (keep is not None)
            if len(conflict_examples) < MAX_EXAMPLES_IN_REPORT:
                per_label: dict[str, list[str]] = defaultdict(list)
                for ex in labelled:
                    per_label[label_key(ex.label)].append(ex.source)
                conflict_examples.append({"text": _short(copies[0].text), "labels": dict(per_label)})
        for ex in copies:
            if ex is keep:
                kept.append(ex)
            elif len(labels) > 1:
                removed["label_conflict"].append(ex.id)
            else:
                removed["exact_duplicate"].append(ex.id)
                n_dup += 1
    # keep the input order (by_key groups by first occurrence; restore the original positions)
    pos = {id(ex): i for i, ex in enumerate(examples)}
    kept.sort(key=lambda ex: pos[id(ex)])
    report["exact_duplicates_removed"] = n_dup
    report["label_conflicts"] = n_conflicts
    report["label_conflict_records_removed"] = n_conflict_removed
    report["label_conflict_policy"] = policy
    report["label_conflict_examples"] = conflict_examples
    return kept


def _near_dedup(
    examples: list[Example],
    threshold: float,
    num_perm: int,
    report: dict[str, Any],
    removed: dict[str, list[str]],
    max_chars: int | None = None,
) -> list[Example]:
    """Greedy star clustering: an example is dropped when an *earlier kept* example of the same label
    has Jaccard >= threshold with it, so every removed example has a kept near-copy (no chaining)."""
    t0 = time.perf_counter()
    sets = [shingles(ex.text, max_chars=max_chars) for ex in examples]
    mhs = _minhashes(sets, num_perm)
    lsh = _new_lsh(threshold, num_perm)
    keep_idx: list[int] = []
    rep_of: dict[int, int] = {}
    cross_label = 0
    cross_examples: list[dict[str, Any]] = []
    for i, ex in enumerate(examples):
        dup_of = None
        cross_j = None
        for j in sorted(lsh.query(mhs[i])):
            if jaccard(sets[i], sets[j]) < threshold:
                continue
            if examples[j].label == ex.label:
                dup_of = j
                break
            if cross_j is None:
                cross_j = j
        if dup_of is None:
            lsh.insert(i, mhs[i])
            keep_idx.append(i)
            if cross_j is not None:
                cross_label += 1
                if len(cross_examples) < MAX_EXAMPLES_IN_REPORT:
                    other = examples[cross_j]
                    cross_examples.append(
                        {
                            "text": _short(ex.text),
                            "label": label_key(ex.label),
                            "source": ex.source,
                            "near_text": _short(other.text),
                            "near_label": label_key(other.label),
                            "near_source": other.source,
                        }
                    )
        else:
            rep_of[i] = dup_of
            removed["near_duplicate"].append(ex.id)
    seconds = time.perf_counter() - t0
    report["near_duplicate_clusters"] = len(set(rep_of.values()))
    report["near_duplicates_removed"] = len(rep_of)
    report["near_duplicates"] = {
        "threshold": threshold,
        "num_perm": num_perm,
        "shingle": f"char {SHINGLE}-grams, lower-cased"
        + (f", first {max_chars} characters" if max_chars is not None else ""),
        "seconds": round(seconds, 3),
        "removed_by_source": dict(sorted(Counter(examples[i].source for i in rep_of).items())),
        "cross_label_near_duplicates_kept": cross_label,
        "cross_label_examples": cross_examples,
    }
    log.info("near-duplicates: %d removed in %d clusters (%.1f s)", len(rep_of), len(set(rep_of.values())), seconds)
    return [examples[i] for i in keep_idx]


def curate(
    examples: Iterable[Example],
    *,
    near_dup_threshold: float | None = 0.9,
    num_perm: int = 64,
    conflict_policy: str = "drop",
    skips: SkipCounter | None = None,
    shingle_max_chars: int | None = None,
) -> CurationResult:
    """Remove empty texts, exact duplicates, label conflicts and near-duplicates; report every count.

    Parameters
    ----------
    examples : the (already normalised) examples; normalise first, so that texts differing only in
        placeholder syntax become duplicates, and their conflicting labels become visible.
    near_dup_threshold : Jaccard similarity of character 5-gram sets at or above which two texts of
        the same label are near-duplicates (the later one is dropped). ``None`` skips this step.
    num_perm : MinHash permutations (64 is plenty for a 0.9 threshold; candidates are confirmed
        with the exact Jaccard, so MinHash only decides what gets compared).
    conflict_policy : for one text with several labels: ``"drop"`` every copy (default: the label
        is unknowable), ``"keep_malicious"`` (keep the first non-benign copy; for detectors that
        must not miss), or ``"first"`` (keep the first copy).
    skips : counts records dropped for having no text (``"empty_text"``).
    shingle_max_chars : shingle only the first that many characters of each (whitespace-collapsed)
        text; ``None`` shingles all of it. Exact duplicates always compare whole texts.

    Returns
    -------
    CurationResult
        The kept examples in input order, the report and the removed ids per reason.

    Notes
    -----
    Unlabelled copies of a labelled text are treated as duplicates of it, not as conflicts.
    Near-duplicates with *different* labels are kept (removing one would pick a label) and counted
    in ``report["near_duplicates"]["cross_label_near_duplicates_kept"]``.

    Why ``shingle_max_chars``: shingling is pure Python per character, so on the 522 shared HTML pages
    (76 MB, up to 1.6 MB each) the within-set pass took about 29 s and the cross-split pass as long again;
    with the first 64 KB it takes about 13 s. Two pages whose first 64 KB are 90% the same share their
    head, layout and the start of their body, i.e. the same template: on the shared data the cap finds
    40 of the 41 near-copies found on whole pages, plus 11 more (10 of them same-site article pages with
    identical heads). A page that starts differently and ends the same can be missed (one pair here);
    the HTML task's split by brand and near-duplicate cluster still keeps such pairs on one side.
    Texts shorter than the cap (commands, URLs) are never affected.
    """
    if conflict_policy not in CONFLICT_POLICIES:
        raise ConfigError(f"conflict_policy must be one of {CONFLICT_POLICIES}, got {conflict_policy!r}")
    if near_dup_threshold is not None:
        _check(near_dup_threshold, num_perm)
    skips = skips if skips is not None else SkipCounter()
    removed: dict[str, list[str]] = {
        "empty_text": [],
        "exact_duplicate": [],
        "label_conflict": [],
        "near_duplicate": [],
    }
    items: list[Example] = []
    n_in = 0
    for ex in examples:
        n_in += 1
        if not isinstance(ex.text, str) or not ex.text.strip():
            skips.skip("empty_text", ex.id)
            removed["empty_text"].append(ex.id)
            continue
        items.append(ex)
    report: dict[str, Any] = {"n_in": n_in, "empty_texts_removed": len(removed["empty_text"])}
    counts_in = breakdown_counts(items)
    kept = _exact_dedup(items, conflict_policy, report, removed)
    if near_dup_threshold is not None and kept:
        kept = _near_dedup(kept, near_dup_threshold, num_perm, report, removed, shingle_max_chars)
    else:
        report.update(near_duplicate_clusters=0, near_duplicates_removed=0, near_duplicates={"skipped": True})
    report["n_out"] = len(kept)
    report["counts_in"] = counts_in
    report["counts_out"] = breakdown_counts(kept)
    report["skipped"] = skips.as_dict()
    return CurationResult(kept, report, removed)


def drop_cross_split_near_duplicates(
    train: Sequence[Example],
    others: dict[str, list[Example]],
    threshold: float = 0.9,
    num_perm: int = 64,
    shingle_max_chars: int | None = None,
) -> tuple[dict[str, list[Example]], dict[str, int]]:
    """Remove from each other split every example with a near-duplicate (Jaccard >= threshold) in train.

    Parameters
    ----------
    train : the training examples (left unchanged).
    others : split name -> examples, e.g. ``{"val": [...], "test": [...]}``.
    threshold, num_perm, shingle_max_chars : as in :func:`curate`.

    Returns
    -------
    (kept, removed)
        ``kept`` maps each split name to its remaining examples (order kept); ``removed`` maps it
        to the number removed.

    Notes
    -----
    Why: a group split keeps a binary or technique on one side, but the same command can appear
    under two groups (an Atomic test copying a LOLBAS example). A test example that is a near-copy
    of a training example scores memorisation. The label is ignored: a near-copy with the other
    label is just as uninformative about generalisation.
    """
    _check(threshold, num_perm)
    kept: dict[str, list[Example]] = {name: list(part) for name, part in others.items()}
    removed = {name: 0 for name in others}
    if not train or not any(others.values()):
        return kept, removed
    t0 = time.perf_counter()
    train_sets = [shingles(ex.text, max_chars=shingle_max_chars) for ex in train]
    lsh = _new_lsh(threshold, num_perm)
    with lsh.insertion_session() as session:
        for i, mh in enumerate(_minhashes(train_sets, num_perm)):
            session.insert(i, mh, check_duplication=False)
    for name, part in others.items():
        if not part:
            continue
        sets = [shingles(ex.text, max_chars=shingle_max_chars) for ex in part]
        out = []
        for ex, s, mh in zip(part, sets, _minhashes(sets, num_perm), strict=True):
            if any(jaccard(s, train_sets[j]) >= threshold for j in lsh.query(mh)):
                removed[name] += 1
            else:
                out.append(ex)
        kept[name] = out
    log.info("cross-split near-duplicates removed: %s (%.1f s)", removed, time.perf_counter() - t0)
    return kept, removed
