"""URL readers: combined urls.csv, raw lists, PhishTank and ISCX CSVs, registrable domains."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from distilsec.data.readers import (
    read_iscx_csv,
    read_phishtank_csv,
    read_url_csv,
    read_url_list,
    registrable_domain,
    url_parts,
)
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

HEADER = "url,label,source,host,reg_domain,reg_domain_private,has_scheme,date,target,source_id,label_conflict\n"
URL_ROWS = [
    # commas and doubled quotes inside a quoted field
    '"http://a.example.com/p?x=1,2&q=""hi""",phishing,phishtank-2017-10-07,a.example.com,example.com,'
    "example.com,1,2017-10-07T00:38:29+00:00,PayPal,5268495,0\n",
    "foo.pages.dev/login,malicious,ut1,foo.pages.dev,pages.dev,foo.pages.dev,0,,,3,0\n",
    "broken,row,with,too,few,fields\n",
    "   ,benign,opendns,,,,0,,,4,0\n",
    "google.com,benign,opendns/opendns-top-domains.txt,google.com,google.com,google.com,0,,,0,0\n",
]


@pytest.fixture
def url_csv(tmp_path: Path) -> Path:
    path = tmp_path / "urls.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(HEADER + "".join(URL_ROWS))
    return path


def test_url_csv(url_csv: Path) -> None:
    skips = SkipCounter()
    got = list(read_url_csv(url_csv, skips=skips))
    assert [e.text for e in got] == [
        'http://a.example.com/p?x=1,2&q="hi"',
        "foo.pages.dev/login",
        "google.com",
    ]
    first = got[0]
    assert (first.label, first.group, first.source, first.time) == (
        "phishing",
        "example.com",
        "phishtank-2017-10-07",
        "2017-10-07T00:38:29+00:00",
    )
    assert first.meta["has_scheme"] == 1
    assert first.meta["host"] == "a.example.com"
    assert first.meta["target"] == "PayPal"
    assert first.meta["reg_domain_private"] == "example.com"
    assert got[1].meta["has_scheme"] == 0
    assert skips.as_dict() == {"empty_text": 1, "malformed_row": 1}


def test_url_csv_group_column(url_csv: Path) -> None:
    got = list(read_url_csv(url_csv, group_column="reg_domain_private"))
    assert got[1].group == "foo.pages.dev"


def test_url_csv_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("address,label\nhttp://x.org,benign\n")
    with pytest.raises(DataError, match=r"url.*found.*address"):
        list(read_url_csv(path))


@pytest.mark.parametrize(
    ("url", "icann", "private"),
    [
        ("http://www.bbc.co.uk/news", "bbc.co.uk", "bbc.co.uk"),
        ("foo.pages.dev/login", "pages.dev", "foo.pages.dev"),
        ("HTTPS://Mail.Google.COM:443/x", "google.com", "google.com"),
        ("http://84.203.152.12/paypal", "84.203.152.12", "84.203.152.12"),
        ("http://[2001:db8::1]/x", "2001:db8::1", "2001:db8::1"),
        ("rj.gov.br", "rj.gov.br", "rj.gov.br"),
        ("kh.ua.", "kh.ua", "kh.ua"),
        ('"http://quoted.example/x"', "", ""),
        ("http://[broken/x", "", ""),
        ("", "", ""),
    ],
)
def test_registrable_domain(url: str, icann: str, private: str) -> None:
    assert registrable_domain(url) == icann
    assert registrable_domain(url, private=True) == private


def test_url_parts() -> None:
    assert url_parts("example.org/a") == {
        "has_scheme": 0,
        "host": "example.org",
        "reg_domain": "example.org",
        "reg_domain_private": "example.org",
    }


def test_url_list_xz_and_txt(tmp_path: Path) -> None:
    ut1 = tmp_path / "malware_urls.xz"
    with lzma.open(ut1, "wt", encoding="utf-8") as fh:
        fh.write("0001-5cf.pages.dev/awards\n\n# a comment\nbad.example.com/x.exe\n")
    skips = SkipCounter()
    got = list(read_url_list(ut1, "malicious", "ut1-malware", skips=skips))
    assert [(e.text, e.group, e.label, e.source) for e in got] == [
        ("0001-5cf.pages.dev/awards", "pages.dev", "malicious", "ut1-malware"),
        ("bad.example.com/x.exe", "example.com", "malicious", "ut1-malware"),
    ]
    assert got[0].meta["reg_domain_private"] == "0001-5cf.pages.dev"
    assert got[1].meta["source_id"] == 3
    assert skips.as_dict() == {"comment": 1}


def test_url_list_unparsable_host_is_kept_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("http://[oops/\ngoogle.com\n")
    skips = SkipCounter()
    got = list(read_url_list(path, "benign", "x", skips=skips))
    assert [e.group for e in got] == ["", "google.com"]
    assert skips.as_dict() == {}  # kept, so not a skip: rows in = rows read + rows skipped
    assert skips.notes_dict() == {"no_registrable_domain": 1}


def test_phishtank_csv(tmp_path: Path) -> None:
    path = tmp_path / "phish_2017.csv.bz2"
    text = (
        "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target,domain\n"
        "5268495,http://bcp.betavipbcpx.tk/bcp/Op,http://www.phishtank.com/phish_detail.php?phish_id=5268495,"
        "2017-10-07T00:38:29+00:00,yes,2017-10-07T00:42:07+00:00,yes,Other,bcp.betavipbcpx.tk\n"
        '5268481,"https://tubos.net/a,b",http://pt/x,2017-10-07T00:18:24+00:00,yes,x,yes,PayPal,tubos.net\n'
        "999,truncated row\n"
    )
    path.write_bytes(bz2.compress(text.encode()))
    skips = SkipCounter()
    got = list(read_phishtank_csv(path, skips=skips, source="phishtank-2017-10-07"))
    assert [(e.text, e.group, e.time) for e in got] == [
        ("http://bcp.betavipbcpx.tk/bcp/Op", "betavipbcpx.tk", "2017-10-07T00:38:29+00:00"),
        ("https://tubos.net/a,b", "tubos.net", "2017-10-07T00:18:24+00:00"),
    ]
    assert got[1].meta["target"] == "PayPal"
    assert got[1].meta["source_id"] == "5268481"
    assert {(e.label, e.source) for e in got} == {("phishing", "phishtank-2017-10-07")}
    assert skips.as_dict() == {"malformed_row": 1}


def test_iscx_csv(tmp_path: Path) -> None:
    path = tmp_path / "phishing_dataset.csv.gz"
    text = (
        "URLs\n"
        "http://www.example.com/login.php\n"
        '"http://savageranch.com/portal/IBlogin2FA1,5599,,00.html"\n'
        "http://unquoted.com/a,b\n"
        '"http://x.org/""quoted"""\n'
    )
    path.write_bytes(gzip.compress(text.encode()))
    skips = SkipCounter()
    got = list(read_iscx_csv(path, "phishing", skips=skips))
    assert [e.text for e in got] == [
        "http://www.example.com/login.php",
        "http://savageranch.com/portal/IBlogin2FA1,5599,,00.html",
        'http://x.org/"quoted"',
    ]
    assert [e.meta["source_id"] for e in got] == [0, 1, 3]
    assert got[1].group == "savageranch.com"
    assert {e.source for e in got} == {"iscx-url-2016/phishing_dataset.csv"}
    assert skips.as_dict() == {"malformed_row": 1}
