"""What a tagger needs to know about ATT&CK techniques at scoring time: name, tactics, parent.

Saved as JSON beside the classifier in an ATT&CK bundle, so that ``distilsec attack`` prints
``T1055.011 Extra Window Memory Injection (defense-evasion, privilege-escalation)`` and backs off to the
parent without reading the 7 MB STIX bundle the model was trained from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from distilsec.errors import BundleError

__all__ = ["TechniqueIndex", "NONE", "parent_id"]

#: The class of sentences that describe no technique (most of a report).
NONE = "none"


def parent_id(technique: str) -> str:
    """``T1055.011`` -> ``T1055``; a parent (or any other ID) is its own parent."""
    return technique.split(".", 1)[0]


def _valid_entry(key: Any, value: Any) -> bool:
    """A string name, tactics a list of strings, parent a string or null: a ``tactics`` string would be read
    character by character (tactic ``"e"`` for ``"execution"``), silently."""
    if not (isinstance(key, str) and isinstance(value, dict) and isinstance(value.get("name"), str)):
        return False
    tactics, parent = value.get("tactics") or [], value.get("parent")
    return (
        isinstance(tactics, list) and all(isinstance(t, str) for t in tactics) and isinstance(parent, (str, type(None)))
    )


@dataclass(frozen=True)
class TechniqueIndex:
    """Technique ID -> ``{"name", "tactics", "parent"}``; the tactic order is ATT&CK's kill-chain order."""

    entries: Mapping[str, Mapping[str, Any]]
    #: technique -> its record without the score (built on first use: tagging describes thousands per second)
    _static: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, str, Iterable[str], str | None]]) -> TechniqueIndex:
        """From ``(id, name, tactics, parent)`` tuples (what the STIX reader knows)."""
        return cls(
            {tid: {"name": name, "tactics": list(tactics), "parent": parent} for tid, name, tactics, parent in records}
        )

    @classmethod
    def from_json(cls, data: Any, where: str = "techniques.json") -> TechniqueIndex:
        """Checked, since a bundle is input from outside: a dict of dicts with a string ``name``, ``tactics`` a
        list of strings and ``parent`` a string (both may be null)."""
        if not isinstance(data, dict) or not all(_valid_entry(k, v) for k, v in data.items()):
            raise BundleError(
                f"{where}: expected {{technique id: {{name, tactics, parent}}}}; restore or retrain the bundle"
            )
        return cls(data)

    def to_json(self) -> dict[str, Any]:
        return {k: dict(v) for k, v in sorted(self.entries.items())}

    def name(self, technique: str) -> str:
        entry = self.entries.get(technique)
        return str(entry["name"]) if entry else ""

    def tactics(self, technique: str) -> list[str]:
        entry = self.entries.get(technique)
        return list(entry.get("tactics") or []) if entry else []

    def parent(self, technique: str) -> str:
        entry = self.entries.get(technique)
        parent = entry.get("parent") if entry else None
        return str(parent) if parent else parent_id(technique)

    def describe(self, technique: str, score: float) -> dict[str, Any]:
        """The record ``distilsec attack`` prints per technique: id, name, first tactic, all tactics, score."""
        static = self._static.get(technique)
        if static is None:
            tactics = self.tactics(technique)
            static = {"id": technique, "name": self.name(technique), "tactic": tactics[0] if tactics else ""}
            self._static[technique] = static | {"tactics": tactics}
            static = self._static[technique]
        return {**static, "tactics": list(static["tactics"]), "score": round(float(score), 6)}
