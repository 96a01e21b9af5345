"""``--engine ray`` gives exactly the local engine's output (rows, errors, counters) on the same input."""

from __future__ import annotations

import gzip
import io
import json

import pytest

pytest.importorskip("ray.data", reason="the 'ray' extra is not installed")

from typer.testing import CliRunner  # noqa: E402

from distilsec.cli.app import app  # noqa: E402
from distilsec.errors import DistilsecError  # noqa: E402
from distilsec.serving.ray_engine import score_with_ray  # noqa: E402
from distilsec.serving.scoring import ScoringModel, score_stream  # noqa: E402
from tests.conftest import make_texts  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=1, include_dashboard=False, object_store_memory=256 * 2**20, log_to_driver=False)
    yield
    ray.shutdown()


def _inputs(tmp_path):
    texts = make_texts(400, seed=6)[0]
    lines = [json.dumps({"text": t, "id": i}) for i, t in enumerate(texts)]
    lines[10:10] = ["{broken", "", "[1, 2]", '{"other": 1}', '{"text": "nul \\u0000 \\ud800"}']
    jsonl = tmp_path / "events.jsonl.gz"
    jsonl.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    csv = tmp_path / "events.csv"
    csv.write_text("id,cmdline\n" + "".join(f'{i},"{t.replace(chr(34), chr(34) * 2)}"\n' for i, t in enumerate(texts)))
    plain = tmp_path / "events.txt"
    plain.write_bytes(("\n".join(texts[:50]) + "\n").encode() + b"\xff\xfe invalid utf-8\n")
    return [jsonl, csv, plain]


@pytest.mark.parametrize(
    ("kind", "which", "proba"),
    [("char_cnn", 0, True), ("hashed_linear", 1, False), ("hashed_linear", 2, True)],
    ids=["cnn-jsonl.gz-proba", "linear-csv", "linear-lines-proba"],
)
def test_ray_equals_local(local_ray, exported, tmp_path, kind, which, proba):
    bundle = exported[kind]
    path = _inputs(tmp_path)[which]
    local, remote = io.StringIO(), io.StringIO()
    s_local = score_stream(ScoringModel(bundle), str(path), local, batch_size=128, proba=proba)
    s_ray = score_with_ray(bundle, str(path), remote, batch_size=128, proba=proba)
    assert remote.getvalue() == local.getvalue()
    assert s_ray == s_local and s_local.n_scored > 0


def test_ray_reads_a_folder_of_partitions_in_order(local_ray, exported, tmp_path):
    texts = make_texts(90, seed=8)[0]
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(3):
        (parts / f"part-{k}.txt").write_text("\n".join(texts[30 * k : 30 * (k + 1)]) + "\n")
    (tmp_path / "all.txt").write_text("\n".join(texts) + "\n")
    local, remote = io.StringIO(), io.StringIO()
    score_stream(ScoringModel(exported["hashed_linear"]), str(tmp_path / "all.txt"), local)
    stats = score_with_ray(exported["hashed_linear"], str(parts), remote, batch_size=16)
    assert remote.getvalue() == local.getvalue() and stats.n_scored == 90


def test_ray_teacher_label_job_and_cli(local_ray, exported, tmp_path):
    """The labelling job is ``score --proba`` on Ray; the CLI drives it and errors stay clear."""
    src = _inputs(tmp_path)[0]
    out = tmp_path / "labels.jsonl"
    res = CliRunner().invoke(
        app, ["score", str(src), "-m", str(exported["char_cnn"]), "--engine", "ray", "--proba", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 404 and sum("proba" in r for r in rows) == 401
    with pytest.raises(DistilsecError, match="stdin"):
        score_with_ray(exported["char_cnn"], "-", io.StringIO())
    with pytest.raises(DistilsecError, match="not found"):
        score_with_ray(exported["char_cnn"], str(tmp_path / "missing.txt"), io.StringIO())


def test_ray_engine_honours_text_column_and_the_bundles_column(local_ray, exported, tmp_path):
    """--engine ray refused --text-column/--id-column and ignored the bundle's text_column (issue 12)."""
    import shutil

    from distilsec.bundle import update_manifest
    from distilsec.errors import DataError

    bundle = tmp_path / "table"
    shutil.copytree(exported["hashed_linear"], bundle)
    update_manifest(bundle, text_column="command", id_column="event_id")
    texts = make_texts(60, seed=9)[0]
    src = tmp_path / "events.jsonl"
    src.write_text(
        "".join(json.dumps({"command": t, "event_id": f"e{i}", "cmd": t}) + "\n" for i, t in enumerate(texts))
    )
    for kwargs, model in (({}, bundle), ({"text_column": "cmd", "id_column": "event_id"}, exported["hashed_linear"])):
        local, remote = io.StringIO(), io.StringIO()
        s_local = score_stream(ScoringModel(model), str(src), local, batch_size=16, **kwargs)
        s_ray = score_with_ray(model, str(src), remote, batch_size=16, **kwargs)
        assert remote.getvalue() == local.getvalue() and s_ray == s_local and s_ray.n_scored == 60
        assert json.loads(remote.getvalue().splitlines()[0])["id"] == "e0"
    res = CliRunner().invoke(
        app, ["score", str(src), "-m", str(exported["hashed_linear"]), "--engine", "ray", "--text-column", "cmd"]
    )
    assert res.exit_code == 0, res.output
    plain = tmp_path / "events.txt"
    plain.write_text("\n".join(texts) + "\n")
    with pytest.raises(DataError, match="plain text lines"):
        score_with_ray(bundle, str(plain), io.StringIO(), text_column="cmd")
