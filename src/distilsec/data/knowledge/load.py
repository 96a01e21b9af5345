"""Load the security knowledge under a data root (``attack/``, ``cwe/``, ``capec/``, ``cve/``) as passages + links.

One entry point for the instruction-data builder and the open-book retrieval index, so both read the
same knowledge the same way. A missing folder is one :class:`~distilsec.errors.DataError` naming it;
malformed objects are skipped and counted per reason in ``read_report["skips"]``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.data.knowledge.links import KnowledgeLinks
from distilsec.data.knowledge.passage import Passage
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["Knowledge", "load_knowledge", "load_passages", "PARTS", "DEFAULT_MAX_CVES"]

log = logging.getLogger("distilsec.data")

PARTS = ("attack", "cwe", "capec", "cve")
#: CVE records read by default: enough description -> CWE pairs for the templates, read in seconds.
DEFAULT_MAX_CVES = 3000
_EXPECTED = {
    "attack": "enterprise-attack.json.gz (ATT&CK STIX bundles)",
    "cwe": "cwec_v4.x.xml.xz or the CSV view exports",
    "capec": "stix-capec.json.gz",
    "cve": "nvd-json-1.1/ or nvd-api-2.0/ NVD feed files",
}


@dataclass
class Knowledge:
    """Passages (unique IDs, reading order), the structured links, and what was read and skipped."""

    passages: list[Passage]
    links: KnowledgeLinks
    read_report: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, Passage]:
        return {p.id: p for p in self.passages}


def _folder(data_dir: Path, part: str) -> Path:
    folder = Path(data_dir) / part
    if not folder.is_dir():
        raise DataError(f"knowledge folder {folder} not found (expected {_EXPECTED[part]}); pass --data-dir DIR")
    return folder


def _attack_files(folder: Path) -> list[Path]:
    from distilsec.data.knowledge.attack import ATTACK_SOURCES

    files = [p for name in ATTACK_SOURCES for p in sorted(folder.glob(f"{name}.json*")) if p.is_file()]
    if not files:
        raise DataError(f"{folder} holds no ATT&CK bundle (expected {_EXPECTED['attack']})")
    return files


def _capec_file(folder: Path) -> Path:
    files = sorted(p for p in folder.glob("*capec*.json*") if p.is_file())
    if not files:
        raise DataError(f"{folder} holds no CAPEC bundle (expected {_EXPECTED['capec']})")
    return files[0]


def load_knowledge(
    data_dir: Path,
    *,
    parts: Sequence[str] = PARTS,
    max_cves: int | None = DEFAULT_MAX_CVES,
) -> Knowledge:
    """Read the ``parts`` of the knowledge under ``data_dir`` (CWE before CVE, so CVE labels resolve to names).

    Raises
    ------
    DataError
        An unknown part, a missing part folder or file (naming it), or a file that is not readable.
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise DataError(f"unknown knowledge parts {unknown}; known: {list(PARTS)}")
    from distilsec.data.knowledge.attack import attack_knowledge
    from distilsec.data.knowledge.capec import capec_knowledge
    from distilsec.data.knowledge.cve import cve_knowledge
    from distilsec.data.knowledge.cwe import cwe_knowledge

    folders = {part: _folder(Path(data_dir), part) for part in PARTS if part in parts}
    links = KnowledgeLinks()
    skips = SkipCounter()
    report: dict[str, Any] = {"data_dir": str(data_dir), "parts": {}}
    passages: list[Passage] = []
    for part in (p for p in ("attack", "cwe", "capec", "cve") if p in folders):
        t0 = time.perf_counter()
        if part == "attack":
            got, rep = attack_knowledge(_attack_files(folders[part]), links, skips=skips)
        elif part == "cwe":
            got, rep = cwe_knowledge(folders[part], links, skips=skips)
        elif part == "capec":
            got, rep = capec_knowledge(_capec_file(folders[part]), links, skips=skips)
        else:
            got, rep = cve_knowledge(folders[part], links, max_cves=max_cves, skips=skips)
        rep["passages"] = len(got)
        rep["seconds"] = round(time.perf_counter() - t0, 2)
        report["parts"][part] = rep
        passages += got
        log.info("knowledge: %s gave %d passages in %.1f s", part, len(got), rep["seconds"])
    unique: dict[str, Passage] = {}
    for p in passages:
        if p.id in unique:
            skips.skip("duplicate_passage_id", p.id)
            continue
        unique[p.id] = p
    report["passages"] = len(unique)
    report["skips"] = skips.as_dict()
    report["notes"] = skips.notes_dict()
    return Knowledge(list(unique.values()), links, report)


def load_passages(data_dir: Path) -> list[Passage]:
    """Every passage of the knowledge under ``data_dir`` (the retrieval index's input)."""
    return load_knowledge(data_dir).passages
