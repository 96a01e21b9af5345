"""The entity split: ID scans (with parents), held-out draws by family, stable train/val buckets."""

from __future__ import annotations

from distilsec.data.instruct.split import choose_heldout, held_set, mentioned_ids, touches_heldout, val_bucket
from distilsec.data.knowledge.links import CveLink, KnowledgeLinks


def test_mentioned_ids_keep_ids_whole_and_add_parents():
    text = "T1548.002 and cwe-79, CAPEC-66; not T12345 nor XCWE-1 nor CVE-2021-1234"
    assert mentioned_ids(text) == {"T1548.002", "T1548", "CWE-79", "CAPEC-66"}


def test_touches_heldout_checks_entities_and_text():
    held = {"T1548", "CWE-79"}
    assert touches_heldout(["T1548.002"], [], held) == {"T1548.002"}
    assert touches_heldout(["T1000"], ["see T1548.001 for more"], held) == {"T1548"}
    assert touches_heldout(["T1000", "CWE-89"], ["nothing held here"], held) == set()


def _links() -> KnowledgeLinks:
    L = KnowledgeLinks()
    L.technique_names = {f"T1{i:03d}": f"t{i}" for i in range(40)} | {"T1000.001": "sub"}
    L.cwe_names = {f"CWE-{i}": f"w{i}" for i in range(1, 41)}
    L.capec_names = {f"CAPEC-{i}": f"c{i}" for i in range(1, 41)}
    L.capec_cwes = {"CAPEC-1": ("CWE-1", "CWE-2")}
    L.cves = [CveLink(f"CVE-2022-{i}", "d", f"CWE-{i}") for i in range(3, 21)]
    return L


def test_choose_heldout_is_seeded_by_family_and_only_linked_cwes():
    L = _links()
    a, b = choose_heldout(L, 0.25, seed=7), choose_heldout(L, 0.25, seed=7)
    assert a == b and len(a["techniques"]) == 10 and len(a["capecs"]) == 10
    assert all("." not in t for t in a["techniques"])  # families: parents only
    assert set(a["cwes"]) <= {f"CWE-{i}" for i in range(1, 21)} and len(a["cwes"]) == 5
    assert held_set(a) == {*a["techniques"], *a["cwes"], *a["capecs"]}
    assert choose_heldout(L, 0.25, seed=8) != a


def test_val_bucket_is_stable_and_about_the_share():
    subjects = [f"T{i}" for i in range(4000)]
    first = [val_bucket(s, 0, 0.1) for s in subjects]
    assert first == [val_bucket(s, 0, 0.1) for s in subjects]
    assert 0.08 < sum(first) / len(first) < 0.12


def test_same_named_techniques_in_other_matrices_are_held_out_together():
    L = _links()
    L.technique_names["T1398"] = L.technique_names["T1005"] = "Boot or Logon Initialization Scripts"
    for seed in range(20):
        techs = set(choose_heldout(L, 0.25, seed)["techniques"])
        assert ("T1005" in techs) == ("T1398" in techs)
