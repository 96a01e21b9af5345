"""The html task: phishing pages vs legitimate ones.

``data.path`` names an index CSV or a folder of ``.html`` pages; without it ``<data>/html/index.csv`` is read.
Pages are grouped by the site (or kit) they come from, so that copies of one page never straddle splits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec.data.paths import resolve_data_dir
from distilsec.data.skips import SkipCounter
from distilsec.tasks import Task
from distilsec.tasks.loaders import Input, counter_like

__all__ = ["TASK", "inputs"]


def inputs(data: Any, explicit: str | Path | None, skips: SkipCounter) -> Iterator[Input]:
    """The index CSV or the folder of pages (one input)."""
    from distilsec.data import readers

    sub = counter_like(skips)
    if data.path:
        p = Path(data.path).expanduser()
        stream = readers.read_html_dir(p, skips=sub) if p.is_dir() else readers.read_html_index(p, skips=sub)
    else:
        p = resolve_data_dir(explicit, required=("html",)) / "html" / "index.csv"
        stream = readers.read_html_index(p, skips=sub)
    yield Input(str(p), stream, sub, frozenset(data.sources))


TASK = Task(name="html", inputs=inputs, preprocess="none", split_unit="site or phishing kit")
