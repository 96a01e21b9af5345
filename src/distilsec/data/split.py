"""Group and time splits: whole groups (binary, technique, domain) on one side of the train/test line.

Why not random rows: LOLBAS lists several commands per binary, tldr several examples per page,
Unit 42 many payload variants per family. A row split puts siblings on both sides and the test
score measures recall of memorised binaries. Splitting by group asks the question that matters in
deployment: does the model recognise abuse of a binary it has never seen?

Splits are stored as ids (:meth:`Split.ids`, :meth:`Split.from_ids`), never as copies of the data.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from distilsec.data.example import Example
from distilsec.data.stats import breakdown_counts, label_key
from distilsec.errors import ConfigError, DataError

__all__ = ["Split", "split_by_group", "split_by_time", "canonical_group", "SPLITS"]

SPLITS = ("train", "val", "test")
_SUFFIXES = (".exe", ".dll", ".ps1", ".vbs", ".js", ".cmd", ".bat", ".com", ".msc", ".cpl")
_ATTACK_SUB = re.compile(r"^(t\d{4})\.\d{3}$")


@dataclass
class Split:
    """Train/val/test examples plus how they were made (``info``: strategy, seed, fallbacks)."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    info: dict[str, Any] = field(default_factory=dict)

    def parts(self) -> dict[str, list[Example]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def ids(self) -> dict[str, list[str]]:
        """Split name -> example ids (what a run stores instead of the examples)."""
        return {name: [ex.id for ex in part] for name, part in self.parts().items()}

    @classmethod
    def from_ids(cls, examples: Sequence[Example], ids: dict[str, Sequence[str]]) -> Split:
        """Rebuild a split from stored ids; raises :class:`DataError` naming ids that are missing."""
        by_id = {ex.id: ex for ex in examples}
        missing = [i for part in ids.values() for i in part if i not in by_id]
        if missing:
            raise DataError(f"{len(missing)} split ids not found in the data (first: {missing[:5]})")
        return cls(*([by_id[i] for i in ids.get(name, [])] for name in SPLITS), info={"strategy": "ids"})

    def summary(self) -> dict[str, Any]:
        """Per split: counts by label, source x label, platform x label and the number of groups."""
        out: dict[str, Any] = {}
        for name, part in self.parts().items():
            s = breakdown_counts(part)
            s["n_groups"] = len({canonical_group(ex) for ex in part})
            out[name] = s
        out["info"] = dict(self.info)
        return out


def canonical_group(ex: Example) -> str:
    """A group key under which the same binary from different sources falls together.

    Lower-cased, directory parts removed, one Windows suffix (``.exe``, ``.dll``, ``.ps1``, ``.vbs``,
    ``.js``, ``.cmd``, ``.bat``, ``.com``, ``.msc``, ``.cpl``) removed, and an ATT&CK sub-technique
    folded into its technique (``T1059.001`` -> ``t1059``). LOLBAS ``Certutil.exe`` and the tldr page
    ``certutil`` both become ``certutil``. An example without a group is its own group (its id).

    Why: a group split only prevents leakage when one binary has one key; otherwise ``certutil``
    examples from tldr (benign) and LOLBAS (malicious) land in different splits and the model is
    tested on a binary it has seen. Merging keys can only make groups coarser, never leak.
    """
    g = (ex.group or "").strip()
    if not g:
        return "id:" + ex.id
    g = g.lower().replace("\\", "/").rstrip("/")
    g = g.rsplit("/", 1)[-1] or g
    for suf in _SUFFIXES:
        if g.endswith(suf) and len(g) > len(suf):
            g = g[: -len(suf)]
            break
    m = _ATTACK_SUB.match(g)
    return m.group(1) if m else g


def _rank(key: str, random_state: int) -> str:
    return hashlib.sha1(f"{random_state}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise ConfigError(f"split fractions must be >= 0 and sum to < 1 (val {val_fraction}, test {test_fraction})")


def _majority(labels: Counter[str]) -> str:
    return min(labels.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _assign_stratum(
    groups: list[str], sizes: dict[str, int], fractions: dict[str, float], random_state: int
) -> tuple[dict[str, str], list[str]]:
    """Assign one label's groups: seeded hash order, each group to the split furthest below its target."""
    order = sorted(groups, key=lambda g: (_rank(g, random_state), g))
    total = sum(sizes[g] for g in order)
    target = {s: fractions[s] * total for s in SPLITS}
    filled = dict.fromkeys(SPLITS, 0)
    where: dict[str, str] = {}
    for g in order:
        # ties go to train first (SPLITS order): a lone group is never put in test alone
        s = max(SPLITS, key=lambda s: (target[s] - filled[s], -SPLITS.index(s)))
        where[g] = s
        filled[s] += sizes[g]
    notes: list[str] = []
    # make sure test (then val) gets at least one group of this label when it can spare one
    for s, min_groups in (("test", 2), ("val", 3)):
        if fractions[s] <= 0 or len(order) < min_groups or any(where[g] == s for g in order):
            continue
        donors = [g for g in order if where[g] == "train"]
        if len(donors) < 2:  # train keeps at least one group of each label
            donors = [g for g in order if where[g] == "val"] if s == "test" else []
        if not donors:
            continue
        g = min(donors, key=lambda g: (sizes[g], _rank(g, random_state), g))
        notes.append(f"moved group {g!r} ({sizes[g]} examples) from {where[g]} to {s}")
        where[g] = s
    return where, notes


def split_by_group(
    examples: Sequence[Example],
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    random_state: int = 0,
    group_key: Callable[[Example], str] = canonical_group,
) -> Split:
    """Split so that every group lies in exactly one of train / val / test, stratified by label.

    Parameters
    ----------
    examples : the curated examples.
    val_fraction, test_fraction : the share of each label's *examples* to put in val and test
        (approximately: whole groups move together).
    random_state : seed of the group order; the same seed gives the same split.
    group_key : the group of an example (default :func:`canonical_group`).

    Returns
    -------
    Split
        Examples keep their input order inside each split. ``info["fallbacks"]`` lists groups moved
        so that test (and val) contain every label that has enough groups.

    Notes
    -----
    Each group takes its majority label (ties: the alphabetically first). Within a label, groups
    are visited in the order of ``sha1(random_state, group)`` and each goes to the split furthest
    below its target number of examples, so a large group cannot blow one split up. The result
    depends only on the set of examples, never on their order.
    """
    _check_fractions(val_fraction, test_fraction)
    fractions = {"train": 1.0 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction}
    keys = [group_key(ex) for ex in examples]
    sizes: Counter[str] = Counter(keys)
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    for ex, k in zip(examples, keys, strict=True):
        labels[k][label_key(ex.label)] += 1
    strata: dict[str, list[str]] = defaultdict(list)
    for k, c in labels.items():
        strata[_majority(c)].append(k)
    where: dict[str, str] = {}
    fallbacks: list[str] = []
    for lab in sorted(strata):
        w, notes = _assign_stratum(strata[lab], sizes, fractions, random_state)
        where.update(w)
        fallbacks.extend(f"{lab}: {n}" for n in notes)
    parts: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for ex, k in zip(examples, keys, strict=True):
        parts[where[k]].append(ex)
    info = {
        "strategy": "group",
        "random_state": random_state,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "n_groups": {s: len({k for k in where if where[k] == s}) for s in SPLITS},
        "fallbacks": fallbacks,
    }
    return Split(parts["train"], parts["val"], parts["test"], info)


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10])
    except (ValueError, AttributeError):
        return None


def split_by_time(
    examples: Sequence[Example],
    *,
    cutoff: str,
    val_fraction: float = 0.1,
    random_state: int = 0,
    group_key: Callable[[Example], str] = canonical_group,
) -> Split:
    """Train/val before ``cutoff`` (an ISO date), test at or after it.

    Parameters
    ----------
    examples : the curated examples; ``Example.time`` is an ISO date or datetime (first 10 chars).
    cutoff : ISO date; an example dated on the cutoff day goes to test.
    val_fraction : share of the pre-cutoff examples for val, taken by group as in
        :func:`split_by_group`.
    random_state, group_key : as in :func:`split_by_group`.

    Returns
    -------
    Split
        ``info`` counts the undated examples and the test groups also present in train.

    Notes
    -----
    Why: attacks drift; a time split measures how a model trained on older data does on newer
    threats. Examples without a (parsable) time cannot be placed in time and never go to test: they
    join the pre-cutoff pool. Groups may straddle the cutoff (a binary abused again later); that
    is the point of a time split, and ``info["test_groups_seen_in_train"]`` says how often it happens.
    """
    cut = _parse_date(cutoff)
    if cut is None:
        raise ConfigError(f"time cutoff must be an ISO date such as 2020-01-01, got {cutoff!r}")
    _check_fractions(val_fraction, 0.0)
    before: list[Example] = []
    after: list[Example] = []
    undated = 0
    for ex in examples:
        d = _parse_date(ex.time) if ex.time else None
        if d is None:
            undated += 1
            before.append(ex)
        elif d >= cut:
            after.append(ex)
        else:
            before.append(ex)
    inner = split_by_group(
        before, val_fraction=val_fraction, test_fraction=0.0, random_state=random_state, group_key=group_key
    )
    train_groups = {group_key(ex) for ex in inner.train}
    info = {
        "strategy": "time",
        "cutoff": cut.isoformat(),
        "random_state": random_state,
        "val_fraction": val_fraction,
        "undated_in_train_pool": undated,
        "test_groups_seen_in_train": len({group_key(ex) for ex in after} & train_groups),
        "n_test_groups": len({group_key(ex) for ex in after}),
    }
    return Split(inner.train, inner.val, after, info)
