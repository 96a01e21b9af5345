"""The structured links between knowledge entities that instruction templates are generated from.

Kept apart from the passages: a template needs "T1548 is mitigated by M1026, and this is why" as data,
not as prose, to build a question with a true answer and distractors of the same kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["KnowledgeLinks", "ProcedureLink", "CveLink"]


@dataclass(frozen=True, slots=True)
class ProcedureLink:
    """A procedure example sentence and the technique it shows (``relationship`` is the STIX id)."""

    text: str
    technique: str
    source_name: str
    relationship: str


@dataclass(frozen=True, slots=True)
class CveLink:
    """A CVE description and its (first specific, catalog-resolved) CWE."""

    cve_id: str
    description: str
    cwe: str


@dataclass
class KnowledgeLinks:
    """Entity names and the links between them; every dict is keyed by the entity ID (``T1548``, ``CWE-79``)."""

    technique_names: dict[str, str] = field(default_factory=dict)
    #: technique -> tactic display names (``Privilege Escalation``)
    technique_tactics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: technique -> parent technique (sub-techniques only)
    technique_parent: dict[str, str] = field(default_factory=dict)
    mitigation_names: dict[str, str] = field(default_factory=dict)
    #: technique -> [(mitigation ID, the ``mitigates`` relationship's own description)]
    technique_mitigations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    data_component_names: dict[str, str] = field(default_factory=dict)
    detection_names: dict[str, str] = field(default_factory=dict)
    #: technique -> detection strategy IDs (``DET0103``), through ``detects`` relationships
    technique_detections: dict[str, list[str]] = field(default_factory=dict)
    #: technique -> data component IDs, through detection strategy -> analytics -> log source references
    technique_data_components: dict[str, list[str]] = field(default_factory=dict)
    procedures: list[ProcedureLink] = field(default_factory=list)
    cwe_names: dict[str, str] = field(default_factory=dict)
    capec_names: dict[str, str] = field(default_factory=dict)
    capec_cwes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    capec_techniques: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cves: list[CveLink] = field(default_factory=list)

    def cwe_capecs(self) -> dict[str, list[str]]:
        """CWE -> the CAPEC entries that name it (the reverse of :attr:`capec_cwes`)."""
        out: dict[str, list[str]] = {}
        for capec, cwes in self.capec_cwes.items():
            for c in cwes:
                out.setdefault(c, []).append(capec)
        return out

    def technique_label(self, tid: str) -> str:
        """``T1548 (Abuse Elevation Control Mechanism)``; the bare ID when the name is unknown."""
        name = self.technique_names.get(tid)
        return f"{tid} ({name})" if name else tid
