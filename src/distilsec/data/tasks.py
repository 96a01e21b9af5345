"""Task loaders: the examples of one task, read from upstream formats under the data directory."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from distilsec.data.example import Example
from distilsec.data.paths import resolve_data_dir
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["load_examples", "CMDLINE_SOURCES"]

log = logging.getLogger("distilsec.data")

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


def _cmdline_raw(root: Path, sources: list[str], substitute: bool, skips: SkipCounter) -> Iterator[Example]:
    from distilsec.data import readers

    unknown = sorted(set(sources) - set(CMDLINE_SOURCES))
    if unknown:
        raise DataError(f"unknown cmdline sources {unknown}; known: {sorted(CMDLINE_SOURCES)}")
    for source in sources or list(CMDLINE_SOURCES):
        fn_name, rel = CMDLINE_SOURCES[source]
        path = root / "cmdline" / "raw" / rel
        if not path.exists():
            raise DataError(f"cmdline source {source!r} expects {path}; it is missing")
        reader = getattr(readers, fn_name)
        kwargs = {"substitute_defaults": substitute} if source == "atomic-red-team" else {}
        yield from reader(path, skips=skips, **kwargs)


def _html_pages(data: object, explicit: str | Path | None, skips: SkipCounter) -> Iterator[Example]:
    """The html task: ``data.path`` (an index CSV or a folder of pages), else ``<data>/html/index.csv``."""
    from distilsec.data import readers

    path = data.path  # type: ignore[attr-defined]
    if path:
        p = Path(path).expanduser()
        stream = readers.read_html_dir(p, skips=skips) if p.is_dir() else readers.read_html_index(p, skips=skips)
    else:
        root = resolve_data_dir(explicit, required=("html",))
        stream = readers.read_html_index(root / "html" / "index.csv", skips=skips)
    if data.sources:  # type: ignore[attr-defined]
        stream = (e for e in stream if e.source in data.sources)  # type: ignore[attr-defined]
    return stream


def load_examples(
    data: object, *, data_dir: str | Path | None = None, skips: SkipCounter | None = None
) -> list[Example]:
    """Read all examples of the configured task (``data`` is a ``DataSection``).

    Labels are mapped with ``data.label_map``; texts are cut to ``data.max_text_chars``.
    """
    from distilsec.data import readers

    skips = skips if skips is not None else SkipCounter()
    task = data.task  # type: ignore[attr-defined]
    explicit = data_dir or data.data_dir  # type: ignore[attr-defined]
    if task == "cmdline":
        root = resolve_data_dir(explicit, required=("cmdline",))
        if data.format == "jsonl":  # type: ignore[attr-defined]
            stream: Iterator[Example] = readers.read_commands_jsonl(root / "cmdline" / "commands.jsonl.gz", skips=skips)
            if data.sources:  # type: ignore[attr-defined]
                stream = (e for e in stream if e.source in data.sources)  # type: ignore[attr-defined]
        else:
            stream = _cmdline_raw(root, list(data.sources), data.substitute_atomic_defaults, skips)  # type: ignore[attr-defined]
    elif task == "url":
        root = resolve_data_dir(explicit, required=("url",))
        stream = readers.read_url_csv(root / "url" / "urls.csv.gz", skips=skips)
        if data.sources:  # type: ignore[attr-defined]
            stream = (e for e in stream if e.source in data.sources)  # type: ignore[attr-defined]
    elif task == "html":
        stream = _html_pages(data, explicit, skips)
    elif task == "table":
        if not data.path:  # type: ignore[attr-defined]
            raise DataError("data.task 'table' needs data.path (a CSV, JSONL or Parquet file)")
        stream = readers.read_table(
            data.path,  # type: ignore[attr-defined]
            text_column=data.text_column,  # type: ignore[attr-defined]
            label_column=data.label_column,  # type: ignore[attr-defined]
            group_column=data.group_column,  # type: ignore[attr-defined]
            time_column=data.time_column,  # type: ignore[attr-defined]
            skips=skips,
        )
    else:
        raise DataError(f"unknown task {task!r}")
    label_map: dict[str, str] = data.label_map  # type: ignore[attr-defined]
    max_chars: int = data.max_text_chars  # type: ignore[attr-defined]
    out = []
    for ex in stream:
        label = label_map.get(ex.label, ex.label) if ex.label is not None else None
        if label is None:
            skips.skip("unlabelled", ex.source)
            continue
        if label != ex.label:
            ex = ex.with_label(label)
        if len(ex.text) > max_chars:
            ex = ex.with_text(ex.text[:max_chars])
        out.append(ex)
    if not out:
        raise DataError(f"the {task} task read no labelled examples (skips: {skips.as_dict()})")
    log.info("read %d %s examples (%d skipped)", len(out), task, skips.total)
    return out
