"""NVD 2.0 / 1.1 and CVE JSON 5 readers, the merge by CVE ID, and bad input (errors or counted skips)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilsec.data.cve_record import CveRecord, merge_records, normalise_cwe_id
from distilsec.data.readers.cve5 import read_cve5
from distilsec.data.readers.nvd import read_nvd
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from tests.tasks.cve_fixtures import (
    cve5_record,
    nvd2_doc,
    nvd2_item,
    nvd11_doc,
    nvd11_item,
    write_cve5_tar,
    write_xz_json,
)

V = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def test_nvd_2_0_fields(tmp_path):
    doc = nvd2_doc(
        [
            nvd2_item("CVE-2016-0001", "SQL injection in X.", "CWE-89", V, "2016-02-01T10:00:00.000"),
            nvd2_item("CVE-2016-0002", "Rejected.", "CWE-79", None, "2016-02-01T10:00:00", status="Rejected"),
        ]
    )
    recs = list(read_nvd(write_xz_json(tmp_path / "nvdcve-2.0-2016.json.xz", doc)))
    assert [r.cve_id for r in recs] == ["CVE-2016-0001", "CVE-2016-0002"]
    r = recs[0]
    assert r.description == "SQL injection in X."  # English, not the Spanish entry
    assert r.cwes == ("CWE-89",) and r.cvss_vector == V and r.cvss_score == 9.8
    assert r.source == "nvd-2.0" and r.label_source == "nvd@nist.gov" and r.published.startswith("2016-02-01")
    assert not r.rejected and recs[1].rejected


def test_nvd_2_0_prefers_nvd_weakness_entries(tmp_path):
    item = nvd2_item("CVE-2016-0003", "desc", None, None, "2016-01-01T00:00:00")
    item["cve"]["weaknesses"] = [
        {"source": "cna@vuldb.com", "type": "Primary", "description": [{"lang": "en", "value": "CWE-20"}]},
        {"source": "nvd@nist.gov", "type": "Secondary", "description": [{"lang": "en", "value": "CWE-79"}]},
    ]
    (rec,) = read_nvd(write_xz_json(tmp_path / "f.json.xz", nvd2_doc([item])))
    assert rec.cwes == ("CWE-79",) and rec.label_source == "nvd@nist.gov"


def test_nvd_1_1_fields(tmp_path):
    doc = nvd11_doc([nvd11_item("CVE-2019-0001", "Heap overflow.", "CWE-787", V, "2019-03-01T10:00Z")])
    p = tmp_path / "nvdcve-1.1-2019.json"
    p.write_text(json.dumps(doc))
    (rec,) = read_nvd(p)
    assert (rec.cve_id, rec.cwes, rec.cvss_vector, rec.source) == ("CVE-2019-0001", ("CWE-787",), V, "nvd-1.1")


def test_nvd_folder_mixes_formats_and_counts_bad_files(tmp_path):
    write_xz_json(tmp_path / "a.json.xz", nvd2_doc([nvd2_item("CVE-2016-0101", "a", "CWE-79", None, "2016")]))
    write_xz_json(tmp_path / "b.json.xz", nvd11_doc([nvd11_item("CVE-2019-0101", "b", "CWE-79", None, "2019")]))
    (tmp_path / "c.json").write_text("{not json")
    (tmp_path / "d.json").write_text("")
    skips = SkipCounter()
    recs = list(read_nvd(tmp_path, skips=skips))
    assert {r.source for r in recs} == {"nvd-2.0", "nvd-1.1"}
    assert skips.counts["malformed_feed_file"] == 2


@pytest.mark.parametrize("content", ["", "{broken", "[1, 2]", '{"something": "else"}'])
def test_nvd_single_bad_file_is_a_clear_error(tmp_path, content):
    p = tmp_path / "feed.json"
    p.write_text(content)
    with pytest.raises(DataError, match="feed.json"):
        list(read_nvd(p))


def test_nvd_truncated_xz_is_a_clear_error(tmp_path):
    p = write_xz_json(tmp_path / "feed.json.xz", nvd2_doc([]))
    p.write_bytes(p.read_bytes()[:20])
    with pytest.raises(DataError, match="decompress|JSON|empty"):
        list(read_nvd(p))


def test_nvd_records_without_english_or_id_are_counted(tmp_path):
    items = [
        nvd2_item("CVE-2016-0001", "ok", "CWE-79", None, "2016"),
        nvd2_item("CVE-2016-0002", "x", "CWE-79", None, "2016", no_english=True),
        {"cve": {"descriptions": [{"lang": "en", "value": "no id"}]}},
        "not a dict",
    ]
    skips = SkipCounter()
    recs = list(read_nvd(write_xz_json(tmp_path / "f.json.xz", nvd2_doc(items)), skips=skips))
    assert len(recs) == 1
    assert skips.as_dict() == {"malformed_record": 1, "missing_cve_id": 1, "no_english_description": 1}


def test_cve5_tar_cna_then_adp_and_bad_members(tmp_path):
    records = [
        cve5_record("CVE-2024-0001", "XSS in Y.", "CWE-79", V, "2024-01-02T00:00:00Z"),
        cve5_record("CVE-2024-0002", "SQLi in Z.", "CWE-89", None, "2024-01-03T00:00:00Z", adp=True),
        cve5_record("CVE-2024-0003", "Rejected.", None, None, "", state="REJECTED"),
    ]
    skips = SkipCounter()
    tar = write_cve5_tar(tmp_path / "v.tar.xz", records, extra={"2024/bad.json": b"{oops", "2024/empty.json": b""})
    recs = {r.cve_id: r for r in read_cve5(tar, skips=skips)}
    assert recs["CVE-2024-0001"].label_source == "cna:VulDB" and recs["CVE-2024-0001"].cvss_vector == V
    assert recs["CVE-2024-0002"].cwes == ("CWE-89",) and recs["CVE-2024-0002"].label_source == "cisa-adp"
    assert recs["CVE-2024-0003"].rejected
    assert skips.as_dict() == {"empty_file": 1, "malformed_json": 1}


def test_cve5_folder_and_single_file(tmp_path):
    rec = cve5_record("CVE-2023-0001", "Path traversal.", "CWE-22", None, "2023-05-01T00:00:00Z")
    (tmp_path / "2023").mkdir()
    (tmp_path / "2023" / "CVE-2023-0001.json").write_text(json.dumps(rec))
    assert [r.cve_id for r in read_cve5(tmp_path)] == ["CVE-2023-0001"]
    assert [r.cwes for r in read_cve5(tmp_path / "2023" / "CVE-2023-0001.json")] == [("CWE-22",)]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError):
        read_cve5(tmp_path / "bad.json")
    with pytest.raises(DataError, match="does not exist"):
        read_cve5(tmp_path / "missing.tar.xz")


def test_merge_precedence_and_field_fill():
    nvd = CveRecord(
        "CVE-2019-0001", "NVD text", ("NVD-CWE-noinfo",), None, None, "2019-01-01", "nvd-1.1", "nvd@nist.gov"
    )
    cna = CveRecord("CVE-2019-0001", "CNA text", ("CWE-79",), V, 9.8, "2019-01-02", "cve5", "cna:X", "cna:X")
    other = CveRecord("CVE-2020-0002", "only here", ("CWE-89",), None, None, "2020-01-01", "cve5", "cna:X")
    merged, report = merge_records([cna, nvd, other])
    by = {r.cve_id: r for r in merged}
    r = by["CVE-2019-0001"]
    assert r.source == "nvd-1.1" and r.description == "NVD text"  # NVD wins the record
    assert r.cwes == ("CWE-79",) and r.label_source == "cna:X"  # but noinfo takes the CNA's specific label
    assert r.cvss_vector == V and r.meta["also_in"] == ["cve5"]
    assert report["duplicate_ids"] == 1 and report["labels_filled_from_lower"] == 1 and report["n_out"] == 2
    merged2, _ = merge_records([cna, nvd], precedence=["cve5", "nvd-1.1"])
    assert merged2[0].description == "CNA text"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("CWE-79", "CWE-79"),
        ("cwe 79", "CWE-79"),
        ("79", "CWE-79"),
        (79, "CWE-79"),
        ("NVD-CWE-noinfo", "NVD-CWE-noinfo"),
        ("XSS", None),
        (None, None),
        (True, None),
        ("CWE-", None),
    ],
)
def test_normalise_cwe_id(value, expected):
    assert normalise_cwe_id(value) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_issue_5_cwe_csv_never_crashes(tmp_path, noise):
    """The fuzzer found an uncaught ``csv.Error`` here (a lone CR inside an unquoted field)."""
    from distilsec.data.readers.cwe import read_cwe_csv

    bad = tmp_path / "1000.csv"
    bad.write_bytes(b"CWE-ID,Name,Description\n79,Cross\rsite,x\n" + noise)
    try:
        catalog = read_cwe_csv(bad)
    except DataError:
        return
    assert "CWE-79" in catalog.entries
