"""Knowledge loading: passages per kind, ATT&CK v18 links (mitigates with why, detects -> data components),
CWE/CAPEC/CVE links, counted skips, and one clear error for a missing folder."""

from __future__ import annotations

import pytest

from distilsec.data.knowledge.load import load_knowledge, load_passages
from distilsec.errors import DataError
from tests.data.knowledge.cti_fixtures import N_TECH, make_knowledge_dir


@pytest.fixture(scope="module")
def know(tmp_path_factory):
    return load_knowledge(make_knowledge_dir(tmp_path_factory.mktemp("k")))


def test_passages_are_unique_and_typed(know):
    ids = [p.id for p in know.passages]
    assert len(ids) == len(set(ids))
    kinds = {p.kind for p in know.passages}
    assert {"technique", "mitigation", "data-component", "detection-strategy", "cwe", "capec", "cve", "group"} <= kinds
    by_id = know.by_id()
    assert by_id["T1000.001"].title == "Technique Name 0: Sub Technique Zero"
    assert (
        "Mitigation Name 0" in by_id["T1000#mitigations"].text
        and "Apply mitigation 0" in by_id["T1000#mitigations"].text
    )
    assert "DC0000 Component Name 0" in by_id["T1000#detection"].text
    assert by_id["CWE-89"].url.endswith("/89.html") and by_id["CAPEC-1"].entity == "CAPEC-1"
    assert "T1099" not in by_id  # revoked


def test_links(know):
    L = know.links
    assert [m for m, _ in L.technique_mitigations["T1000"]] == ["M1000", "M1003"]
    assert L.technique_mitigations["T1000"][0][1] == "Apply mitigation 0 to T1000."
    assert L.technique_detections["T1000"] == ["DET0000"]
    assert sorted(L.technique_data_components["T1000"]) == ["DC0000", "DC0001"]
    assert L.technique_tactics["T1000"] == ("Execution",)
    assert L.capec_cwes["CAPEC-1"] == ("CWE-89", "CWE-79") and L.capec_techniques["CAPEC-1"] == ("T1000",)
    assert "CAPEC-1" in L.cwe_capecs()["CWE-89"]
    assert len(L.cves) == 30 and all(c.cwe in L.cwe_names for c in L.cves)
    assert len(L.procedures) == N_TECH


def test_skips_are_counted_and_cve_rows_add_up(know):
    skips = know.read_report["skips"]
    assert skips["mitigates_relationship_dangling"] == 1
    assert skips["revoked_technique"] == 1
    cve = know.read_report["parts"]["cve"]
    assert cve["rows_in"] == cve["kept"] + skips["cve_rejected"] + skips["cve_without_known_weakness"]


def test_max_cves_caps_the_sample(tmp_path):
    k = load_knowledge(make_knowledge_dir(tmp_path), parts=("cwe", "cve"), max_cves=5)
    assert len(k.links.cves) == 5 and {p.kind for p in k.passages} == {"cwe", "cve"}


def test_load_passages_is_the_whole_knowledge(tmp_path):
    assert len(load_passages(make_knowledge_dir(tmp_path))) > 100


def test_missing_folder_is_one_error_naming_it(tmp_path):
    root = make_knowledge_dir(tmp_path)
    (root / "capec" / "stix-capec.json.gz").unlink()
    (root / "capec" / "README.md").unlink()
    (root / "capec").rmdir()
    with pytest.raises(DataError, match=r"capec not found"):
        load_knowledge(root)
    with pytest.raises(DataError, match="unknown knowledge parts"):
        load_knowledge(root, parts=("nope",))
