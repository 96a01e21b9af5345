"""read_table: the bring-your-own-data path over CSV, TSV, JSONL and Parquet."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilsec.data.example import Example
from distilsec.data.readers import read_table
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

ROWS = [
    {"cmdline": "whoami /all", "verdict": "malicious", "host": "pc1", "seen": "2024-01-02", "extra": "a"},
    {"cmdline": 'echo "a, b"', "verdict": "benign", "host": "pc2", "seen": "2024-01-03", "extra": "b"},
    {"cmdline": "dir", "verdict": "", "host": "pc2", "seen": "", "extra": "c"},
]
KW = {"text_column": "cmdline", "label_column": "verdict", "group_column": "host", "time_column": "seen"}


def _check(got: list[Example], source: str) -> None:
    assert [e.text for e in got] == ["whoami /all", 'echo "a, b"', "dir"]
    assert [e.label for e in got] == ["malicious", "benign", None]  # a blank label is unlabelled
    assert [e.group for e in got] == ["pc1", "pc2", "pc2"]
    assert [e.time for e in got] == ["2024-01-02", "2024-01-03", ""]
    assert got[0].meta == {"extra": "a"}
    assert {e.source for e in got} == {source}


def test_csv(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "events.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows(ROWS)
        fh.write("only,two\n")
    skips = SkipCounter()
    _check(list(read_table(path, skips=skips, **KW)), "events")
    assert skips.as_dict() == {"malformed_row": 1}


def test_tsv_gz(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv.gz"
    lines = ["\t".join(ROWS[0])] + ["\t".join(str(v) for v in r.values()) for r in ROWS]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    _check(list(read_table(path, source="soc", **KW)), "soc")


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n{broken\n")
    skips = SkipCounter()
    _check(list(read_table(path, skips=skips, **KW)), "events")
    assert skips.as_dict() == {"json_error": 1}


def test_parquet_streams_batches(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "events.parquet"
    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table, path, row_group_size=1)
    _check(list(read_table(path, **KW)), "events")


def test_parquet_non_string_labels(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a", "b", None], "label": [1, None, 0]}), path)
    skips = SkipCounter()
    got = list(read_table(path, skips=skips))
    assert [(e.text, e.label) for e in got] == [("a", "1"), ("b", None)]
    assert skips.as_dict() == {"missing_text": 1}


def test_unlabelled_and_url_fallback(tmp_path: Path) -> None:
    path = tmp_path / "urls.csv"
    path.write_text("url,label\nhttp://a.example/,phishing\n")
    got = list(read_table(path, label_column=None))
    assert [(e.text, e.label) for e in got] == [("http://a.example/", None)]
    assert got[0].meta == {"label": "phishing"}


def test_missing_column_names_column_and_columns_found(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("cmd,verdict\nls,benign\n")
    with pytest.raises(DataError, match=r"'text'.*'label'.*columns \['cmd', 'verdict'\]"):
        list(read_table(path))
    parquet = tmp_path / "t.parquet"
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"cmd": ["ls"]}), parquet)
    with pytest.raises(DataError, match="cmd"):
        list(read_table(parquet))


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match="unknown table format"):
        read_table(path)
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")


def test_corrupt_parquet_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 definitely not parquet")
    with pytest.raises(DataError, match="Parquet"):
        list(read_table(path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(alphabet=st.sampled_from(list('text,label\n"\r\t{}[]:\\ x\x00é')), max_size=200).map(
            lambda s: s.encode("utf-8")
        ),
        st.text(max_size=200).map(lambda s: ("text,label\n" + s).encode("utf-8", "surrogatepass")),
        st.text(max_size=200).map(lambda s: ('{"text": ' + s).encode("utf-8", "surrogatepass")),
    ),
    ext=st.sampled_from([".csv", ".jsonl", ".tsv"]),
)
def test_arbitrary_bytes_yield_examples_or_data_error(tmp_path: Path, data: bytes, ext: str) -> None:
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(data)
    try:
        got = list(read_table(path, skips=SkipCounter()))
    except DataError:
        return
    assert all(isinstance(e, Example) and e.text and e.text == e.text.strip() for e in got)
