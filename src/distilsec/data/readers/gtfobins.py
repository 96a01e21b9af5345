"""GTFOBins: Unix binaries that can be abused to break out of restricted shells, escalate, exfiltrate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, load_yaml_mapping, need_dir, sorted_files
from distilsec.data.skips import SkipCounter

__all__ = ["read_gtfobins"]

SOURCE = "gtfobins"


def read_gtfobins(root: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream ``functions.<function>[].code`` of a GTFOBins checkout as malicious examples.

    Parameters
    ----------
    root : the checkout (``GTFOBins.github.io``), i.e. the folder that holds ``_gtfobins/``.
    skips : counter for dropped records.

    Returns
    -------
    Iterator[Example]
        One example per code snippet; ``group`` is the binary (the file name) because all snippets
        of one binary share its name and syntax. Entries are front-matter files without extension;
        alias entries (``alias: gcc``) hold no code and yield nothing.

    Raises
    ------
    DataError
        When ``root`` or ``root/_gtfobins`` is missing (raised at call time).
    """
    base = need_dir(root, "GTFOBins checkout", "a folder with _gtfobins/<binary> front-matter files")
    need_dir(base / "_gtfobins", "GTFOBins _gtfobins folder", "_gtfobins/<binary> files (YAML, no extension)")
    return _iter(base, counter(skips))


def _has_functions(doc: dict[Any, Any]) -> bool:
    return "functions" in doc


def _iter(base: Path, skips: SkipCounter) -> Iterator[Example]:
    for path in sorted_files(base / "_gtfobins", "*"):
        if path.name.startswith("."):
            continue
        rel = path.relative_to(base).as_posix()
        doc = load_yaml_mapping(path, rel, skips, want=_has_functions)
        if doc is None:  # alias entries and pages without functions
            continue
        functions = doc.get("functions")
        if not isinstance(functions, dict):
            skips.skip("malformed_entry", f"{rel}#functions")
            continue
        for function, items in functions.items():
            yield from _function(path.name, str(function), items, rel, skips)


def _function(binary: str, function: str, items: Any, rel: str, skips: SkipCounter) -> Iterator[Example]:
    if not isinstance(items, list):
        skips.skip("malformed_entry", f"{rel}#functions.{function}")
        return
    for i, item in enumerate(items):
        where = f"{rel}#functions.{function}[{i}]"
        if not isinstance(item, dict):
            skips.skip("malformed_entry", where)
            continue
        text = clean_text(item.get("code"), where, skips)
        if text is None:
            continue
        contexts = item.get("contexts")
        yield Example(
            text=text,
            label="malicious",
            group=binary,
            source=SOURCE,
            platform="linux",
            meta={
                "function": function,
                "contexts": sorted(map(str, contexts)) if isinstance(contexts, dict | list) else [],
                "comment": item.get("comment"),
                "upstream_path": rel,
                "upstream_index": i,
            },
        )
