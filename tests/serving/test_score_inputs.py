"""`distilsec score` on the inputs users really have (issue 11, items 4 and 5).

Its own column names, truncated or mislabelled compressed files, output folders that do not exist:
every one either scores or ends in one clear line with a non-zero exit, and nothing scored is lost.
"""

from __future__ import annotations

import gzip
import io
import json
import lzma

import pytest
from typer.testing import CliRunner

from distilsec.bundle import update_manifest
from distilsec.cli.app import app
from distilsec.errors import DataError
from distilsec.serving.scoring import ScoringModel, make_rows, score_stream, text_fields
from distilsec.serving.sinks import open_sink
from tests.conftest import make_texts


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from distilsec.students import HashedLinearStudent

    texts, y, _ = make_texts(120, seed=3)
    path = HashedLinearStudent(n_features=2**10, epochs=2).fit(texts, y).save(tmp_path_factory.mktemp("b") / "m")
    update_manifest(path, threshold=0.5, preprocess="none", positive="malicious", negative="benign")
    return path


@pytest.fixture
def table_bundle(bundle, tmp_path):
    """The same model, as `distilsec run` writes it for a table task trained on a ``command`` column."""
    import shutil

    dst = tmp_path / "table"
    shutil.copytree(bundle, dst)
    update_manifest(dst, text_column="command", id_column="event_id")
    return dst


def _jsonl(n: int, key: str = "command") -> bytes:
    return b"".join(json.dumps({key: f"cmd.exe /c whoami {i}", "event_id": i}).encode() + b"\n" for i in range(n))


def _cli(*args: str):
    return CliRunner().invoke(app, ["score", *args, "--no-progress"])


# ---- item 4: the file the model was trained on ----------------------------------------------------------


def test_score_reads_the_text_column_the_bundle_was_trained_on(table_bundle, tmp_path):
    src = tmp_path / "events.jsonl"
    src.write_bytes(_jsonl(30))
    out = io.StringIO()
    stats = score_stream(ScoringModel(table_bundle), str(src), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert stats.n_scored == stats.n_rows == 30
    assert [r["id"] for r in rows] == list(range(30))  # the bundle's id column too


def test_text_column_option_reads_a_jsonl_field_of_another_name(bundle, tmp_path):
    src = tmp_path / "events.jsonl"
    src.write_bytes(_jsonl(20, key="cmd"))
    out = tmp_path / "out.jsonl"
    res = _cli(str(src), "-m", str(bundle), "--text-column", "cmd", "--id-column", "event_id", "-o", str(out))
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 20 and all(r["score"] is not None for r in rows) and rows[3]["id"] == 3


def test_text_column_option_reads_a_csv_column_of_another_name(bundle, tmp_path):
    src = tmp_path / "events.csv"
    src.write_text("event_id,Process\n7,cmd.exe /c whoami\n8,ls -la\n")
    out = io.StringIO()
    stats = score_stream(ScoringModel(bundle), str(src), out, text_column="Process", id_column="event_id")
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert stats.n_scored == 2 and [r["id"] for r in rows] == ["7", "8"]


def test_text_column_on_plain_text_lines_is_an_error_not_ignored(bundle, tmp_path):
    src = tmp_path / "events.txt"
    src.write_text("event_id,Process\n7,whoami\n")
    res = _cli(str(src), "-m", str(bundle), "--text-column", "Process")
    assert res.exit_code == 2 and "--input-format csv" in res.output


def test_no_row_scored_exits_non_zero_and_names_the_columns_found(bundle, tmp_path):
    src = tmp_path / "events.jsonl"
    src.write_bytes(_jsonl(3000, key="cmd"))
    res = _cli(str(src), "-m", str(bundle), "-o", str(tmp_path / "out.jsonl"))
    assert res.exit_code == 2
    assert "no row of" in res.output and "'cmd'" in res.output and "--text-column" in res.output
    assert "Traceback" not in res.output


def test_csv_without_the_named_text_column_names_the_columns_found(bundle, tmp_path):
    src = tmp_path / "events.csv"
    src.write_text("a,b\n1,2\n")
    res = _cli(str(src), "-m", str(bundle), "--text-column", "Process")
    assert res.exit_code == 2 and "'Process'" in res.output and "'a', 'b'" in res.output


def test_a_named_text_column_does_not_fall_back_to_another_field():
    assert text_fields("Process", "command") == ("Process",)
    assert text_fields(None, "command")[0] == "command" and "text" in text_fields(None, "command")
    assert text_fields(None, None)[0] == "text"  # bundles written before text_column was recorded


def test_partly_readable_input_still_exits_zero_and_counts_the_rest(bundle, tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b'{"text": "ls"}\n{"cmd": "x"}\n')
    res = _cli(str(src), "-m", str(bundle), "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 0 and "scored 1 of 2 rows" in res.output and "missing_text" in res.output


# ---- item 5: damaged inputs and outputs -----------------------------------------------------------------


@pytest.mark.parametrize("suffix,compress", [(".gz", gzip.compress), (".xz", lzma.compress)])
def test_truncated_compressed_input_keeps_scored_rows_and_says_how_many(bundle, tmp_path, suffix, compress):
    lines = b"".join(f"cmd.exe /c whoami {i}\n".encode() for i in range(5000))
    blob = compress(lines)
    src = tmp_path / f"events.txt{suffix}"
    src.write_bytes(blob[: len(blob) // 2])
    out = tmp_path / "out.jsonl"
    res = _cli(str(src), "-m", str(bundle), "-o", str(out), "--batch-size", "512")
    assert res.exit_code == 2, res.output
    assert "truncated" in res.output and "Aborted" not in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    n = int(res.output.split(" rows read before")[0].rsplit("(", 1)[-1])
    assert 0 < n < 5000 and len(rows) == n  # every row read was scored and written, and the message says so
    assert [r["row"] for r in rows] == list(range(n))


def test_truncated_input_to_parquet_still_writes_a_readable_file(bundle, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    blob = gzip.compress(b"".join(f"ls {i}\n".encode() for i in range(3000)))
    src = tmp_path / "events.txt.gz"
    src.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="truncated"):
        score_stream(ScoringModel(bundle), str(src), tmp_path / "o.parquet", output_format="parquet")
    assert pq.read_table(tmp_path / "o.parquet").num_rows > 0


def test_plain_file_named_gz_is_one_clear_error(bundle, tmp_path):
    src = tmp_path / "events.txt.gz"
    src.write_text("ls -la\nwhoami\n")
    out = tmp_path / "out.jsonl"
    res = _cli(str(src), "-m", str(bundle), "-o", str(out))
    assert res.exit_code == 2 and "not a gzip file" in res.output and "Traceback" not in res.output
    assert not out.exists()  # nothing was opened for writing


def test_output_into_a_missing_folder_is_one_clear_error(bundle, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("ls\n")
    res = _cli(str(src), "-m", str(bundle), "-o", str(tmp_path / "missing" / "dir" / "x.jsonl"))
    assert res.exit_code == 2 and "does not exist" in res.output and "FileNotFoundError" not in res.output


def test_missing_input_leaves_no_output_file(bundle, tmp_path):
    out = tmp_path / "out.jsonl"
    res = _cli(str(tmp_path / "nope.txt"), "-m", str(bundle), "-o", str(out))
    assert res.exit_code == 2 and not out.exists()


# ---- the fast JSONL writer --------------------------------------------------------------------------------


def test_fast_jsonl_rows_are_the_bytes_json_dumps_wrote(bundle):
    import numpy as np

    items = [({}, "a"), ({"id": "x\u00e9"}, "b"), ({"error": "malformed JSON"}, None), ({"id": 7}, "c"), ({}, "d")]
    scores = np.array([0.1234567891, 1.0, 1e-9, float("nan")])
    labels = ["benign", "malicious", "benign", "malicious"]
    result = (scores, labels, np.zeros((4, 2)))
    out = io.StringIO()
    open_sink("jsonl", out).write_batch(items, result, 10)
    expected = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in make_rows(items, result, 10))
    assert out.getvalue() == expected
