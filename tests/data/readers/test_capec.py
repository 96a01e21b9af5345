"""The CAPEC STIX reader: IDs, CWE and ATT&CK links normalised, retired entries skipped and counted."""

from __future__ import annotations

import pytest

from distilsec.data.readers.capec import normalise_technique_id, read_capec
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from tests.data.readers.attack_fixtures import capec_objects, write_bundle


def test_capec_patterns_links_and_skips(tmp_path):
    skips = SkipCounter()
    pats = read_capec(write_bundle(tmp_path / "stix-capec.json.gz", capec_objects()), skips=skips)
    assert [p.id for p in pats] == ["CAPEC-1", "CAPEC-3"]
    first = pats[0]
    assert first.techniques == ("T1059", "T1059.001") and first.cwes == ("CWE-78", "CWE-79")
    assert first.description == "An adversary runs scripts."  # HTML tags removed
    assert (first.abstraction, first.likelihood, first.severity) == ("Standard", "High", "Medium")
    assert pats[1].techniques == ("T1105.001",)  # "T1105/001" normalised, "bogus" dropped
    assert skips.as_dict() == {"capec_without_id": 1, "deprecated_capec": 1}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("T1190", "T1190"),
        ("1574.010", "T1574.010"),
        ("t1574/10", "T1574.010"),
        (" T1003.1 ", "T1003.001"),
        ("TA0001", None),
        ("T12345", None),
        ("", None),
    ],
)
def test_normalise_technique_id(raw, expected):
    assert normalise_technique_id(raw) == expected


def test_not_a_bundle_is_a_data_error(tmp_path):
    p = tmp_path / "capec.json"
    p.write_text('{"type": "attack-pattern"}')
    with pytest.raises(DataError, match="not a STIX bundle"):
        read_capec(p)
