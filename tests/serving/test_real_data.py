"""Export parity and engine equality on real URLs from ../shared/data (skipped when the data is absent)."""

from __future__ import annotations

import csv
import gzip
import io
import itertools

import pytest

from distilsec.bundle import update_manifest
from distilsec.data.preprocess import get_preprocessor
from distilsec.serving.export import export_onnx
from distilsec.serving.scoring import ScoringModel, score_stream


@pytest.mark.integration
def test_real_urls_export_parity_and_scoring(real_data, tmp_path):
    from distilsec.students import HashedLinearStudent

    path = real_data / "url" / "urls.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(itertools.islice(csv.DictReader(f), 0, 120000, 24))  # 5,000 rows spread over the file
    norm = get_preprocessor("url")
    texts = [r["url"] for r in rows]
    labels = ["benign" if r["label"] == "benign" else "malicious" for r in rows]
    train, held_out = slice(0, 3000), slice(3000, None)
    bundle = HashedLinearStudent(n_features=2**16, epochs=2).fit([norm(t) for t in texts[train]], labels[train])
    bundle = bundle.save(tmp_path / "linear")
    update_manifest(bundle, threshold=0.5, preprocess="url", positive="malicious", negative="benign")
    result = export_onnx(bundle, validation_texts=texts[held_out], int8=True)
    assert result.parity["fp32"]["ok"] and result.parity["fp32"]["n"] == len(texts[held_out])
    assert result.parity["fp32"]["n_decisions_differ"] == 0
    src = tmp_path / "urls.txt"
    src.write_text("\n".join(texts[held_out]) + "\n")
    outs = []
    for runtime in ("native", "onnx"):
        out = io.StringIO()
        stats = score_stream(ScoringModel(bundle, runtime=runtime), str(src), out)
        assert stats.n_scored == len(texts[held_out])
        outs.append([line.split('"label": ')[1] for line in out.getvalue().splitlines()])
    assert outs[0] == outs[1]  # same decision on every real URL
