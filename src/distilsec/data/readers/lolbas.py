"""LOLBAS (Living Off The Land Binaries, Scripts and Libraries): Windows attack command lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

__all__ = ["read_lolbas", "LOLBAS_TYPES"]

#: The ``yml/`` sub-folders that hold entries; any other folder a checkout may have is ignored, so
#: that a fresh download yields the same set as the published extraction.
LOLBAS_TYPES = ("OSBinaries", "OtherMSBinaries", "OSLibraries", "OSScripts", "HonorableMentions")

SOURCE = "lolbas"


def read_lolbas(root: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream the ``Commands[].Command`` strings of a LOLBAS checkout as malicious examples.

    Parameters
    ----------
    root : a LOLBAS checkout, i.e. the folder that holds ``yml/OSBinaries/*.yml`` and friends.
    skips : counter for dropped records (``yaml_error``, ``empty_text``...).

    Returns
    -------
    Iterator[Example]
        One example per command; ``group`` is the entry's ``Name`` (the binary) because commands
        of one binary are near copies and must stay on one side of a split; ``time`` is the
        entry's ``Created`` date, which allows a time split.

    Raises
    ------
    DataError
        When ``root`` or its ``yml/`` folder is missing (raised at call time).
    """
    base = need_dir(root, "LOLBAS checkout", "a folder with yml/OSBinaries/*.yml ...")
    need_dir(base / "yml", "LOLBAS yml folder", f"yml/{{{','.join(LOLBAS_TYPES)}}}/*.yml")
    return _iter(base, counter(skips))


def _iter(base: Path, skips: SkipCounter) -> Iterator[Example]:
    files = [p for kind in LOLBAS_TYPES for p in sorted_files(base / "yml" / kind, "*.yml")]
    for path in sorted(files, key=lambda p: p.as_posix()):  # path order, as in the published extraction
        rel = path.relative_to(base).as_posix()
        doc = load_yaml_mapping(path, rel, skips)
        if doc is not None:
            yield from _entry(doc, path.parent.name, rel, skips)


def _entry(doc: dict[str, Any], kind: str, rel: str, skips: SkipCounter) -> Iterator[Example]:
    name = str(doc.get("Name") or Path(rel).stem)
    created = iso_date(doc.get("Created"))
    commands = doc.get("Commands")
    if not isinstance(commands, list):
        skips.skip("no_commands", rel)
        return
    for i, cmd in enumerate(commands):
        where = f"{rel}#Commands[{i}]"
        if not isinstance(cmd, dict):
            skips.skip("malformed_entry", where)
            continue
        text = clean_text(cmd.get("Command"), where, skips)
        if text is None:
            continue
        yield Example(
            text=text,
            label="malicious",
            group=name,
            source=SOURCE,
            platform="windows",
            time=created,
            meta={
                "technique": cmd.get("MitreID"),
                "category": cmd.get("Category"),
                "usecase": cmd.get("Usecase"),
                "description": cmd.get("Description"),
                "privileges": cmd.get("Privileges"),
                "operating_system": cmd.get("OperatingSystem"),
                "lolbas_type": kind,
                "created": created,
                "upstream_path": rel,
                "upstream_index": i,
            },
        )
