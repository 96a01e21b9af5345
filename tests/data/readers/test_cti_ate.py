"""The CTI-Bench ATE reader: GT lists in any spelling, BOM, CRLF records, quoting, and the errors a user can cause."""

from __future__ import annotations

import gzip

import pytest

from distilsec.data.readers.cti_ate import parse_gt, read_ate, read_benchmark_passages
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

HEADER = "URL\tPlatform\tDescription\tPrompt\tGT"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("T1071, T1573", ("T1071", "T1573")),
        ("['T1071', 'T1573.002']", ("T1071", "T1573.002")),
        ('["t1059/001", "T1059.001", "T1105"]', ("T1059.001", "T1105")),
        ("none", ()),
        ("", ()),
    ],
)
def test_parse_gt(cell, expected):
    assert parse_gt(cell) == expected


def test_bom_crlf_records_with_bare_newlines_inside_fields(tmp_path):
    rows = [
        HEADER,
        "https://a.example\tEnterprise\tThe actor used PowerShell.\nThen it beaconed.\tprompt\nline two\t"
        "['T1059.001', 'T1071']",
        'https://b.example\tEnterprise\t"A ""quoted"" passage"\tp\tT1105',
    ]
    p = tmp_path / "ate.tsv"
    p.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    items = read_ate(p)
    assert [it.gt for it in items] == [("T1059.001", "T1071"), ("T1105",)]
    assert items[0].description == "The actor used PowerShell.\nThen it beaconed."
    assert items[1].description == 'A "quoted" passage' and items[1].url == "https://b.example"


def test_bad_rows_are_counted_and_a_gz_file_is_read(tmp_path):
    text = "\n".join(
        [HEADER, "u\tE\tGood passage.\tp\tT1005", "u\tE\t\tp\tT1005", "u\tE\tNo GT here.\tp\tn/a", "u\tE", ""]
    )
    p = tmp_path / "ate.tsv.gz"
    p.write_bytes(gzip.compress(text.encode()))
    skips = SkipCounter()
    items = read_ate(p, skips=skips)
    assert [it.description for it in items] == ["Good passage."]
    assert skips.as_dict() == {"bad_gt": 1, "no_description": 1, "short_row": 1}
    # decontamination keeps every described row, GT or not
    assert len(read_ate(p, require_gt=False)) == 2


def test_no_description_column_is_one_line_data_error(tmp_path):
    p = tmp_path / "ate.tsv"
    p.write_text("URL\tText\tGT\nu\tx\tT1005\n")
    with pytest.raises(DataError, match=r"has no Description column") as info:
        read_ate(p)
    assert "\n" not in str(info.value)
    p.write_text("URL\tDescription\nu\tx\n")
    with pytest.raises(DataError, match="has no GT column"):
        read_ate(p)
    assert read_ate(p, require_gt=False)[0].description == "x"


def test_empty_missing_and_useless_files(tmp_path):
    empty = tmp_path / "e.tsv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_ate(empty)
    with pytest.raises(DataError, match="not found"):
        read_ate(tmp_path / "missing.tsv")
    header_only = tmp_path / "h.tsv"
    header_only.write_text(HEADER + "\n")
    with pytest.raises(DataError, match="no usable row out of 0"):
        read_ate(header_only)


def test_benchmark_passages_from_ate_or_plain_text(tmp_path):
    ate = tmp_path / "ate.tsv"
    ate.write_text(HEADER + "\nu\tE\tPassage one.\tp\tbroken gt\n")
    assert read_benchmark_passages(ate) == ["Passage one."]
    txt = tmp_path / "report.txt"
    txt.write_text("First paragraph\nwraps here.\r\n\r\nSecond paragraph.\n\n\n")
    assert read_benchmark_passages(txt) == ["First paragraph wraps here.", "Second paragraph."]
