"""The entity split: held-out techniques (whole families), CWEs and CAPEC entries no training record mentions.

A record belongs to the held-out side when *any* entity it lists or any ATT&CK / CWE / CAPEC ID its text
names is held out: a question about a training technique whose answer is a held-out CWE would otherwise
teach the held-out fact. Techniques are held out by family (a parent with its sub-techniques), because
``T1548.002`` names ``T1548``.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable

from distilsec.data.instruct.records import Record
from distilsec.data.instruct.templates import family
from distilsec.data.knowledge.links import KnowledgeLinks

__all__ = ["choose_heldout", "held_set", "mentioned_ids", "record_touches", "touches_heldout", "val_bucket"]

_IDS = re.compile(r"(?<![\w-])(T\d{4}(?:\.\d{3})?|CWE-\d+|CAPEC-\d+)(?![\w-])", re.IGNORECASE)


def mentioned_ids(text: str) -> set[str]:
    """ATT&CK technique, CWE and CAPEC IDs named in ``text`` (upper-cased), with each sub-technique's parent."""
    out: set[str] = set()
    for m in _IDS.finditer(text):
        eid = m.group(1).upper()
        out.add(eid)
        out.add(family(eid))
    return out


def choose_heldout(links: KnowledgeLinks, share: float, seed: int) -> dict[str, list[str]]:
    """A seeded ``share`` of technique families, of the CWEs that templates ask about, and of CAPEC entries.

    A family that shares a technique name with a drawn one (the same technique in another matrix) is held
    out with it, so the held-out share of techniques can end slightly above ``share``.

    Only CWEs that a CAPEC entry or a CVE links to are drawn (a CWE no record asks about tests nothing).
    """
    if not 0.0 <= share < 1.0:
        raise ValueError(f"heldout share must be in [0, 1), got {share}")
    rng = random.Random(seed)
    families = sorted({family(t) for t in links.technique_names})
    cwes = sorted({c for cs in links.capec_cwes.values() for c in cs} | {c.cwe for c in links.cves})
    cwes = [c for c in cwes if c in links.cwe_names]
    capecs = sorted(links.capec_names)

    def draw(items: list[str]) -> list[str]:
        k = round(len(items) * share)
        return sorted(rng.sample(items, k)) if items and k else []

    return {"techniques": _same_named(links, draw(families)), "cwes": draw(cwes), "capecs": draw(capecs)}


def _same_named(links: KnowledgeLinks, drawn: list[str]) -> list[str]:
    """``drawn`` families plus every family with a technique of the same name in another matrix (Enterprise
    T1037 and Mobile T1398 are both "Boot or Logon Initialization Scripts"): one would teach the other."""
    by_name: dict[str, set[str]] = {}
    for tid, name in links.technique_names.items():
        by_name.setdefault(name.lower(), set()).add(family(tid))
    held = set(drawn)
    for fams in by_name.values():
        if fams & held:
            held |= fams
    return sorted(held)


def held_set(heldout: dict[str, list[str]]) -> set[str]:
    return {e for ids in heldout.values() for e in ids}


def touches_heldout(entities: Iterable[str], texts: Iterable[str], held: set[str]) -> set[str]:
    """The held-out entities a record lists or whose IDs its texts name (empty: trainable)."""
    found = {e for e in entities if e in held or family(e) in held}
    for t in texts:
        found |= mentioned_ids(t) & held
    return found


def record_touches(r: Record, held: set[str]) -> set[str]:
    return touches_heldout(r.entities, r.texts(), held)


def val_bucket(subject: str, seed: int, share: float) -> bool:
    """Stable per subject: both forms of a subject's records land on the same side of train/val."""
    h = hashlib.sha256(f"{seed}:{subject}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < share
