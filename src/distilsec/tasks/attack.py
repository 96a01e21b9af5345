"""ATT&CK task data: procedure examples -> technique labels, negatives, a leak-free split by source.

The steps, each counted in :attr:`AttackData.report`:

1. read the ATT&CK bundles of ``options.domains`` (:func:`~distilsec.data.readers.attack_stix.read_attack`)
   and, when asked, CAPEC; every procedure example becomes an :class:`~distilsec.data.example.Example`
   labelled with its technique ID, its text cleaned (links to names, citations removed) and, with
   ``names="generic"``, the names of groups, software and campaigns replaced by ``the group``... ;
2. negatives (label ``"none"``, see :func:`build_negatives`): text that is about ATT&CK entities or
   defences but shows no technique, and generated report boilerplate; training-only extras: the first
   sentences of each technique's description and the CAPEC patterns linked to a technique;
3. records that copy a benchmark passage are removed (:func:`decontaminate_records`);
4. the split by **source** (:func:`split_by_source`): the unit is the group, software or campaign a
   procedure comes from (a campaign joins the group it is attributed to); units sharing the most cited
   reports are joined into capped clusters, and clusters are dealt to test/val/train in a hashed order,
   each to the part furthest below its share of records; then
   val and test are **purged** of every record that cites a report a record of an earlier part cites,
   links to an entity whose unit is in an earlier part, or repeats an earlier part's text;
5. the audits: :func:`check_no_leak` (must find nothing), the benchmark re-check (must find nothing) and
   :func:`shortcut_audit` (how far the actor/software *name* alone predicts the technique).

Why a source split and the purge: ATT&CK procedures of one actor are written from the same few reports,
often by the same analyst, with the same phrasing; a random split puts sentences of one report on both
sides, and a tagger then scores on recall of the report, not on reading new ones. The issue's target is
real reports the project never sees, so the held-out part must be other actors and other reports.
A pure connected-component split (entity + citation) is impossible: shared reports link nearly every
entity into one component. Dealing units and purging what still touches an earlier part is the honest
approximation; the purge counts say what it cost.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distilsec.data.attack_text import (
    citation_keys,
    clean_attack_text,
    link_targets,
    split_sentences,
    strip_citations,
)
from distilsec.data.example import Example
from distilsec.data.paths import ENV_VAR, resolve_data_dir
from distilsec.data.readers.attack_stix import AttackKB, Entity, read_attack
from distilsec.data.skips import SkipCounter
from distilsec.errors import ConfigError, DataError
from distilsec.tasks import Task, get_task

__all__ = [
    "TASK",
    "NONE",
    "AttackDataOptions",
    "AttackData",
    "prepare_attack_data",
    "attack_paths",
    "procedure_examples",
    "build_negatives",
    "boilerplate_sentences",
    "training_extras",
    "split_by_source",
    "check_no_leak",
    "decontaminate_records",
    "read_benchmarks",
    "shortcut_audit",
]

log = logging.getLogger("distilsec.data")

TASK: Task = get_task("attack")
#: the label of a sentence that shows no technique
NONE = "none"
PARTS = ("train", "val", "test")
#: the sources of records that only ever train (never held out: they are not report text)
TRAINING_ONLY = ("technique-description", "capec")
_DOMAIN_FILES = {"enterprise-attack", "mobile-attack", "ics-attack"}


@dataclass(frozen=True)
class AttackDataOptions:
    """How the ATT&CK examples are built and split (the defaults are those of ``configs/attack-techniques.yaml``)."""

    #: which ATT&CK matrices to read: ``enterprise-attack``, ``mobile-attack``, ``ics-attack``
    domains: tuple[str, ...] = ("enterprise-attack",)
    #: ``generic``: names of groups, software, campaigns -> ``the group``... (learn behaviour, not names)
    names: Literal["keep", "generic"] = "generic"
    #: add negatives (label ``none``)
    negatives: bool = True
    #: at most this many negatives (a hashed, reproducible sample); None: all
    negatives_max: int | None = None
    #: the first <= 3 sentences of each technique's description as training-only examples
    technique_descriptions: bool = True
    #: CAPEC descriptions linked to a technique as training-only examples
    capec: bool = True
    val_fraction: float = 0.1
    test_fraction: float = 0.15
    #: techniques with fewer procedure examples than this (over all parts) are left out
    min_examples: int = 1
    random_state: int = 0
    #: decontamination: a record of at least this many words inside a benchmark passage is removed
    decontamination_min_words: int = 8
    #: decontamination: Jaccard of character 5-gram sets at or above which a record nearly copies a
    #: benchmark sentence or passage
    decontamination_threshold: float = 0.7

    def __post_init__(self) -> None:
        unknown = sorted(set(self.domains) - _DOMAIN_FILES)
        if not self.domains or unknown:
            raise ConfigError(f"attack domains must be among {sorted(_DOMAIN_FILES)}, got {list(self.domains)}")
        if self.names not in ("keep", "generic"):
            raise ConfigError(f"attack names must be 'keep' or 'generic', got {self.names!r}")
        if not (
            0 <= self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1
        ):
            raise ConfigError(
                f"attack val_fraction + test_fraction must be below 1 (got {self.val_fraction} + {self.test_fraction})"
            )
        if self.min_examples < 1:
            raise ConfigError(f"attack min_examples must be >= 1, got {self.min_examples}")
        if self.negatives_max is not None and self.negatives_max < 0:
            raise ConfigError(f"attack negatives_max must be >= 0 or null, got {self.negatives_max}")


@dataclass
class AttackData:
    """The split examples (``label``: technique ID or ``"none"``), the knowledge base and the report."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    kb: AttackKB
    report: dict[str, Any] = field(default_factory=dict)

    def parts(self) -> dict[str, list[Example]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    @property
    def classes(self) -> list[str]:
        """The labels seen in training, ``"none"`` included."""
        return sorted({str(e.label) for e in self.train})


# --- inputs -----------------------------------------------------------------------------------------------


def _existing(base: Path, stem: str) -> Path:
    for suffix in (".json.gz", ".json", ".json.xz", ".json.bz2"):
        p = base / f"{stem}{suffix}"
        if p.is_file():
            return p
    raise DataError(
        f"{base / (stem + '.json.gz')} not found: put the STIX bundle there, or point {ENV_VAR} (or --data-dir) "
        "at a data folder holding attack/ and capec/"
    )


def attack_paths(options: AttackDataOptions, data_dir: str | Path | None = None) -> tuple[list[Path], Path | None]:
    """The ATT&CK bundle of each domain and the CAPEC bundle (None unless ``options.capec``) under the data folder."""
    root = resolve_data_dir(data_dir, required=("attack", "capec") if options.capec else ("attack",))
    bundles = [_existing(root / "attack", d) for d in options.domains]
    capec = _existing(root / "capec", "stix-capec") if options.capec else None
    return bundles, capec


# --- examples ---------------------------------------------------------------------------------------------


def _units(kb: AttackKB) -> dict[str, str]:
    """Entity STIX id -> split unit: its ATT&CK ID; a campaign takes the unit of the group it is attributed to."""
    own = {sid: e.attack_id or sid for sid, e in kb.entities.items()}
    return {sid: own.get(kb.attributed.get(sid, ""), own[sid]) for sid in kb.entities}


def _naming(kb: AttackKB) -> dict[str, str]:
    """ATT&CK ID -> entity kind, so that software links become ``the malware`` or ``the tool``."""
    return {e.attack_id: e.kind for e in kb.entities.values() if e.attack_id}


def _mask(entity: Entity | None) -> dict[str, list[str]]:
    """The names of ``entity`` replaced wherever they occur unlinked (not tools: ``netsh``, ``at`` are words)."""
    if entity is None or entity.kind == "tool":
        return {}
    return {entity.kind: [entity.name, *entity.aliases]}


def _clean(raw: str, options: AttackDataOptions, kinds: Mapping[str, str], entity: Entity | None = None) -> str:
    if options.names == "keep":
        return clean_attack_text(raw)
    return clean_attack_text(raw, "generic", kinds=kinds, mask=_mask(entity))


def procedure_examples(kb: AttackKB, options: AttackDataOptions) -> list[Example]:
    """One example per procedure: label = technique ID, group = the source's unit, id = the relationship id."""
    units, kinds = _units(kb), _naming(kb)
    out = []
    for p in kb.procedures:
        t = kb.techniques[p.technique]
        entity = kb.entities.get(p.source_ref)
        text = _clean(p.raw, options, kinds, entity) if options.names == "generic" else p.text
        if not text:
            continue
        out.append(
            Example(
                text=text,
                label=p.technique,
                group=units[p.source_ref],
                source=p.source_kind,
                id=p.relationship_id,
                meta={
                    "source_name": p.source_name,
                    "citations": p.citations,
                    "mentions": p.mentions,
                    "domain": p.domain,
                    "parent": t.parent,
                    "tactics": t.tactics,
                },
            )
        )
    return out


#: words of a description sentence that *does* something a technique names: such a sentence is no fair
#: negative (``The group has targeted individuals via spearphishing``), so it is left out
_BEHAVIOUR = re.compile(
    r"\b(?:(?:has|have|had)\s+(?:also\s+|previously\s+|reportedly\s+)?(?:used|leveraged|deployed|employed)"
    r"|us(?:es|ing)\b|leverag|deploy|employ|exploit|phish|spearphish|watering[- ]hole|install|execut|download"
    r"|upload|steal|stole|harvest|dump|credential|inject|persist|exfiltrat|encrypt|lateral|escalat|brute"
    r"|keylog|screenshot|command[- ]and[- ]control|c2\b|tunnel|proxy|proxies|obfuscat|scann|compromis"
    r"|webshell|web shell|wip(?:e|er|ing)\b|delet|destr|disabl|modif|bypass|evad|evasion|collect|captur"
    r"|spread|propagat|vulnerabilit|zero[- ]day|cve-|backdoor(?:ed|ing)\b|implant(?:ed|ing)\b"
    r"|impersonat|masquerad|abus|hijack|intercept|sideload|side-load|loads?\b|drops?\b|dropp(?:ed|ing))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Negative:
    text: str
    kind: str
    unit: str
    mentions: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()
    source_name: str = ""


def _entity_negatives(kb: AttackKB, options: AttackDataOptions, dropped: Counter[str]) -> list[_Negative]:
    """Sentences of group and campaign descriptions and the first sentence of software descriptions."""
    units, kinds = _units(kb), _naming(kb)
    by_aid = {e.attack_id: e.stix_id for e in kb.entities.values() if e.attack_id}
    out = []
    for sid, e in kb.entities.items():
        if not e.raw_description:
            continue
        cites = citation_keys(e.raw_description)
        sentences = split_sentences(strip_citations(e.raw_description))
        if e.kind in ("malware", "tool"):
            sentences = sentences[:1]
        for s in sentences:
            text = _clean(s, options, kinds, e)
            if len(text.split()) < 4:
                dropped["too_short"] += 1
                continue
            if _BEHAVIOUR.search(clean_attack_text(s)):
                dropped[f"behaviour_cue:{e.kind}"] += 1
                continue
            mentions = tuple(dict.fromkeys(by_aid[a] for _, a, _k in link_targets(s) if a in by_aid))
            out.append(_Negative(text, e.kind, units[sid], mentions, cites, e.name))
    return out


#: prose kinds used as negatives: what data a defender collects and what a mitigation does is report text
#: (a recommendations section) that must not be tagged; analytics and detection strategies are left out:
#: they restate the technique they detect (``Detection of suspicious use of tscon.exe to hijack RDP``)
NEGATIVE_PROSE = ("data-source", "data-component", "mitigation")


def _prose_negatives(kb: AttackKB, dropped: Counter[str]) -> list[_Negative]:
    out = []
    for kind, oid, text in kb.prose:
        if kind not in NEGATIVE_PROSE:
            continue
        for s in split_sentences(text):
            if len(s.split()) < 4:
                dropped["too_short"] += 1
                continue
            out.append(_Negative(s, kind, f"prose:{oid}"))
    return out


_VENDORS = ("Northwind Threat Research", "Blue Harbor Labs", "Contoso CERT", "Fabrikam Security", "Tailspin Intel")
_MONTHS = ("January", "February", "March", "April", "May", "June")
_MONTHS += ("July", "August", "September", "October", "November", "December")
#: (template id, template); ``{...}`` slots are filled from :func:`_fill`
_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("tlp", "TLP:{tlp} - this report may be shared {tlp_rule}."),
    ("tlp-header", "Traffic Light Protocol: {tlp}."),
    ("published", "Published {date} by {vendor}."),
    ("updated", "Last updated on {date}."),
    ("revision", "Revision {n}.{m} of this report was released on {date}."),
    ("contact", "For questions about this report, contact {email}."),
    ("contact-phone", "Readers can reach the {vendor} team at {email} or +1-555-01{n}{m}."),
    ("ioc-table", "Table {n}: Indicators of compromise observed during the investigation."),
    ("ioc-hashes", "Table {n} lists the SHA-256 hashes of the files described in this report."),
    ("ioc-appendix", "A full list of indicators is available in Appendix {letter}."),
    ("figure", "Figure {n}: Timeline of the activity described in this report."),
    ("describes", "This report describes the activity of a threat actor tracked by {vendor} since {year}."),
    ("summary", "This summary is intended for network defenders and security leadership."),
    ("disclaimer", "The information in this report is provided as is, without warranty of any kind."),
    ("copyright", "Copyright {year} {vendor}. All rights reserved."),
    ("acknowledgement", "{vendor} thanks its partners for their assistance with this analysis."),
    ("scope", "This analysis covers events observed between {month} {year} and {month2} {year2}."),
    ("confidence", "{vendor} assesses with {level} confidence that the activity is linked to a single actor."),
    ("toc", "Table of contents: {n}. Executive summary, {m}. Technical analysis, {k}. Recommendations."),
    ("report-id", "Report ID: {vendor_short}-{year}-{n}{m}{k}."),
    ("distribution", "Distribution of this document is limited to {audience}."),
    ("feedback", "We welcome feedback on this report at {email}."),
    ("author", "Written by the {vendor} research team on {date}."),
    ("references", "References are listed at the end of this document."),
    ("yara", "Appendix {letter} contains detection rules shared with this report."),
    ("subscribe", "Subscribe to {vendor} advisories to receive future updates."),
    ("glossary", "A glossary of the terms used in this report follows the appendices."),
    ("version-note", "This version supersedes the report published on {date}."),
    ("sector", "Organizations in the {sector} sector are encouraged to review this report."),
    ("page", "Page {n} of {k}."),
)
_BOILERPLATE_SEED = 1414


def _fill(rng: random.Random) -> dict[str, Any]:
    vendor = rng.choice(_VENDORS)
    year = rng.randint(2012, 2025)
    year2 = year + rng.randint(0, 1)
    month = rng.randrange(12)
    month2 = rng.randrange(month, 12) if year2 == year else rng.randrange(12)
    return {
        "tlp": rng.choice(["CLEAR", "WHITE", "GREEN", "AMBER"]),
        "tlp_rule": rng.choice(["without restriction", "within the recipient's community", "with clients only"]),
        "date": f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {year}",
        "vendor": vendor,
        "vendor_short": "".join(w[0] for w in vendor.split()).upper(),
        "email": f"{rng.choice(['intel', 'cti', 'reports', 'research'])}@{vendor.split()[0].lower()}.example",
        "n": rng.randint(1, 9),
        "m": rng.randint(0, 9),
        "k": rng.randint(2, 9),
        "letter": rng.choice("ABCDE"),
        "year": year,
        "year2": year2,
        "month": _MONTHS[month],
        "month2": _MONTHS[month2],
        "level": rng.choice(["low", "moderate", "high"]),
        "audience": rng.choice(["member organizations", "government partners", "customers"]),
        "sector": rng.choice(["energy", "finance", "healthcare", "government", "telecommunications"]),
    }


def boilerplate_sentences(n: int = 300, seed: int = _BOILERPLATE_SEED) -> list[tuple[str, str]]:
    """``(template id, sentence)``: ``n`` report boilerplate sentences (TLP, dates, contacts, table captions...).

    Real reports are mostly such text around a few behaviour sentences; a tagger that fires on a TLP
    marking or an IOC-table caption floods a Navigator layer. Reproducible (fixed seed); duplicates dropped.
    """
    rng = random.Random(seed)
    out: dict[str, str] = {}
    tries = 0
    while len(out) < n and tries < n * 20:
        tid, tpl = _TEMPLATES[tries % len(_TEMPLATES)]
        tries += 1
        s = tpl.format(**_fill(rng))
        out.setdefault(s, tid)
    return [(tid, s) for s, tid in out.items()]


#: section headings of threat reports; with the ATT&CK tactic names they are most of a report's short lines
_HEADINGS = (
    "Executive summary",
    "Summary",
    "Key findings",
    "Introduction",
    "Background",
    "Overview",
    "Technical analysis",
    "Technical details",
    "Analysis",
    "Timeline",
    "Attribution",
    "Victimology",
    "Targeting",
    "Infrastructure",
    "Indicators of compromise",
    "IOCs",
    "Detection",
    "Detections",
    "Hunting queries",
    "Recommendations",
    "Mitigations",
    "Conclusion",
    "Conclusions",
    "Acknowledgements",
    "Acknowledgments",
    "References",
    "Appendix",
    "MITRE ATT&CK mapping",
    "ATT&CK techniques",
    "Tactics, techniques and procedures",
    "Malware analysis",
    "Capabilities",
    "Configuration",
    "Related reports",
    "About the authors",
    "Disclaimer",
    "Contents",
)


def heading_sentences(tactics: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(kind, line)``: report section headings, plain and numbered, and the tactic names as headings.

    A heading such as "Initial access" or "Acknowledgements" is a line of its own in Markdown and HTML reports;
    without them among the negatives a tagger answers "Initial access" with T1190 at 0.95 (seen on a report
    written for the test of ``distilsec attack``).
    """
    names = [*_HEADINGS, *tactics]
    out = []
    for i, name in enumerate(names):
        out.append(("heading", name))
        out.append(("heading", f"{i % 9 + 1}. {name}"))
        out.append(("heading", f"{name} and {names[(i * 7 + 3) % len(names)].lower()}"))
    for tlp in ("CLEAR", "WHITE", "GREEN", "AMBER", "AMBER+STRICT", "RED"):
        out.append(("heading", f"TLP:{tlp}."))
    return out


def build_negatives(kb: AttackKB, options: AttackDataOptions) -> tuple[list[Example], dict[str, Any]]:
    """Sentences that show no technique (label ``"none"``), each in a split unit.

    Why each kind is a fair negative:

    * **group and campaign descriptions** say who an actor is, whom it targets and to whom it is
      attributed (``APT42 is an Iranian-sponsored threat group``): report text around the behaviour, not
      behaviour. Sentences with a behaviour word (``used``, ``phishing``, ``exploit``... see ``_BEHAVIOUR``)
      are left out, counted: they *do* show a technique and are no fair negative. Unit: the entity's unit,
      so they follow the split of its procedures.
    * **the first sentence of software descriptions** says what the software is (``Ixeshe is a malware
      family``), its identity; the later sentences often describe capabilities, so only the first is used,
      with the same behaviour filter.
    * **data sources, data components and mitigations**: text about defenders' data and countermeasures,
      as in a report's detection or recommendations section; a tagger must not fire on ``Disable or remove
      unnecessary software``. Unit: the object (``prose:<ID>``).
    * **generated boilerplate** (:func:`boilerplate_sentences`): TLP markings, publication notes, contact
      lines, table captions. Unit: the template, so that held-out boilerplate comes from unseen templates.
    * **section headings** (:func:`heading_sentences`): "Executive summary", "2. Initial Access", tactic names;
      lines of their own in every report, naming a tactic without showing a technique. Unit: the line.

    Effect on figures: negatives make top-1 over all records higher when a model learns ``none`` well, so
    the report counts them per part; the false tags per 1,000 negative sentences are measured on them.
    """
    dropped: Counter[str] = Counter()
    negs = _entity_negatives(kb, options, dropped) + _prose_negatives(kb, dropped)
    negs += [_Negative(s, "boilerplate", f"boilerplate:{tid}") for tid, s in boilerplate_sentences()]
    tactic_names = sorted(set(kb.tactics.values()))
    negs += [_Negative(s, "heading", f"heading:{_hash_id(s)}") for _, s in heading_sentences(tactic_names)]
    seen: set[str] = set()
    out: list[Example] = []
    for n in negs:
        key = _norm(n.text)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        out.append(
            Example(
                text=n.text,
                label=NONE,
                group=n.unit,
                source=f"negative:{n.kind}",
                id=_hash_id("neg", n.kind, n.unit, n.text),
                meta={
                    "source_name": n.source_name,
                    "citations": n.citations,
                    "mentions": n.mentions,
                    "domain": "",
                    "parent": None,
                    "tactics": (),
                },
            )
        )
    n_all = len(out)
    if options.negatives_max is not None and len(out) > options.negatives_max:
        out = sorted(out, key=lambda e: _rank(e.id, options.random_state))[: options.negatives_max]
        out.sort(key=lambda e: e.id)
    report = {
        "built": n_all,
        "kept": len(out),
        "per_kind": dict(sorted(Counter(e.source.removeprefix("negative:") for e in out).items())),
        "left_out": dict(sorted(dropped.items())),
    }
    return out, report


def training_extras(
    kb: AttackKB, options: AttackDataOptions, capec: Sequence[Any] = ()
) -> tuple[list[Example], dict[str, int]]:
    """Training-only examples: the first <= 3 sentences of each technique description, and CAPEC patterns.

    They are ATT&CK's and CAPEC's own definitions (other wording than the procedures) for techniques,
    including those without any procedure; never report text, so they never sit in val or test.
    """
    kinds = _naming(kb)
    out: list[Example] = []
    counts: Counter[str] = Counter()
    if options.technique_descriptions:
        for tid, t in kb.techniques.items():
            sentences = split_sentences(t.description)[:3]
            text = " ".join(sentences)
            if not text:
                continue
            if options.names == "generic":
                text = clean_attack_text(text, "generic", kinds=kinds)
            out.append(_extra(text, tid, t, "technique-description", f"technique:{tid}"))
            counts["technique-description"] += 1
    for pat in capec:
        for tid in pat.techniques:
            t = kb.techniques.get(tid)
            if t is None or not pat.description:
                counts["capec_technique_not_read"] += 1
                continue
            out.append(_extra(pat.description, tid, t, "capec", f"capec:{pat.id}"))
            counts["capec"] += 1
    return out, dict(counts)


def _extra(text: str, tid: str, t: Any, source: str, unit: str) -> Example:
    return Example(
        text=text,
        label=tid,
        group=unit,
        source=source,
        id=_hash_id(source, unit, tid, text),
        meta={
            "source_name": "",
            "citations": (),
            "mentions": (),
            "domain": t.domain,
            "parent": t.parent,
            "tactics": t.tactics,
        },
    )


# --- split ------------------------------------------------------------------------------------------------


def _hash_id(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _rank(key: str, random_state: int) -> str:
    return hashlib.sha1(f"{random_state}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


_NORM = re.compile(r"[^\w]+")


def _norm(text: str) -> str:
    """Lower-cased words only: the key under which two texts are the same text."""
    return " ".join(_NORM.sub(" ", text.lower()).split())


def _deal(units: Counter[str], fractions: Mapping[str, float], random_state: int) -> dict[str, str]:
    """Unit -> part: units in hashed order, each to the part furthest below its share of records."""
    done: Counter[str] = Counter()
    out: dict[str, str] = {}
    total = sum(units.values())
    for unit in sorted(units, key=lambda u: _rank(u, random_state)):
        part = min(fractions, key=lambda p: (done[p] / (fractions[p] * total) if fractions[p] else 1e9, PARTS.index(p)))
        out[unit] = part
        done[part] += units[unit]
    return out


def _purge(
    part: list[Example],
    earlier: Sequence[Example],
    unit_part: Mapping[str, str],
    earlier_parts: set[str],
    units_of: Mapping[str, str],
) -> tuple[list[Example], Counter[str]]:
    """``part`` without records that touch ``earlier``: a shared citation, a link to an earlier unit, the same text."""
    cites = {c for e in earlier for c in e.meta.get("citations", ())}
    texts = {_norm(e.text) for e in earlier}
    kept: list[Example] = []
    why: Counter[str] = Counter()
    for e in part:
        if cites.intersection(e.meta.get("citations", ())):
            why["shared_citation"] += 1
        elif any(unit_part.get(units_of.get(m, ""), "") in earlier_parts for m in e.meta.get("mentions", ())):
            why["mentions_earlier_unit"] += 1
        elif _norm(e.text) in texts:
            why["same_text"] += 1
        else:
            kept.append(e)
    return kept, why


#: a report cited by more units than this links them all only weakly; its pairs are not weighed (their
#: number grows with the square): the purge still separates what it cites
_MAX_UNITS_PER_CITATION = 200


def _link_weights(examples: Sequence[Example], units_of: Mapping[str, str]) -> Counter[tuple[str, str]]:
    """(unit, unit) -> how many records the purge would drop if the two units sat on different sides.

    A report cited by ``n_a`` records of unit a and ``n_b`` of unit b weighs ``min(n_a, n_b)``; a record
    linking to an entity of another unit weighs 1.
    """
    by_cite: dict[str, Counter[str]] = defaultdict(Counter)
    weights: Counter[tuple[str, str]] = Counter()
    for e in examples:
        for c in e.meta.get("citations", ()):
            by_cite[c][e.group] += 1
        for m in e.meta.get("mentions", ()):
            other = units_of.get(m)
            if other and other != e.group:
                weights[(min(e.group, other), max(e.group, other))] += 1
    for counts in by_cite.values():
        units = sorted(counts)
        if len(units) > _MAX_UNITS_PER_CITATION:
            continue
        for i, a in enumerate(units):
            for b in units[i + 1 :]:
                weights[(a, b)] += min(counts[a], counts[b])
    return weights


def _clusters(sizes: Counter[str], weights: Counter[tuple[str, str]], cap: int) -> dict[str, str]:
    """Unit -> cluster: units joined along their strongest links first, while a cluster holds <= ``cap`` records.

    Without the cap, shared reports join nearly every unit into one component; with it, the units that
    share the most reports end up on the same side and the purge drops few records (on ATT&CK
    Enterprise about 10% of val and test instead of half).
    """
    root = {u: u for u in sizes}
    size = dict(sizes)

    def find(u: str) -> str:
        while root[u] != u:
            root[u] = root[root[u]]
            u = root[u]
        return u

    for (a, b), _w in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
        if a not in root or b not in root:
            continue
        ra, rb = find(a), find(b)
        if ra != rb and size[ra] + size[rb] <= cap:
            ra, rb = min(ra, rb), max(ra, rb)
            root[rb] = ra
            size[ra] += size[rb]
    return {u: find(u) for u in sizes}


def split_by_source(
    examples: Sequence[Example],
    kb: AttackKB,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.15,
    random_state: int = 0,
) -> tuple[dict[str, list[Example]], dict[str, Any]]:
    """Train/val/test by unit (:attr:`Example.group`), then val and test purged against the parts before them.

    Units that share cited reports or link to each other are first joined into clusters of at most a
    quarter of the smaller held-out part (:func:`_clusters`), and clusters are dealt to the parts. Training-only
    records (technique descriptions, CAPEC) always go to train. The purge removes from val every record
    citing a report a train record cites, linking to an entity whose unit is in train, or repeating a train
    text (lower-cased words); test likewise against train + val (after val's purge).
    """
    units_of = _units(kb)
    fixed = [e for e in examples if e.source in TRAINING_ONLY]
    rest = [e for e in examples if e.source not in TRAINING_ONLY]
    sizes = Counter(e.group for e in rest)
    fractions = {"test": test_fraction, "val": val_fraction, "train": 1 - val_fraction - test_fraction}
    held_out = [f for f in (val_fraction, test_fraction) if f > 0]
    cap = max(1, int(min(held_out) * len(rest) / 4))
    cluster_of = _clusters(sizes, _link_weights(rest, units_of), cap)
    cluster_sizes: Counter[str] = Counter()
    for unit, cluster in cluster_of.items():
        cluster_sizes[cluster] += sizes[unit]
    dealt = _deal(cluster_sizes, fractions, random_state)
    unit_part = {unit: dealt[cluster] for unit, cluster in cluster_of.items()}
    for e in fixed:
        unit_part.setdefault(e.group, "train")
    parts: dict[str, list[Example]] = {p: [] for p in PARTS}
    for e in [*fixed, *rest]:
        parts[unit_part[e.group]].append(e)
    before = {p: len(v) for p, v in parts.items()}
    purged: dict[str, dict[str, int]] = {}
    parts["val"], why = _purge(parts["val"], parts["train"], unit_part, {"train"}, units_of)
    purged["val"] = dict(why)
    parts["test"], why = _purge(parts["test"], parts["train"] + parts["val"], unit_part, {"train", "val"}, units_of)
    purged["test"] = dict(why)
    report = {
        "unit": TASK.split_unit,
        "units": {p: sum(1 for u, q in unit_part.items() if q == p and u in sizes) for p in PARTS},
        "clusters": {
            "count": len(cluster_sizes),
            "cap_records": cap,
            "largest_records": max(cluster_sizes.values(), default=0),
        },
        "before_purge": before,
        "purged": purged,
        "purged_total": {p: sum(v.values()) for p, v in purged.items()},
        "after_purge": {p: len(v) for p, v in parts.items()},
    }
    return parts, report


def check_no_leak(data: AttackData | Mapping[str, Sequence[Example]], kb: AttackKB | None = None) -> dict[str, int]:
    """Violations of the split's promises (all must be 0): units, citations or texts on two sides; val/test
    records linking to an entity whose unit is in an earlier part.

    ``data`` is an :class:`AttackData` or a mapping ``{"train": [...], "val": [...], "test": [...]}``;
    ``kb`` (taken from ``data`` when it is an AttackData) resolves the units of linked entities.
    """
    if isinstance(data, AttackData):
        kb = kb or data.kb
        parts: Mapping[str, Sequence[Example]] = data.parts()
    else:
        parts = data
    units_of = _units(kb) if kb is not None else {}
    where_unit: dict[str, set[str]] = defaultdict(set)
    where_cite: dict[str, set[str]] = defaultdict(set)
    where_text: dict[str, set[str]] = defaultdict(set)
    for name, part in parts.items():
        for e in part:
            where_unit[e.group].add(name)
            where_text[_norm(e.text)].add(name)
            for c in e.meta.get("citations", ()):
                where_cite[c].add(name)
    unit_part = {u: next(iter(ps)) for u, ps in where_unit.items() if len(ps) == 1}
    mentions = 0
    for name, earlier in (("val", {"train"}), ("test", {"train", "val"})):
        for e in parts.get(name, ()):
            if any(unit_part.get(units_of.get(m, ""), "") in earlier for m in e.meta.get("mentions", ())):
                mentions += 1
    return {
        "units_on_two_sides": sum(len(ps) > 1 for ps in where_unit.values()),
        "citations_on_two_sides": sum(len(ps) > 1 for ps in where_cite.values()),
        "texts_on_two_sides": sum(len(ps) > 1 for ps in where_text.values()),
        "mentions_of_earlier_units": mentions,
    }


# --- decontamination --------------------------------------------------------------------------------------


def read_benchmarks(paths: Sequence[str | Path]) -> tuple[list[str], dict[str, Any]]:
    """Every passage of every benchmark file (CTI-Bench ATE TSV or plain text), with per-file counts."""
    from distilsec.data.readers.cti_ate import read_benchmark_passages

    passages: list[str] = []
    info: dict[str, Any] = {}
    for p in paths:
        skips = SkipCounter()
        got = read_benchmark_passages(p, skips=skips)
        passages += got
        info[str(p)] = {"passages": len(got), "skips": skips.as_dict()}
    return passages, info


class _Substrings:
    """Which texts (as lower-cased words) occur inside a benchmark passage: an index of word 8-grams."""

    def __init__(self, passages: Sequence[str], min_words: int) -> None:
        self.n = min_words
        self.words = [_norm(p).split() for p in passages]
        self.index: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        for i, w in enumerate(self.words):
            for j in range(len(w) - self.n + 1):
                self.index[tuple(w[j : j + self.n])].append((i, j))

    def inside(self, text: str) -> bool:
        w = _norm(text).split()
        if len(w) < self.n:
            return False
        return any(self.words[i][j : j + len(w)] == w for i, j in self.index.get(tuple(w[: self.n]), ()))


def decontaminate_records(
    examples: Sequence[Example],
    passages: Sequence[str],
    *,
    min_words: int = 8,
    threshold: float = 0.7,
    cache: Any = None,
) -> tuple[list[Example], dict[str, Any]]:
    """``examples`` without those inside a benchmark passage or nearly copying a benchmark sentence or passage.

    Two tests: the record's words (lower-cased, >= ``min_words`` of them) occur as a run inside a passage;
    or the Jaccard of character 5-gram sets with a benchmark sentence or passage is >= ``threshold``
    (:func:`distilsec.data.decontaminate.near_copies_of`, MinHash LSH checked exactly, the CVE task's test).
    """
    from distilsec.data.decontaminate import near_copies_of, new_cache

    if not passages:
        return list(examples), {"removed": 0}
    t0 = time.perf_counter()
    subs = _Substrings(passages, min_words)
    reference = list(dict.fromkeys([*passages, *(s for p in passages for s in split_sentences(p))]))
    cache = cache or new_cache()
    inside = {i for i, e in enumerate(examples) if subs.inside(e.text)}
    rest = [i for i in range(len(examples)) if i not in inside]
    copies = near_copies_of([examples[i].text for i in rest], reference, threshold, cache=cache)
    near = {rest[k] for k in copies}
    kept = [e for i, e in enumerate(examples) if i not in inside and i not in near]
    removed = sorted(inside | near)
    report = {
        "passages": len(passages),
        "reference_texts": len(reference),
        "min_words": min_words,
        "threshold": threshold,
        "removed": len(removed),
        "removed_by_reason": {"inside_passage": len(inside), "near_copy": len(near)},
        "removed_by_source": dict(Counter(examples[i].source for i in removed)),
        "removed_examples": [examples[i].text[:120] for i in removed[:10]],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return kept, report


def _audit_contamination(
    parts: Mapping[str, Sequence[Example]], passages: Sequence[str], options: AttackDataOptions, cache: Any
) -> dict[str, int]:
    out = {}
    for name, part in parts.items():
        _, rep = decontaminate_records(
            part,
            passages,
            min_words=options.decontamination_min_words,
            threshold=options.decontamination_threshold,
            cache=cache,
        )
        out[name] = rep["removed"]
    return out


# --- shortcut audit ---------------------------------------------------------------------------------------


def shortcut_audit(data: AttackData | Mapping[str, Sequence[Example]], *, random_state: int = 0) -> dict[str, Any]:
    """How well the actor/software *name* alone predicts the technique (procedure records only).

    A TF-IDF (word unigrams and bigrams of ``meta["source_name"]``) + logistic regression (fitted by SGD on
    the log loss: lbfgs needs ~50 s for 600 classes, this ~3 s), scored by top-1: (a) on a random 85/15 row
    split of all procedures, where each name is seen in training; (b) trained on the train part, scored on
    the test part of the source split, where test names are unseen. Also the majority-class baseline of
    each, and how often a procedure's text still holds its source's name (``names="generic"`` should make
    that rare).

    Reading it: in ATT&CK each (source, technique) pair is *one* relationship, so a name never repeats with
    a technique it was seen with and (a) is near 0 as well: names carry no technique to memorise. What a
    random split leaks is the *report* (the same analyst's sentences on both sides), which the purge of
    shared citations removes.
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier

    parts = data.parts() if isinstance(data, AttackData) else data
    procs = {
        name: [e for e in part if e.label != NONE and e.source not in TRAINING_ONLY] for name, part in parts.items()
    }

    def fit_score(train: Sequence[Example], test: Sequence[Example]) -> dict[str, Any]:
        out: dict[str, Any] = {"n_train": len(train), "n_test": len(test), "top1": None, "majority_top1": None}
        if not train or not test:
            return out
        y_tr = [str(e.label) for e in train]
        y_te = np.array([str(e.label) for e in test])
        out["majority_top1"] = round(float((y_te == Counter(y_tr).most_common(1)[0][0]).mean()), 4)
        if len(set(y_tr)) < 2:
            out["top1"] = out["majority_top1"]
            return out
        vec = TfidfVectorizer(token_pattern=r"[^\s]+", ngram_range=(1, 2), lowercase=True)
        x_tr = vec.fit_transform([str(e.meta.get("source_name", "")) for e in train])
        x_te = vec.transform([str(e.meta.get("source_name", "")) for e in test])
        clf = SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=3, tol=None, random_state=random_state)
        clf.fit(x_tr, y_tr)
        out["top1"] = round(float((clf.predict(x_te) == y_te).mean()), 4)
        return out

    t0 = time.perf_counter()
    pooled = [e for part in procs.values() for e in part]
    order = sorted(pooled, key=lambda e: _rank(e.id, random_state))
    cut = int(round(len(order) * 0.85))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 epochs are on purpose: "did not converge" is expected
        out: dict[str, Any] = {
            "predictor": "TF-IDF of the source name + logistic regression (SGD), top-1 over techniques",
            "random_row_split": fit_score(order[:cut], order[cut:]),
            "source_split": fit_score(procs.get("train", []), procs.get("test", [])),
        }
    named = sum(1 for e in pooled if _name_in(str(e.meta.get("source_name", "")), e.text))
    out["name_in_text_rate"] = round(named / max(1, len(pooled)), 4)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def _name_in(name: str, text: str) -> bool:
    return len(name) >= 3 and re.search(r"(?<![\w.-])" + re.escape(name) + r"(?![\w-])", text) is not None


# --- the whole preparation --------------------------------------------------------------------------------


def _filter_rare(procs: list[Example], min_examples: int, report: dict[str, Any]) -> list[Example]:
    counts = Counter(str(e.label) for e in procs)
    rare = {t for t, n in counts.items() if n < min_examples}
    report["min_examples"] = {"threshold": min_examples, "techniques_left_out": len(rare)}
    report["min_examples"]["records_left_out"] = sum(counts[t] for t in rare)
    return [e for e in procs if e.label not in rare] if rare else procs


def _describe(parts: Mapping[str, Sequence[Example]], kb: AttackKB) -> dict[str, Any]:
    """Counts per part, per source kind, and class coverage."""
    out: dict[str, Any] = {"records": {p: len(v) for p, v in parts.items()}}
    out["per_source"] = {p: dict(sorted(Counter(e.source for e in v).items())) for p, v in parts.items()}
    classes = {p: {str(e.label) for e in v if e.label != NONE} for p, v in parts.items()}
    train = classes.get("train", set())
    out["classes"] = {p: len(c) for p, c in classes.items()}
    out["parents"] = {p: len({kb.parent_of(t) for t in c}) for p, c in classes.items()}
    for p in ("val", "test"):
        missing = classes.get(p, set()) - train
        out[f"{p}_classes_absent_from_train"] = len(missing)
        out[f"{p}_records_of_classes_absent_from_train"] = sum(1 for e in parts.get(p, ()) if e.label in missing)
        out[f"{p}_negatives"] = sum(1 for e in parts.get(p, ()) if e.label == NONE)
    out["train_negatives"] = sum(1 for e in parts.get("train", ()) if e.label == NONE)
    # the same without the training-only definitions (which cover every technique): which held-out
    # techniques no *procedure* of train shows
    proc_classes = {
        p: {str(e.label) for e in v if e.label != NONE and e.source not in TRAINING_ONLY} for p, v in parts.items()
    }
    seen = proc_classes.get("train", set())
    out["procedure_classes"] = {p: len(c) for p, c in proc_classes.items()}
    for p in ("val", "test"):
        missing = proc_classes.get(p, set()) - seen
        out[f"{p}_classes_without_train_procedures"] = len(missing)
        out[f"{p}_records_of_classes_without_train_procedures"] = sum(1 for e in parts.get(p, ()) if e.label in missing)
    return out


def prepare_attack_data(
    options: AttackDataOptions | None = None,
    data_dir: str | Path | None = None,
    *,
    benchmarks: Sequence[str | Path] = (),
    skips: SkipCounter | None = None,
) -> AttackData:
    """Everything from the STIX bundles to split, purged, decontaminated examples and their report.

    Parameters
    ----------
    options : what to build (defaults: :class:`AttackDataOptions`).
    data_dir : the data folder holding ``attack/`` (and ``capec/``); default ``$DISTILSEC_DATA`` or
        ``../shared/data``.
    benchmarks : CTI-Bench ATE TSV files or plain text files whose passages no record may copy.
    skips : counts the rows the readers left out (also in ``report["read"]``).

    Raises
    ------
    DataError
        A missing bundle (naming the path and ``DISTILSEC_DATA``), a broken file, no procedure read, or a
        benchmark file with nothing to protect.
    """
    options = options or AttackDataOptions()
    t0 = time.perf_counter()
    report: dict[str, Any] = {"options": {k: getattr(options, k) for k in options.__dataclass_fields__}}
    # protected passages first: a benchmark file that protects nothing stops before the reading
    passages, report_bench = read_benchmarks(benchmarks) if benchmarks else ([], {})
    bundles, capec_path = attack_paths(options, data_dir)
    skips = skips if skips is not None else SkipCounter()
    kb = read_attack(bundles, skips=skips)
    if not kb.procedures:
        read = ", ".join(map(str, bundles))
        raise DataError(f"no ATT&CK procedure example read from {read} (skips: {skips.as_dict()})")
    capec: list[Any] = []
    capec_skips = SkipCounter()
    if capec_path is not None:
        from distilsec.data.readers.capec import read_capec

        capec = read_capec(capec_path, skips=capec_skips)
    report["read"] = {**kb.read_report, "capec_patterns": len(capec), "capec_skips": capec_skips.as_dict()}

    procs = _filter_rare(procedure_examples(kb, options), options.min_examples, report)
    report["procedures"] = {"records": len(procs), "techniques": len({e.label for e in procs})}
    report["procedures"]["per_source_kind"] = dict(sorted(Counter(e.source for e in procs).items()))
    records = list(procs)
    if options.negatives:
        negs, report["negatives"] = build_negatives(kb, options)
        records += negs
    extras, report["training_extras"] = training_extras(kb, options, capec)
    classes = {e.label for e in procs}
    extras = [e for e in extras if e.label in classes or options.min_examples <= 1]
    records += extras

    cache = None
    if passages:
        from distilsec.data.decontaminate import new_cache

        cache = new_cache()
        records, rep = decontaminate_records(
            records,
            passages,
            min_words=options.decontamination_min_words,
            threshold=options.decontamination_threshold,
            cache=cache,
        )
        report["decontamination"] = {"benchmarks": report_bench, **rep}

    parts, report["split"] = split_by_source(
        records,
        kb,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        random_state=options.random_state,
    )
    data = AttackData(parts["train"], parts["val"], parts["test"], kb, report)
    report.update(_describe(parts, kb))
    report["leak_check"] = check_no_leak(data)
    if any(report["leak_check"].values()):
        raise RuntimeError(f"the ATT&CK split leaks (a bug): {report['leak_check']}")
    if passages:
        report["decontamination"]["final_audit"] = _audit_contamination(parts, passages, options, cache)
    report["shortcut_audit"] = shortcut_audit(data, random_state=options.random_state)
    report["skips"] = skips.as_dict()
    report["seconds"] = round(time.perf_counter() - t0, 2)
    log.info(
        "ATT&CK data: %d train / %d val / %d test records, %d classes in train (%.1f s)",
        len(data.train),
        len(data.val),
        len(data.test),
        report["classes"]["train"],
        report["seconds"],
    )
    return data
