"""The CVE record every CVE reader yields, and the merge of several sources into one record per CVE ID.

NVD (JSON 2.0 and 1.1 feeds) and CVE JSON 5 records (CISA Vulnrichment) describe overlapping CVEs with
labels from different hands (NVD analysts, CNAs, CISA). A training set must hold each CVE once, so
:func:`merge_records` keeps one record per CVE ID with a stated, configurable precedence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from distilsec.data.example import Example

__all__ = [
    "CveRecord",
    "merge_records",
    "normalise_cwe_id",
    "CVE_ID",
    "DEFAULT_PRECEDENCE",
    "NVD_OTHER",
]

#: A CVE identifier, anywhere in a string (URLs, file names).
CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_CWE = re.compile(r"^\s*CWE[-_ ]?(\d+)\s*$", re.IGNORECASE)
#: NVD's two "no specific weakness" labels: not a class a model can learn.
NVD_OTHER = ("NVD-CWE-Other", "NVD-CWE-noinfo")
#: Default precedence when one CVE ID is in several sources: NVD's newest snapshot first (analyst labels,
#: December 2023), then the NVD 1.1 feeds (2020-2022 states), then CVE JSON 5 records (CNA/CISA labels).
DEFAULT_PRECEDENCE = ("nvd-2.0", "nvd-1.1", "cve5")


def normalise_cwe_id(value: object) -> str | None:
    """``"CWE-79"`` for ``"CWE-79"``, ``"cwe 79"``, ``"79"`` or ``79``; None for anything else.

    ``NVD-CWE-Other`` / ``NVD-CWE-noinfo`` are returned unchanged (callers decide what they mean).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"CWE-{value}" if value >= 0 else None
    if not isinstance(value, str):
        return None
    s = value.strip()
    for other in NVD_OTHER:
        if s.lower() == other.lower():
            return other
    if s.isdigit():
        return f"CWE-{int(s)}"
    m = _CWE.match(s)
    return f"CWE-{int(m.group(1))}" if m else None


@dataclass(frozen=True, slots=True)
class CveRecord:
    """One CVE as a source describes it.

    Attributes
    ----------
    cve_id : ``CVE-YYYY-NNNN``.
    description : the English description (first ``lang == "en"`` entry).
    cwes : weakness labels in source order, primary first: ``CWE-<n>`` and possibly ``NVD-CWE-Other``
        / ``NVD-CWE-noinfo``; empty when the source gives none.
    cvss_vector : CVSS v3.x vector string (``CVSS:3.1/AV:N/...``) or None.
    cvss_score : the base score the source states for that vector, or None.
    published : ISO date-time of publication (``""`` when unknown).
    source : ``"nvd-2.0"``, ``"nvd-1.1"`` or ``"cve5"``.
    label_source : who assigned the CWE labels (``"nvd@nist.gov"``, ``"cna:VulDB"``, ``"cisa-adp"``...).
    cvss_source : who assigned the CVSS vector, in the same notation.
    rejected : the record is rejected/withdrawn upstream.
    assigner : the CNA (short name or e-mail) that assigned the ID.
    meta : where it came from (file, member) and anything kept for audits; never model input.
    """

    cve_id: str
    description: str
    cwes: tuple[str, ...] = ()
    cvss_vector: str | None = None
    cvss_score: float | None = None
    published: str = ""
    source: str = ""
    label_source: str = ""
    cvss_source: str = ""
    rejected: bool = False
    assigner: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def specific_cwes(self) -> tuple[str, ...]:
        """The ``CWE-<n>`` labels only (``NVD-CWE-Other`` / ``noinfo`` removed)."""
        return tuple(c for c in self.cwes if c not in NVD_OTHER)

    @property
    def year(self) -> int | None:
        """Publication year, or None when the date is unknown."""
        return int(self.published[:4]) if self.published[:4].isdigit() else None

    def to_example(self, label: str | None) -> Example:
        """The record as the generic :class:`Example` (id = CVE ID, group = CVE ID, time = published)."""
        return Example(
            text=self.description,
            label=label,
            group=self.cve_id,
            source=self.source,
            time=self.published[:10],
            id=self.cve_id,
            meta={
                "cvss_vector": self.cvss_vector,
                "label_source": self.label_source,
                "cvss_source": self.cvss_source,
                "cwes": list(self.cwes),
            },
        )


def merge_records(
    records: Iterable[CveRecord], precedence: Sequence[str] = DEFAULT_PRECEDENCE
) -> tuple[list[CveRecord], dict[str, Any]]:
    """One record per CVE ID: each field group comes from the highest-precedence source that has it.

    Parameters
    ----------
    records : records from any number of sources (several may share a CVE ID).
    precedence : source names, most trusted first; sources not named come after, in reading order.

    Returns
    -------
    (records, report)
        Records sorted by CVE ID, and counts: ``n_in``, ``n_out``, ``duplicate_ids`` (IDs seen more
        than once), ``labels_filled_from_lower`` / ``cvss_filled_from_lower`` (fields taken from a
        lower-precedence source because the preferred one had none) and ``precedence``.

    Notes
    -----
    Field groups: (description, published, rejected), (CWE labels), (CVSS vector and score). A CWE
    group counts as present only when it holds a specific ``CWE-<n>`` label, so an NVD record labelled
    ``NVD-CWE-noinfo`` takes the CNA's specific label when Vulnrichment has one. Within one source
    (e.g. two NVD files listing the same ID) the later record wins, as feeds are read oldest first.
    """
    rank = {s: i for i, s in enumerate(precedence)}
    by_id: dict[str, list[CveRecord]] = {}
    n_in = 0
    for rec in records:
        n_in += 1
        by_id.setdefault(rec.cve_id.upper(), []).append(rec)
    out: list[CveRecord] = []
    filled_labels = filled_cvss = dups = 0
    for cve_id in sorted(by_id, key=_cve_sort_key):
        copies = by_id[cve_id]
        if len(copies) > 1:
            dups += 1
        # stable: same rank keeps reading order; reversed so that the later of equal rank comes first
        ordered = sorted(reversed(copies), key=lambda r: rank.get(r.source, len(rank)))
        best = ordered[0]
        if not best.specific_cwes:
            donor = next((r for r in ordered[1:] if r.specific_cwes), None)
            if donor is not None:
                best = replace(best, cwes=donor.cwes, label_source=donor.label_source)
                filled_labels += 1
        if best.cvss_vector is None:
            donor = next((r for r in ordered[1:] if r.cvss_vector), None)
            if donor is not None:
                best = replace(
                    best, cvss_vector=donor.cvss_vector, cvss_score=donor.cvss_score, cvss_source=donor.cvss_source
                )
                filled_cvss += 1
        if len(copies) > 1:
            best = replace(best, meta={**best.meta, "also_in": sorted({r.source for r in copies} - {best.source})})
        out.append(best)
    report = {
        "n_in": n_in,
        "n_out": len(out),
        "duplicate_ids": dups,
        "labels_filled_from_lower": filled_labels,
        "cvss_filled_from_lower": filled_cvss,
        "precedence": list(precedence),
    }
    return out, report


def _cve_sort_key(cve_id: str) -> tuple[int, int, str]:
    parts = cve_id.split("-")
    try:
        return int(parts[1]), int(parts[2]), cve_id
    except (IndexError, ValueError):
        return 0, 0, cve_id
