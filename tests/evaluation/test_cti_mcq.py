"""CTI-Bench-style LLM evaluation: the MCQ reader, accuracy with parse failures, generative RCM / VSP."""

from __future__ import annotations

import pytest

from distilsec.errors import DataError
from distilsec.evaluation.cti_mcq import (
    MCQ_HEADER,
    evaluate_generative,
    evaluate_mcq,
    parse_cvss_vector,
    parse_cwe,
    read_mcq,
)
from tests.teachers.llm.assistant.fakes import ScriptedBackend

ROWS = [
    ("u1", "Which technique dumps LSASS memory?", "T1003", "T1548", "T1059", "T1110", "", "A"),
    ("u2", "Which CWE is SQL injection?", "CWE-79", "CWE-89", "CWE-20", "CWE-22", "", "B"),
    ("u3", "Which tactic is phishing?", "Impact", "Discovery", "Initial Access", "Exfiltration", "", "C"),
]


def write_mcq(path, rows=ROWS, header=MCQ_HEADER, crlf=False):
    end = "\r\n" if crlf else "\n"
    path.write_text(end.join("\t".join(r) for r in [header, *rows]) + end, encoding="utf-8")
    return path


def test_reader_keeps_good_rows_and_counts_bad_ones(tmp_path):
    rows = [*ROWS, ("u4", "q", "a", "b", "c", "d", "", "E"), ("u5", "q", "a", "b")]
    items, skips, n = read_mcq(write_mcq(tmp_path / "m.tsv", rows))
    assert [it.gt for it in items] == ["A", "B", "C"] and n == 5
    assert skips == {"bad_gt": 1, "short_row": 1}
    assert items[0].options == ("T1003", "T1548", "T1059", "T1110")


def test_reader_reads_multiline_prompts_of_crlf_files(tmp_path):
    rows = [("u1", "q1", "a", "b", "c", "d", "You are given...\nQuestion: q1\nA) a", "D")]
    items, _, _ = read_mcq(write_mcq(tmp_path / "m.tsv", rows, crlf=True))
    assert items[0].prompt == "You are given...\nQuestion: q1\nA) a" and items[0].gt == "D"


def test_reader_errors_are_one_clear_line(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_mcq(tmp_path / "none.tsv")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_mcq(tmp_path / "empty.tsv")
    with pytest.raises(DataError, match="header has no"):
        read_mcq(write_mcq(tmp_path / "rcm.tsv", [("u", "d", "p", "CWE-79")], ("URL", "Description", "Prompt", "GT")))
    with pytest.raises(DataError, match="no usable"):
        read_mcq(write_mcq(tmp_path / "bad.tsv", [("u", "q", "a", "b", "c", "d", "", "Z")]))


def test_accuracy_counts_parse_failures_as_wrong(tmp_path):
    items, _, _ = read_mcq(write_mcq(tmp_path / "m.tsv"))
    replies = iter(["A", "I am not sure", "Answer: C"])
    m = evaluate_mcq(items, ScriptedBackend(lambda _: next(replies)))
    assert m["n"] == 3 and m["correct"] == 2 and m["accuracy"] == pytest.approx(2 / 3)
    assert m["parse_failures"] == 1 and m["parse_failure_examples"][0]["answer"] == "I am not sure"
    assert m["predicted_letters"] == {"A": 1, "C": 1, "none": 1} and m["seconds_per_question"] >= 0


def test_logprob_scoring(tmp_path):
    items, _, _ = read_mcq(write_mcq(tmp_path / "m.tsv"))
    m = evaluate_mcq(items, ScriptedBackend(letter_logprobs=(-0.1, -2, -3, -4)), scoring="logprob")
    assert m["accuracy"] == pytest.approx(1 / 3) and m["parse_failures"] == 0 and m["scoring"] == "logprob"


@pytest.mark.parametrize(
    ("text", "cwe"),
    [
        ("This is like CWE-20 but really it is CWE-79.\nCWE-79", "CWE-79"),
        ("cwe-089", "CWE-89"),
        ("No idea.", None),
    ],
)
def test_parse_cwe_takes_the_last_mentioned(text, cwe):
    assert parse_cwe(text) == cwe


def test_parse_cvss_vector_takes_the_last_valid_one():
    v = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert parse_cvss_vector(f"First CVSS:3.1/AV:Z then\n{v}") == v
    assert parse_cvss_vector("score 9.8, critical") is None


RCM_HEADER = ("URL", "Description", "Prompt", "GT")


def _rcm(tmp_path, rows):
    p = tmp_path / "rcm.tsv"
    p.write_text("\n".join("\t".join(r) for r in [RCM_HEADER, *rows]) + "\n", encoding="utf-8")
    return p


def test_generative_rcm_uses_the_file_prompt_and_the_last_cwe(tmp_path):
    rows = [
        ("https://nvd.nist.gov/vuln/detail/CVE-2024-0001", "XSS in search box", "PROMPT-1 XSS in search box", "CWE-79"),
        ("https://nvd.nist.gov/vuln/detail/CVE-2024-0002", "SQL injection in login", "PROMPT-2", "CWE-89"),
        ("https://nvd.nist.gov/vuln/detail/CVE-2024-0003", "path traversal", "PROMPT-3", "CWE-22"),
    ]
    answers = {"PROMPT-1 XSS in search box": "Maybe CWE-20... final:\nCWE-79", "PROMPT-2": "CWE-79", "PROMPT-3": "?"}
    backend = ScriptedBackend(lambda msgs: answers[msgs[-1]["content"]])
    m = evaluate_generative(_rcm(tmp_path, rows), "rcm", backend)
    assert m["accuracy"] == pytest.approx(1 / 3) and m["parse_failures"] == 1 and m["evaluated"] == 3
    m2 = evaluate_generative(_rcm(tmp_path, rows), "rcm", backend, limit=1)
    assert m2["evaluated"] == 1 and m2["accuracy"] == 1.0


def test_generative_vsp_mad_over_parsed_answers(tmp_path):
    gt = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    rows = [("u1", "RCE", "", gt), ("u2", "RCE again", "", gt)]
    replies = iter([f"The vector is\n{gt}", "no vector"])
    backend = ScriptedBackend(lambda msgs: next(replies))
    m = evaluate_generative(_rcm(tmp_path, rows), "vsp", backend)
    assert m["mad"] == 0.0 and m["n"] == 1 and m["parse_failures"] == 1
    assert "CVSS v3.1" in backend.calls[0][0]["content"]  # no Prompt column value: the built prompt
