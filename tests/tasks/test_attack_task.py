"""The ATT&CK task's data: examples, negatives, the source split and its purge, decontamination, audits."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from distilsec.data.example import Example
from distilsec.data.readers.attack_stix import AttackKB, Entity, Procedure, Technique, read_attack
from distilsec.errors import ConfigError, DataError
from distilsec.tasks import get_task
from distilsec.tasks.attack import (
    NONE,
    TASK,
    AttackData,
    AttackDataOptions,
    _purge,
    boilerplate_sentences,
    build_negatives,
    check_no_leak,
    decontaminate_records,
    prepare_attack_data,
    procedure_examples,
    shortcut_audit,
    split_by_source,
    training_extras,
)
from tests.data.readers.attack_fixtures import make_data_dir, sid, tiny_objects, write_bundle

URL = "https://attack.mitre.org"


@pytest.fixture
def tiny_kb(tmp_path):
    return read_attack(write_bundle(tmp_path / "enterprise-attack.json.gz", tiny_objects()))


def test_the_task_record_is_registered_without_importing_readers():
    assert get_task("attack") is TASK
    assert TASK.inputs is None and TASK.metric_family == "attack" and TASK.preprocess == "none"


def test_procedure_examples_generic_names_and_units(tiny_kb):
    by_id = {e.id: e for e in procedure_examples(tiny_kb, AttackDataOptions())}
    first = by_id[sid("relationship", 1)]
    assert first.text == "The group has run powershell -enc via the malware."
    assert first.label == "T1059.001" and first.group == "G0001" and first.source == "intrusion-set"
    assert first.meta["parent"] == "T1059" and first.meta["citations"] == ("Vendor A 2020", "CISA Alert (AA20-1)")
    # an unlinked repeat of the name is masked too; the campaign joins the unit of its group
    assert by_id[sid("relationship", 2)].text == "The malware can download files. The malware also uploads them."
    assert by_id[sid("relationship", 5)].group == "G0001"
    kept = {e.id: e.text for e in procedure_examples(tiny_kb, AttackDataOptions(names="keep"))}
    assert kept[sid("relationship", 1)] == "APT-Test has run powershell -enc via EvilRat."


def test_negatives_leave_out_behaviour_and_keep_identity(tiny_kb):
    negs, rep = build_negatives(tiny_kb, AttackDataOptions())
    texts = {e.text: e for e in negs}
    assert "The group is a threat group attributed to a fictional state." in texts
    assert not any("download" in t for t in texts)  # "has used EvilRat to download files" shows a technique
    assert rep["left_out"]["behaviour_cue:intrusion-set"] == 1
    group_neg = texts["The group is a threat group attributed to a fictional state."]
    assert group_neg.label == NONE and group_neg.group == "G0001" and group_neg.source == "negative:intrusion-set"
    assert group_neg.meta["citations"] == ("Vendor A 2020",)
    # prose is split at its list items; each prose object is its own unit
    assert texts["Event ID 4688: a process was created."].group == "prose:DC0032"
    assert rep["per_kind"]["boilerplate"] == 300 and all(e.label == NONE for e in negs)
    capped, rep2 = build_negatives(tiny_kb, AttackDataOptions(negatives_max=10))
    assert len(capped) == 10 and rep2["built"] == len(negs)


def test_boilerplate_is_reproducible_unique_and_grouped_by_template():
    a, b = boilerplate_sentences(), boilerplate_sentences()
    assert a == b and len(a) == 300 and len({s for _, s in a}) == 300
    assert len({t for t, _ in a}) >= 25


def test_training_extras_are_definitions_of_known_techniques(tmp_path, tiny_kb):
    from distilsec.data.readers.capec import read_capec
    from tests.data.readers.attack_fixtures import capec_objects

    capec = read_capec(write_bundle(tmp_path / "c.json", capec_objects()))
    extras, counts = training_extras(tiny_kb, AttackDataOptions(), capec)
    assert counts == {"technique-description": 3, "capec": 2, "capec_technique_not_read": 1}  # T1105.001 unknown
    assert {e.source for e in extras} == {"technique-description", "capec"}
    assert all(e.meta["citations"] == () for e in extras)


# --- the split --------------------------------------------------------------------------------------------


def synthetic_kb(seed: int, n_entities: int = 60, n_procs: int = 900, n_reports: int = 120) -> AttackKB:
    """Entities whose procedures cite reports near their own index (so reports link neighbours) and link others."""
    rng = random.Random(seed)
    kinds = ["intrusion-set", "malware", "tool", "campaign"]
    entities: dict[str, Entity] = {}
    for i in range(n_entities):
        kind = kinds[i % 4]
        prefix = {"intrusion-set": "G", "campaign": "C"}.get(kind, "S")
        s = f"{kind}--{i:04d}"
        entities[s] = Entity(s, f"{prefix}{i:04d}", kind, f"Name{i}", (), f"Name{i} is a {kind}.")
    ids = list(entities)
    attributed = {s: ids[(i + 1) % n_entities] for i, s in enumerate(ids) if entities[s].kind == "campaign"}
    attributed = {c: g for c, g in attributed.items() if entities[g].kind == "intrusion-set"}
    techniques = {
        f"T{1000 + k}": Technique(f"T{1000 + k}", f"Tech {k}", ("execution",), None, "", "enterprise-attack", "", ())
        for k in range(40)
    }
    procs = []
    for n in range(n_procs):
        i = rng.randrange(n_entities)
        e = entities[ids[i]]
        other = entities[ids[rng.randrange(n_entities)]]
        path = {"G": "groups", "C": "campaigns"}.get(other.attack_id[0], "software")
        mention = f" with [{other.name}]({URL}/{path}/{other.attack_id})" if rng.random() < 0.1 else ""
        reports = {f"R{(i * 2 + rng.randrange(-3, 4)) % n_reports}" for _ in range(rng.randint(0, 2))}
        tid = f"T{1000 + rng.randrange(40)}"
        raw = f"[{e.name}]({URL}/software/{e.attack_id}) does thing {n} {rng.random():.6f}{mention}."
        mentions = (e.stix_id, other.stix_id) if mention else (e.stix_id,)
        procs.append(
            Procedure(
                raw, raw, tid, e.stix_id, e.name, e.kind, tuple(sorted(reports)), mentions, "enterprise-attack", f"r{n}"
            )
        )
    return AttackKB(techniques, procs, entities, [], {"execution": "Execution"}, attributed, ("enterprise-attack",))


@pytest.mark.parametrize("seed", range(6))
def test_split_never_leaks_and_purge_counts_add_up(seed):
    kb = synthetic_kb(seed)
    examples = procedure_examples(kb, AttackDataOptions(names="keep"))
    examples += [
        Example(f"definition of T{1000 + k}", f"T{1000 + k}", f"technique:T{1000 + k}", "technique-description")
        for k in range(5)
    ]
    parts, rep = split_by_source(examples, kb, val_fraction=0.15, test_fraction=0.2, random_state=seed)
    assert check_no_leak(parts, kb) == {
        "units_on_two_sides": 0,
        "citations_on_two_sides": 0,
        "texts_on_two_sides": 0,
        "mentions_of_earlier_units": 0,
    }
    for p in ("val", "test"):
        assert rep["before_purge"][p] - rep["after_purge"][p] == rep["purged_total"][p]
    assert sum(rep["after_purge"].values()) + sum(rep["purged_total"].values()) == len(examples)
    assert all(e.source != "technique-description" for p in ("val", "test") for e in parts[p])
    assert parts["train"] and parts["test"]
    # a campaign sits with the group it is attributed to
    attributed = [e for e in examples if e.meta.get("source_name") and kb.attributed.get(_source(kb, e))]
    assert attributed and all(e.group == kb.entities[kb.attributed[_source(kb, e)]].attack_id for e in attributed)


def _source(kb, e):
    return next(s for s, ent in kb.entities.items() if ent.name == e.meta["source_name"])


def test_split_is_deterministic_and_depends_on_random_state():
    kb = synthetic_kb(0)
    examples = procedure_examples(kb, AttackDataOptions(names="keep"))

    def test_ids(rs):
        return sorted(e.id for e in split_by_source(examples, kb, random_state=rs)[0]["test"])

    assert test_ids(0) == test_ids(0) and test_ids(0) != test_ids(1)


def _ex(text, unit, cites=(), mentions=(), label="T1000"):
    return Example(text, label, unit, "malware", meta={"citations": cites, "mentions": mentions})


def test_purge_drops_shared_citations_links_to_earlier_units_and_repeated_texts():
    train = [_ex("alpha does one thing here", "S1", ("R1",))]
    test = [
        _ex("beta cites the train report", "S2", ("R1", "R9")),
        _ex("beta links to the train unit", "S2", ("R8",), ("malware--1",)),
        _ex("Alpha does one THING here!", "S2"),
        _ex("beta is clean", "S2", ("R7",), ("malware--2",)),
    ]
    kept, why = _purge(test, train, {"S1": "train", "S2": "test"}, {"train"}, {"malware--1": "S1", "malware--2": "S2"})
    assert [e.text for e in kept] == ["beta is clean"]
    assert why == Counter({"shared_citation": 1, "mentions_earlier_unit": 1, "same_text": 1})


def test_check_no_leak_finds_each_kind_of_leak():
    kb = synthetic_kb(0, n_entities=4, n_procs=4)
    parts = {
        "train": [_ex("a", "S0001", ("R1",)), _ex("same words", "S0002")],
        "val": [_ex("b", "S0001"), _ex("c", "G0000", ("R1",))],
        "test": [_ex("Same words.", "C0003", (), ("tool--0002",))],
    }
    assert check_no_leak(parts, kb) == {
        "units_on_two_sides": 1,
        "citations_on_two_sides": 1,
        "texts_on_two_sides": 1,
        "mentions_of_earlier_units": 1,
    }


# --- decontamination, audits, the whole preparation -------------------------------------------------------


def test_decontamination_removes_copies_inside_passages_and_near_copies():
    passage = (
        "In March the actor sent lures. The backdoor encrypts its configuration with RC4 and a hard-coded key before "
        "writing it to the registry. It then beacons every ten minutes to its controller over HTTPS port 443."
    )
    records = [
        _ex(
            "The backdoor encrypts its configuration with RC4 and a hard-coded key before writing it to the registry.",
            "S1",
        ),
        _ex("It then beacons every ten minute to its controller over HTTPS port 8443.", "S2"),  # near copy
        _ex("It then beacons.", "S3"),  # inside, but under 8 words and no near copy of a sentence
        _ex("The loader decrypts a second stage with XOR and runs it in memory.", "S4"),
    ]
    kept, rep = decontaminate_records(records, [passage], min_words=8, threshold=0.7)
    assert [e.group for e in kept] == ["S3", "S4"]
    assert rep["removed_by_reason"] == {"inside_passage": 1, "near_copy": 1}
    assert decontaminate_records(records, [])[0] == records


def test_shortcut_audit_catches_a_name_that_gives_the_label_away():
    rng = random.Random(0)
    rows = []
    for i in range(400):
        name = f"Actor{i % 20}"
        rows.append(Example(f"text {i}", f"T{1000 + i % 20}", name, "malware", id=f"r{i}", meta={"source_name": name}))
    rng.shuffle(rows)
    by_name = {"train": [e for e in rows if int(e.group[5:]) < 15], "test": [e for e in rows if int(e.group[5:]) >= 15]}
    audit = shortcut_audit(by_name)
    assert audit["random_row_split"]["top1"] > 0.9  # names seen in training: the label is given away
    assert audit["source_split"]["top1"] < 0.1  # unseen names: no better than chance
    assert audit["seconds"] < 10


def test_prepare_attack_data_end_to_end_with_a_benchmark(tmp_path):
    root = make_data_dir(tmp_path / "data")
    bench = tmp_path / "ate.tsv"
    bench.write_text(
        "URL\tPlatform\tDescription\tPrompt\tGT\n"
        "u\tEnterprise\tIntro text. The malware can download files. The malware also uploads them. End.\tp\tT1105\n"
    )
    data = prepare_attack_data(AttackDataOptions(test_fraction=0.3, val_fraction=0.2), root, benchmarks=[bench])
    assert isinstance(data, AttackData)
    rep = data.report
    texts = [e.text for part in data.parts().values() for e in part]
    assert "The malware can download files. The malware also uploads them." not in texts
    assert rep["decontamination"]["removed"] >= 1
    assert rep["decontamination"]["final_audit"] == {"train": 0, "val": 0, "test": 0}
    assert all(v == 0 for v in rep["leak_check"].values())
    assert rep["read"]["kept"]["procedure"] == 5 and rep["read"]["capec_patterns"] == 2
    assert sum(rep["records"].values()) == sum(rep["split"]["after_purge"].values())
    assert set(rep["negatives"]["per_kind"]) >= {"boilerplate", "intrusion-set", "data-component", "mitigation"}
    assert "random_row_split" in rep["shortcut_audit"]


def test_missing_bundles_name_the_path_and_the_environment_variable(tmp_path):
    with pytest.raises(DataError, match="DISTILSEC_DATA"):
        prepare_attack_data(AttackDataOptions(), tmp_path)
    root = make_data_dir(tmp_path / "data")
    with pytest.raises(DataError, match=r"mobile-attack\.json\.gz not found.*DISTILSEC_DATA"):
        prepare_attack_data(AttackDataOptions(domains=("enterprise-attack", "mobile-attack")), root)


def test_a_bundle_without_procedures_is_a_data_error(tmp_path):
    root = make_data_dir(tmp_path / "data", objects=[o for o in tiny_objects() if o.get("relationship_type") != "uses"])
    with pytest.raises(DataError, match="no ATT&CK procedure example"):
        prepare_attack_data(AttackDataOptions(capec=False), root)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"domains": ("pre-attack",)},
        {"domains": ()},
        {"names": "hide"},
        {"val_fraction": 0.5, "test_fraction": 0.5},
        {"min_examples": 0},
        {"negatives_max": -1},
    ],
)
def test_bad_options_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        AttackDataOptions(**kwargs)
