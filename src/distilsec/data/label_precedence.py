"""Which label a training example gets when several sources have one: analyst > teacher > original.

Why this order: an analyst's decision is a person looking at the item (the most expensive and most
trusted label); a teacher's label is a big model's reading of it; the original label is what the data
source said, often a weak label (a whole feed marked malicious, a page category). Every trained model
records how many of its examples each source decided (``label_sources`` in its manifest, model card and
metrics), so a reader knows what the model learnt from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SOURCES", "ResolvedLabels", "resolve_labels"]

#: label sources, strongest first
SOURCES = ("analyst", "teacher", "original")


@dataclass(frozen=True)
class ResolvedLabels:
    """One label per item and the source that decided it, with counts per source (every source listed)."""

    labels: list[str | None]
    sources: list[str | None]

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(s for s in self.sources if s is not None)
        return {name: c.get(name, 0) for name in SOURCES}


def resolve_labels(
    items: Sequence[str],
    *,
    original: Mapping[str, str | None],
    teacher: Mapping[str, str] | None = None,
    analyst: Mapping[str, str] | None = None,
) -> ResolvedLabels:
    """The label of each item id in ``items``: the analyst's if any, else the teacher's, else the original.

    An item no source labels gets ``None`` (source ``None``): unlabelled, left to the caller.
    """
    teacher = teacher or {}
    analyst = analyst or {}
    labels: list[str | None] = []
    sources: list[str | None] = []
    for item in items:
        for name, table in (("analyst", analyst), ("teacher", teacher), ("original", original)):
            value = table.get(item)
            if value is not None:
                labels.append(value)
                sources.append(name)
                break
        else:
            labels.append(None)
            sources.append(None)
    return ResolvedLabels(labels, sources)
