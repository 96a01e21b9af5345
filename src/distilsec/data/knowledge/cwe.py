"""The CWE catalog as passages (one per live weakness) and the CWE names the templates quote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilsec.data.knowledge.links import KnowledgeLinks
from distilsec.data.knowledge.passage import Passage
from distilsec.data.readers.cwe import read_cwe_catalog
from distilsec.data.skips import SkipCounter

__all__ = ["cwe_knowledge"]

_RETIRED = ("deprecated", "obsolete")


def cwe_knowledge(folder: Path, links: KnowledgeLinks, *, skips: SkipCounter) -> tuple[list[Passage], dict[str, Any]]:
    """Live weaknesses as passages; names of every live weakness into ``links.cwe_names``.

    Categories and views are left out (counted): a CVE is mapped to a weakness, and NVD's category labels
    (CWE-264...) are what the CVE task remaps, not knowledge to teach.
    """
    catalog = read_cwe_catalog(folder)
    out: list[Passage] = []
    for cid, e in catalog.entries.items():
        if e.kind != "weakness":
            skips.skip(f"cwe_{e.kind}_not_a_weakness", cid)
            continue
        if e.status.lower() in _RETIRED:
            skips.skip("cwe_deprecated", cid)
            continue
        links.cwe_names[cid] = e.name
        parents = f" Child of {', '.join(e.parents)}." if e.parents else ""
        head = f"Abstraction: {e.abstraction or 'n/a'}. Status: {e.status or 'n/a'}.{parents}"
        num = cid.split("-", 1)[1]
        out.append(
            Passage(
                cid,
                cid,
                "cwe",
                e.name,
                f"{head}\n{e.description}".strip(),
                f"cwe:{catalog.version or 'csv'}",
                f"https://cwe.mitre.org/data/definitions/{num}.html",
            )
        )
    return out, {"entries": len(catalog.entries), "weaknesses": len(out), "version": catalog.version}
