"""LOOBins (Living Off the Orchard): macOS binaries abused by attackers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from distilsec.data.example import Example
from distilsec.data.readers._common import (
    clean_text,
    counter,
    iso_date,
    load_yaml_mapping,
    need_dir,
    sorted_files,
)
from distilsec.data.skips import SkipCounter

__all__ = ["read_loobins"]

SOURCE = "loobins"


def read_loobins(root: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream ``example_use_cases[].code`` of a LOOBins checkout as malicious macOS examples.

    Parameters
    ----------
    root : the checkout, i.e. the folder that holds ``LOOBins/*.yml``.
    skips : counter for dropped records.

    Returns
    -------
    Iterator[Example]
        One example per use case; ``group`` is the entry's ``name`` (the binary) and ``time`` its
        ``created`` date, the only per-entry dates macOS attack data has here.

    Raises
    ------
    DataError
        When ``root`` or ``root/LOOBins`` is missing (raised at call time).
    """
    base = need_dir(root, "LOOBins checkout", "a folder with LOOBins/*.yml")
    need_dir(base / "LOOBins", "LOOBins entry folder", "LOOBins/*.yml")
    return _iter(base, counter(skips))


def _iter(base: Path, skips: SkipCounter) -> Iterator[Example]:
    for path in sorted_files(base / "LOOBins", "*.yml"):
        rel = path.relative_to(base).as_posix()
        doc = load_yaml_mapping(path, rel, skips)
        if doc is None:
            continue
        cases = doc.get("example_use_cases")
        if not isinstance(cases, list):
            skips.skip("no_use_cases", rel)
            continue
        name = str(doc.get("name") or path.stem)
        created = iso_date(doc.get("created"))
        for i, case in enumerate(cases):
            where = f"{rel}#example_use_cases[{i}]"
            if not isinstance(case, dict):
                skips.skip("malformed_entry", where)
                continue
            text = clean_text(case.get("code"), where, skips)
            if text is None:
                continue
            yield Example(
                text=text,
                label="malicious",
                group=name,
                source=SOURCE,
                platform="macos",
                time=created,
                meta={
                    "use_case": case.get("name"),
                    "description": case.get("description"),
                    "tactics": case.get("tactics"),
                    "created": created,
                    "upstream_path": rel,
                    "upstream_index": i,
                },
            )
