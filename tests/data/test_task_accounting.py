"""Row accounting of the task loaders: rows in = rows read + rows skipped (by reason), per input and in all.

Regression tests for rows that the task layer (not a reader) left out or changed without a count: rows of
sources outside ``data.sources`` and texts cut at ``data.max_text_chars``.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from distilsec.config import DataSection
from distilsec.data.skips import SkipCounter
from distilsec.data.stats import row_accounting_problems
from distilsec.errors import DataError
from distilsec.tasks.loaders import SOURCE_NOT_SELECTED, TEXT_TRUNCATED, load_examples


def _commands_jsonl(root: Path, rows: list[dict[str, Any]]) -> Path:
    path = root / "cmdline" / "commands.jsonl.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return root


def _cmd(i: int, source: str, label: str | None = "malicious") -> dict[str, Any]:
    return {"id": f"r{i}", "text": f"tool{i}.exe /run {i}", "label": label, "source": source, "group": f"g{i}"}


def _table(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def test_rows_outside_selected_sources_are_counted_not_dropped(tmp_path: Path) -> None:
    rows = [_cmd(i, "lolbas") for i in range(3)] + [_cmd(10 + i, "tldr", "benign") for i in range(4)]
    rows.append(_cmd(20, "lolbas", None))  # unlabelled: a skip of its own reason
    root = _commands_jsonl(tmp_path, rows)
    data = DataSection(task="cmdline", format="jsonl", sources=["lolbas"])
    skips, by_input = SkipCounter(), {}

    got = load_examples(data, data_dir=root, skips=skips, by_input=by_input)

    assert {e.source for e in got} == {"lolbas"} and len(got) == 3
    assert skips.as_dict() == {SOURCE_NOT_SELECTED: 4, "unlabelled": 1}
    assert len(got) + skips.total == len(rows)
    (row,) = by_input.values()
    assert row == {"rows_in": 8, "read": 3, "skips": {SOURCE_NOT_SELECTED: 4, "unlabelled": 1}}


def test_text_cut_at_max_text_chars_is_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _table(tmp_path / "t.csv", [("a" * 50, "malicious"), ("b" * 10, "benign"), ("c" * 11, "benign")])
    data = DataSection(task="table", path=str(path), max_text_chars=10)
    skips = SkipCounter()

    with caplog.at_level(logging.INFO, logger="distilsec.data"):
        got = load_examples(data, skips=skips)

    assert [len(e.text) for e in got] == [10, 10, 10]
    assert skips.notes_dict() == {TEXT_TRUNCATED: 2}
    assert skips.total == 0  # kept rows are notes, not skips
    cut_lines = [r for r in caplog.records if "data.max_text_chars" in r.getMessage()]
    assert len(cut_lines) == 1
    assert "2 texts were cut to 10 characters" in cut_lines[0].getMessage()


def test_no_truncation_note_or_line_when_nothing_is_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _table(tmp_path / "t.csv", [("short", "malicious"), ("text", "benign")])
    skips = SkipCounter()
    with caplog.at_level(logging.INFO, logger="distilsec.data"):
        load_examples(DataSection(task="table", path=str(path)), skips=skips)
    assert skips.notes_dict() == {}
    assert not [r for r in caplog.records if "max_text_chars" in r.getMessage()]


def test_missing_column_message_names_the_config_key(tmp_path: Path) -> None:
    path = _table(tmp_path / "t.csv", [("x", "malicious")])
    data = DataSection(task="table", path=str(path), text_column="body", group_column="host")
    with pytest.raises(DataError) as err:
        load_examples(data)
    msg = str(err.value)
    assert "['body', 'host']" in msg
    assert "Set data.text_column (now 'body'), data.group_column (now 'host') to one of the file's columns" in msg
    assert "data.label_column" not in msg  # only the keys whose column is missing


def test_row_accounting_problems_flags_a_lost_row(caplog: pytest.LogCaptureFixture) -> None:
    ok = {
        "rows_in": 6,
        "read": 4,
        "read_skips": {"empty_text": 2},
        "read_by_input": {"a.csv": {"rows_in": 6, "read": 4, "skips": {"empty_text": 2}}},
    }
    assert row_accounting_problems(ok) == []
    lost = {**ok, "rows_in": 7}
    other_input = {**ok, "read_by_input": {"a.csv": {"rows_in": 5, "read": 3, "skips": {"empty_text": 2}}}}
    with caplog.at_level(logging.ERROR, logger="distilsec.data"):
        assert len(row_accounting_problems(lost)) == 1
        assert len(row_accounting_problems(other_input)) == 1  # the input does not add up to the totals
    assert sum("row accounting does not add up" in r.getMessage() for r in caplog.records) == 2


def test_data_prepare_report_has_rows_in_per_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from distilsec.cli.app import app

    long = "A" * 60  # over max_text_chars = 50: every third row is cut
    rows = [(f"tool{i}.exe -x {long if i % 3 == 0 else ''}", "malicious" if i % 2 else "benign") for i in range(60)]
    rows += [("   ", "benign"), ("orphan", "")]
    path = _table(tmp_path / "t.csv", rows)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "data": {"task": "table", "path": str(path), "max_text_chars": 50},
                "curation": {"shortcut_audit": False},
                "teacher": {"type": "hashed_linear.v1", "n_features": 1024},
                "students": {"student": {"type": "char_cnn.v1", "n_filters": 8, "epochs": 1}},
            }
        )
    )
    with caplog.at_level(logging.ERROR):
        res = CliRunner().invoke(app, ["data", "prepare", str(cfg)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output[res.output.index("{\n") :])
    assert report["rows_in"] == 62
    assert report["read"] == 60 and report["read_skips"] == {"empty_text": 1, "unlabelled": 1}
    assert report["read_notes"] == {TEXT_TRUNCATED: 20}
    assert report["read_by_input"] == {
        str(path): {
            "rows_in": 62,
            "read": 60,
            "skips": {"empty_text": 1, "unlabelled": 1},
            "notes": {TEXT_TRUNCATED: 20},
        }
    }
    assert not [r for r in caplog.records if "row accounting" in r.getMessage()]


def test_selected_source_absent_from_the_file_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A typo in data.sources used to drop every row of the file without saying which name matched nothing."""
    root = _commands_jsonl(tmp_path, [_cmd(0, "lolbas"), _cmd(1, "tldr", "benign")])
    data = DataSection(task="cmdline", format="jsonl", sources=["lolbass"])
    skips = SkipCounter()
    with caplog.at_level(logging.WARNING, logger="distilsec.data"), pytest.raises(DataError):
        load_examples(data, data_dir=root, skips=skips)
    assert skips.as_dict() == {SOURCE_NOT_SELECTED: 2}
    (line,) = [r.getMessage() for r in caplog.records if "data.sources" in r.getMessage()]
    assert "['lolbass']" in line and "['lolbas', 'tldr']" in line
