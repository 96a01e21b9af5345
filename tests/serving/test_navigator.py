"""ATT&CK Navigator layers (format 4.5): required fields, one entry per tactic, evidence comments, parents shown."""

from __future__ import annotations

import json
import re

import pytest

from distilsec.errors import DataError
from distilsec.serving.navigator import check_layer, navigator_layer, tactic_shortname, write_layer

#: The layer format 4.5's required fields (mitre-attack/attack-navigator, layers/spec/v4.5/layerformat.md)
REQUIRED_TOP = {"name": str, "domain": str}
REQUIRED_VERSIONS = {"navigator", "layer"}

FOUND = [
    {
        "id": "T1055",
        "name": "Process Injection",
        "tactic": "defense-evasion",
        "tactics": ["defense-evasion", "privilege-escalation"],
        "score": 0.91,
        "count": 2,
        "evidence": [
            {
                "sentence": 3,
                "text": "The loader injects its payload into explorer.exe.",
                "score": 0.91,
                "report": "a.md",
            },
            {"sentence": 9, "text": "x" * 1000, "score": 0.6, "report": "b.md"},
        ],
        "reports": ["a.md", "b.md"],
    },
    {
        "id": "T1566.001",
        "name": "Spearphishing Attachment",
        "tactic": "initial-access",
        "tactics": ["initial-access"],
        "score": 0.5,
        "count": 1,
        "evidence": [{"sentence": 0, "text": "Victims got a malicious attachment.", "score": 0.5}],
    },
]


def _validate_against_spec(layer: dict) -> None:
    """The spec's required fields and value rules, written out here independently of ``check_layer``."""
    for key, typ in REQUIRED_TOP.items():
        assert isinstance(layer[key], typ) and layer[key]
    assert layer["domain"] in ("enterprise-attack", "mobile-attack", "ics-attack")
    assert set(layer["versions"]) >= REQUIRED_VERSIONS and layer["versions"]["layer"] == "4.5"
    major, minor, *_ = (int(x) for x in layer["versions"]["navigator"].split("."))
    assert (major, minor) >= (4, 9)
    for t in layer["techniques"]:
        assert re.fullmatch(r"T\d{4}(\.\d{3})?", t["techniqueID"])
        assert "tactic" not in t or re.fullmatch(r"[a-z]+(-[a-z]+)*", t["tactic"])
        assert "score" not in t or isinstance(t["score"], (int, float))
        for m in t.get("metadata", []):
            assert isinstance(m["name"], str) and isinstance(m["value"], str)
    g = layer["gradient"]
    assert len(g["colors"]) >= 2 and g["maxValue"] > g["minValue"]
    assert all(isinstance(i["label"], str) and isinstance(i["color"], str) for i in layer["legendItems"])
    assert layer["sorting"] in (0, 1, 2, 3) and isinstance(layer["hideDisabled"], bool)


def test_layer_has_the_required_fields_of_format_4_5(tmp_path):
    layer = navigator_layer(FOUND, name="distilsec: a.md", description="test", metadata={"model": "m"})
    _validate_against_spec(layer)
    assert layer["versions"] == {"attack": "18", "navigator": "5.1.0", "layer": "4.5"}
    path = write_layer(layer, tmp_path / "layer.json")
    assert json.loads(path.read_text()) == layer  # valid JSON, written as built


def test_one_entry_per_tactic_with_percent_score_and_evidence_comment():
    layer = navigator_layer(FOUND, name="x")
    t1055 = [t for t in layer["techniques"] if t["techniqueID"] == "T1055"]
    assert sorted(t["tactic"] for t in t1055) == ["defense-evasion", "privilege-escalation"]
    assert all(t["score"] == 91.0 and t["enabled"] is True for t in t1055)
    comment = t1055[0]["comment"]
    assert comment.startswith("[0.91] a.md: The loader injects its payload into explorer.exe.")
    assert "b.md" in comment and len(comment) < 700  # the 1,000-character sentence is truncated
    meta = {m["name"]: m["value"] for m in t1055[0]["metadata"]}
    assert meta == {"name": "Process Injection", "best score": "0.910", "sentences": "2", "reports": "a.md, b.md"}


def test_a_tagged_subtechnique_gets_its_parent_shown_open():
    layer = navigator_layer(FOUND, name="x", tactics_of=lambda tid: ["initial-access"] if tid == "T1566" else [])
    parent = [t for t in layer["techniques"] if t["techniqueID"] == "T1566"]
    assert len(parent) == 1 and parent[0]["showSubtechniques"] is True and "score" not in parent[0]
    assert parent[0]["tactic"] == "initial-access"
    sub = next(t for t in layer["techniques"] if t["techniqueID"] == "T1566.001")
    assert sub["showSubtechniques"] is False and sub["score"] == 50.0


def test_a_tagged_parent_of_a_tagged_subtechnique_is_not_duplicated():
    found = [dict(FOUND[1]), {**FOUND[1], "id": "T1566", "name": "Phishing"}]
    layer = navigator_layer(found, name="x")
    parents = [t for t in layer["techniques"] if t["techniqueID"] == "T1566"]
    assert len(parents) == 1 and parents[0]["showSubtechniques"] is True and parents[0]["score"] == 50.0


def test_tactic_names_become_navigator_shortnames():
    assert tactic_shortname("Defense Evasion") == "defense-evasion"
    assert tactic_shortname("command_and_control") == "command-and-control"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "'name'"),
        ({"domain": "pre-attack"}, "'domain'"),
        ({"versions": {"navigator": "4.8", "layer": "4.5"}}, "at least 4.9.0"),
        ({"versions": {"navigator": "5.1.0", "layer": "4.4"}}, "'versions.layer'"),
        ({"techniques": [{"techniqueID": "1055"}]}, r"techniques\[0\].techniqueID"),
        ({"techniques": [{"techniqueID": "T1055", "tactic": "Defense Evasion"}]}, "tactic shortname"),
        ({"gradient": {"colors": ["#ffffff"], "minValue": 0, "maxValue": 100}}, "two colours"),
        ({"gradient": {"colors": ["#ffffff", "#ff0000"], "minValue": 5, "maxValue": 5}}, "above minValue"),
    ],
)
def test_check_layer_names_the_first_invalid_field(change, message):
    layer = {**navigator_layer(FOUND, name="x"), **change}
    with pytest.raises(DataError, match=message):
        check_layer(layer)


def test_unknown_domain_and_unwritable_path_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="unknown ATT&CK domain"):
        navigator_layer(FOUND, name="x", domain="enterprise")
    with pytest.raises(DataError, match="does not exist"):
        write_layer(navigator_layer(FOUND, name="x"), tmp_path / "no" / "layer.json")
