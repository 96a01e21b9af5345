"""ATT&CK as passages and links: techniques, mitigations (with why they apply), detections, groups, software.

The reader (:mod:`distilsec.data.readers.attack_stix`) gives techniques, procedures and entities; the links
a defender asks about live in raw relationships it does not return: ``mitigates`` (course-of-action ->
attack-pattern, whose own description says *how* the mitigation applies to that technique) and, since
ATT&CK v18, ``detects`` (detection strategy -> attack-pattern), with the strategy's analytics naming the
data components they read (``x_mitre_log_source_references[].x_mitre_data_component_ref``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distilsec.data.attack_text import clean_attack_text
from distilsec.data.knowledge.links import KnowledgeLinks, ProcedureLink
from distilsec.data.knowledge.passage import Passage
from distilsec.data.readers.attack_stix import AttackKB, load_stix_bundle, read_attack
from distilsec.data.skips import SkipCounter

__all__ = ["attack_knowledge", "ATTACK_SOURCES"]

_ENTITY_KIND = {"intrusion-set": "group", "malware": "software", "tool": "software", "campaign": "campaign"}
_ATTACK_REF_SOURCES = ("mitre-attack", "mitre-mobile-attack", "mitre-ics-attack")
ATTACK_SOURCES = ("enterprise-attack", "mobile-attack", "ics-attack")


def _aid(o: dict[str, Any]) -> str:
    for ref in o.get("external_references") or ():
        if isinstance(ref, dict) and ref.get("source_name") in _ATTACK_REF_SOURCES and ref.get("external_id"):
            return str(ref["external_id"]).strip()
    return ""


def _url(o: dict[str, Any]) -> str:
    for ref in o.get("external_references") or ():
        if isinstance(ref, dict) and ref.get("source_name") in _ATTACK_REF_SOURCES:
            return str(ref.get("url") or "")
    return ""


def _live(o: dict[str, Any]) -> bool:
    return not o.get("revoked") and not o.get("x_mitre_deprecated")


class _Raw:
    """Live objects of the bundles by STIX id, and the relationships, for the links the reader does not keep."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.relationships: list[dict[str, Any]] = []
        for p in paths:
            _, objs = load_stix_bundle(p)
            for o in objs:
                if not isinstance(o, dict) or not isinstance(o.get("id"), str):
                    continue  # counted by read_attack
                if o.get("type") == "relationship":
                    self.relationships.append(o)
                else:
                    self.objects.setdefault(o["id"], o)

    def live_aid(self, stix_id: str) -> str:
        o = self.objects.get(stix_id)
        return _aid(o) if o is not None and _live(o) else ""


def _technique_passages(kb: AttackKB, links: KnowledgeLinks) -> list[Passage]:
    out: list[Passage] = []
    for tid, t in kb.techniques.items():
        name = kb.name_of(tid) or t.name
        links.technique_names[tid] = name
        links.technique_tactics[tid] = tuple(kb.tactics.get(s, s.replace("-", " ").title()) for s in t.tactics)
        if t.parent:
            links.technique_parent[tid] = t.parent
        tactics = ", ".join(links.technique_tactics[tid])
        head = f"Tactics: {tactics}. Platforms: {', '.join(t.platforms)}.".replace(" Platforms: .", "")
        out.append(
            Passage(tid, tid, "technique", name, f"{head}\n{t.description}".strip(), f"attack:{t.domain}", t.url)
        )
    return out


def _prose_passages(raw: _Raw, links: KnowledgeLinks, skips: SkipCounter) -> list[Passage]:
    kinds = {
        "course-of-action": ("mitigation", links.mitigation_names),
        "x-mitre-data-component": ("data-component", links.data_component_names),
        "x-mitre-detection-strategy": ("detection-strategy", links.detection_names),
    }
    out: list[Passage] = []
    for o in raw.objects.values():
        hit = kinds.get(str(o.get("type")))
        if hit is None or not _live(o):
            continue
        aid = _aid(o)
        if not aid:
            skips.skip(f"{hit[0]}_without_attack_id", str(o.get("id")))
            continue
        name = str(o.get("name") or aid).strip()
        hit[1].setdefault(aid, name)
        text = clean_attack_text(str(o.get("description") or ""), keep_lines=True) or name
        out.append(
            Passage(aid, aid, hit[0], name, text, f"attack:{(o.get('x_mitre_domains') or ['attack'])[0]}", _url(o))
        )
    return out


def _entity_passages(kb: AttackKB) -> list[Passage]:
    out: list[Passage] = []
    seen: set[str] = set()
    for e in kb.entities.values():
        if not e.attack_id or e.attack_id in seen or not e.description:
            continue
        seen.add(e.attack_id)
        aliases = f" Also known as: {', '.join(e.aliases)}." if e.aliases else ""
        out.append(
            Passage(
                e.attack_id, e.attack_id, _ENTITY_KIND[e.kind], e.name, e.description + aliases, f"attack:{e.domain}"
            )
        )
    return out


def _link_mitigations(raw: _Raw, kb: AttackKB, links: KnowledgeLinks, skips: SkipCounter) -> None:
    for r in raw.relationships:
        if r.get("relationship_type") != "mitigates":
            continue
        if not _live(r):
            skips.skip("mitigates_relationship_retired", str(r.get("id")))
            continue
        mid, tid = raw.live_aid(str(r.get("source_ref"))), raw.live_aid(str(r.get("target_ref")))
        if mid not in links.mitigation_names or tid not in kb.techniques:
            skips.skip("mitigates_relationship_dangling", str(r.get("id")))
            continue
        why = clean_attack_text(str(r.get("description") or ""))
        pairs = links.technique_mitigations.setdefault(tid, [])
        if mid not in {m for m, _ in pairs}:
            pairs.append((mid, why))


def _link_detections(raw: _Raw, kb: AttackKB, links: KnowledgeLinks, skips: SkipCounter) -> None:
    for r in raw.relationships:
        if r.get("relationship_type") != "detects":
            continue
        src = raw.objects.get(str(r.get("source_ref")))
        det, tid = raw.live_aid(str(r.get("source_ref"))), raw.live_aid(str(r.get("target_ref")))
        if not _live(r) or src is None or det not in links.detection_names or tid not in kb.techniques:
            skips.skip("detects_relationship_dangling_or_retired", str(r.get("id")))
            continue
        dets = links.technique_detections.setdefault(tid, [])
        if det not in dets:
            dets.append(det)
        comps = links.technique_data_components.setdefault(tid, [])
        for an_ref in src.get("x_mitre_analytic_refs") or ():
            analytic = raw.objects.get(str(an_ref))
            if analytic is None or not _live(analytic):
                continue
            for ls in analytic.get("x_mitre_log_source_references") or ():
                dc = raw.live_aid(str(ls.get("x_mitre_data_component_ref"))) if isinstance(ls, dict) else ""
                if dc in links.data_component_names and dc not in comps:
                    comps.append(dc)


def _link_passages(kb: AttackKB, links: KnowledgeLinks) -> list[Passage]:
    """Per technique: its mitigations with why, and its detection strategies and data components (open book)."""
    out: list[Passage] = []
    src = "attack:relationships"
    for tid in kb.techniques:
        name = links.technique_names[tid]
        mits = links.technique_mitigations.get(tid, [])
        if mits:
            lines = [f"- {m} {links.mitigation_names[m]}: {why}".rstrip(": ") for m, why in mits]
            out.append(Passage(f"{tid}#mitigations", tid, "technique", f"Mitigations of {name}", "\n".join(lines), src))
        dets, comps = links.technique_detections.get(tid, []), links.technique_data_components.get(tid, [])
        if dets or comps:
            lines = [f"- detection strategy {d} {links.detection_names[d]}" for d in dets]
            lines += [f"- data component {c} {links.data_component_names[c]}" for c in comps]
            out.append(Passage(f"{tid}#detection", tid, "technique", f"Detection of {name}", "\n".join(lines), src))
    return out


def attack_knowledge(
    paths: Sequence[Path], links: KnowledgeLinks, *, skips: SkipCounter
) -> tuple[list[Passage], dict[str, Any]]:
    """Passages of every live ATT&CK object worth reading, and the ATT&CK links filled into ``links``."""
    kb = read_attack(paths, skips=skips)
    raw = _Raw(paths)
    passages = _technique_passages(kb, links)
    passages += _prose_passages(raw, links, skips)
    passages += _entity_passages(kb)
    _link_mitigations(raw, kb, links, skips)
    _link_detections(raw, kb, links, skips)
    passages += _link_passages(kb, links)
    for p in kb.procedures:
        links.procedures.append(ProcedureLink(p.text, p.technique, p.source_name, p.relationship_id))
    report = dict(kb.read_report)
    report["links"] = {
        "techniques_with_mitigations": len(links.technique_mitigations),
        "mitigates_pairs": sum(len(v) for v in links.technique_mitigations.values()),
        "techniques_with_detections": len(links.technique_detections),
        "techniques_with_data_components": sum(1 for v in links.technique_data_components.values() if v),
    }
    return passages, report
