"""Reading threat reports for tagging: text, Markdown, HTML, folders, stdin, and every kind of bad input."""

from __future__ import annotations

import gzip
import io
import logging

import pytest

from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from distilsec.serving.reports import (
    STDIN,
    cap_sentence,
    decode_report,
    iter_lines,
    markdown_blocks,
    read_report,
    read_reports,
    report_sentences,
)

MARKDOWN = """# APT99 targets banks

## Execution
The actor used **PowerShell** to run [encoded commands](https://example.org/a_b).(Citation: Vendor Jan. 2020)
It then ran `cmd.exe /c whoami` on the host.

- Persistence via a Run key
* Used _scheduled tasks_ for snake_case_names

| Technique | Evidence |
|---|---|
| T1059 | powershell -enc |

```
powershell -nop -enc AAAA
```
[1]: https://example.org/ref
"""


def test_markdown_headings_and_list_items_are_sentences_and_markup_is_dropped():
    sentences = report_sentences(MARKDOWN, "markdown")
    assert sentences == [
        "APT99 targets banks",
        "Execution",
        "The actor used PowerShell to run encoded commands.",
        "It then ran cmd.exe /c whoami on the host.",
        "Persistence via a Run key",
        "Used scheduled tasks for snake_case_names",
        "Technique; Evidence",
        "T1059; powershell -enc",
        "powershell -nop -enc AAAA",
    ]
    joined = " ".join(sentences)
    assert "https://" not in joined and "**" not in joined and "Citation" not in joined and "`" not in joined


def test_markdown_blocks_keep_link_and_image_text_but_not_targets():
    blocks = markdown_blocks("See ![the loader](img.png) and [the dropper](http://x/y (title)).\n\n> quoted *text*")
    assert blocks == ["See the loader and the dropper.", "quoted text"]


def test_html_report_visible_text_in_blocks_scripts_dropped(tmp_path):
    page = (
        "<html><head><title>APT99 report</title><script>var s = 'The actor used PowerShell.';</script>"
        "<style>p{color:red}</style></head><body><h2>Execution</h2><p>The actor used PowerShell to run "
        "commands. It beaconed over HTTP.</p><ul><li>Run key persistence</li><li>Scheduled task</li></ul>"
        "<pre>whoami\nnet user</pre></body></html>"
    )
    f = tmp_path / "r.html"
    f.write_text(page)
    report = read_report(str(f))
    assert report is not None and report.kind == "html"
    assert report.sentences == [
        "APT99 report",
        "Execution",
        "The actor used PowerShell to run commands.",
        "It beaconed over HTTP.",
        "Run key persistence",
        "Scheduled task",
        "whoami",
        "net user",
    ]


def test_plain_text_paragraphs_wrapped_lines_and_bullets(tmp_path):
    f = tmp_path / "r.txt"
    f.write_text(
        "The group sent phishing emails to the\nfinance team. They used cmd.exe e.g. for discovery.\n\n- a bullet\n"
    )
    report = read_report(str(f))
    assert report is not None and report.sentences == [
        "The group sent phishing emails to the finance team.",
        "They used cmd.exe e.g. for discovery.",
        "a bullet",
    ]


def test_folder_is_walked_sorted_and_other_suffixes_are_skipped_and_counted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.md").write_text("# Zed\nZed text.")
    (tmp_path / "a.txt").write_text("Alpha text.")
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4 ...")
    (tmp_path / "d.json").write_text("{}")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("hidden")
    skips = SkipCounter()
    reports = list(read_reports([str(tmp_path)], skips=skips))
    assert [r.name.rsplit("/", 1)[-1] for r in reports] == ["a.txt", "z.md"]
    assert skips.as_dict() == {"unsupported_suffix": 2}  # rows in = 4 report-like files = 2 read + 2 skipped


def test_empty_report_is_a_logged_skip(tmp_path, caplog):
    f = tmp_path / "empty.txt"
    f.write_text("  \n\n ")
    skips = SkipCounter()
    with caplog.at_level(logging.WARNING, logger="distilsec"):
        assert read_report(str(f), skips=skips) is None
    assert skips.as_dict() == {"empty": 1}
    assert "empty.txt is empty" in caplog.text


def test_html_without_visible_text_is_skipped_as_no_text(tmp_path):
    f = tmp_path / "s.html"
    f.write_text("<html><script>alert(1)</script></html>")
    skips = SkipCounter()
    assert read_report(str(f), skips=skips) is None and skips.as_dict() == {"no_text": 1}


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP"),
        (b"hello\x00world\x00", "NUL bytes"),
        (bytes(range(1, 256)) * 40, "control bytes"),
    ],
)
def test_binary_files_are_skipped_with_a_counted_reason(tmp_path, caplog, raw, what):
    f = tmp_path / "r.txt"
    f.write_bytes(raw)
    skips = SkipCounter()
    with caplog.at_level(logging.WARNING, logger="distilsec"):
        assert read_report(str(f), skips=skips) is None
    assert skips.as_dict() == {"binary": 1}
    assert what in caplog.text


def test_non_utf8_text_is_decoded_with_replacement_and_noted(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("Le groupe a utilisé PowerShell pour télécharger la charge.".encode("latin-1"))
    skips = SkipCounter()
    report = read_report(str(f), skips=skips)
    assert report is not None and "PowerShell" in report.sentences[0] and "\ufffd" in report.sentences[0]
    assert skips.notes_dict() == {"not_utf8": 1} and report.notes == {"not_utf8": 1} and not skips.total


def test_utf16_with_bom_is_text_not_binary():
    text = decode_report("The actor used PowerShell.".encode("utf-16"), "x", SkipCounter())
    assert text == "The actor used PowerShell."


def test_a_named_file_over_the_cap_is_refused_with_one_line_naming_the_cap(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("The actor used PowerShell. " * 100)
    with pytest.raises(DataError, match=r"over the 1,000-byte cap on a report \(--max-bytes\)"):
        read_report(str(f), max_bytes=1000)


def test_a_file_over_the_cap_inside_a_folder_is_skipped_not_fatal(tmp_path):
    (tmp_path / "big.txt").write_text("The actor used PowerShell. " * 100)
    (tmp_path / "small.txt").write_text("The actor used PowerShell.")
    skips = SkipCounter()
    reports = list(read_reports([str(tmp_path)], max_bytes=1000, skips=skips))
    assert len(reports) == 1 and skips.as_dict() == {"too_large": 1}


def test_stdin_is_a_report_and_its_cap_applies(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"The actor used PowerShell. It ran whoami.")))
    report = read_report(STDIN)
    assert report is not None and report.name == "<stdin>" and len(report.sentences) == 2
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x" * 50)))
    with pytest.raises(DataError, match="standard input is over the 10-byte cap"):
        read_report(STDIN, max_bytes=10)


def test_missing_report_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="report not found"):
        list(read_reports([str(tmp_path / "nope.md")]))


def test_long_sentences_are_cut_at_a_space_and_counted():
    skips = SkipCounter()
    long = "word " * 500
    sentences = report_sentences(long, max_sentence_chars=100, skips=skips)
    assert len(sentences) == 1 and len(sentences[0]) <= 100 and sentences[0].endswith("word")
    assert skips.notes_dict() == {"sentence_cut": 1}
    assert cap_sentence("short", 100) == "short"


def test_iter_lines_keeps_blank_lines_as_none_and_streams_compressed_files(tmp_path):
    f = tmp_path / "lines.txt.gz"
    with gzip.open(f, "wt") as g:
        g.write("the actor used [powershell](http://x)\n\n   \nsecond line (Citation: Foo)\n")
    assert list(iter_lines(str(f))) == ["the actor used powershell", None, None, "second line"]


def test_iter_lines_skips_a_binary_file_and_counts_an_empty_one(tmp_path):
    binary, empty = tmp_path / "b.txt", tmp_path / "e.txt"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 64)
    empty.write_bytes(b"")
    skips = SkipCounter()
    assert list(iter_lines(str(binary), skips=skips)) == [] and list(iter_lines(str(empty), skips=skips)) == []
    assert skips.as_dict() == {"binary": 1, "empty": 1}
