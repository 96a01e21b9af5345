"""Decontamination against MCQ / RCM / VSP benchmark files: shared CVE IDs, near-copies, the audit of zero."""

from __future__ import annotations

import json

import pytest

from distilsec.data.instruct.decontaminate import audit_jsonl, decontaminate_records, read_benchmark
from distilsec.data.instruct.records import Record
from distilsec.data.readers.cti_bench import write_bench_tsv
from distilsec.data.readers.cti_mcq import McqItem, write_mcq_tsv
from distilsec.errors import DataError

DESC = "SQL injection in the AcmeModule login page of Acme Suite 4.2 allows remote attackers to run SQL via name."
OTHER = "Out-of-bounds write in the Globex image decoder allows a local attacker to corrupt heap memory."


def _rec(i: int, core: str, question: str = "", cve: str = "") -> Record:
    q = question or f"Map this CVE description to its CWE weakness.\nDescription: {core}"
    return Record(
        f"r{i}", "cve_cwe", "free", cve or f"CVE-2020-{i}", q, "CWE-89", (cve or f"CVE-2020-{i}",), (), core=core
    )


@pytest.fixture
def benches(tmp_path):
    rcm = write_bench_tsv(tmp_path / "rcm.tsv", "rcm", [("CVE-2022-1111", DESC.replace("4.2", "4.3"), "CWE-89")])
    vsp = write_bench_tsv(
        tmp_path / "vsp.tsv",
        "vsp",
        [("CVE-2022-2222", "Something else entirely here.", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")],
    )
    mcq = write_mcq_tsv(
        tmp_path / "mcq.tsv",
        [
            McqItem(
                "Which technique does the actor use to dump LSASS memory on CVE-2019-0708 hosts?",
                ("a", "b", "c", "d"),
                "B",
            )
        ],
    )
    return [read_benchmark(p) for p in (rcm, vsp, mcq)]


def test_formats_are_detected(benches):
    assert [b.format for b in benches] == ["rcm", "vsp", "mcq"]
    assert benches[2].cve_ids == {"CVE-2019-0708"} and benches[0].cve_ids == {"CVE-2022-1111"}


def test_removes_shared_ids_and_near_copies_with_reasons(benches, tmp_path):
    recs = [
        _rec(1, DESC),  # near-copy of the RCM row (one version digit changed)
        _rec(2, OTHER, cve="CVE-2022-2222"),  # shares the VSP row's CVE ID
        _rec(3, OTHER),
        _rec(
            4,
            "Which technique does the actor use to dump LSASS memory on hosts?",
            question="Which technique does the actor use to dump LSASS memory on hosts?",
        ),
    ]
    kept, rep = decontaminate_records(recs, benches)
    assert [r.id for r in kept] == ["r3"]
    assert rep["removed_by_reason"] == {"near_copy": 2, "shared_cve_id": 1}
    assert rep["n_in"] == rep["removed"] + rep["n_out"]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in kept))
    assert audit_jsonl([path], benches) == {"records": 1, "shared_cve_ids": 0, "near_copies": 0}
    path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in recs))
    assert audit_jsonl([path], benches) == {"records": 4, "shared_cve_ids": 1, "near_copies": 2}


def test_no_benchmark_removes_nothing():
    recs = [_rec(1, DESC)]
    kept, rep = decontaminate_records(recs, [])
    assert kept == recs and rep["removed"] == 0


def test_unreadable_benchmark_is_a_data_error(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("foo\tbar\n1\t2\n")
    with pytest.raises(DataError):
        read_benchmark(p)
    with pytest.raises(DataError, match="not found"):
        read_benchmark(tmp_path / "missing.tsv")
