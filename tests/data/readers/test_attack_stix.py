"""The ATT&CK STIX reader on tiny hand-built bundles: revoked-by, deprecated, sub-techniques, attribution, bad files."""

from __future__ import annotations

import gzip
import json

import pytest

from distilsec.data.readers.attack_stix import read_attack
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from tests.data.readers.attack_fixtures import entity, rel, sid, technique, tiny_objects, write_bundle


@pytest.fixture
def kb_and_skips(tmp_path):
    skips = SkipCounter()
    kb = read_attack(write_bundle(tmp_path / "enterprise-attack.json.gz", tiny_objects()), skips=skips)
    return kb, skips


def _by_rel(kb):
    return {p.relationship_id: p for p in kb.procedures}


def test_live_techniques_parents_tactics_and_names(kb_and_skips):
    kb, _ = kb_and_skips
    assert sorted(kb.techniques) == ["T1059", "T1059.001", "T1105"]
    sub = kb.techniques["T1059.001"]
    assert sub.parent == "T1059" and sub.tactics == ("execution",)  # the lockheed kill chain is not ATT&CK's
    assert kb.techniques["T1059"].parent is None
    assert sub.description == "Adversaries may powershell." and sub.platforms == ("Windows",)
    assert sub.url.endswith("/techniques/T1059/001") and sub.domain == "enterprise-attack"
    assert kb.parent_of("T1059.001") == "T1059" and kb.parent_of("T1059") == "T1059"
    assert kb.parent_of("T9999.001") == "T9999"  # unknown: the ID prefix
    assert kb.name_of("T1059.001") == "Command and Scripting Interpreter: PowerShell" and kb.name_of("T9") == ""
    assert kb.tactics == {"execution": "Execution", "command-and-control": "Command and Control"}
    assert kb.domains == ("enterprise-attack",)


def test_procedures_cleaned_with_citations_mentions_and_kinds(kb_and_skips):
    kb, _ = kb_and_skips
    p = _by_rel(kb)[sid("relationship", 1)]
    assert p.text == "APT-Test has run powershell -enc via EvilRat."
    assert p.raw.startswith("[APT-Test](") and p.technique == "T1059.001"
    assert p.source_kind == "intrusion-set" and p.source_name == "APT-Test"
    assert p.citations == ("Vendor A 2020", "CISA Alert (AA20-1)")
    assert p.mentions == (sid("intrusion-set", 1), sid("malware", 1))
    assert _by_rel(kb)[sid("relationship", 5)].source_kind == "campaign"


def test_revoked_technique_and_source_are_followed_to_their_replacement(kb_and_skips):
    kb, skips = kb_and_skips
    moved = _by_rel(kb)[sid("relationship", 3)]
    assert moved.technique == "T1105"  # T1000 was revoked by T1105
    from_old_group = _by_rel(kb)[sid("relationship", 9)]
    assert from_old_group.source_ref == sid("intrusion-set", 1) and from_old_group.source_name == "APT-Test"
    # its link points at the revoked group's ATT&CK ID: resolved to the replacement
    assert from_old_group.mentions == (sid("intrusion-set", 1),)
    assert skips.notes_dict() == {"source_revoked_moved_to_replacement": 1, "technique_revoked_moved_to_replacement": 1}


def test_deprecated_and_revoked_rows_are_skipped_and_counted(kb_and_skips):
    kb, skips = kb_and_skips
    assert sorted(p.relationship_id[-2:] for p in kb.procedures) == ["01", "02", "03", "05", "09"]
    assert skips.as_dict() == {
        "deprecated_entity": 1,
        "deprecated_procedure": 1,
        "deprecated_prose": 1,
        "deprecated_technique": 1,
        "procedure_without_description": 1,
        "revoked_entity": 1,
        "revoked_procedure": 1,
        "revoked_technique": 1,
        "source_deprecated_or_revoked": 1,
        "technique_deprecated": 1,
    }
    rows, kept = kb.read_report["rows_in"], kb.read_report["kept"]
    assert sum(rows.values()) == sum(kept.values()) + skips.total  # rows in = kept + skipped
    assert rows["procedure"] == 10 and kept["procedure"] == len(kb.procedures)


def test_entities_campaign_attribution_and_prose(kb_and_skips):
    kb, _ = kb_and_skips
    assert {e.attack_id for e in kb.entities.values()} == {"G0001", "S0001", "S0002", "C0001"}
    group = kb.entities[sid("intrusion-set", 1)]
    assert group.aliases == ("Test Panda",) and group.kind == "intrusion-set"
    assert group.description.startswith("APT-Test is a threat group attributed")
    assert "(Citation" in group.raw_description and "(Citation" not in group.description
    assert kb.entities[sid("malware", 1)].aliases == ("ERat",)
    assert kb.attributed == {sid("campaign", 1): sid("intrusion-set", 1)}
    assert kb.entity_by_attack_id()["S0002"].kind == "tool"
    kinds = {k: t for k, _, t in kb.prose}
    assert (
        kinds["data-component"]
        == "The initial construction of a new process.\n\n- Event ID 4688: a process was created."
    )
    assert kinds["detection-strategy"] == "Detect scripts"  # its text is its name
    assert "mitigation" in kinds and len(kb.prose) == 3  # the deprecated data source is skipped


def test_plain_json_and_several_bundles_read_shared_objects_once(tmp_path):
    objs = tiny_objects()
    mobile = [
        {
            "type": "x-mitre-matrix",
            "id": "x-mitre-matrix--m",
            "external_references": [{"source_name": "mitre-attack", "external_id": "mobile-attack"}],
        },
        technique(50, "T1437", "Application Layer Protocol", ("command-and-control",), chain="mitre-mobile-attack"),
        entity("malware", 1, "S0001", "EvilRat"),  # shared with enterprise: same STIX id
        rel(50, "uses", sid("malware", 1), sid("attack-pattern", 50), "EvilRat talks HTTP.", ("Vendor M",)),
        rel(2, "uses", sid("malware", 1), sid("attack-pattern", 3), "a duplicate relationship", ()),
    ]
    skips = SkipCounter()
    kb = read_attack(
        [write_bundle(tmp_path / "e.json", objs), write_bundle(tmp_path / "m.json.gz", mobile)], skips=skips
    )
    assert kb.domains == ("enterprise-attack", "mobile-attack")
    assert kb.techniques["T1437"].tactics == ("command-and-control",)
    assert [p.domain for p in kb.procedures if p.technique == "T1437"] == ["mobile-attack"]
    assert sum(e.attack_id == "S0001" for e in kb.entities.values()) == 1
    assert skips.counts["duplicate_relationship"] == 1


def test_subtechnique_without_relationship_gets_its_parent_from_the_id(tmp_path):
    objs = [technique(1, "T1001", "Parent"), technique(2, "T1001.002", "Child")]
    kb = read_attack(write_bundle(tmp_path / "b.json", objs))
    assert kb.techniques["T1001.002"].parent == "T1001" and kb.procedures == []


def test_truncated_gzip_is_one_data_error_naming_the_file(tmp_path):
    good = gzip.compress(json.dumps({"type": "bundle", "objects": tiny_objects()}).encode())
    bad = tmp_path / "enterprise-attack.json.gz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"enterprise-attack\.json\.gz.*truncated"):
        read_attack([bad])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"<html>not json</html>", "not JSON"),
        (b'{"type": "attack-pattern", "id": "x"}', "not a STIX bundle"),
        (b'[{"type": "bundle"}]', "not a STIX bundle"),
        (b'{"type": "bundle", "objects": {}}', "not a STIX bundle"),
    ],
)
def test_a_file_that_is_not_a_bundle_is_one_data_error(tmp_path, content, message):
    p = tmp_path / "x.json"
    p.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_attack(p)
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_no_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_attack([tmp_path / "nope.json"])
    with pytest.raises(DataError, match="no ATT&CK bundle"):
        read_attack([])


def test_objects_that_are_not_stix_objects_are_counted_not_fatal(tmp_path):
    skips = SkipCounter()
    kb = read_attack(write_bundle(tmp_path / "b.json", [*tiny_objects(), 42, {"no": "type"}]), skips=skips)
    assert skips.counts["not_a_stix_object"] == 2 and len(kb.procedures) == 5
    assert sum(kb.read_report["rows_in"].values()) == sum(kb.read_report["kept"].values()) + skips.total
