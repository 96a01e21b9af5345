"""CVSS v3.x vectors: parsing, assembly and the FIRST base score (checked against known vectors)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilsec.data.cvss import METRICS, VALUES, base_score, build_vector, parse_vector, score_vector, severity
from distilsec.errors import DataError


@pytest.mark.parametrize(
    "vector,score,sev",
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "Critical"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "Medium"),  # the classic reflected XSS
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "High"),
        ("CVSS:3.0/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 2.0, "Low"),
        ("AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "None"),
    ],
)
def test_known_scores(vector, score, sev):
    assert score_vector(vector) == (score, sev)


def test_parse_build_roundtrip_and_extra_metrics():
    v = "CVSS:3.1/AV:A/AC:H/PR:L/UI:R/S:C/C:N/I:L/A:H/E:P/RL:O"
    m = parse_vector(v)
    assert m == {"AV": "A", "AC": "H", "PR": "L", "UI": "R", "S": "C", "C": "N", "I": "L", "A": "H"}
    assert build_vector(m) == "CVSS:3.1/AV:A/AC:H/PR:L/UI:R/S:C/C:N/I:L/A:H"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "CVSS:2.0/AV:N",
        "CVSS:3.1/AV:N/AC:L",
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AVN/AC:L",
        "AV:N/Au:N/C:P/I:P/A:P",  # a CVSS v2 vector
    ],
)
def test_malformed_vectors_are_named_errors(bad):
    with pytest.raises(DataError):
        base_score(bad)


@given(st.fixed_dictionaries({m: st.sampled_from(VALUES[m]) for m in METRICS}))
def test_every_valid_vector_scores_in_range(metrics):
    s = base_score(build_vector(metrics))
    assert 0.0 <= s <= 10.0 and round(s, 1) == s
    assert severity(s) in ("None", "Low", "Medium", "High", "Critical")
