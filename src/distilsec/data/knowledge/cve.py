"""CVE records (NVD feeds) as passages and CVE -> CWE links, from a capped sample of the newest feed files.

The whole NVD set is ~150k records (a minute and more to read); instruction data needs a few thousand
description -> CWE pairs, so files are read newest first until ``max_cves`` usable records are found.
A usable record is not rejected and has a specific CWE that the catalog knows as a live weakness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilsec.data.knowledge.links import CveLink, KnowledgeLinks
from distilsec.data.knowledge.passage import Passage
from distilsec.data.readers._common import sorted_files
from distilsec.data.readers.nvd import read_nvd
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["cve_knowledge", "feed_files"]


def feed_files(folder: Path) -> list[Path]:
    """NVD feed files under ``folder`` (``nvd-json-1.1/``, ``nvd-api-2.0/`` or the folder itself), newest first."""
    files = [p for sub in ("nvd-json-1.1", "nvd-api-2.0", ".") for p in sorted_files(folder / sub, "*.json*")]
    files = [p for p in dict.fromkeys(files) if p.is_file()]
    if not files:
        raise DataError(f"{folder} holds no NVD feed files (expected nvd-json-1.1/ or nvd-api-2.0/*.json[.xz])")
    return sorted(files, key=lambda p: p.name.rsplit("-", 1)[-1], reverse=True)


def cve_knowledge(
    folder: Path, links: KnowledgeLinks, *, max_cves: int | None, skips: SkipCounter
) -> tuple[list[Passage], dict[str, Any]]:
    """Up to ``max_cves`` CVE passages and CVE -> CWE links (CWE names from ``links.cwe_names`` when known)."""
    out: list[Passage] = []
    files_read: list[str] = []
    rows = 0
    for f in feed_files(folder):
        if max_cves is not None and len(out) >= max_cves:
            break
        files_read.append(f.name)
        for r in read_nvd(f, skips=skips):
            if max_cves is not None and len(out) >= max_cves:
                break
            rows += 1
            if r.rejected:
                skips.skip("cve_rejected", r.cve_id)
                continue
            cwes = [c for c in r.specific_cwes if not links.cwe_names or c in links.cwe_names]
            if not cwes:
                skips.skip("cve_without_known_weakness", r.cve_id)
                continue
            links.cves.append(CveLink(r.cve_id, r.description, cwes[0]))
            name = links.cwe_names.get(cwes[0], "")
            text = f"{r.description}\nWeakness: {cwes[0]}{f' {name}' if name else ''}."
            out.append(
                Passage(
                    r.cve_id, r.cve_id, "cve", r.cve_id, text, "nvd", f"https://nvd.nist.gov/vuln/detail/{r.cve_id}"
                )
            )
    return out, {"files_read": files_read, "rows_in": rows, "kept": len(out), "max_cves": max_cves}
