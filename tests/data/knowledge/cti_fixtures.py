"""A tiny knowledge folder (ATT&CK v18-style bundle, CAPEC bundle, CWE CSV, NVD 1.1 feed) built by the tests.

Enough entities of each kind for 4-option questions: 12 technique families (one with a sub-technique),
8 mitigations, 8 data components, 10 CWEs, 10 CAPEC entries, 30 CVEs, and the v18 detection chain
(detection strategy -detects-> technique, analytics naming data components). Also one revoked technique,
one dangling ``mitigates`` relationship and one rejected CVE, which the loaders must count, not keep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.data.readers.attack_fixtures import rel, sid, technique, write_bundle
from tests.tasks.cve_fixtures import description, nvd11_doc, nvd11_item, write_xz_json

TACTICS = [
    ("execution", "Execution"),
    ("persistence", "Persistence"),
    ("discovery", "Discovery"),
    ("collection", "Collection"),
    ("impact", "Impact"),
]
N_TECH = 12
N_MIT = 8
N_DC = 8
N_CWE = 10
N_CAPEC = 10
CWE_NAMES = [
    "SQL Injection",
    "Cross-site Scripting",
    "Out-of-bounds Write",
    "Path Traversal",
    "OS Command Injection",
    "Use After Free",
    "Missing Authorization",
    "Hard-coded Credentials",
    "Integer Overflow",
    "Race Condition",
]
CWE_IDS = [89, 79, 787, 22, 78, 416, 862, 798, 190, 362]


def _aid_obj(kind: str, n: int, aid: str, name: str, description: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": sid(kind, n),
        "name": name,
        "description": description,
        "external_references": [{"source_name": "mitre-attack", "external_id": aid, "url": f"https://x/{aid}"}],
        "x_mitre_domains": ["enterprise-attack"],
        **extra,
    }


def attack_objects() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i, (short, name) in enumerate(TACTICS):
        objs.append(_aid_obj("x-mitre-tactic", 500 + i, f"TA000{i}", name, x_mitre_shortname=short))
    for i in range(N_TECH):
        objs.append(technique(i + 1, f"T10{i:02d}", f"Technique Name {i}", (TACTICS[i % 5][0],)))
    objs.append(technique(40, "T1000.001", "Sub Technique Zero", ("execution",)))
    objs.append(rel(4000, "subtechnique-of", sid("attack-pattern", 40), sid("attack-pattern", 1)))
    objs.append(technique(41, "T1099", "Old Technique", revoked=True))
    for m in range(N_MIT):
        objs.append(_aid_obj("course-of-action", 100 + m, f"M10{m:02d}", f"Mitigation Name {m}", f"Mitigation {m}."))
    objs.append(_aid_obj("course-of-action", 120, "M1098", "Do Not Mitigate", "Nothing to do."))
    for d in range(N_DC):
        objs.append(
            _aid_obj("x-mitre-data-component", 200 + d, f"DC00{d:02d}", f"Component Name {d}", f"Component {d}.")
        )
    n_rel = 1000
    for i in range(N_TECH):
        t = sid("attack-pattern", i + 1)
        for m in {i % N_MIT, (i + 3) % N_MIT}:
            n_rel += 1
            objs.append(
                rel(n_rel, "mitigates", sid("course-of-action", 100 + m), t, f"Apply mitigation {m} to T10{i:02d}.")
            )
        an = _aid_obj(
            "x-mitre-analytic",
            300 + i,
            f"AN00{i:02d}",
            f"Analytic {i}",
            x_mitre_log_source_references=[
                {"name": "log", "channel": "c", "x_mitre_data_component_ref": sid("x-mitre-data-component", 200 + d)}
                for d in {i % N_DC, (i + 1) % N_DC}
            ],
        )
        det = _aid_obj(
            "x-mitre-detection-strategy",
            400 + i,
            f"DET00{i:02d}",
            f"Detection of Technique {i}",
            x_mitre_analytic_refs=[an["id"]],
        )
        objs += [an, det]
        n_rel += 1
        objs.append(rel(n_rel, "detects", det["id"], t))
    objs.append(rel(3999, "mitigates", sid("course-of-action", 100), sid("attack-pattern", 999)))  # dangling
    objs.append(_aid_obj("intrusion-set", 600, "G0001", "Group One", "A group.", aliases=["Group One"]))
    for i in range(N_TECH):
        objs.append(
            rel(
                5000 + i,
                "uses",
                sid("intrusion-set", 600),
                sid("attack-pattern", i + 1),
                f"Group One does thing {i} on hosts.",
            )
        )
    return objs


def capec_objects() -> list[dict[str, Any]]:
    out = []
    for n in range(1, N_CAPEC + 1):
        cwes = [f"CWE-{CWE_IDS[(n - 1) % N_CWE]}", f"CWE-{CWE_IDS[n % N_CWE]}"]
        out.append(
            {
                "type": "attack-pattern",
                "id": sid("attack-pattern", 900 + n),
                "name": f"Capec Pattern {n}",
                "description": f"An adversary does pattern {n}.",
                "external_references": [
                    {"source_name": "capec", "external_id": f"CAPEC-{n}"},
                    *({"source_name": "cwe", "external_id": c} for c in cwes),
                    {"source_name": "ATTACK", "external_id": f"10{(n - 1) % N_TECH:02d}"},
                ],
                "x_capec_status": "Stable",
                "x_capec_abstraction": "Standard",
            }
        )
    return out


def cwe_csv() -> str:
    head = "CWE-ID,Name,Weakness Abstraction,Status,Description,Related Weaknesses\n"
    rows = "".join(
        f'{i},"{n}",Base,Stable,"The product has {n.lower()}.",,\n' for i, n in zip(CWE_IDS, CWE_NAMES, strict=True)
    )
    return head + rows


def nvd_items() -> list[dict[str, Any]]:
    fams = ["CWE-89", "CWE-79", "CWE-787"]
    items = [
        nvd11_item(f"CVE-2022-{1000 + i}", description(i % 3, i), fams[i % 3], None, "2022-01-01T00:00Z")
        for i in range(30)
    ]
    items.append(nvd11_item("CVE-2022-2000", "** REJECT ** Do not use.", None, None, "2022-01-01T00:00Z"))
    items.append(
        nvd11_item("CVE-2022-2001", "A bug with no known weakness.", "NVD-CWE-Other", None, "2022-01-01T00:00Z")
    )
    return items


def make_knowledge_dir(root: Path) -> Path:
    """``root/{attack,capec,cwe,cve}`` with the tiny knowledge; returns ``root``."""
    write_bundle(root / "attack" / "enterprise-attack.json.gz", attack_objects())
    write_bundle(root / "capec" / "stix-capec.json.gz", capec_objects())
    (root / "cwe").mkdir(parents=True, exist_ok=True)
    (root / "cwe" / "1000.csv").write_text(cwe_csv(), encoding="utf-8")
    write_xz_json(root / "cve" / "nvd-json-1.1" / "nvdcve-1.1-2022.json.xz", nvd11_doc(nvd_items()))
    for part, lic in (
        ("attack", "ATT&CK Terms of Use"),
        ("capec", "CAPEC Terms of Use"),
        ("cwe", "CWE ToU"),
        ("cve", "CC0"),
    ):
        (root / part / "README.md").write_text(f"# {part} test data\n\nLicence: {lic}.\n", encoding="utf-8")
    return root
