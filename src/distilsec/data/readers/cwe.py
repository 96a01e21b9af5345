"""The MITRE CWE catalog: names, abstraction, status, ChildOf links and what deprecated entries became.

Reads the full XML catalog (``cwec_v4.x.xml``, optionally compressed) or MITRE's CSV view exports
(``1000.csv`` etc.). The XML is parsed with ``defusedxml`` (no entity expansion, no external entities):
a catalog is downloaded data and must not be able to make the parser fetch or expand anything.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary
from distilsec.data.cve_record import normalise_cwe_id
from distilsec.errors import DataError

__all__ = ["CweEntry", "CweCatalog", "read_cwe_catalog", "read_cwe_xml", "read_cwe_csv"]

_NS = "{http://cwe.mitre.org/cwe-7}"
_CWE_REF = re.compile(r"CWE-(\d+)")
_CSV_REL = re.compile(r"NATURE:(\w+):CWE ID:(\d+):VIEW ID:(\d+)(?::ORDINAL:(\w+))?")
#: The research view: every weakness has its ChildOf links here.
RESEARCH_VIEW = "1000"


@dataclass(frozen=True, slots=True)
class CweEntry:
    """One catalog entry.

    Attributes
    ----------
    id : ``CWE-<n>``.
    name : the entry's name.
    kind : ``"weakness"``, ``"category"`` or ``"view"``.
    abstraction : Pillar / Class / Base / Variant / Compound for weaknesses, ``""`` otherwise.
    status : Stable / Draft / Incomplete / Deprecated / Obsolete...
    description : the short description (summary for categories).
    parents : ChildOf targets in the research view (1000), the ``Primary`` ordinal first.
    usage : the Mapping_Notes usage (Allowed, Allowed-with-Review, Discouraged, Prohibited).
    replaced_by : for a deprecated entry or a category, the one weakness the catalog's text points to
        (``"Please refer to CWE-62"``, ``"alternatives ... under Improper Access Control (CWE-284)"``);
        None when it names none or several.
    """

    id: str
    name: str
    kind: str
    abstraction: str = ""
    status: str = ""
    description: str = ""
    parents: tuple[str, ...] = ()
    usage: str = ""
    replaced_by: str | None = None


@dataclass
class CweCatalog:
    """CWE ID -> entry, with the lookups the CVE task needs (names, parent chains, remapping)."""

    entries: dict[str, CweEntry]
    version: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, cwe: object) -> bool:
        c = normalise_cwe_id(cwe)
        return c is not None and c in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, cwe: str) -> CweEntry | None:
        c = normalise_cwe_id(cwe)
        return self.entries.get(c) if c else None

    def name(self, cwe: str) -> str:
        """The entry's name, or ``""`` for an unknown ID."""
        e = self.get(cwe)
        return e.name if e else ""

    def parent_chain(self, cwe: str, max_depth: int = 12) -> list[str]:
        """Primary ChildOf ancestors, nearest first, up to the pillar (cycles and depth are bounded)."""
        out: list[str] = []
        e = self.get(cwe)
        seen = {e.id} if e else set()
        while e is not None and e.parents and len(out) < max_depth:
            nxt = next((p for p in e.parents if p not in seen), None)
            if nxt is None:
                break
            out.append(nxt)
            seen.add(nxt)
            e = self.entries.get(nxt)
        return out

    def resolve(self, cwe: str) -> tuple[str | None, str]:
        """Map a label to a current weakness: ``(id, reason)``.

        Reasons: ``"ok"`` (a current weakness), ``"deprecated_mapped"`` / ``"category_mapped"`` (the
        catalog names the replacement), ``"deprecated_unmapped"`` / ``"category_unmapped"`` /
        ``"view"`` (no single replacement: id is None), ``"unknown"`` (not in the catalog: id is None).
        Replacements are followed transitively (a deprecated entry pointing at another deprecated one).
        """
        c = normalise_cwe_id(cwe)
        e = self.entries.get(c) if c else None
        if e is None:
            return None, "unknown"
        if e.kind == "view":
            return None, "view"
        what = "category" if e.kind == "category" else "deprecated"
        if e.kind == "weakness" and e.status != "Deprecated":
            return e.id, "ok"
        seen = {e.id}
        while e is not None and (e.kind == "category" or e.status == "Deprecated"):
            if e.replaced_by is None or e.replaced_by in seen:
                return None, f"{what}_unmapped"
            seen.add(e.replaced_by)
            e = self.entries.get(e.replaced_by)
        if e is None or e.kind != "weakness":
            return None, f"{what}_unmapped"
        return e.id, f"{what}_mapped"


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _single_ref(texts: Iterable[str], self_id: str) -> str | None:
    refs = {f"CWE-{m}" for t in texts for m in _CWE_REF.findall(t)} - {self_id}
    return refs.pop() if len(refs) == 1 else None


def read_cwe_xml(path: str | Path) -> CweCatalog:
    """Parse ``cwec_v4.x.xml`` (plain or compressed) into a :class:`CweCatalog`."""
    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as DET

    p = Path(path)
    try:
        with open_binary(p) as f:
            root = DET.parse(f).getroot()
    except DefusedXmlException as exc:
        raise DataError(f"refusing {p}: it declares entities or external references ({exc!r})") from None
    except DET.ParseError as exc:
        raise DataError(f"{p} is not valid XML: {exc}") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{p}: cannot read or decompress: {exc}") from None
    if not root.tag.endswith("Weakness_Catalog"):
        raise DataError(f"{p} is not a CWE catalog (root element {root.tag!r}, expected Weakness_Catalog)")
    entries: dict[str, CweEntry] = {}
    for w in root.iter(f"{_NS}Weakness"):
        cid = f"CWE-{w.get('ID')}"
        rels = [r for r in w.iter(f"{_NS}Related_Weakness") if r.get("Nature") == "ChildOf"]
        research = [r for r in rels if r.get("View_ID") == RESEARCH_VIEW]
        research.sort(key=lambda r: r.get("Ordinal") != "Primary")
        desc = _text(w.find(f"{_NS}Description"))
        status = w.get("Status", "")
        entries[cid] = CweEntry(
            id=cid,
            name=w.get("Name", ""),
            kind="weakness",
            abstraction=w.get("Abstraction", ""),
            status=status,
            description=desc,
            parents=tuple(dict.fromkeys(f"CWE-{r.get('CWE_ID')}" for r in research)),
            usage=_text(w.find(f"{_NS}Mapping_Notes/{_NS}Usage")),
            replaced_by=_single_ref([desc, w.get("Name", "")], cid) if status == "Deprecated" else None,
        )
    for c in root.iter(f"{_NS}Category"):
        cid = f"CWE-{c.get('ID')}"
        summary = _text(c.find(f"{_NS}Summary"))
        comments = _text(c.find(f"{_NS}Mapping_Notes/{_NS}Comments"))
        entries[cid] = CweEntry(
            id=cid,
            name=c.get("Name", ""),
            kind="category",
            status=c.get("Status", ""),
            description=summary,
            usage=_text(c.find(f"{_NS}Mapping_Notes/{_NS}Usage")),
            # deprecated categories point at replacements in the summary, live ones in the mapping comments
            replaced_by=_single_ref([summary] if c.get("Status") == "Deprecated" else [comments], cid),
        )
    for v in root.iter(f"{_NS}View"):
        vid = f"CWE-{v.get('ID')}"
        entries[vid] = CweEntry(id=vid, name=v.get("Name", ""), kind="view", status=v.get("Status", ""))
    if not entries:
        raise DataError(f"{p} holds no Weakness, Category or View entries")
    return CweCatalog(entries, version=root.get("Version", ""), meta={"path": str(p), "date": root.get("Date", "")})


def read_cwe_csv(paths: str | Path | Iterable[str | Path]) -> CweCatalog:
    """Weaknesses from MITRE CSV view exports (``1000.csv`` covers every current weakness).

    The CSV views hold weaknesses only (no categories, no deprecated entries), so remapping old NVD
    category labels needs the XML; with CSVs alone those labels resolve as ``"unknown"``.
    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    entries: dict[str, CweEntry] = {}
    for p in files:
        with open_binary(p) as f:
            text = f.read().decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            fieldnames = list(reader.fieldnames or [])
            rows = list(reader)
        except csv.Error as exc:  # e.g. a stray carriage return inside an unquoted field
            raise DataError(f"{p} is not a readable CSV file: {exc}") from None
        if "CWE-ID" not in fieldnames:
            raise DataError(f"{p} is not a MITRE CWE CSV export (no 'CWE-ID' column; found {fieldnames})")
        for row in rows:
            cid = normalise_cwe_id(row.get("CWE-ID"))
            if cid is None or cid in entries:
                continue
            rels = _CSV_REL.findall(row.get("Related Weaknesses") or "")
            parents = [
                (f"CWE-{t}", o != "Primary") for nature, t, view, o in rels if nature == "ChildOf" and view == "1000"
            ]
            parents.sort(key=lambda x: x[1])
            entries[cid] = CweEntry(
                id=cid,
                name=row.get("Name") or "",
                kind="weakness",
                abstraction=row.get("Weakness Abstraction") or "",
                status=row.get("Status") or "",
                description=row.get("Description") or "",
                parents=tuple(dict.fromkeys(c for c, _ in parents)),
            )
    if not entries:
        raise DataError(f"no CWE rows in {', '.join(map(str, files))}")
    return CweCatalog(entries, meta={"paths": [str(p) for p in files]})


def read_cwe_catalog(path: str | Path) -> CweCatalog:
    """The catalog from a folder (the XML if present, else its CSV exports), an XML file or a CSV file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"CWE catalog not found: {p} does not exist (expected cwec_v4.x.xml[.xz] or a folder)")
    if p.is_dir():
        xml = sorted(p.glob("cwec_*.xml*"))
        if xml:
            return read_cwe_xml(xml[-1])
        csvs = sorted(p.glob("*.csv*"))
        if csvs:
            return read_cwe_csv(csvs)
        raise DataError(f"{p} holds neither cwec_*.xml[.xz] nor *.csv[.xz] CWE exports")
    if ".csv" in p.name:
        return read_cwe_csv(p)
    return read_cwe_xml(p)
