"""Group-wise subsampling: cap a task's size without splitting any group."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from distilsec.data.example import Example

__all__ = ["cap_by_group", "cap_per_group"]


def _rank(group: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}\0{group}".encode("utf-8", "surrogatepass")).hexdigest()


def cap_by_group(examples: list[Example], max_examples: int, random_state: int = 0) -> list[Example]:
    """Keep at most ``max_examples`` examples, taking whole groups in a seeded random order.

    Each label keeps its share of the total, so the class balance is preserved; because whole
    groups are kept or dropped, a later group split is unaffected.
    """
    if len(examples) <= max_examples:
        return list(examples)
    by_label: dict[str | None, dict[str, list[Example]]] = defaultdict(lambda: defaultdict(list))
    for ex in examples:
        by_label[ex.label][ex.group or ex.id].append(ex)
    kept: list[Example] = []
    for groups in by_label.values():
        n_label = sum(len(v) for v in groups.values())
        budget = round(max_examples * n_label / len(examples))
        for g in sorted(groups, key=lambda g: _rank(g, random_state)):
            if budget <= 0:
                break
            kept.extend(groups[g])
            budget -= len(groups[g])
    return kept


def cap_per_group(examples: list[Example], k: int, random_state: int) -> list[Example]:
    """At most ``k`` examples of each group (a seeded random choice inside the group), in input order.

    Groups stay whole on their side of every split (only their size shrinks), so capping never
    leaks a site across splits; it keeps a handful of large sites from dominating a split.
    """
    import numpy as np

    rng = np.random.default_rng(random_state)
    by_group: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        by_group.setdefault(ex.group or ex.id, []).append(i)
    keep: set[int] = set()
    for g in sorted(by_group):
        rows = by_group[g]
        keep.update(rows if len(rows) <= k else rng.choice(rows, size=k, replace=False).tolist())
    return [ex for i, ex in enumerate(examples) if i in keep]
