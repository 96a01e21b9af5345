"""MITRE ATT&CK STIX 2.x bundles (Enterprise, Mobile, ICS; any release) -> techniques, procedures, entities.

The labelled text of ATT&CK is its *procedure examples*: the ``description`` of every ``uses`` relationship
from a group (``intrusion-set``), a piece of software (``malware``/``tool``) or a campaign to a technique
(``attack-pattern``). This reader returns them with what a split and a tagger need: the technique (revoked
ones followed to their replacement), its parent and tactics, the source entity, the cited reports and the
entities the text links to. Descriptions of groups, software and campaigns, data sources, data components,
detection analytics and mitigations come back as well (negative text and knowledge).

Why plain :mod:`json` and not ``stix2`` or ``mitreattack-python`` (both on PyPI, both tried): on the v18.1
Enterprise bundle (24,771 objects) ``json.loads`` takes 0.23 s, ``stix2.parse(obj, allow_custom=True)`` over
the objects 9.7 s (43x) and ``MitreAttackData(path)`` 11.6 s (51x), measured side by side in one run
(BENCHMARKS.md section 11); ``stix2.parse`` of the whole file refuses a bundle whose ``id`` is not
``bundle--<UUID>`` (as a repackaged bundle's may be), and ``mitreattack-python`` pulls ``stix2``, ``pandas``,
``openpyxl``, ``xlsxwriter`` and more, with pins of its own. We need a dozen fields of four object types; the
reader stays tolerant of releases whose objects a strict STIX parser refuses.

Rules (what ATT&CK's own tools do): ``revoked`` objects are replaced through their ``revoked-by``
relationship (a procedure pointing at a revoked technique or source is moved to the replacement, counted as
a note); ``x_mitre_deprecated`` objects and revoked/deprecated relationships are skipped, counted. A row is
a technique, an entity, a prose object or a ``uses`` relationship to a technique: each is kept or counted in
``skips`` exactly once (rows in = kept + skipped, per kind in :attr:`AttackKB.read_report`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec._internal.textio import open_binary
from distilsec.data.attack_text import citation_keys, clean_attack_text, link_targets
from distilsec.data.readers._common import counter, need_file, strip_compression
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = [
    "Technique",
    "Procedure",
    "Entity",
    "AttackKB",
    "read_attack",
    "load_stix_bundle",
    "ENTITY_KINDS",
    "PROSE_KINDS",
]

#: STIX types of the entities that *use* techniques (the sources of procedure examples)
ENTITY_KINDS = ("intrusion-set", "malware", "tool", "campaign")
#: STIX type -> prose kind (text about data and defences, never a procedure)
PROSE_KINDS = {
    "x-mitre-data-source": "data-source",
    "x-mitre-data-component": "data-component",
    "x-mitre-detection-strategy": "detection-strategy",
    "x-mitre-analytic": "analytic",
    "course-of-action": "mitigation",
}
_ATTACK_SOURCES = ("mitre-attack", "mitre-mobile-attack", "mitre-ics-attack")
_TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")
_DOMAINS = ("enterprise-attack", "mobile-attack", "ics-attack")


@dataclass(frozen=True, slots=True)
class Technique:
    """One (sub-)technique: ``id`` ``T1055.011``, ``parent`` ``T1055`` (None for a parent technique)."""

    id: str
    name: str
    #: tactic short names (``defense-evasion``), from ``kill_chain_phases`` of an ATT&CK kill chain
    tactics: tuple[str, ...]
    parent: str | None
    #: cleaned description (links to names, no citations)
    description: str
    domain: str
    url: str
    platforms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Procedure:
    """One procedure example: a sentence or two of a cited report, labelled with the technique it shows."""

    #: cleaned text (entity names kept: the task makes them generic when asked)
    text: str
    #: the description as ATT&CK stores it (Markdown links, citation markers)
    raw: str
    #: technique ID (``T1055.011``), after following ``revoked-by``
    technique: str
    source_ref: str
    source_name: str
    #: ``intrusion-set``, ``malware``, ``tool`` or ``campaign``
    source_kind: str
    #: the ``source_name`` of every cited report (external references and ``(Citation: ...)`` markers)
    citations: tuple[str, ...]
    #: STIX ids of the groups, software and campaigns the text links to (its own source included)
    mentions: tuple[str, ...]
    domain: str
    relationship_id: str


@dataclass(frozen=True, slots=True)
class Entity:
    """A group, a piece of software or a campaign."""

    stix_id: str
    attack_id: str
    #: ``intrusion-set``, ``malware``, ``tool`` or ``campaign``
    kind: str
    name: str
    #: other names (the entity's own name left out)
    aliases: tuple[str, ...]
    #: cleaned description
    description: str
    #: the description as stored (Markdown links kept: :func:`clean_attack_text` can make names generic)
    raw_description: str = ""
    domain: str = ""


@dataclass
class AttackKB:
    """What the bundles hold that a tagger needs; ``read_report`` counts rows per kind and file."""

    #: technique ID -> technique (live ones only)
    techniques: dict[str, Technique]
    procedures: list[Procedure]
    #: STIX id -> entity (live ones only)
    entities: dict[str, Entity]
    #: ``(kind, object id, cleaned text)`` of data sources, data components, detection strategies,
    #: analytics and mitigations: text about data and defences, usable as negative text (line breaks
    #: kept, so that :func:`~distilsec.data.attack_text.split_sentences` sees their list items)
    prose: list[tuple[str, str, str]]
    #: tactic short name -> display name (``defense-evasion`` -> ``Defense Evasion``)
    tactics: dict[str, str]
    #: campaign STIX id -> the group it is attributed to (STIX id)
    attributed: dict[str, str]
    #: the domains read, in reading order
    domains: tuple[str, ...]
    read_report: dict[str, Any] = field(default_factory=dict)

    def parent_of(self, tid: str) -> str:
        """The parent technique ID of ``tid`` (``tid`` itself for a parent or an unknown ID)."""
        t = self.techniques.get(tid)
        if t is not None and t.parent:
            return t.parent
        return tid.split(".", 1)[0] if _TECHNIQUE_ID.match(tid) else tid

    def name_of(self, tid: str) -> str:
        """``Parent: Sub`` name of a technique as ATT&CK displays it, ``""`` when unknown."""
        t = self.techniques.get(tid)
        if t is None:
            return ""
        if t.parent and t.parent in self.techniques:
            return f"{self.techniques[t.parent].name}: {t.name}"
        return t.name

    def entity_by_attack_id(self) -> dict[str, Entity]:
        """ATT&CK ID (``G0032``, ``S0569``, ``C0022``) -> entity."""
        return {e.attack_id: e for e in self.entities.values() if e.attack_id}


# --- loading --------------------------------------------------------------------------------------------


def load_stix_bundle(path: str | Path, what: str = "ATT&CK STIX bundle") -> tuple[Path, list[Any]]:
    """The ``objects`` of a STIX bundle file (.json or compressed), or a DataError naming the file.

    Shared by the ATT&CK and CAPEC readers: a truncated download, an empty file, HTML saved under a
    ``.json`` name or a single STIX object instead of a bundle each end in one line naming the file.
    """
    p = need_file(path, what, "a STIX 2.x bundle such as enterprise-attack.json(.gz)")
    with open_binary(p) as f:
        raw = f.read()
    if not raw.strip():
        raise DataError(f"{p}: empty file (expected a STIX 2.x bundle such as enterprise-attack.json)")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"{p}: not JSON ({type(exc).__name__}: {str(exc)[:80]}); expected a STIX 2.x bundle") from None
    if not isinstance(doc, dict) or doc.get("type") != "bundle" or not isinstance(doc.get("objects"), list):
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise DataError(
            f"{p}: not a STIX bundle (top-level type {kind!r}; expected {{'type': 'bundle', 'objects': [...]}})"
        )
    return p, doc["objects"]


def _attack_ref(obj: dict[str, Any]) -> tuple[str, str]:
    """(ATT&CK ID, URL) from the object's ``external_references``; ``("", "")`` when it has none."""
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and ref.get("source_name") in _ATTACK_SOURCES and ref.get("external_id"):
            return str(ref["external_id"]).strip(), str(ref.get("url") or "")
    return "", ""


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str) and v.strip())


def _bundle_domain(objects: list[Any], path: Path) -> str:
    """The bundle's domain: its matrix's ID, else the most common ``x_mitre_domains``, else the file name."""
    votes: Counter[str] = Counter()
    for o in objects:
        if not isinstance(o, dict):
            continue
        if o.get("type") == "x-mitre-matrix" and not o.get("x_mitre_deprecated") and not o.get("revoked"):
            aid, _ = _attack_ref(o)
            if aid in _DOMAINS:
                return aid
        for d in _strs(o.get("x_mitre_domains")):
            votes[d] += 1
    if votes:
        return votes.most_common(1)[0][0]
    stem = strip_compression(path.name).removesuffix(".json")
    return stem if stem in _DOMAINS else "enterprise-attack"


def _citations(obj: dict[str, Any], raw: str) -> tuple[str, ...]:
    """Cited reports: external references (not the ATT&CK page itself) and the keys of citation markers."""
    names = [
        str(r["source_name"]).strip()
        for r in obj.get("external_references") or ()
        if isinstance(r, dict) and r.get("source_name") and r.get("source_name") not in _ATTACK_SOURCES
    ]
    return tuple(dict.fromkeys(n for n in [*names, *citation_keys(raw)] if n))


@dataclass
class _Reading:
    """State shared by the passes over all bundles."""

    skips: SkipCounter
    #: STIX id -> (object, domain of its bundle, file name)
    objects: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    relationships: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)
    revoked_by: dict[str, str] = field(default_factory=dict)
    sub_of: dict[str, str] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)

    def resolve(self, stix_id: str) -> str | None:
        """``stix_id`` or, for a revoked object, its live replacement (chains followed); None when there is none."""
        seen: set[str] = set()
        cur = stix_id
        while cur not in seen:
            seen.add(cur)
            found = self.objects.get(cur)
            if found is None:
                return None
            if not found[0].get("revoked"):
                return None if found[0].get("x_mitre_deprecated") else cur
            nxt = self.revoked_by.get(cur)
            if nxt is None:
                return None
            cur = nxt
        return None


def _index(reading: _Reading, bundles: Sequence[tuple[Path, list[Any]]]) -> list[str]:
    """First pass: every object by id, relationships, ``revoked-by`` and ``subtechnique-of`` links; the domains."""
    domains: list[str] = []
    for path, objects in bundles:
        domain = _bundle_domain(objects, path)
        if domain not in domains:
            domains.append(domain)
        for i, o in enumerate(objects):
            if not isinstance(o, dict) or not isinstance(o.get("id"), str) or not isinstance(o.get("type"), str):
                reading.rows["object"] += 1
                reading.skips.skip("not_a_stix_object", f"{path.name}: objects[{i}]")
                continue
            if o["type"] == "relationship":
                reading.relationships.append((o, domain, path.name))
                rt = o.get("relationship_type")
                if o.get("revoked") or o.get("x_mitre_deprecated"):
                    continue
                if rt == "revoked-by":
                    reading.revoked_by[str(o.get("source_ref"))] = str(o.get("target_ref"))
                elif rt == "subtechnique-of":
                    reading.sub_of[str(o.get("source_ref"))] = str(o.get("target_ref"))
            elif o["id"] not in reading.objects:
                reading.objects[o["id"]] = (o, domain, path.name)
    return domains


def _live(reading: _Reading, o: dict[str, Any], kind: str, where: str) -> bool:
    """Count one row of ``kind``; False (a counted skip) for a revoked or deprecated object."""
    reading.rows[kind] += 1
    if o.get("revoked"):
        reading.skips.skip(f"revoked_{kind}", where)
        return False
    if o.get("x_mitre_deprecated"):
        reading.skips.skip(f"deprecated_{kind}", where)
        return False
    return True


def _techniques(reading: _Reading) -> tuple[dict[str, Technique], dict[str, str]]:
    """Live techniques by ID, and STIX id -> technique ID for every live one."""
    out: dict[str, Technique] = {}
    by_stix: dict[str, str] = {}
    for sid, (o, domain, fname) in reading.objects.items():
        if o["type"] != "attack-pattern":
            continue
        tid, url = _attack_ref(o)
        where = f"{fname}: {tid or sid}"
        if not _live(reading, o, "technique", where):
            continue
        if not _TECHNIQUE_ID.match(tid):
            reading.skips.skip("technique_without_attack_id", where)
            continue
        if tid in out:
            reading.skips.skip("duplicate_technique", where)
            continue
        parent: str | None = None
        parent_sid = reading.sub_of.get(sid)
        if parent_sid is not None and parent_sid in reading.objects:
            parent = _attack_ref(reading.objects[parent_sid][0])[0] or None
        if parent is None and (o.get("x_mitre_is_subtechnique") or "." in tid):
            parent = tid.split(".", 1)[0]
        tactics = tuple(
            dict.fromkeys(
                str(k["phase_name"])
                for k in o.get("kill_chain_phases") or ()
                if isinstance(k, dict) and str(k.get("kill_chain_name", "")).endswith("attack") and k.get("phase_name")
            )
        )
        domains = _strs(o.get("x_mitre_domains"))
        out[tid] = Technique(
            id=tid,
            name=str(o.get("name") or tid).strip(),
            tactics=tactics,
            parent=parent if parent != tid else None,
            description=clean_attack_text(str(o.get("description") or "")),
            domain=domains[0] if domains else domain,
            url=url or f"https://attack.mitre.org/techniques/{tid.replace('.', '/')}",
            platforms=_strs(o.get("x_mitre_platforms")),
        )
        by_stix[sid] = tid
        reading.kept["technique"] += 1
    return out, by_stix


def _entities(reading: _Reading) -> dict[str, Entity]:
    out: dict[str, Entity] = {}
    for sid, (o, domain, fname) in reading.objects.items():
        kind = o["type"]
        if kind not in ENTITY_KINDS:
            continue
        aid, _ = _attack_ref(o)
        if not _live(reading, o, "entity", f"{fname}: {aid or sid}"):
            continue
        name = str(o.get("name") or aid or sid).strip()
        aliases = _strs(o.get("aliases")) + _strs(o.get("x_mitre_aliases"))
        raw = str(o.get("description") or "")
        out[sid] = Entity(
            stix_id=sid,
            attack_id=aid,
            kind=kind,
            name=name,
            aliases=tuple(a for a in dict.fromkeys(a.strip() for a in aliases) if a and a != name),
            description=clean_attack_text(raw),
            raw_description=raw,
            domain=domain,
        )
        reading.kept["entity"] += 1
    return out


def _prose(reading: _Reading) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for sid, (o, _domain, fname) in reading.objects.items():
        kind = PROSE_KINDS.get(o["type"])
        if kind is None:
            continue
        aid, _ = _attack_ref(o)
        where = f"{fname}: {aid or sid}"
        if not _live(reading, o, "prose", where):
            continue
        # detection strategies carry their text in the name; the others in the description
        text = clean_attack_text(str(o.get("description") or ""), keep_lines=True) or (
            str(o.get("name") or "").strip() if kind == "detection-strategy" else ""
        )
        if not text:
            reading.skips.skip("prose_without_text", where)
            continue
        out.append((kind, aid or sid, text))
        reading.kept["prose"] += 1
    return out


def _tactics(reading: _Reading) -> dict[str, str]:
    out: dict[str, str] = {}
    for o, _domain, _fname in reading.objects.values():
        if o["type"] == "x-mitre-tactic" and not o.get("revoked") and not o.get("x_mitre_deprecated"):
            short = str(o.get("x_mitre_shortname") or "").strip()
            if short and short not in out:
                out[short] = str(o.get("name") or short).strip()
    return out


def _entity_ids(reading: _Reading, entities: dict[str, Entity]) -> dict[str, str]:
    """ATT&CK ID -> STIX id of the live entity it names; a revoked entity's ID names its replacement."""
    out = {e.attack_id: e.stix_id for e in entities.values() if e.attack_id}
    for sid, (o, _domain, _fname) in reading.objects.items():
        if o["type"] in ENTITY_KINDS and o.get("revoked"):
            aid, live = _attack_ref(o)[0], reading.resolve(sid)
            if aid and live in entities:
                out.setdefault(aid, live)
    return out


def _procedures(
    reading: _Reading, techniques: dict[str, str], entities: dict[str, Entity]
) -> tuple[list[Procedure], dict[str, str]]:
    """Procedure examples (``uses`` -> technique) and campaign -> group attributions."""
    by_aid = _entity_ids(reading, entities)
    procs: list[Procedure] = []
    attributed: dict[str, str] = {}
    seen: set[str] = set()
    for r, domain, fname in reading.relationships:
        rt = r.get("relationship_type")
        src, tgt = str(r.get("source_ref", "")), str(r.get("target_ref", ""))
        if rt == "attributed-to" and not r.get("revoked") and not r.get("x_mitre_deprecated"):
            c, g = reading.resolve(src), reading.resolve(tgt)
            if c in entities and g in entities and entities[c].kind == "campaign":
                attributed.setdefault(c, g)
            continue
        if rt != "uses" or not tgt.startswith("attack-pattern--"):
            continue
        where = f"{fname}: {r.get('id')}"
        if not _live(reading, r, "procedure", where):
            continue
        if r["id"] in seen:
            reading.skips.skip("duplicate_relationship", where)
            continue
        seen.add(r["id"])
        raw = r.get("description")
        if not isinstance(raw, str) or not raw.strip():
            reading.skips.skip("procedure_without_description", where)
            continue
        t_sid, s_sid = reading.resolve(tgt), reading.resolve(src)
        if tgt not in reading.objects:
            reading.skips.skip("unknown_technique", where)
            continue
        if t_sid is None or t_sid not in techniques:
            why = "revoked_without_replacement" if reading.objects[tgt][0].get("revoked") else "deprecated"
            reading.skips.skip(f"technique_{why}", where)
            continue
        if s_sid is None or s_sid not in entities:
            why = "unknown" if src not in reading.objects else "deprecated_or_revoked"
            reading.skips.skip(f"source_{why}", where)
            continue
        if t_sid != tgt:
            reading.skips.note("technique_revoked_moved_to_replacement", where)
        if s_sid != src:
            reading.skips.note("source_revoked_moved_to_replacement", where)
        text = clean_attack_text(raw)
        if not text:
            reading.skips.skip("procedure_empty_after_cleaning", where)
            continue
        source = entities[s_sid]
        mentions = tuple(dict.fromkeys(by_aid[a] for _, a, kind in link_targets(raw) if a in by_aid))
        procs.append(
            Procedure(
                text=text,
                raw=raw,
                technique=techniques[t_sid],
                source_ref=s_sid,
                source_name=source.name,
                source_kind=source.kind,
                citations=_citations(r, raw),
                mentions=mentions,
                domain=domain,
                relationship_id=r["id"],
            )
        )
        reading.kept["procedure"] += 1
    return procs, attributed


def read_attack(paths: str | Path | Iterable[str | Path], *, skips: SkipCounter | None = None) -> AttackKB:
    """Read one or more ATT&CK STIX bundles into an :class:`AttackKB`.

    Parameters
    ----------
    paths : bundle files (``enterprise-attack.json``, ``mobile-attack.json.gz``...), any ATT&CK release,
        plain or compressed; objects that occur in several bundles (shared software) are read once.
    skips : counts every row left out (revoked, deprecated, no description...) and, as notes, the
        procedures moved to the replacement of a revoked technique or source.

    Raises
    ------
    DataError
        A missing, empty, truncated or non-JSON file, or one that is not a STIX bundle (naming the file).
    """
    skips = counter(skips)
    if isinstance(paths, str | Path):
        paths = [paths]
    bundles = [load_stix_bundle(p) for p in paths]
    if not bundles:
        raise DataError("no ATT&CK bundle given (expected e.g. <data>/attack/enterprise-attack.json.gz)")
    reading = _Reading(skips)
    domains = _index(reading, bundles)
    techniques, by_stix = _techniques(reading)
    entities = _entities(reading)
    procedures, attributed = _procedures(reading, by_stix, entities)
    kb = AttackKB(
        techniques=techniques,
        procedures=procedures,
        entities=entities,
        prose=_prose(reading),
        tactics=_tactics(reading),
        attributed=attributed,
        domains=tuple(domains),
    )
    kb.read_report = {
        "files": [str(p) for p, _ in bundles],
        "objects": sum(len(objs) for _, objs in bundles),
        "rows_in": dict(reading.rows),
        "kept": dict(reading.kept),
        "skips": skips.as_dict(),
        "notes": skips.notes_dict(),
    }
    return kb
