"""The HTML task on the real pages in shared/data/html (skipped with a message when they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from distilsec.config import load_config
from distilsec.data.readers import read_html_index
from distilsec.data.skips import SkipCounter
from distilsec.data.split import canonical_group
from distilsec.pipeline.run import prepare_data

pytestmark = pytest.mark.integration
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def html_root() -> Path:
    from tests.conftest import shared_data_dir

    root = shared_data_dir()
    if root is None or not (root / "html" / "index.csv").is_file():
        pytest.skip("real HTML data not found: set DISTILSEC_DATA or place shared/data/html beside the repo")
    return root


@pytest.fixture(scope="module")
def html_data(html_root):
    cfg = load_config(CONFIGS / "html-distill.yaml", {"data.data_dir": str(html_root)})
    return prepare_data(cfg)


def test_every_real_page_reads_and_hash_checks(html_root) -> None:
    skips = SkipCounter()
    pages = list(read_html_index(html_root / "html" / "index.csv", skips=skips))
    assert len(pages) == 522 and skips.total == 0  # sha256 of every page matches the index
    assert {p.label for p in pages} == {"phishing", "benign"}
    assert all(p.text.strip() and "\x00" not in p.text for p in pages)


def test_no_brand_or_cluster_in_two_splits(html_data) -> None:
    d = html_data
    parts = {name: getattr(d, name) for name in ("train", "val", "test")}
    for key in ("brand", "near_dup_cluster"):
        seen = {name: {e.meta[key] for e in part if e.meta.get(key)} for name, part in parts.items()}
        assert not seen["train"] & seen["test"], key
        assert not seen["train"] & seen["val"], key
        assert not seen["val"] & seen["test"], key
    groups = {name: {canonical_group(e) for e in part} for name, part in parts.items()}
    assert not groups["train"] & groups["test"]
    for part in (d.train, d.test):
        assert {e.label for e in part} == {"phishing", "benign"}


def test_html_curation_and_audit_ran(html_data) -> None:
    rep = html_data.report
    assert rep["curation"]["near_duplicates"]["shingle"].endswith("first 65536 characters")
    assert rep["shortcut_audit"]["source_only"]["auc"] is not None
    assert html_data.preprocess == "none"
