"""CAPEC attack patterns as passages, and their CWE and ATT&CK links (the weakness <-> attack bridge)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilsec.data.knowledge.links import KnowledgeLinks
from distilsec.data.knowledge.passage import Passage
from distilsec.data.readers.capec import read_capec
from distilsec.data.skips import SkipCounter

__all__ = ["capec_knowledge"]


def capec_knowledge(path: Path, links: KnowledgeLinks, *, skips: SkipCounter) -> tuple[list[Passage], dict[str, Any]]:
    """One passage per live CAPEC entry; CWE and technique links into ``links`` (as the bundle states them)."""
    patterns = read_capec(path, skips=skips)
    out: list[Passage] = []
    for p in patterns:
        links.capec_names[p.id] = p.name
        if p.cwes:
            links.capec_cwes[p.id] = p.cwes
        if p.techniques:
            links.capec_techniques[p.id] = p.techniques
        facts = [f"Abstraction: {p.abstraction or 'n/a'}."]
        if p.likelihood:
            facts.append(f"Likelihood: {p.likelihood}.")
        if p.severity:
            facts.append(f"Severity: {p.severity}.")
        if p.cwes:
            facts.append(f"Related weaknesses: {', '.join(p.cwes)}.")
        if p.techniques:
            facts.append(f"Related ATT&CK techniques: {', '.join(p.techniques)}.")
        num = p.id.split("-", 1)[1]
        out.append(
            Passage(
                p.id,
                p.id,
                "capec",
                p.name,
                f"{' '.join(facts)}\n{p.description}".strip(),
                "capec",
                f"https://capec.mitre.org/data/definitions/{num}.html",
            )
        )
    report = {
        "patterns": len(out),
        "with_cwes": len(links.capec_cwes),
        "with_techniques": len(links.capec_techniques),
    }
    return out, report
