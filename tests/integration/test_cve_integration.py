"""The CVE readers on the real data in ../shared/data (skipped when absent); bounded to a few seconds."""

from __future__ import annotations

import itertools

import pytest

from distilsec.data.readers.cve5 import read_cve5
from distilsec.data.readers.cwe import read_cwe_catalog
from distilsec.data.readers.nvd import read_nvd
from distilsec.data.skips import SkipCounter

pytestmark = pytest.mark.integration


def test_real_nvd_feeds_both_formats(real_data):
    skips = SkipCounter()
    v2 = list(read_nvd(real_data / "cve" / "nvd-api-2.0" / "nvdcve-2.0-1999.json.xz", skips=skips))
    assert len(v2) == 1579  # the README's count for 1999
    assert sum(r.rejected for r in v2) == 39
    assert all(r.cve_id.startswith("CVE-") and r.description for r in v2)
    v11_path = min((real_data / "cve" / "nvd-json-1.1").glob("*.json.xz"))
    first = list(itertools.islice(read_nvd(v11_path, skips=skips), 500))
    assert first and all(r.source == "nvd-1.1" for r in first)
    assert any(r.cvss_vector and r.cvss_vector.startswith("CVSS:3") for r in first)


def test_real_vulnrichment_archive(real_data):
    tar = next((real_data / "cve" / "cisa-vulnrichment").glob("*.tar.xz"))
    skips = SkipCounter()
    recs = list(itertools.islice(read_cve5(tar, skips=skips), 300))
    assert len(recs) == 300 and all(r.source == "cve5" for r in recs)
    assert any(r.label_source.startswith("cna:") or r.label_source == "cisa-adp" for r in recs)


def test_real_cwe_catalog(real_data):
    cat = read_cwe_catalog(real_data / "cwe")
    assert cat.version == "4.14"
    assert sum(e.kind == "weakness" for e in cat.entries.values()) == 963
    assert cat.resolve("CWE-264") == ("CWE-284", "category_mapped")
    assert cat.resolve("CWE-79") == ("CWE-79", "ok")
    assert cat.parent_chain("CWE-79")[:1] == ["CWE-74"]
