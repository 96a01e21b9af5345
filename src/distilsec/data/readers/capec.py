"""MITRE CAPEC attack patterns (STIX 2.x bundle, ``stix-capec.json``) with their CWE and ATT&CK links.

CAPEC describes attack patterns in prose and links 177 of them (CAPEC 3.9) to ATT&CK techniques through
``external_references`` with ``source_name == "ATTACK"``. The ATT&CK task uses those descriptions as extra,
training-only text for the linked techniques (other authors, other wording than ATT&CK's procedures).
Read with plain :mod:`json` for the reasons given in :mod:`distilsec.data.readers.attack_stix`.

Rows are the bundle's ``attack-pattern`` objects: each is returned or counted in ``skips`` once
(``deprecated_capec`` / ``obsolete_capec`` for those CAPEC retired, ``revoked_capec``,
``capec_without_id``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilsec.data.attack_text import clean_attack_text
from distilsec.data.readers._common import counter
from distilsec.data.readers.attack_stix import load_stix_bundle
from distilsec.data.skips import SkipCounter

__all__ = ["CapecPattern", "read_capec", "normalise_technique_id"]

_TID = re.compile(r"^\s*T?(\d{4})(?:[./](\d{1,3}))?\s*$", re.IGNORECASE)
_CWE = re.compile(r"^\s*(?:CWE-)?(\d+)\s*$", re.IGNORECASE)
_RETIRED = {"deprecated": "deprecated_capec", "obsolete": "obsolete_capec"}


@dataclass(frozen=True, slots=True)
class CapecPattern:
    """One CAPEC entry: ``id`` ``CAPEC-66``, ``techniques`` ``("T1190",)``, ``cwes`` ``("CWE-89",)``."""

    id: str
    name: str
    #: cleaned description
    description: str
    cwes: tuple[str, ...]
    techniques: tuple[str, ...]
    #: Meta / Standard / Detailed
    abstraction: str
    #: likelihood of attack (High / Medium / Low), ``""`` when not given
    likelihood: str
    #: typical severity (Very High ... Very Low), ``""`` when not given
    severity: str


def normalise_technique_id(value: str) -> str | None:
    """``T1234`` / ``T1234.001`` from the forms CAPEC releases use (``1574.010``, ``T1574/010``), else None."""
    m = _TID.match(str(value))
    if m is None:
        return None
    return f"T{m.group(1)}" + (f".{int(m.group(2)):03d}" if m.group(2) else "")


def _refs(o: dict[str, Any], source: str) -> list[str]:
    return [
        str(r["external_id"])
        for r in o.get("external_references") or ()
        if isinstance(r, dict) and str(r.get("source_name", "")).lower() == source and r.get("external_id")
    ]


def read_capec(path: str | Path, *, skips: SkipCounter | None = None) -> list[CapecPattern]:
    """The live CAPEC attack patterns of a STIX bundle (``.json`` or compressed), in file order.

    Raises
    ------
    DataError
        A missing, empty, truncated or non-JSON file, or one that is not a STIX bundle (naming the file).
    """
    skips = counter(skips)
    p, objects = load_stix_bundle(path, "CAPEC STIX bundle")
    out: list[CapecPattern] = []
    for i, o in enumerate(objects):
        if not isinstance(o, dict) or o.get("type") != "attack-pattern":
            continue
        ids = [c for c in _refs(o, "capec") if c.upper().startswith("CAPEC-")]
        where = f"{p.name}: {ids[0] if ids else f'objects[{i}]'}"
        if not ids:
            skips.skip("capec_without_id", where)
            continue
        if o.get("revoked"):
            skips.skip("revoked_capec", where)
            continue
        status = str(o.get("x_capec_status") or "").strip().lower()
        if status in _RETIRED or o.get("x_mitre_deprecated"):
            skips.skip(_RETIRED.get(status, "deprecated_capec"), where)
            continue
        cwes = [m.group(1) for c in _refs(o, "cwe") if (m := _CWE.match(c))]
        techniques = [t for t in map(normalise_technique_id, _refs(o, "attack")) if t]
        out.append(
            CapecPattern(
                id=ids[0].upper(),
                name=str(o.get("name") or ids[0]).strip(),
                description=clean_attack_text(str(o.get("description") or "")),
                cwes=tuple(dict.fromkeys(f"CWE-{c}" for c in cwes)),
                techniques=tuple(dict.fromkeys(techniques)),
                abstraction=str(o.get("x_capec_abstraction") or ""),
                likelihood=str(o.get("x_capec_likelihood_of_attack") or ""),
                severity=str(o.get("x_capec_typical_severity") or ""),
            )
        )
    return out
