"""Hardening: no code runs when a bundle loads; hostile inputs get a clear error or a flagged row.

The fuzz tests here run a modest number of examples; ``benchmarks/fuzz.py`` runs >= 10,000 per target.
"""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilsec.errors import BundleError, DataError
from distilsec.serving.scoring import ScoreStats, ScoringModel, iter_records, score_stream


class _Boom:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("runtime", ["native", "onnx", "onnx-int8"])
def test_bundle_with_a_pickle_is_refused_by_every_runtime(bundle_copy, runtime, capsys):
    bundle = bundle_copy("char_cnn")
    (bundle / "extra.pkl").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(BundleError, match="pickle"):
        ScoringModel(bundle, runtime=runtime)
    assert "pwned" not in capsys.readouterr().out


def test_onnx_with_external_data_or_garbage_is_refused(bundle_copy, tmp_path):
    import onnx

    bundle = bundle_copy("hashed_linear")
    model = onnx.load(str(bundle / "model.onnx"))
    # an ONNX file may point at "external data" files: ours are read as bytes, so it cannot reach any
    onnx.save(model, str(bundle / "model.onnx"), save_as_external_data=True, location="weights.data", size_threshold=0)
    assert (bundle / "weights.data").is_file()
    with pytest.raises(BundleError, match="not a loadable ONNX model"):
        ScoringModel(bundle, runtime="onnx")
    (bundle / "model.onnx").write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(BundleError, match="not a loadable ONNX model"):
        ScoringModel(bundle, runtime="onnx")


@pytest.mark.parametrize("runtime", ["native", "onnx"])
def test_empty_batch(exported, runtime):
    scores, labels, proba = ScoringModel(exported["char_cnn"], runtime=runtime).score_batch([])
    assert scores.shape == (0,) and labels == [] and proba.shape == (0, 2)


def test_fifty_megabyte_line_nul_bytes_and_invalid_utf8(exported, tmp_path):
    src = tmp_path / "hostile.txt"
    with open(src, "wb") as f:
        f.write(b"A" * (50 * 2**20) + b"\n")
        f.write(b"nul\x00\x00bytes\n\xff\xfe\xc3(invalid utf-8\n\n")
    for runtime in ("native", "onnx"):
        out = io.StringIO()
        stats = score_stream(ScoringModel(exported["char_cnn"], runtime=runtime), str(src), out)
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        assert stats.n_rows == 4 and stats.n_scored == 4 and stats.n_truncated == 1
        assert all(0.0 <= r["score"] <= 1.0 for r in rows)


def test_deeply_nested_json_line_is_a_flagged_row(exported, tmp_path):
    src = tmp_path / "nested.jsonl"
    src.write_bytes(b"[" * 200_000 + b"\n" + b'{"text": "ls"}\n' + b'{"text": {"a": ' * 5000 + b"\n")
    out = io.StringIO()
    stats = score_stream(ScoringModel(exported["hashed_linear"]), str(src), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["score"] is None for r in rows] == [True, False, True]
    assert stats.errors == {"malformed_json": 2}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), fmt=st.sampled_from(["lines", "jsonl", "csv", "tsv"]))
def test_score_input_reader_never_crashes(data, fmt):
    stats = ScoreStats()
    try:
        records = list(iter_records(io.BytesIO(data), fmt, stats))
    except DataError:
        return  # e.g. a CSV header without a text column: a clear, named error
    assert len(records) == stats.n_rows
    assert sum(t is None for _, t in records) == stats.n_errors
    assert all(t is None or isinstance(t, str) for _, t in records)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "text": json_values,
            "texts": st.lists(st.text(max_size=40), max_size=5) | json_values,
            "model": st.sampled_from(["cnn", "nope"]) | json_values,
            "proba": json_values,
        },
    ).map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def api(exported):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from distilsec.serving.api import ServeSettings, create_app

    with TestClient(create_app(ServeSettings(models={"cnn": str(exported["char_cnn"])}))) as c:
        yield c


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_api_fuzz_never_5xx(api, body):
    r = api.post("/v1/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 404, 413, 422), (body[:80], r.status_code, r.text[:200])
    payload = r.json()
    if r.status_code == 200:
        assert all(np.isfinite(x["score"]) for x in payload["results"])
    else:
        assert payload["detail"]
