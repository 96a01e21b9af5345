"""Hierarchy-aware CWE output: top-k IDs with names and parent chains, and back-off to a parent.

When the model is unsure between siblings (CWE-787 out-of-bounds write vs CWE-125 read), their common
parent (CWE-119) is often right with high probability. Back-off sums each ancestor's descendants'
probabilities and, if the top class is below ``threshold``, answers with the nearest ancestor of the top
class whose summed probability reaches it: a coarser but trustworthy answer instead of a coin flip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["CweIndex", "top_k_cwes", "backoff"]


class CweIndex:
    """The slice of the catalog a model needs: name, abstraction and parent chain of each class.

    Built from a :class:`~distilsec.data.readers.cwe.CweCatalog` at training time and stored as JSON in the
    bundle, so scoring needs no catalog on disk.
    """

    def __init__(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        self.entries = {k: dict(v) for k, v in entries.items()}

    @classmethod
    def from_catalog(cls, catalog: Any, classes: Sequence[str]) -> CweIndex:
        entries: dict[str, dict[str, Any]] = {}
        for c in classes:
            chain = catalog.parent_chain(c)
            for cid in [c, *chain]:
                if cid not in entries:
                    e = catalog.get(cid)
                    entries[cid] = {
                        "name": e.name if e else "",
                        "abstraction": e.abstraction if e else "",
                        "parents": catalog.parent_chain(cid),
                    }
        return cls(entries)

    def to_json(self) -> dict[str, Any]:
        return self.entries

    def name(self, cwe: str) -> str:
        return str(self.entries.get(cwe, {}).get("name", ""))

    def chain(self, cwe: str) -> list[str]:
        return list(self.entries.get(cwe, {}).get("parents", []))


def top_k_cwes(proba: np.ndarray, classes: Sequence[str], index: CweIndex, k: int = 3) -> list[list[dict[str, Any]]]:
    """Per row: the k most probable CWEs as ``{id, name, score, parents: [{id, name}]}``."""
    k = max(1, min(k, len(classes)))
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    out = []
    for row, idx in zip(proba, order, strict=True):
        out.append(
            [
                {
                    "id": classes[j],
                    "name": index.name(classes[j]),
                    "score": round(float(row[j]), 4),
                    "parents": [{"id": p, "name": index.name(p)} for p in index.chain(classes[j])],
                }
                for j in idx
            ]
        )
    return out


def backoff(proba: np.ndarray, classes: Sequence[str], index: CweIndex, threshold: float) -> list[dict[str, Any]]:
    """Per row: the top class if its probability is >= ``threshold``, else its nearest ancestor whose
    summed descendant probability is >= ``threshold`` (else the top class, flagged ``uncertain``).

    Returns ``{id, name, score, level}`` with level 0 for the class itself, 1 for its parent, and so on.
    """
    anc = [[c, *index.chain(c)] for c in classes]
    out = []
    for row in proba:
        j = int(row.argmax())
        if row[j] >= threshold:
            out.append({"id": classes[j], "name": index.name(classes[j]), "score": round(float(row[j]), 4), "level": 0})
            continue
        mass: dict[str, float] = {}
        for p, chain in zip(row, anc, strict=True):
            for a in chain:
                mass[a] = mass.get(a, 0.0) + float(p)
        pick = None
        for level, a in enumerate(anc[j]):
            if mass.get(a, 0.0) >= threshold:
                pick = {"id": a, "name": index.name(a), "score": round(mass[a], 4), "level": level}
                break
        if pick is None:
            pick = {
                "id": classes[j],
                "name": index.name(classes[j]),
                "score": round(float(row[j]), 4),
                "level": 0,
                "uncertain": True,
            }
        out.append(pick)
    return out
