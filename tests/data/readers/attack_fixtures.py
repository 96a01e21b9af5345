"""Tiny hand-built ATT&CK and CAPEC STIX bundles, written to a temporary folder by the tests that need them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

URL = "https://attack.mitre.org"


def sid(kind: str, n: int) -> str:
    """A STIX id of ``kind`` whose UUID ends with ``n`` (readable in failures)."""
    return f"{kind}--00000000-0000-4000-8000-{n:012d}"


def technique(
    n: int,
    tid: str,
    name: str,
    tactics: tuple[str, ...] = ("execution",),
    *,
    description: str = "",
    revoked: bool = False,
    deprecated: bool = False,
    sub: bool | None = None,
    chain: str = "mitre-attack",
) -> dict[str, Any]:
    return {
        "type": "attack-pattern",
        "id": sid("attack-pattern", n),
        "name": name,
        "description": description or f"Adversaries may {name.lower()}.(Citation: Doc {tid})",
        "kill_chain_phases": [{"kill_chain_name": chain, "phase_name": t} for t in tactics]
        + [{"kill_chain_name": "lockheed", "phase_name": "delivery"}],
        "external_references": [
            {"source_name": "mitre-attack", "external_id": tid, "url": f"{URL}/techniques/{tid.replace('.', '/')}"},
            {"source_name": f"Doc {tid}", "url": "https://docs.example/x"},
        ],
        "x_mitre_is_subtechnique": "." in tid if sub is None else sub,
        "x_mitre_platforms": ["Windows"],
        "x_mitre_domains": ["enterprise-attack"],
        "revoked": revoked,
        "x_mitre_deprecated": deprecated,
    }


def entity(
    kind: str,
    n: int,
    aid: str,
    name: str,
    description: str = "",
    aliases: tuple[str, ...] = (),
    *,
    revoked: bool = False,
    deprecated: bool = False,
) -> dict[str, Any]:
    path = {"intrusion-set": "groups", "campaign": "campaigns"}.get(kind, "software")
    obj = {
        "type": kind,
        "id": sid(kind, n),
        "name": name,
        "description": description or f"[{name}]({URL}/{path}/{aid}) is a {kind}.(Citation: About {name})",
        "external_references": [{"source_name": "mitre-attack", "external_id": aid, "url": f"{URL}/{path}/{aid}"}],
        "revoked": revoked,
        "x_mitre_deprecated": deprecated,
    }
    if kind in ("malware", "tool"):
        obj["x_mitre_aliases"] = [name, *aliases]
    else:
        obj["aliases"] = [name, *aliases]
    return obj


def rel(
    n: int,
    rtype: str,
    src: str,
    tgt: str,
    description: str = "",
    citations: tuple[str, ...] = (),
    *,
    revoked: bool = False,
    deprecated: bool = False,
) -> dict[str, Any]:
    return {
        "type": "relationship",
        "id": sid("relationship", n),
        "relationship_type": rtype,
        "source_ref": src,
        "target_ref": tgt,
        "description": description,
        "external_references": [
            {"source_name": c, "url": f"https://reports.example/{i}"} for i, c in enumerate(citations)
        ],
        "revoked": revoked,
        "x_mitre_deprecated": deprecated,
    }


def link(name: str, aid: str) -> str:
    path = {"G": "groups", "S": "software", "C": "campaigns", "T": "techniques"}[aid[0]]
    return f"[{name}]({URL}/{path}/{aid.replace('.', '/')})"


def tiny_objects() -> list[dict[str, Any]]:
    """One bundle with every case the reader handles.

    Techniques: T1059 (parent), T1059.001 (sub, linked by subtechnique-of), T1105, T1000 (revoked by T1105),
    T1002 (deprecated). Entities: group G0001 (APT-Test, alias "Test Panda"), malware S0001 (EvilRat),
    tool S0002 (NetTool), campaign C0001 attributed to G0001, a revoked group G0009 (revoked by G0001),
    a deprecated malware S0009. Procedures (uses -> technique), relationship number: 1 G0001->T1059.001,
    2 S0001->T1105, 3 S0001->T1000 (revoked: moved to T1105), 4 S0002->T1002 (deprecated target: skipped),
    5 C0001->T1059, 6 a revoked relationship, 7 a deprecated relationship, 8 no description,
    9 G0009->T1105 (revoked source: moved to G0001), 10 S0009->T1059 (deprecated source: skipped).
    """
    g, m, t, c = (
        sid("intrusion-set", 1),
        sid("malware", 1),
        sid("tool", 2),
        sid("campaign", 1),
    )
    t1059, t1059_1, t1105, t1000, t1002 = (sid("attack-pattern", i) for i in (1, 2, 3, 4, 5))
    g_old, m_old = sid("intrusion-set", 9), sid("malware", 9)
    return [
        {"type": "identity", "id": "identity--1", "name": "MITRE"},
        {
            "type": "x-mitre-matrix",
            "id": "x-mitre-matrix--1",
            "name": "Enterprise ATT&CK",
            "external_references": [{"source_name": "mitre-attack", "external_id": "enterprise-attack"}],
        },
        {
            "type": "x-mitre-tactic",
            "id": "x-mitre-tactic--1",
            "name": "Execution",
            "x_mitre_shortname": "execution",
        },
        {
            "type": "x-mitre-tactic",
            "id": "x-mitre-tactic--2",
            "name": "Command and Control",
            "x_mitre_shortname": "command-and-control",
        },
        technique(1, "T1059", "Command and Scripting Interpreter"),
        technique(2, "T1059.001", "PowerShell"),
        technique(3, "T1105", "Ingress Tool Transfer", ("command-and-control",)),
        technique(4, "T1000", "Old Transfer", revoked=True),
        technique(5, "T1002", "Old Compression", deprecated=True),
        entity(
            "intrusion-set",
            1,
            "G0001",
            "APT-Test",
            f"{link('APT-Test', 'G0001')} is a threat group attributed to a fictional state.(Citation: Vendor A 2020) "
            f"The group has used {link('EvilRat', 'S0001')} to download files.(Citation: Vendor A 2020)",
            ("Test Panda",),
        ),
        entity("malware", 1, "S0001", "EvilRat", "", ("ERat",)),
        entity("tool", 2, "S0002", "NetTool"),
        entity("campaign", 1, "C0001", "Operation Test"),
        entity("intrusion-set", 9, "G0009", "Old Group", revoked=True),
        entity("malware", 9, "S0009", "Gone Rat", deprecated=True),
        rel(100, "subtechnique-of", t1059_1, t1059),
        rel(101, "revoked-by", t1000, t1105),
        rel(102, "revoked-by", g_old, g),
        rel(103, "attributed-to", c, g),
        rel(104, "uses", g, m, "APT-Test uses EvilRat."),
        rel(
            1,
            "uses",
            g,
            t1059_1,
            f"{link('APT-Test', 'G0001')} has run <code>powershell -enc</code> via "
            f"{link('EvilRat', 'S0001')}.(Citation: Vendor A 2020)(Citation: CISA Alert (AA20-1))",
            ("Vendor A 2020", "CISA Alert (AA20-1)"),
        ),
        rel(
            2,
            "uses",
            m,
            t1105,
            f"{link('EvilRat', 'S0001')} can download files. EvilRat also uploads them.(Citation: Vendor B 2021)",
            ("Vendor B 2021",),
        ),
        rel(
            3,
            "uses",
            m,
            t1000,
            f"{link('EvilRat', 'S0001')} transfers tools.(Citation: Vendor B 2021)",
            ("Vendor B 2021",),
        ),
        rel(4, "uses", t, t1002, f"{link('NetTool', 'S0002')} compresses data.", ("Vendor C",)),
        rel(5, "uses", c, t1059, f"During {link('Operation Test', 'C0001')}, actors ran scripts.", ("Vendor D",)),
        rel(6, "uses", m, t1059, "Revoked relationship.", revoked=True),
        rel(7, "uses", m, t1059, "Deprecated relationship.", deprecated=True),
        rel(8, "uses", t, t1059, ""),
        rel(9, "uses", g_old, t1105, f"{link('Old Group', 'G0009')} downloaded a tool.", ("Vendor E",)),
        rel(10, "uses", m_old, t1059, f"{link('Gone Rat', 'S0009')} runs scripts.", ("Vendor F",)),
        {
            "type": "x-mitre-data-component",
            "id": "x-mitre-data-component--1",
            "name": "Process Creation",
            "description": "The initial construction of a new process.\n\n- Event ID 4688: a process was created.",
            "external_references": [{"source_name": "mitre-attack", "external_id": "DC0032"}],
        },
        {
            "type": "x-mitre-data-source",
            "id": "x-mitre-data-source--1",
            "name": "Old Source",
            "description": "Deprecated data source text.",
            "x_mitre_deprecated": True,
        },
        {
            "type": "course-of-action",
            "id": "course-of-action--1",
            "name": "Disable or Remove Feature",
            "description": "Remove or deny access to unnecessary and potentially vulnerable software.",
            "external_references": [{"source_name": "mitre-attack", "external_id": "M1042"}],
        },
        {"type": "x-mitre-detection-strategy", "id": "x-mitre-detection-strategy--1", "name": "Detect scripts"},
    ]


def write_bundle(path: Path, objects: list[Any], *, gz: bool | None = None) -> Path:
    """``objects`` as a STIX bundle at ``path`` (gzip when the name ends with .gz, or when ``gz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps({"type": "bundle", "id": "bundle--1", "spec_version": "2.1", "objects": objects}).encode()
    if gz if gz is not None else path.suffix == ".gz":
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def capec_objects() -> list[dict[str, Any]]:
    def pattern(n: int, status: str, attack: list[str], cwes: list[str], description: str) -> dict[str, Any]:
        return {
            "type": "attack-pattern",
            "id": sid("attack-pattern", 900 + n),
            "name": f"Pattern {n}",
            "description": description,
            "external_references": [
                {"source_name": "capec", "external_id": f"CAPEC-{n}"},
                *({"source_name": "cwe", "external_id": c} for c in cwes),
                *({"source_name": "ATTACK", "external_id": a} for a in attack),
            ],
            "x_capec_status": status,
            "x_capec_abstraction": "Standard",
            "x_capec_likelihood_of_attack": "High",
            "x_capec_typical_severity": "Medium",
        }

    return [
        pattern(1, "Stable", ["T1059", "1059.001"], ["CWE-78", "CWE-78", "79"], "An adversary runs <b>scripts</b>."),
        pattern(2, "Deprecated", ["T1105"], [], "Deprecated."),
        pattern(3, "Draft", ["T1105/001", "bogus"], [], "An adversary transfers tools to the victim."),
        {"type": "attack-pattern", "id": "attack-pattern--x", "name": "No id", "external_references": []},
        {"type": "course-of-action", "id": "course-of-action--x", "name": "CoA"},
    ]


def make_data_dir(root: Path, objects: list[Any] | None = None) -> Path:
    """``root/attack/enterprise-attack.json.gz`` and ``root/capec/stix-capec.json.gz``; returns ``root``."""
    write_bundle(root / "attack" / "enterprise-attack.json.gz", objects if objects is not None else tiny_objects())
    write_bundle(root / "capec" / "stix-capec.json.gz", capec_objects())
    return root
