"""Tiny, hand-written CVE data in the real upstream formats (NVD 2.0 / 1.1, CVE JSON 5, CWE XML)."""

from __future__ import annotations

import io
import json
import lzma
import tarfile
from pathlib import Path
from typing import Any

# (CWE, description template, CVSS vector): three weakness families with distinct vocabulary
FAMILIES = [
    (
        "CWE-89",
        "SQL injection in the {p} login page of {v} allows remote attackers to execute arbitrary SQL commands "
        "via the {x} parameter.",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    ),
    (
        "CWE-79",
        "Cross-site scripting (XSS) vulnerability in {p} of {v} allows remote attackers to inject arbitrary web "
        "script or HTML via the {x} field.",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
    ),
    (
        "CWE-787",
        "Out-of-bounds write in the {p} image decoder of {v} allows a local attacker to corrupt heap memory "
        "with a crafted {x} file.",
        "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
    ),
]
PRODUCTS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne"]
FIELDS = ["name", "id", "query", "title", "comment", "order", "png", "tiff", "gif", "bmp", "search", "sort"]


def description(family: int, i: int) -> str:
    cwe, tpl, _ = FAMILIES[family]
    return tpl.format(
        p=f"{PRODUCTS[i % 10]}Module{i}", v=f"{PRODUCTS[(i * 3) % 10]} Suite {i}.{i % 7}", x=FIELDS[i % 12]
    )


def nvd2_item(cve_id: str, desc: str, cwe: str | None, vector: str | None, published: str, **kw: Any) -> dict:
    cve: dict[str, Any] = {
        "id": cve_id,
        "sourceIdentifier": "cve@mitre.org",
        "published": published,
        "vulnStatus": kw.get("status", "Analyzed"),
        "descriptions": [{"lang": "en", "value": desc}, {"lang": "es", "value": "descripción"}],
        "metrics": {},
    }
    if kw.get("no_english"):
        cve["descriptions"] = [{"lang": "es", "value": "solo español"}]
    if cwe is not None:
        cve["weaknesses"] = [
            {"source": "nvd@nist.gov", "type": "Primary", "description": [{"lang": "en", "value": cwe}]}
        ]
    if vector is not None:
        cve["metrics"]["cvssMetricV31"] = [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "cvssData": {"version": "3.1", "vectorString": vector, "baseScore": 9.8},
            }
        ]
    return {"cve": cve}


def nvd2_doc(items: list[dict]) -> dict:
    return {"resultsPerPage": len(items), "format": "NVD_CVE", "version": "2.0", "vulnerabilities": items}


def nvd11_item(cve_id: str, desc: str, cwe: str | None, vector: str | None, published: str) -> dict:
    return {
        "cve": {
            "CVE_data_meta": {"ID": cve_id, "ASSIGNER": "cve@mitre.org"},
            "problemtype": {"problemtype_data": [{"description": [{"lang": "en", "value": cwe}] if cwe else []}]},
            "description": {"description_data": [{"lang": "en", "value": desc}]},
        },
        "impact": {"baseMetricV3": {"cvssV3": {"vectorString": vector, "baseScore": 7.5}}} if vector else {},
        "publishedDate": published,
    }


def nvd11_doc(items: list[dict]) -> dict:
    return {"CVE_data_type": "CVE", "CVE_data_version": "4.0", "CVE_Items": items}


def cve5_record(cve_id: str, desc: str, cwe: str | None, vector: str | None, published: str, **kw: Any) -> dict:
    cna: dict[str, Any] = {"descriptions": [{"lang": "en", "value": desc}], "problemTypes": [], "metrics": []}
    if cwe and not kw.get("adp"):
        cna["problemTypes"] = [{"descriptions": [{"type": "CWE", "cweId": cwe, "lang": "en", "description": cwe}]}]
    if vector:
        cna["metrics"] = [{"cvssV3_1": {"vectorString": vector, "baseScore": 8.8}}]
    adp = [{"providerMetadata": {"shortName": "CISA-ADP"}, "problemTypes": []}]
    if cwe and kw.get("adp"):
        adp[0]["problemTypes"] = [{"descriptions": [{"type": "CWE", "cweId": cwe, "lang": "en"}]}]
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {
            "cveId": cve_id,
            "state": kw.get("state", "PUBLISHED"),
            "assignerShortName": "VulDB",
            "datePublished": published,
        },
        "containers": {"cna": cna, "adp": adp},
    }


def write_xz_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(json.dumps(doc).encode()))
    return path


def write_cve5_tar(path: Path, records: list[dict], extra: dict[str, bytes] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:xz") as tar:
        members = {
            f"{r['cveMetadata']['cveId'][4:8]}/{r['cveMetadata']['cveId']}.json": json.dumps(r).encode()
            for r in records
        }
        members.update(extra or {})
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


CWE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Weakness_Catalog Name="CWE" Version="4.14" Date="2024-02-29" xmlns="http://cwe.mitre.org/cwe-7">
 <Weaknesses>
  <Weakness ID="707" Name="Improper Neutralization" Abstraction="Pillar" Status="Incomplete">
   <Description>The product does not ensure that structured messages are well-formed.</Description>
  </Weakness>
  <Weakness ID="74" Name="Injection" Abstraction="Class" Status="Incomplete">
   <Description>Injection.</Description>
   <Related_Weaknesses>
    <Related_Weakness Nature="ChildOf" CWE_ID="707" View_ID="1000" Ordinal="Primary"/>
   </Related_Weaknesses>
  </Weakness>
  <Weakness ID="89" Name="SQL Injection" Abstraction="Base" Status="Stable">
   <Description>SQL injection.</Description>
   <Related_Weaknesses>
    <Related_Weakness Nature="ChildOf" CWE_ID="943" View_ID="1000"/>
    <Related_Weakness Nature="ChildOf" CWE_ID="74" View_ID="1000" Ordinal="Primary"/>
    <Related_Weakness Nature="ChildOf" CWE_ID="74" View_ID="1003" Ordinal="Primary"/>
   </Related_Weaknesses>
  </Weakness>
  <Weakness ID="79" Name="Cross-site Scripting" Abstraction="Base" Status="Stable">
   <Description>XSS.</Description>
   <Related_Weaknesses>
    <Related_Weakness Nature="ChildOf" CWE_ID="74" View_ID="1000" Ordinal="Primary"/>
   </Related_Weaknesses>
  </Weakness>
  <Weakness ID="119" Name="Improper Restriction of Operations within the Bounds of a Memory Buffer"
   Abstraction="Class" Status="Stable">
   <Description>Memory buffer.</Description>
  </Weakness>
  <Weakness ID="787" Name="Out-of-bounds Write" Abstraction="Base" Status="Draft">
   <Description>Writes past the end.</Description>
   <Related_Weaknesses>
    <Related_Weakness Nature="ChildOf" CWE_ID="119" View_ID="1000" Ordinal="Primary"/>
   </Related_Weaknesses>
  </Weakness>
  <Weakness ID="71" Name="DEPRECATED: Apple .DS_Store" Abstraction="Variant" Status="Deprecated">
   <Description>This entry has been deprecated. Please refer to CWE-79.</Description>
  </Weakness>
 </Weaknesses>
 <Categories>
  <Category ID="264" Name="Permissions, Privileges, and Access Controls" Status="Obsolete">
   <Summary>Access control.</Summary>
   <Mapping_Notes><Usage>Prohibited</Usage>
    <Comments>Some alternatives might be found under SQL Injection (CWE-89).</Comments></Mapping_Notes>
  </Category>
  <Category ID="189" Name="Numeric Errors" Status="Draft">
   <Summary>Numbers.</Summary>
   <Mapping_Notes><Usage>Prohibited</Usage><Comments>See CWE-682 or CWE-681.</Comments></Mapping_Notes>
  </Category>
 </Categories>
 <Views><View ID="1003" Name="Simplified Mapping" Type="Graph" Status="Draft"/></Views>
</Weakness_Catalog>
"""


def make_data_dir(root: Path, n_per_family: int = 14) -> Path:
    """``root/cve/{nvd-api-2.0,nvd-json-1.1,cisa-vulnrichment}`` and ``root/cwe`` with a time-split design:
    NVD records published 2016-2021 (train), CVE JSON 5 records published 2023-2024 (test)."""
    v2, v11, c5 = [], [], []
    k = 0
    for fam, (cwe, _, vector) in enumerate(FAMILIES):
        for i in range(n_per_family):
            k += 1
            desc = description(fam, i)
            if i % 2:
                v2.append(nvd2_item(f"CVE-2016-{1000 + k}", desc, cwe, vector, f"2016-0{1 + i % 9}-01T00:00:00.000"))
            else:
                v11.append(nvd11_item(f"CVE-2019-{1000 + k}", desc, cwe, vector, "2019-05-01T10:00Z"))
        for i in range(n_per_family, n_per_family + 5):
            k += 1
            c5.append(cve5_record(f"CVE-2024-{1000 + k}", description(fam, i), cwe, vector, "2024-03-01T00:00:00Z"))
    # records that curation must drop or remap, each for a stated reason
    v2.append(nvd2_item("CVE-2016-9001", "Rejected entry.", "CWE-79", None, "2016-01-01T00:00:00", status="Rejected"))
    v2.append(
        nvd2_item(
            "CVE-2016-9002", "An unspecified vulnerability exists.", "NVD-CWE-noinfo", None, "2016-01-01T00:00:00"
        )
    )
    v2.append(nvd2_item("CVE-2016-9003", "Only Spanish here.", "CWE-79", None, "2016-01-01T00:00:00", no_english=True))
    v2.append(
        nvd2_item(
            "CVE-2016-9004", "A weakness with an unknown CWE id in Zed.", "CWE-99999", None, "2016-01-01T00:00:00"
        )
    )
    write_xz_json(root / "cve" / "nvd-api-2.0" / "nvdcve-2.0-2016.json.xz", nvd2_doc(v2))
    write_xz_json(root / "cve" / "nvd-json-1.1" / "nvdcve-1.1-2019.json.xz", nvd11_doc(v11))
    write_cve5_tar(root / "cve" / "cisa-vulnrichment" / "vulnrichment.tar.xz", c5)
    (root / "cwe").mkdir(parents=True, exist_ok=True)
    (root / "cwe" / "cwec_v4.14.xml").write_text(CWE_XML)
    return root


def write_bench_tsv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["URL\tDescription\tPrompt\tGT"]
    for cve_id, desc, gt in rows:
        lines.append(f"https://nvd.nist.gov/vuln/detail/{cve_id}\t{desc}\tMap this CVE: {desc}\t{gt}")
    path.write_text("\n".join(lines) + "\n")
    return path
