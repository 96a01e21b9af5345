"""The CTI-Bench TSV reader (RCM/VSP) and the official metrics, on small files written here."""

from __future__ import annotations

import pytest

from distilsec.data.readers.cti_bench import evaluate_rcm, evaluate_vsp, read_bench, write_bench_tsv
from distilsec.errors import DataError
from tests.tasks.cve_fixtures import write_bench_tsv as write_tsv

V98 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V61 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"


def test_read_rcm_counts_bad_rows(tmp_path):
    p = write_tsv(
        tmp_path / "rcm.tsv",
        [
            ("CVE-2024-0001", "SQL injection in X.", "CWE-89"),
            ("CVE-2024-0002", "XSS in Y.", "cwe-79"),
            ("CVE-2024-0003", "Something.", "not a cwe"),
            ("CVE-2024-0004", "", "CWE-20"),
        ],
    )
    b = read_bench(p, "rcm")
    assert [(it.cve_id, it.gt) for it in b.items] == [("CVE-2024-0001", "CWE-89"), ("CVE-2024-0002", "CWE-79")]
    assert b.skips == {"bad_gt": 1, "no_description": 1} and b.n_rows == 4
    assert b.ids == {"CVE-2024-0001", "CVE-2024-0002"}


def test_read_vsp_and_quoted_fields(tmp_path):
    p = tmp_path / "vsp.tsv"
    p.write_text(
        "URL\tDescription\tPrompt\tGT\n"
        "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2024-1111\t"
        f'A "quoted" description.\t"multi\nline prompt"\t{V98}\n'
        "https://x/CVE-2024-2222\tOther.\tp\tAV:N/Au:N/C:P/I:P/A:P\n"
    )
    b = read_bench(p, "vsp")
    assert [(it.cve_id, it.gt) for it in b.items] == [("CVE-2024-1111", V98)]
    assert b.skips == {"bad_gt": 1}


def test_bad_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_bench(tmp_path / "missing.tsv", "rcm")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_bench(tmp_path / "empty.tsv", "rcm")
    (tmp_path / "hdr.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DataError, match="lacks"):
        read_bench(tmp_path / "hdr.tsv", "rcm")
    (tmp_path / "nouse.tsv").write_text("URL\tDescription\tPrompt\tGT\nu\td\tp\tnope\n")
    with pytest.raises(DataError, match="no usable"):
        read_bench(tmp_path / "nouse.tsv", "rcm")
    with pytest.raises(DataError, match="unknown benchmark task"):
        read_bench(tmp_path / "hdr.tsv", "xyz")


def test_written_heldout_roundtrips(tmp_path):
    rows = [("CVE-2023-0001", "tab\tand\nnewline text", "CWE-79"), ("CVE-2023-0002", "carriage\rreturn", "CWE-89")]
    p = write_bench_tsv(tmp_path / "h.tsv", "rcm", rows)
    a, b = read_bench(p, "rcm").items
    assert (a.cve_id, a.gt, a.description) == ("CVE-2023-0001", "CWE-79", "tab\tand\nnewline text")
    assert (b.cve_id, b.description) == ("CVE-2023-0002", "carriage\nreturn")


def test_jsonl_split(tmp_path):
    p = tmp_path / "test.jsonl"
    p.write_text('{"cve_id": "CVE-2023-1", "description": "d", "cwe": "CWE-79"}\nnot json\n{"description": ""}\n')
    b = read_bench(p, "rcm")
    assert len(b.items) == 1 and b.skips == {"malformed_json": 1, "no_description": 1}


def test_metrics_by_hand():
    m = evaluate_rcm(["CWE-79", "CWE-89", "CWE-20"], [["CWE-79", "CWE-89"], ["CWE-79", "CWE-89"], ["CWE-22"]])
    assert m["accuracy"] == pytest.approx(1 / 3) and m["top3_accuracy"] == pytest.approx(2 / 3)
    v = evaluate_vsp([V98, V61], [V98, V98])
    assert v["mad"] == pytest.approx((0 + (9.8 - 6.1)) / 2)
    assert v["metric_accuracy"]["UI"] == 0.5 and v["exact_vector"] == 0.5 and v["severity_accuracy"] == 0.5


def _crlf_file(path, rows):
    """A CTI-Bench-style TSV: CRLF record ends, bare LF inside the (unquoted) multi-line prompt."""
    prompt = "Analyze the following CVE description.\n- **Attack Vector (AV)**: Network (N)\n- AC\nDescription: "
    body = "URL\tDescription\tPrompt\tGT\r\n" + "".join(
        f"https://nvd.nist.gov/vuln/detail/{cve}\t{desc}\t{prompt}{desc}\t{gt}\r\n" for cve, desc, gt in rows
    )
    path.write_bytes(body.encode())
    return path


def test_crlf_vsp_file_with_multiline_prompts_reads_every_row(tmp_path):
    p = _crlf_file(tmp_path / "cti-vsp.tsv", [("CVE-2024-1111", "Overflow in A.", V98), ("CVE-2024-2222", "B.", V61)])
    b = read_bench(p, "vsp")
    assert [(it.cve_id, it.gt) for it in b.items] == [("CVE-2024-1111", V98), ("CVE-2024-2222", V61)]
    assert b.skips == {} and b.n_rows == 2


def test_crlf_rcm_file_reads_like_its_lf_twin(tmp_path):
    rows = [("CVE-2024-0001", 'SQL "injection" in X.', "CWE-89"), ("CVE-2024-0002", "XSS in Y.", "CWE-79")]
    crlf = read_bench(_crlf_file(tmp_path / "cti-rcm.tsv", rows), "rcm")
    lf = read_bench(write_tsv(tmp_path / "lf.tsv", rows), "rcm")
    assert [(it.cve_id, it.description, it.gt) for it in crlf.items] == [
        (it.cve_id, it.description, it.gt) for it in lf.items
    ]
    assert crlf.skips == lf.skips == {}


def test_decontamination_reads_rows_whatever_their_gt(tmp_path):
    from distilsec.data.readers.cti_bench import read_bench_texts

    p = _crlf_file(tmp_path / "b.tsv", [("CVE-2024-0001", "A.", V98), ("CVE-2024-0002", "B.", "not a vector")])
    b = read_bench_texts(p)
    assert [it.cve_id for it in b.items] == ["CVE-2024-0001", "CVE-2024-0002"] and b.task == "vsp"


def test_decontamination_file_with_no_usable_row_is_a_data_error(tmp_path):
    from distilsec.tasks.cve import _bench_texts

    p = tmp_path / "useless.tsv"
    p.write_bytes(b"URL\tDescription\tPrompt\tGT\r\nhttps://x/CVE-2024-0001\t\tp\tCWE-79\r\n")
    with pytest.raises(DataError, match=r"useless\.tsv: no benchmark row with a description out of 1.*header URL"):
        _bench_texts([p])
    (tmp_path / "wrong.tsv").write_text("id,text\n1,a\n")
    with pytest.raises(DataError, match="lacks"):
        _bench_texts([tmp_path / "wrong.tsv"])


def test_cti_bench_metrics_are_the_evaluation_cve_metrics_family():
    """The RCM/VSP metrics live in evaluation/cve_metrics.py; the reader's old names are the same functions."""
    from distilsec.data.readers import cti_bench
    from distilsec.evaluation import cve_metrics

    assert cti_bench.evaluate_rcm is cve_metrics.evaluate_rcm
    assert cti_bench.evaluate_vsp is cve_metrics.evaluate_vsp
