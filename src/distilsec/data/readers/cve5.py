"""CVE JSON 5.x records (the CVE Program's record format), e.g. CISA Vulnrichment.

Reads a tar archive (``.tar``, ``.tar.xz``, ``.tar.gz``) of ``CVE-*.json`` files, a folder of them, or one
record file. Labels: the CNA's ``problemTypes`` CWE when it gives a ``CWE-<n>``, else the one CISA's ADP
container added; CVSS v3.1 (else v3.0) likewise, CNA first. The label source is kept on every record,
because a CNA's and an NVD analyst's CWE choices are different label distributions.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec.data.cve_record import CVE_ID, CveRecord, normalise_cwe_id
from distilsec.data.readers._common import counter
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["read_cve5", "parse_cve5"]

_ADP_CISA = "CISA-ADP"


def _english(entries: Any) -> str | None:
    for d in entries if isinstance(entries, list) else []:
        if isinstance(d, dict) and str(d.get("lang", "")).lower().startswith("en"):
            v = d.get("value")
            if isinstance(v, str) and v.strip():
                return v.strip()
    return None


def _cwes(container: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for pt in container.get("problemTypes") or []:
        for d in (pt.get("descriptions") or []) if isinstance(pt, dict) else []:
            if not isinstance(d, dict):
                continue
            c = normalise_cwe_id(d.get("cweId"))
            if c is None and isinstance(d.get("description"), str):  # some CNAs write "CWE-79 ..." only in text
                head = d["description"].split(" ", 1)[0].rstrip(":")
                c = normalise_cwe_id(head) if head.upper().startswith("CWE") else None
            if c and c not in out:
                out.append(c)
    return out


def _cvss(container: dict[str, Any]) -> tuple[str | None, float | None]:
    for key in ("cvssV3_1", "cvssV3_0"):
        for m in container.get("metrics") or []:
            data = m.get(key) if isinstance(m, dict) else None
            if isinstance(data, dict) and isinstance(data.get("vectorString"), str):
                s = data.get("baseScore")
                return data["vectorString"], float(s) if isinstance(s, int | float) else None
    return None, None


def parse_cve5(doc: Any, where: str, skips: SkipCounter | None = None) -> CveRecord | None:
    """One CVE JSON 5 record, or None (counted in ``skips``) when it cannot be used.

    Skip reasons: ``malformed_record`` (not a CVE record), ``missing_cve_id``, ``no_english_description``.
    Rejected records are returned with ``rejected=True`` (curation drops them and counts them).
    """
    skips = counter(skips)
    meta = doc.get("cveMetadata") if isinstance(doc, dict) else None
    containers = doc.get("containers") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(containers, dict):
        skips.skip("malformed_record", where)
        return None
    cve_id = meta.get("cveId")
    if not isinstance(cve_id, str) or not CVE_ID.fullmatch(cve_id.strip()):
        skips.skip("missing_cve_id", where)
        return None
    cna = containers.get("cna") if isinstance(containers.get("cna"), dict) else {}
    rejected = str(meta.get("state", "")).upper() == "REJECTED"
    desc = _english(cna.get("descriptions")) or (_english(cna.get("rejectedReasons")) if rejected else None)
    if desc is None:
        skips.skip("no_english_description", f"{where} {cve_id}")
        return None
    adps = [a for a in containers.get("adp") or [] if isinstance(a, dict)]
    cisa = next((a for a in adps if (a.get("providerMetadata") or {}).get("shortName") == _ADP_CISA), {})
    assigner = str(meta.get("assignerShortName", ""))
    cwes = [c for c in _cwes(cna)]
    label_source = f"cna:{assigner}" if any(c.startswith("CWE-") for c in cwes) else ""
    if not label_source:
        adp_cwes = _cwes(cisa)
        if any(c.startswith("CWE-") for c in adp_cwes):
            cwes, label_source = adp_cwes, "cisa-adp"
    vector, score = _cvss(cna)
    cvss_source = f"cna:{assigner}" if vector else ""
    if vector is None:
        vector, score = _cvss(cisa)
        cvss_source = "cisa-adp" if vector else ""
    return CveRecord(
        cve_id=cve_id.strip().upper(),
        description=desc,
        cwes=tuple(cwes),
        cvss_vector=vector,
        cvss_score=score,
        published=str(meta.get("datePublished") or ""),
        source="cve5",
        label_source=label_source,
        cvss_source=cvss_source,
        rejected=rejected,
        assigner=assigner,
        meta={"file": where},
    )


def _decode(raw: bytes, where: str, skips: SkipCounter) -> Any:
    if not raw.strip():
        skips.skip("empty_file", where)
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        skips.skip("malformed_json", where)
        return None


def _from_tar(path: Path, skips: SkipCounter) -> Iterator[CveRecord]:
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                f = tar.extractfile(member)
                if f is None:
                    skips.skip("unreadable_member", member.name)
                    continue
                doc = _decode(f.read(), member.name, skips)
                if doc is not None:
                    rec = parse_cve5(doc, member.name, skips)
                    if rec is not None:
                        yield rec
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: broken or truncated archive: {exc}") from None


def _from_files(files: list[Path], skips: SkipCounter) -> Iterator[CveRecord]:
    for f in files:
        doc = _decode(f.read_bytes(), str(f), skips)
        if doc is not None:
            rec = parse_cve5(doc, f.name, skips)
            if rec is not None:
                yield rec


def read_cve5(path: str | Path, *, skips: SkipCounter | None = None) -> Iterator[CveRecord]:
    """Stream CVE JSON 5 records from a tar archive, a folder (searched recursively) or one file.

    Parameters
    ----------
    path : ``vulnrichment-*.tar.xz`` (or any tar of ``*.json`` record files), a folder, or a file.
    skips : counts ``empty_file``, ``malformed_json`` and the :func:`parse_cve5` reasons.

    Raises
    ------
    DataError
        When ``path`` does not exist, a folder holds no ``*.json`` file, a single named file is not
        a CVE record, or the archive is broken (raised while iterating, naming the archive).
    """
    skips = counter(skips)
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"CVE JSON 5 source not found: {p} does not exist (expected a .tar.xz, folder or .json)")
    if p.is_dir():
        files = sorted((f for f in p.rglob("*.json") if f.is_file()), key=lambda f: f.as_posix())
        if not files:
            raise DataError(f"{p} holds no CVE JSON 5 record files (*.json)")
        return _from_files(files, skips)
    if ".tar" in p.name or tarfile.is_tarfile(p):
        return _from_tar(p, skips)
    raw = p.read_bytes()
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"{p} is not valid JSON: {exc}") from None
    rec = parse_cve5(doc, p.name, skips)
    if rec is None:
        raise DataError(f"{p} is not a usable CVE JSON 5 record (see the skip above)")
    return iter([rec])
