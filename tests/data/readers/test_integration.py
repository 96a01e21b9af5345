"""The raw readers on the real upstream snapshots reproduce the published extraction counts.

Expected counts are the "extracted" column of ``cmdline/README.md`` and the "upstream rows" column of
``url/README.md``; a few percent of slack allows for a refreshed snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from distilsec.data import readers
from distilsec.data.example import Example
from distilsec.data.skips import SkipCounter

pytestmark = pytest.mark.integration

# tests/data/readers/<this file> -> parents[3] is the repository root; the data sits beside it.
DEFAULT_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture(scope="module")
def data_dir() -> Path:
    env = os.environ.get("DISTILSEC_DATA")
    path = (Path(env) if env else DEFAULT_DATA).resolve()
    if not (path / "cmdline").is_dir() or not (path / "url").is_dir():
        pytest.skip(f"real data not found at {path}: set DISTILSEC_DATA to a folder with cmdline/ and url/")
    return path


Reader = Callable[[Path, SkipCounter], Iterator[Example]]

CMDLINE: dict[str, tuple[str, Reader, int]] = {
    "lolbas": ("LOLBAS", lambda p, s: readers.read_lolbas(p, skips=s), 482),
    "atomic-red-team": ("atomic-red-team", lambda p, s: readers.read_atomic_red_team(p, skips=s), 1803),
    "gtfobins": ("GTFOBins", lambda p, s: readers.read_gtfobins(p, skips=s), 822),
    "loobins": ("LOOBins", lambda p, s: readers.read_loobins(p, skips=s), 183),
    "slp-malicious": ("slp", lambda p, s: readers.read_slp(p, skips=s), 123),
    "tldr": ("tldr-pages.tar.xz", lambda p, s: readers.read_tldr(p, skips=s), 32135),
    "nl2bash": ("nl2bash", lambda p, s: readers.read_nl2bash(p, skips=s), 12607),
}


def _close(got: int, expected: int, tol: float = 0.03) -> bool:
    return abs(got - expected) <= max(1, tol * expected)


@pytest.mark.parametrize("source", list(CMDLINE))
def test_cmdline_raw_reader_counts(data_dir: Path, source: str) -> None:
    rel, reader, expected = CMDLINE[source]
    skips = SkipCounter()
    got = list(reader(data_dir / "cmdline" / "raw" / rel, skips))
    assert _close(len(got), expected), f"{source}: {len(got)} records, README says {expected}"
    assert {e.source for e in got} == {source}
    assert all(e.text and e.text == e.text.strip() and e.group for e in got)
    assert "yaml_error" not in skips.counts


def test_atomic_skips_manual_tests_like_upstream(data_dir: Path) -> None:
    skips = SkipCounter()
    list(readers.read_atomic_red_team(data_dir / "cmdline" / "raw" / "atomic-red-team", skips=skips))
    assert skips.counts["manual_executor"] + skips.counts["no_command"] == pytest.approx(16, abs=2)


def test_raw_texts_match_the_published_file(data_dir: Path) -> None:
    published = {(e.text, e.label) for e in readers.read_commands_jsonl(data_dir / "cmdline" / "commands.jsonl.gz")}
    raw = data_dir / "cmdline" / "raw"
    for rel, reader, _ in CMDLINE.values():
        got = {(e.text, e.label) for e in reader(raw / rel, SkipCounter())}
        assert len(got - published) <= max(1, 0.01 * len(got)), rel


def test_commands_jsonl(data_dir: Path) -> None:
    got = list(readers.read_commands_jsonl(data_dir / "cmdline" / "commands.jsonl.gz"))
    assert _close(len(got), 45060)
    assert all(len(e.id) == 16 for e in got)


def test_url_csv_count(data_dir: Path) -> None:
    skips = SkipCounter()
    got = list(readers.read_url_csv(data_dir / "url" / "urls.csv.gz", skips=skips))
    assert _close(len(got), 120932), len(got)
    assert skips.total == 0
    assert {e.label for e in got} >= {"benign", "phishing", "malware", "spam", "malicious"}


URL_RAW: list[tuple[str, Callable[[Path, SkipCounter], Iterator[Example]], int]] = [
    (
        "iscx-url-2016/Benign_list_big_final.csv.gz",
        lambda p, s: readers.read_iscx_csv(p, "benign", skips=s),
        35378,
    ),
    (
        "iscx-url-2016/phishing_dataset.csv.gz",
        lambda p, s: readers.read_iscx_csv(p, "phishing", skips=s),
        9965,
    ),
    (
        "iscx-url-2016/Malware_dataset.csv.gz",
        lambda p, s: readers.read_iscx_csv(p, "malware", skips=s),
        11566,
    ),
    ("iscx-url-2016/spam_dataset.csv.gz", lambda p, s: readers.read_iscx_csv(p, "spam", skips=s), 12000),
    ("phishtank/phish_2017.csv.bz2", lambda p, s: readers.read_phishtank_csv(p, skips=s), 22144),
    ("ut1/malware_urls.xz", lambda p, s: readers.read_url_list(p, "malicious", "ut1", skips=s), 19226),
    (
        "opendns/opendns-top-domains.txt",
        lambda p, s: readers.read_url_list(p, "benign", "opendns", skips=s),
        10000,
    ),
    (
        "opendns/opendns-random-domains.txt",
        lambda p, s: readers.read_url_list(p, "benign", "opendns", skips=s),
        10000,
    ),
]


@pytest.mark.parametrize(("rel", "reader", "expected"), URL_RAW, ids=[u[0] for u in URL_RAW])
def test_raw_url_list_counts(data_dir: Path, rel: str, reader: Reader, expected: int) -> None:
    path = data_dir / "url" / "raw" / rel
    if not path.exists():
        pytest.skip(f"{path} not present (withheld or not downloaded)")
    got = list(reader(path, SkipCounter()))
    assert _close(len(got), expected), f"{rel}: {len(got)} rows, README says {expected}"


def test_raw_url_groups_match_the_published_reg_domain(data_dir: Path) -> None:
    published = {e.text: e for e in readers.read_url_csv(data_dir / "url" / "urls.csv.gz")}
    got = list(readers.read_url_list(data_dir / "url" / "raw" / "ut1" / "malware_urls.xz", "malicious", "ut1"))
    same = sum(published[e.text].group == e.group for e in got if e.text in published)
    assert same >= 0.99 * len(got)
