"""Template generators: instruction records from the knowledge's structured links, in MCQ and free form.

Each template asks about one *subject* (a technique, a CAPEC entry, a CWE, a CVE, a procedure sentence)
and makes one multiple-choice record (the true answer among three distractors of the *same kind*, drawn
from entities not linked to the subject) and one free-answer record (every linked answer, with the why
when ATT&CK gives one). Answer letters rotate through a seeded permutation per template, so each letter
is the answer about a quarter of the time and a model cannot learn a favourite letter.

Distractors of a record whose subject and answer are not held out are drawn only from entities that are
not held out either, so that the entity split does not have to throw such records away.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence

from distilsec.data.instruct.records import LETTERS, Record
from distilsec.data.knowledge.links import KnowledgeLinks
from distilsec.data.skips import SkipCounter

__all__ = ["TEMPLATES", "generate", "family"]

_WHY_CHARS = 300
#: ATT&CK "mitigations" that say there is none: not a distractor, and an answer only when nothing else applies
_NO_MITIGATION = frozenset({"do not mitigate", "mitigation limited or not effective"})
_TID = re.compile(r"^T\d{4}")


def family(eid: str) -> str:
    """The unit held out together: a technique's parent ID (``T1548.002`` -> ``T1548``), else the ID."""
    return eid.split(".", 1)[0] if _TID.match(eid) else eid


def _clip(text: str, n: int = _WHY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


class _Builder:
    """Shared state of the generators: RNG, letter rotation per template, held-out entities, skip counts."""

    def __init__(self, links: KnowledgeLinks, held: set[str], seed: int, skips: SkipCounter) -> None:
        self.links = links
        self.held = held
        self.rng = random.Random(seed)
        self.skips = skips
        self._letters: dict[str, list[int]] = {}

    def is_held(self, eid: str) -> bool:
        return eid in self.held or family(eid) in self.held

    def letter(self, template: str) -> int:
        queue = self._letters.setdefault(template, [])
        if not queue:
            queue.extend(self.rng.sample(range(4), 4))
        return queue.pop()

    def _draw(
        self, pool: Sequence[str], ok: Callable[[str], bool], label: Callable[[str], str], shown: set[str]
    ) -> list[str]:
        """Three distinct acceptable distractors: random probes first (pools are large, answers few), then a
        full scan of the shuffled pool when probing finds too few (small pools, many exclusions)."""
        picked: list[str] = []

        def take(c: str) -> None:
            text = label(c).lower()
            if c not in picked and text and text not in shown and ok(c):
                picked.append(c)
                shown.add(text)

        for _ in range(60):
            if len(picked) == 3 or not pool:
                break
            take(pool[self.rng.randrange(len(pool))])
        if len(picked) < 3:
            rest = list(pool)
            self.rng.shuffle(rest)
            for c in rest:
                if len(picked) == 3:
                    break
                take(c)
        return picked

    def mcq(
        self,
        template: str,
        subject: str,
        question: str,
        answer: str,
        pool: Sequence[str],
        exclude: set[str],
        label: Callable[[str], str],
        provenance: Sequence[str],
        core: str = "",
        extra_entities: Sequence[str] = (),
    ) -> Record | None:
        """A 4-option record whose distractors come from ``pool`` (same kind), none in ``exclude`` or held out
        (unless the record is about held-out entities anyway), none showing the answer's text."""
        strict = not (self.is_held(subject) or self.is_held(answer))

        def ok(c: str) -> bool:
            return c not in exclude and family(c) not in exclude and not (strict and self.is_held(c))

        # a distractor may not *read* like any true answer either: ATT&CK's matrices reuse names under other
        # IDs (Enterprise M1051 and ICS M0951 are both "Update Software")
        shown = {label(answer).lower()} | {t.lower() for t in map(_safe_label(label), exclude) if t}
        picked = self._draw(pool, ok, label, shown)
        if len(picked) < 3:
            self.skips.skip(f"{template}_too_few_distractors", subject)
            return None
        pos = self.letter(template)
        ids = list(picked)
        ids.insert(pos, answer)
        return Record(
            id=f"{template}:mcq:{subject}",
            template=template,
            form="mcq",
            subject=subject,
            question=question,
            answer=LETTERS[pos],
            entities=tuple(dict.fromkeys([subject, *extra_entities, *ids])),
            provenance=tuple(dict.fromkeys(provenance)),
            core=core,
            options=tuple(label(i) for i in ids),
        )

    def free(
        self,
        template: str,
        subject: str,
        question: str,
        answer: str,
        entities: Sequence[str],
        provenance: Sequence[str],
        core: str = "",
    ) -> Record:
        return Record(
            id=f"{template}:free:{subject}",
            template=template,
            form="free",
            subject=subject,
            question=question,
            answer=answer,
            entities=tuple(dict.fromkeys([subject, *entities])),
            provenance=tuple(dict.fromkeys(provenance)),
            core=core,
        )

    def pick(self, options: Sequence[str]) -> str:
        """One true answer, preferring one that is not held out (keeps the record trainable)."""
        live = [o for o in options if not self.is_held(o)]
        return self.rng.choice(live or list(options))


def _safe_label(label: Callable[[str], str]) -> Callable[[str], str]:
    """``label`` that answers ``""`` for an ID it does not know (exclusions mix families and entities)."""

    def safe(c: str) -> str:
        try:
            return label(c)
        except (KeyError, ValueError):
            return ""

    return safe


def _mitigation(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    real = {m for m, name in L.mitigation_names.items() if name.lower() not in _NO_MITIGATION}
    pool = sorted(real)
    for tid in sorted(L.technique_mitigations):
        mits = L.technique_mitigations[tid]
        ids = [m for m, _ in mits]
        prov = [tid, f"{tid}#mitigations", *ids]
        q = f"Which mitigation applies to the ATT&CK technique {L.technique_label(tid)}?"
        answer = b.pick([m for m in ids if m in real] or ids)
        yield b.mcq("mitigation", tid, q, answer, pool, set(ids), L.mitigation_names.__getitem__, prov)
        lines = [f"- {m} {L.mitigation_names[m]}" + (f": {_clip(why)}" if why else "") for m, why in mits]
        q = f"Which mitigations apply to the ATT&CK technique {L.technique_label(tid)}, and how?"
        yield b.free("mitigation", tid, q, "\n".join(lines), ids, prov)


def _detection(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.data_component_names)
    for tid in sorted(L.technique_data_components):
        comps = L.technique_data_components[tid]
        if not comps:
            continue
        dets = L.technique_detections.get(tid, [])
        prov = [tid, f"{tid}#detection", *comps]
        q = f"Which data component can be used to detect the ATT&CK technique {L.technique_label(tid)}?"
        yield b.mcq("detection", tid, q, b.pick(comps), pool, set(comps), L.data_component_names.__getitem__, prov)
        lines = [f"- data component {c} {L.data_component_names[c]}" for c in comps]
        lines += [f"- detection strategy {d} {L.detection_names[d]}" for d in dets]
        q = f"Which data components and detection strategies detect the ATT&CK technique {L.technique_label(tid)}?"
        yield b.free("detection", tid, q, "\n".join(lines), [*comps, *dets], prov)


def _tactic(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted({t for ts in L.technique_tactics.values() for t in ts})
    for tid in sorted(L.technique_tactics):
        tactics = L.technique_tactics[tid]
        if not tactics:
            continue
        q = f"Which ATT&CK tactic does the technique {L.technique_label(tid)} serve?"
        ans = b.rng.choice(list(tactics))
        yield b.mcq("tactic", tid, q, ans, pool, set(tactics), str, [tid])
        q = f"Which ATT&CK tactics does the technique {L.technique_label(tid)} belong to?"
        yield b.free("tactic", tid, q, f"{tid} belongs to: {', '.join(tactics)}.", [], [tid])


def _cwe_label(L: KnowledgeLinks) -> Callable[[str], str]:
    return lambda c: f"{c}: {L.cwe_names.get(c, '')}".rstrip(": ")


def _capec_cwe(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.cwe_names)
    for cap in sorted(L.capec_cwes):
        cwes = [c for c in L.capec_cwes[cap] if c in L.cwe_names]
        if not cwes:
            continue
        label = f"{cap} ({L.capec_names[cap]})"
        q = f"Which weakness (CWE) does the CAPEC attack pattern {label} exploit?"
        yield b.mcq("capec_cwe", cap, q, b.pick(cwes), pool, set(cwes), _cwe_label(L), [cap, *cwes])
        ans = "\n".join(f"- {_cwe_label(L)(c)}" for c in cwes)
        yield b.free(
            "capec_cwe",
            cap,
            f"Which CWE weaknesses are related to the CAPEC attack pattern {label}?",
            ans,
            cwes,
            [cap, *cwes],
        )


def _cwe_capec(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.capec_names)
    for cwe, caps in sorted(L.cwe_capecs().items()):
        if cwe not in L.cwe_names:
            continue
        label = f"{cwe} ({L.cwe_names[cwe]})"
        q = f"Which CAPEC attack pattern exploits the weakness {label}?"
        yield b.mcq("cwe_capec", cwe, q, b.pick(caps), pool, set(caps), L.capec_names.__getitem__, [cwe, *caps])
        ans = "\n".join(f"- {c} {L.capec_names[c]}" for c in caps)
        yield b.free(
            "cwe_capec", cwe, f"Which CAPEC attack patterns exploit the weakness {label}?", ans, caps, [cwe, *caps]
        )


def _technique_names(L: KnowledgeLinks) -> Callable[[str], str]:
    return lambda t: L.technique_names.get(t, "")


def _capec_technique(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.technique_names)
    for cap in sorted(L.capec_techniques):
        techs = [t for t in L.capec_techniques[cap] if t in L.technique_names]
        if not techs:
            continue
        label = f"{cap} ({L.capec_names[cap]})"
        fams = {family(t) for t in techs}
        q = f"Which ATT&CK technique corresponds to the CAPEC attack pattern {label}?"
        yield b.mcq("capec_technique", cap, q, b.pick(techs), pool, fams, _technique_names(L), [cap, *techs])
        ans = "\n".join(f"- {L.technique_label(t)}" for t in techs)
        q = f"Which ATT&CK techniques correspond to the CAPEC attack pattern {label}?"
        yield b.free("capec_technique", cap, q, ans, techs, [cap, *techs])


def _technique_name(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.technique_names)
    for tid in pool:
        q = f"What is the name of the ATT&CK technique {tid}?"
        yield b.mcq("technique_name", tid, q, tid, pool, {tid}, _technique_names(L), [tid])
        q = f'What is the ATT&CK ID of the technique named "{L.technique_names[tid]}"?'
        yield b.free("technique_name", tid, q, tid, [], [tid])


def _cve_cwe(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.cwe_names)
    for c in L.cves:
        q = f"Which CWE weakness does this vulnerability description correspond to?\nDescription: {c.description}"
        r = b.mcq("cve_cwe", c.cve_id, q, c.cwe, pool, {c.cwe}, _cwe_label(L), [c.cve_id, c.cwe], core=c.description)
        if r is not None:
            r.url = f"https://nvd.nist.gov/vuln/detail/{c.cve_id}"
        yield r
        q = f"Map this CVE description to its CWE weakness.\nDescription: {c.description}"
        yield b.free("cve_cwe", c.cve_id, q, _cwe_label(L)(c.cwe), [c.cwe], [c.cve_id, c.cwe], core=c.description)


def _procedure(b: _Builder) -> Iterator[Record | None]:
    L = b.links
    pool = sorted(L.technique_names)
    for p in L.procedures:
        if p.technique not in L.technique_names:
            continue
        subject = p.relationship
        q = f'Which ATT&CK technique does this procedure example describe?\n"{p.text}"'
        fam = {family(p.technique)}
        yield b.mcq(
            "procedure",
            subject,
            q,
            p.technique,
            pool,
            fam,
            _technique_names(L),
            [p.technique],
            core=p.text,
            extra_entities=[p.technique],
        )
        q = f'Which ATT&CK technique (ID and name) does this procedure example describe?\n"{p.text}"'
        yield b.free("procedure", subject, q, L.technique_label(p.technique), [p.technique], [p.technique], core=p.text)


#: template name -> generator
TEMPLATES: dict[str, Callable[[_Builder], Iterator[Record | None]]] = {
    "mitigation": _mitigation,
    "detection": _detection,
    "tactic": _tactic,
    "capec_cwe": _capec_cwe,
    "cwe_capec": _cwe_capec,
    "capec_technique": _capec_technique,
    "technique_name": _technique_name,
    "cve_cwe": _cve_cwe,
    "procedure": _procedure,
}


def generate(
    links: KnowledgeLinks,
    *,
    held: set[str],
    seed: int,
    skips: SkipCounter,
    templates: Sequence[str] | None = None,
) -> list[Record]:
    """Every record of the ``templates`` (all by default), in template order; each template gets its own
    seeded stream so adding one does not change the others."""
    out: list[Record] = []
    for i, name in enumerate(templates or TEMPLATES):
        b = _Builder(links, held, seed * 1000 + i, skips)
        out.extend(r for r in TEMPLATES[name](b) if r is not None)
    return out
