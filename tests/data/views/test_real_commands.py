"""decoded.v1 on the real command-line data: never fails, stays bounded, fast enough for a teacher."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from distilsec.data.views import apply_view
from distilsec.data.views.decoded import SEPARATOR

pytestmark = pytest.mark.integration


def test_all_shared_commands(real_data: Path) -> None:
    path = real_data / "cmdline" / "commands.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    start = time.perf_counter()
    views = apply_view("decoded.v1", texts)
    seconds = time.perf_counter() - start
    assert len(views) == len(texts)
    assert seconds < 60  # about 1.5 s for 45k commands on one core of the shared machine
    changed = [(t, v) for t, v in zip(texts, views, strict=True) if t != v]
    assert all(v.startswith(t + SEPARATOR) and len(v) <= 4 * len(t) for t, v in changed)
    assert 0 < len(changed) < len(texts) // 5
    assert any("powershell-encoded: " in v for _, v in changed)  # Atomic's -EncodedCommand tests
