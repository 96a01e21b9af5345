"""One passage of security knowledge: the unit that instruction records quote and the retrieval index returns.

A passage is about one *entity* (a technique, a mitigation, a CWE, a CAPEC entry, a CVE...). Keeping the
entity ID on every passage is what lets instruction data be split by entity (held-out techniques are never
mentioned in training records) and lets an open-book answer cite where its facts came from.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Passage"]


@dataclass(frozen=True, slots=True)
class Passage:
    """A titled text about one entity, with its provenance.

    Attributes
    ----------
    id : stable, unique passage ID, ``<entity>`` or ``<entity>#<part>`` (``T1548``, ``CWE-79``,
        ``CAPEC-66``, ``M1026``, ``DC0002``, ``CVE-2021-44228``).
    entity : the entity the passage is about (``T1548.002``, ``CWE-79``); several passages may share one.
    kind : ``technique``, ``mitigation``, ``data-component``, ``detection-strategy``, ``group``, ``software``,
        ``campaign``, ``cwe``, ``capec``, ``cve``.
    title : display name (``Abuse Elevation Control Mechanism``).
    text : cleaned prose (no Markdown links or citation markers).
    source : where it was read from (``attack:enterprise-attack v18.1``, ``cwe:4.14``, ``capec:3.9``, ``nvd``).
    url : the upstream page, ``""`` when none.
    """

    id: str
    entity: str
    kind: str
    title: str
    text: str
    source: str
    url: str = ""

    def citation(self) -> str:
        """How an answer cites this passage: ``[T1548] Abuse Elevation Control Mechanism``."""
        return f"[{self.id}] {self.title}"
