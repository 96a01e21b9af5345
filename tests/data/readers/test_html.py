"""The HTML readers: any encoding, capped sizes, counted skips, and groups that keep brands together."""

from __future__ import annotations

import csv
import gzip
import hashlib
import tracemalloc
from pathlib import Path

import pytest

from distilsec.data import readers
from distilsec.data.readers.html import decode_html, html_groups
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

PAGE = b"<html><head><title>Sign in</title></head><body><form action=x.php><input type=password></form></body></html>"
COLUMNS = ["id", "file", "sha256", "bytes", "label", "source", "group", "brand", "near_dup_cluster", "url", "note"]


def _write_index(root: Path, pages: list[dict], *, columns: list[str] = COLUMNS) -> Path:
    """index.csv + pages/<id>.html.gz for ``pages`` (dicts with ``id``, ``body`` and any column)."""
    (root / "pages").mkdir(parents=True, exist_ok=True)
    with open(root / "index.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for p in pages:
            body = p.get("body", PAGE)
            rel = p.get("file", f"pages/{p['id']}.html.gz")
            if body is not None:
                with gzip.open(root / rel, "wb") as gz:
                    gz.write(body)
            row = {
                "sha256": hashlib.sha256(body or b"").hexdigest(),
                "bytes": len(body or b""),
                "label": "phishing",
                "source": "test",
                "group": p["id"],
                "brand": "",
                "near_dup_cluster": p["id"],
                **p,
                "file": rel,
            }
            w.writerow([row.get(c, "") for c in columns])
    return root / "index.csv"


# ------------------------------------------------------------------------------------------ decoding


def test_decode_utf8_and_bom() -> None:
    assert decode_html("<p>café 日本</p>".encode()) == ("<p>café 日本</p>", "utf-8")
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == ("<p>x</p>", "utf-8")
    text, enc = decode_html("\ufeff<p>é</p>".encode("utf-16-le"))
    assert text == "<p>é</p>" and enc == "utf-16-le"


def test_decode_declared_legacy_charsets() -> None:
    cyr = '<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251")
    assert decode_html(cyr) == ('<meta charset="windows-1251"><p>Привет</p>', "cp1251")
    sjis = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><p>ログイン</p>'
    text, enc = decode_html(sjis.encode("shift_jis"))
    assert "ログイン" in text and enc == "shift_jis"
    # a "latin-1" page is decoded as windows-1252, as browsers do (0x80 is the euro sign)
    text, enc = decode_html(b"<meta charset=iso-8859-1><p>\x80 5</p>")
    assert "€ 5" in text and enc == "cp1252"


def test_valid_utf8_wins_over_a_stale_declaration() -> None:
    page = '<meta charset="iso-8859-1"><p>Привет</p>'.encode()
    assert decode_html(page)[0] == '<meta charset="iso-8859-1"><p>Привет</p>'


def test_invalid_utf8_without_declaration_falls_back() -> None:
    text, enc = decode_html(b"<p>caf\xe9 \xa9 2017</p>")
    assert text == "<p>café © 2017</p>" and enc == "cp1252"
    # mostly UTF-8 with one stray byte: stays UTF-8, the stray byte becomes U+FFFD
    text, enc = decode_html("<p>日本 ".encode() + b"\xff</p>")
    assert text == "<p>日本 \ufffd</p>" and enc == "utf-8"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 100,
        bytes(range(256)) * 50,
        b"<meta charset=rot13><p>x</p>\xff",
        b"<meta charset=utf-16><p>\xff</p>",
        b"<meta charset=no-such-codec><p>\xff</p>",
        b"\xfe\xff\x00",  # a UTF-16 BOM and half a character
    ],
)
def test_decode_never_raises_and_removes_nul(raw: bytes) -> None:
    text, enc = decode_html(raw)
    assert isinstance(text, str) and enc
    assert "\x00" not in text


def test_a_character_cut_by_the_cap_is_not_an_encoding_error() -> None:
    raw = "<p>ééé</p>".encode()[:6]  # ends inside the second é
    text, enc = decode_html(raw, truncated=True)
    assert enc == "utf-8" and text == "<p>é"


# ------------------------------------------------------------------------------------------ index.csv


def test_read_index_yields_examples_with_meta(tmp_path: Path) -> None:
    index = _write_index(
        tmp_path,
        [
            {"id": "a1", "brand": "paypal", "url": "http://x.example/", "note": "n"},
            {"id": "b2", "label": "benign", "brand": "news", "body": b"<p>hello</p>"},
        ],
    )
    got = list(readers.read_html_index(index))
    assert [e.id for e in got] == ["a1", "b2"]
    assert got[0].text == PAGE.decode() and got[0].label == "phishing" and got[0].source == "test"
    assert got[0].meta["brand"] == "paypal" and got[0].meta["url"] == "http://x.example/"
    assert got[0].meta["encoding"] == "utf-8" and got[0].meta["truncated"] is False
    assert got[1].label == "benign" and got[1].text == "<p>hello</p>"


def test_non_utf8_and_nul_pages_are_kept_and_noted(tmp_path: Path) -> None:
    index = _write_index(
        tmp_path,
        [
            {"id": "cyr", "body": '<meta charset="koi8-r"><p>Вход</p>'.encode("koi8-r")},
            {"id": "nul", "body": b"<p>a\x00b</p>"},
            {"id": "bad", "body": b"<p>\xff\xfe\xfd garbage \x81</p>"},
        ],
    )
    skips = SkipCounter()
    got = {e.id: e for e in readers.read_html_index(index, skips=skips)}
    assert "Вход" in got["cyr"].text and got["cyr"].meta["encoding"] == "koi8-r"
    assert got["nul"].text == "<p>a\ufffdb</p>"
    assert "garbage" in got["bad"].text
    assert skips.total == 0
    assert skips.notes_dict() == {"nul_replaced": 1, "undecodable_bytes_replaced": 1}


def test_a_50mb_page_is_cut_while_streaming(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    chunk = b"<div class=row><a href='/x'>link text</a></div>\n" * 20_000  # ~1 MB
    with gzip.open(tmp_path / "pages" / "big.html.gz", "wb", compresslevel=1) as gz:
        gz.write(b"<html><body>")
        for _ in range(50):  # 50 MB, written 1 MB at a time: never in memory whole
            gz.write(chunk)
    index = _write_index(tmp_path, [{"id": "big", "body": None, "sha256": "0" * 64}])
    skips = SkipCounter()
    cap = 1 << 20
    tracemalloc.start()
    try:
        (ex,) = readers.read_html_index(index, skips=skips, max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ex.text) == cap and ex.meta["truncated"] is True
    assert skips.notes_dict() == {"page_truncated": 1}
    assert skips.total == 0  # a cut page cannot be hash-checked, and is not a skip
    assert peak < 12 * cap, peak  # a few copies of the capped page at most, never 50 MB


def test_bad_rows_and_pages_are_counted(tmp_path: Path) -> None:
    index = _write_index(
        tmp_path,
        [
            {"id": "ok"},
            {"id": "empty", "body": b""},
            {"id": "blank", "body": b"  \n\t "},
            {"id": "gone", "file": "pages/not-there.html.gz", "body": None},
            {"id": "escape", "file": "../outside.html", "body": None},
            {"id": "abs", "file": "/etc/passwd", "body": None},
            {"id": "hash", "sha256": "f" * 64},
            {"id": "ok"},
        ],
    )
    with open(index, "a", encoding="utf-8") as fh:
        fh.write("short,row\n")
        fh.write(",pages/x.html.gz,,,phishing,,,,,,\n")
    (tmp_path / "pages" / "corrupt.html.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    with open(index, "a", encoding="utf-8") as fh:
        fh.write("corrupt,pages/corrupt.html.gz,,,phishing,t,,,,,\n")
    (tmp_path.parent / "outside.html").write_bytes(PAGE)
    skips = SkipCounter()
    got = list(readers.read_html_index(index, skips=skips))
    assert [e.id for e in got] == ["ok"]
    assert skips.as_dict() == {
        "duplicate_id": 1,
        "empty_page": 2,
        "malformed_row": 1,
        "missing_id": 1,
        "missing_page": 1,
        "sha256_mismatch": 1,
        "unreadable_page": 1,
        "unsafe_path": 2,
    }


def test_index_missing_columns_is_a_data_error(tmp_path: Path) -> None:
    index = _write_index(tmp_path, [{"id": "a"}], columns=["id", "file", "brand"])
    with pytest.raises(DataError, match=r"missing column\(s\) \['label', 'near_dup_cluster'\]"):
        list(readers.read_html_index(index))
    # a user's index without brand/cluster columns can group by its own column
    index = _write_index(tmp_path, [{"id": "a", "group": "kit1"}], columns=["id", "file", "label", "group"])
    (ex,) = readers.read_html_index(index, group_by=())
    assert ex.group == "kit1"


def test_empty_index_gives_nothing(tmp_path: Path) -> None:
    (tmp_path / "index.csv").write_bytes(b"")
    skips = SkipCounter()
    assert list(readers.read_html_index(tmp_path / "index.csv", skips=skips)) == []
    assert skips.as_dict() == {"empty_file": 1}


# -------------------------------------------------------------------------------------------- groups


def test_groups_are_components_of_brand_and_cluster() -> None:
    rows = [
        {"id": "1", "brand": "facebook", "near_dup_cluster": "c1"},
        {"id": "2", "brand": "instagram", "near_dup_cluster": "c1"},  # same template as 1, other brand
        {"id": "3", "brand": "instagram", "near_dup_cluster": "c3"},
        {"id": "4", "brand": "vk", "near_dup_cluster": "c4"},
        {"id": "5", "brand": "", "near_dup_cluster": ""},
    ]
    g = html_groups(rows, ["brand", "near_dup_cluster"])
    assert g["1"] == g["2"] == g["3"] == "brand=facebook"
    assert g["4"] == "brand=vk" and g["5"] == ""
    assert html_groups(list(reversed(rows)), ["brand", "near_dup_cluster"]) == g  # order-independent


def test_index_groups_join_brand_and_cluster(tmp_path: Path) -> None:
    index = _write_index(
        tmp_path,
        [
            {"id": "a", "brand": "fb", "near_dup_cluster": "k"},
            {"id": "b", "brand": "ig", "near_dup_cluster": "k", "body": PAGE + b" "},
            {"id": "c", "brand": "ig", "near_dup_cluster": "c", "body": PAGE + b"  "},
            {"id": "d", "brand": "vk", "near_dup_cluster": "d", "body": PAGE + b"   "},
        ],
    )
    got = {e.id: e for e in readers.read_html_index(index)}
    assert got["a"].group == got["b"].group == got["c"].group != got["d"].group
    assert got["a"].meta["upstream_group"] == "a"


# ------------------------------------------------------------------------------------------- folders


def test_read_dir_labels_from_subfolders(tmp_path: Path) -> None:
    (tmp_path / "phishing" / "kit1").mkdir(parents=True)
    (tmp_path / "benign").mkdir()
    (tmp_path / "phishing" / "kit1" / "index.html").write_bytes(PAGE)
    with gzip.open(tmp_path / "phishing" / "kit1" / "login.HTM.gz", "wb") as gz:
        gz.write(PAGE.replace(b"Sign in", b"Log in"))
    (tmp_path / "benign" / "news.html").write_bytes("<p>Nachrichten für alle</p>".encode("cp1252"))
    (tmp_path / "benign" / "empty.html").write_bytes(b"")
    (tmp_path / "benign" / "notes.txt").write_bytes(b"not a page")
    (tmp_path / "top.html").write_bytes(b"<p>no label</p>")
    skips = SkipCounter()
    got = {e.meta["path"]: e for e in readers.read_html_dir(tmp_path, skips=skips, source="mine")}
    assert set(got) == {"phishing/kit1/index.html", "phishing/kit1/login.HTM.gz", "benign/news.html", "top.html"}
    assert got["phishing/kit1/index.html"].label == "phishing" and got["phishing/kit1/index.html"].group == "kit1"
    assert got["benign/news.html"].label == "benign" and got["benign/news.html"].text == "<p>Nachrichten für alle</p>"
    assert got["top.html"].label is None and got["benign/news.html"].group == ""
    assert all(e.source == "mine" for e in got.values())
    assert skips.as_dict() == {"empty_page": 1}

    every = list(readers.read_html_dir(tmp_path / "benign", label="benign"))
    assert [e.meta["path"] for e in every] == ["news.html"]


def test_read_page_reports_truncation(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_bytes(b"<p>" + b"x" * 100 + b"</p>")
    text, info = readers.read_html_page(path, max_bytes=10)
    assert text == "<p>xxxxxxx" and info["truncated"] is True and info["sha256"] is None
    text, info = readers.read_html_page(path)
    assert info["truncated"] is False and info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DataError):
        readers.read_html_page(tmp_path / "missing.html")


def test_bad_max_bytes_is_an_error_at_call_time(tmp_path: Path) -> None:
    index = _write_index(tmp_path, [{"id": "a"}])
    with pytest.raises(DataError, match="max_bytes"):
        readers.read_html_index(index, max_bytes=0)
    with pytest.raises(DataError, match="max_bytes"):
        readers.read_html_dir(tmp_path, max_bytes=-1)
