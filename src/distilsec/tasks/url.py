"""The url task: phishing and malware URLs vs benign ones (``<data>/url/urls.csv.gz``).

Examples are grouped by registrable domain: URLs of one site share almost all their text, so a site is
kept whole in one split.
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
    """The one URL file under the data directory."""
    from distilsec.data import readers

    path = resolve_data_dir(explicit, required=("url",)) / "url" / "urls.csv.gz"
    sub = counter_like(skips)
    yield Input(str(path), readers.read_url_csv(path, skips=sub), sub, frozenset(data.sources))


TASK = Task(name="url", inputs=inputs, preprocess="url", split_unit="registrable domain")
