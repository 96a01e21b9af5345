"""The bad-input rules every reader follows: named errors for missing paths, counted skips otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from distilsec._internal.textio import MAX_LINE_BYTES
from distilsec.data import readers
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

Reader = Callable[..., Iterator[Example]]

# reader, what the message must mention
MISSING: list[tuple[str, Reader, str]] = [
    ("lolbas", readers.read_lolbas, "yml"),
    ("atomic", readers.read_atomic_red_team, "atomics"),
    ("gtfobins", readers.read_gtfobins, "_gtfobins"),
    ("loobins", readers.read_loobins, "LOOBins"),
    ("tldr", readers.read_tldr, "pages"),
    ("nl2bash", readers.read_nl2bash, "all.cm"),
    ("slp", readers.read_slp, "malicious.cm"),
    ("jsonl", readers.read_commands_jsonl, "commands.jsonl"),
    ("url_csv", readers.read_url_csv, "urls.csv"),
    ("phishtank", readers.read_phishtank_csv, "phish_id"),
    ("table", readers.read_table, "CSV"),
    ("url_list", lambda p, **kw: readers.read_url_list(p, "benign", "x", **kw), "per line"),
    ("iscx", lambda p, **kw: readers.read_iscx_csv(p, "benign", **kw), "URLs"),
    ("html_index", readers.read_html_index, "index.csv"),
    ("html_dir", readers.read_html_dir, ".html"),
]


@pytest.mark.parametrize(("name", "reader", "expected"), MISSING, ids=[m[0] for m in MISSING])
def test_missing_path_is_a_data_error_at_call_time(tmp_path: Path, name: str, reader: Reader, expected: str) -> None:
    missing = tmp_path / "does-not-exist.csv"
    with pytest.raises(DataError) as err:
        reader(missing)  # no iteration needed: the check is eager
    msg = str(err.value)
    assert str(missing) in msg
    assert expected in msg


def test_readers_never_return_none(tmp_path: Path) -> None:
    (tmp_path / "yml" / "OSBinaries").mkdir(parents=True)
    result = readers.read_lolbas(tmp_path)
    assert result is not None
    assert list(result) == []


def test_empty_files_give_zero_examples(tmp_path: Path) -> None:
    (tmp_path / "yml" / "OSBinaries").mkdir(parents=True)
    (tmp_path / "yml" / "OSBinaries" / "Empty.yml").write_bytes(b"")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "malicious.cm").write_bytes(b"")
    for name in ("e.csv", "e.jsonl", "e.tsv", "urls.csv", "l.txt"):
        (tmp_path / name).write_bytes(b"")
    skips = SkipCounter()
    assert list(readers.read_lolbas(tmp_path, skips=skips)) == []
    assert list(readers.read_slp(tmp_path, skips=skips)) == []
    assert list(readers.read_nl2bash(tmp_path / "data" / "malicious.cm")) == []
    for name in ("e.csv", "e.jsonl", "e.tsv"):
        assert list(readers.read_table(tmp_path / name, skips=skips)) == []
    assert list(readers.read_url_csv(tmp_path / "urls.csv", skips=skips)) == []
    assert list(readers.read_url_list(tmp_path / "l.txt", "benign", "x")) == []
    assert list(readers.read_iscx_csv(tmp_path / "l.txt", "benign")) == []
    assert list(readers.read_commands_jsonl(tmp_path / "e.jsonl")) == []


def test_non_utf8_bytes_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "data" / "malicious.cm"
    path.parent.mkdir()
    path.write_bytes(b"echo caf\xe9 \xff\xfe\n")
    (ex,) = readers.read_slp(tmp_path)
    assert ex.text == "echo caf\ufffd \ufffd\ufffd"

    yml = tmp_path / "LOOBins" / "LOOBins" / "x.yml"
    yml.parent.mkdir(parents=True)
    yml.write_bytes(b"name: x\nexample_use_cases:\n  - code: ls \xe9\n")
    (ex,) = readers.read_loobins(tmp_path / "LOOBins")
    assert ex.text == "ls \ufffd"


def test_a_10mb_line_is_one_counted_skip_and_the_next_row_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "wb") as fh:
        fh.write(b"text,label\n")
        fh.write(b"A" * (10 * MAX_LINE_BYTES) + b",benign\n")
        fh.write(b"ls,benign\n")
    skips = SkipCounter()
    got = list(readers.read_table(path, skips=skips))
    assert [e.text for e in got] == ["ls"]
    assert skips.as_dict() == {"field_too_long": 1}

    lst = tmp_path / "list.txt"
    lst.write_bytes(b"x" * (10 * MAX_LINE_BYTES) + b"\nexample.org\n")
    skips = SkipCounter()
    got = list(readers.read_url_list(lst, "benign", "x", skips=skips))
    assert [e.text for e in got] == ["example.org"]
    assert skips.as_dict() == {"line_too_long": 1}
    assert got[0].meta["source_id"] == 1  # line numbers stay those of the file


def test_malformed_yaml_in_every_yaml_reader(tmp_path: Path) -> None:
    bad = "key: [unclosed\n  - : :\n"
    cases = {
        "LOLBAS/yml/OSBinaries/Bad.yml": readers.read_lolbas,
        "ART/atomics/T1/T1.yaml": readers.read_atomic_red_team,
        "GTFO/_gtfobins/bad": readers.read_gtfobins,
        "LOO/LOOBins/bad.yml": readers.read_loobins,
    }
    for rel, reader in cases.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True)
        path.write_text(bad)
        skips = SkipCounter()
        root = tmp_path / rel.split("/")[0]
        assert list(reader(root, skips=skips)) == []
        assert skips.counts["yaml_error"] == 1, rel


def test_yaml_with_wrong_shapes_is_counted(tmp_path: Path) -> None:
    root = tmp_path / "LOLBAS"
    d = root / "yml" / "OSBinaries"
    d.mkdir(parents=True)
    (d / "List.yml").write_text("- just\n- a list\n")
    (d / "NoCmds.yml").write_text("Name: x\nCommands: 3\n")
    (d / "OddCmd.yml").write_text("Name: y\nCommands:\n  - 7\n  - Command: [a, b]\n  - Command: ok.exe\n")
    skips = SkipCounter()
    got = list(readers.read_lolbas(root, skips=skips))
    assert [e.text for e in got] == ["ok.exe"]
    assert skips.as_dict() == {
        "malformed_entry": 1,
        "no_commands": 1,
        "non_string_text": 1,
        "yaml_not_a_mapping": 1,
    }


def test_whitespace_only_text_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    rows = [{"text": "   ", "label": "b"}, {"text": "\t\n", "label": "x"}, {"text": " ok ", "label": "x"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    skips = SkipCounter()
    got = list(readers.read_table(path, skips=skips))
    assert [e.text for e in got] == ["ok"]
    assert skips.as_dict() == {"empty_text": 2}
