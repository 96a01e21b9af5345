"""The CWE catalog reader: names, parent chains, and what deprecated entries and categories map to."""

from __future__ import annotations

import lzma

import pytest

from distilsec.data.readers.cwe import read_cwe_catalog, read_cwe_csv
from distilsec.errors import DataError
from tests.tasks.cve_fixtures import CWE_XML


@pytest.fixture
def catalog(tmp_path):
    p = tmp_path / "cwec_v4.14.xml.xz"
    p.write_bytes(lzma.compress(CWE_XML.encode()))
    return read_cwe_catalog(tmp_path)


def test_entries_and_parents(catalog):
    assert catalog.version == "4.14"
    assert catalog.name("CWE-89") == "SQL Injection"
    assert catalog.get("CWE-89").parents == ("CWE-74", "CWE-943")  # research view only, Primary first
    assert catalog.parent_chain("CWE-89") == ["CWE-74", "CWE-707"]
    assert catalog.parent_chain("CWE-707") == []
    assert "CWE-79" in catalog and "CWE-5" not in catalog


@pytest.mark.parametrize(
    "cwe,expected",
    [
        ("CWE-79", ("CWE-79", "ok")),
        ("CWE-71", ("CWE-79", "deprecated_mapped")),  # "Please refer to CWE-79"
        ("CWE-264", ("CWE-89", "category_mapped")),  # mapping comments name one weakness
        ("CWE-189", (None, "category_unmapped")),  # ... or two: no single replacement
        ("CWE-1003", (None, "view")),
        ("CWE-99999", (None, "unknown")),
        ("garbage", (None, "unknown")),
    ],
)
def test_resolve(catalog, cwe, expected):
    assert catalog.resolve(cwe) == expected


def test_csv_export(tmp_path):
    header = "CWE-ID,Name,Weakness Abstraction,Status,Description,Related Weaknesses\n"
    rows = (
        '89,"SQL Injection",Base,Stable,"desc",::NATURE:ChildOf:CWE ID:943:VIEW ID:1000::'
        "NATURE:ChildOf:CWE ID:74:VIEW ID:1000:ORDINAL:Primary::,\n"
        '74,"Injection",Class,Incomplete,"desc",,\n'
    )
    p = tmp_path / "1000.csv"
    p.write_text(header + rows)
    cat = read_cwe_csv(p)
    assert cat.get("CWE-89").parents == ("CWE-74", "CWE-943")
    assert cat.resolve("CWE-264") == (None, "unknown")  # CSV views hold no categories


def test_bad_catalogs(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_cwe_catalog(tmp_path / "nope")
    (tmp_path / "cwec_v4.14.xml").write_text("<not-closed")
    with pytest.raises(DataError, match="not valid XML"):
        read_cwe_catalog(tmp_path)
    (tmp_path / "cwec_v4.14.xml").write_text("<Other/>")
    with pytest.raises(DataError, match="not a CWE catalog"):
        read_cwe_catalog(tmp_path)
    bad_csv = tmp_path / "x.csv"
    bad_csv.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="CWE-ID"):
        read_cwe_catalog(bad_csv)


def test_entity_expansion_is_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        '<Weakness_Catalog xmlns="http://cwe.mitre.org/cwe-7">&lol2;</Weakness_Catalog>'
    )
    (tmp_path / "cwec_v4.14.xml").write_text(bomb)
    with pytest.raises(DataError, match="entities"):
        read_cwe_catalog(tmp_path)
