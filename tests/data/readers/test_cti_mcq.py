"""CTI-Bench MCQ reader/writer: round trip, BOM, CRLF records with bare line breaks, quotes, counted skips."""

from __future__ import annotations

import pytest

from distilsec.data.readers.cti_mcq import MCQ_HEADER, McqItem, is_mcq_header, read_mcq, write_mcq_tsv
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

ITEMS = [
    McqItem("Which tactic?\nSecond line", ("Execution", "Persistence", 'The "quoted" one', "Impact"), "C", "p1", "u1"),
    McqItem("Which CWE?", ("CWE-79", "CWE-89", "CWE-22", "CWE-78\twith tab"), "A", "Prompt\nwith lines", "u2"),
]


def test_round_trip(tmp_path):
    p = write_mcq_tsv(tmp_path / "m.tsv", ITEMS)
    assert read_mcq(p) == ITEMS
    assert is_mcq_header(p.read_text().split("\n", 1)[0])


def test_bom_crlf_quotes_and_skips_add_up(tmp_path):
    head = "\t".join(MCQ_HEADER)
    rows = [
        "u\tQ one\ta\tb\tc\td\tprompt with\nbare line break\tB",  # bare LF inside a field (CRLF records)
        'u\t"Q ""two"""\ta\tb\tc\td\tp\tD',
        "u\tQ short\ta\tb",  # short row
        "u\t\ta\tb\tc\td\tp\tA",  # no question
        "u\tQ bad\ta\tb\tc\td\tp\tE",  # bad GT
        "",
    ]
    p = tmp_path / "m.tsv"
    p.write_bytes(("\ufeff" + head + "\r\n" + "\r\n".join(rows)).encode("utf-8"))
    skips = SkipCounter()
    items = read_mcq(p, skips=skips)
    assert [(i.question, i.gt) for i in items] == [("Q one", "B"), ('Q "two"', "D")]
    assert items[0].prompt == "prompt with\nbare line break"
    assert skips.as_dict() == {"bad_gt": 1, "no_question": 1, "short_row": 1}
    assert len(items) + skips.total == 5  # rows in = kept + skipped
    every = read_mcq(p, require_gt=False)
    assert [i.question for i in every] == ["Q one", 'Q "two"', "Q bad"] and every[2].gt == ""


def test_bad_files(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("URL\tDescription\tPrompt\tGT\nu\td\tp\tCWE-79\n")
    with pytest.raises(DataError, match="no question"):
        read_mcq(p)
    p.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_mcq(p)
    p.write_text("\t".join(MCQ_HEADER) + "\nu\tQ\ta\tb\tc\td\tp\tX\n")
    with pytest.raises(DataError, match="no usable MCQ row"):
        read_mcq(p)
    with pytest.raises(DataError, match="GT letter"):
        write_mcq_tsv(tmp_path / "y.tsv", [McqItem("q", ("a", "b", "c", "d"), "")])
