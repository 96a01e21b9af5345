"""The cmdline task: command lines of attack tools (LOLBAS, Atomic Red Team, GTFOBins...) vs admin usage.

Examples are grouped by binary or technique, so that variants of one attack never straddle train and test.
``data.format: raw`` reads each upstream source folder under ``<data>/cmdline/raw`` (one counted input per
source); ``jsonl`` reads the pre-extracted ``<data>/cmdline/commands.jsonl.gz``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec.data.paths import resolve_data_dir
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError
from distilsec.tasks import Task
from distilsec.tasks.loaders import Input, counter_like

__all__ = ["TASK", "CMDLINE_SOURCES", "inputs"]

#: source id -> (reader name, path under <data>/cmdline/raw)
CMDLINE_SOURCES: dict[str, tuple[str, str]] = {
    "lolbas": ("read_lolbas", "LOLBAS"),
    "atomic-red-team": ("read_atomic_red_team", "atomic-red-team"),
    "gtfobins": ("read_gtfobins", "GTFOBins"),
    "loobins": ("read_loobins", "LOOBins"),
    "slp-malicious": ("read_slp", "slp"),
    "tldr": ("read_tldr", "tldr-pages.tar.xz"),
    "nl2bash": ("read_nl2bash", "nl2bash"),
}


def _raw_sources(root: Path, sources: list[str], substitute: bool, skips: SkipCounter) -> Iterator[Input]:
    """One input per upstream source; sources not selected are not read at all (no rows in)."""
    from distilsec.data import readers

    unknown = sorted(set(sources) - set(CMDLINE_SOURCES))
    if unknown:
        raise DataError(f"unknown cmdline sources {unknown} in data.sources; known: {sorted(CMDLINE_SOURCES)}")
    for source in sources or list(CMDLINE_SOURCES):
        fn_name, rel = CMDLINE_SOURCES[source]
        path = root / "cmdline" / "raw" / rel
        if not path.exists():
            raise DataError(f"cmdline source {source!r} expects {path}; it is missing")
        reader = getattr(readers, fn_name)
        kwargs = {"substitute_defaults": substitute} if source == "atomic-red-team" else {}
        sub = counter_like(skips)
        yield Input(source, reader(path, skips=sub, **kwargs), sub)


def inputs(data: Any, explicit: str | Path | None, skips: SkipCounter) -> Iterator[Input]:
    """The pre-extracted JSONL file, or one input per upstream source (``data.format``)."""
    from distilsec.data import readers

    root = resolve_data_dir(explicit, required=("cmdline",))
    if data.format == "jsonl":
        path = root / "cmdline" / "commands.jsonl.gz"
        sub = counter_like(skips)
        yield Input(str(path), readers.read_commands_jsonl(path, skips=sub), sub, frozenset(data.sources))
    else:
        yield from _raw_sources(root, list(data.sources), data.substitute_atomic_defaults, skips)


TASK = Task(name="cmdline", inputs=inputs, preprocess="cmdline", split_unit="binary or technique")
