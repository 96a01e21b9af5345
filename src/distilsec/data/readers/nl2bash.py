"""NL2Bash: Bash one-liners paired with English descriptions (benign, Q&A style commands)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from distilsec._internal.textio import open_binary, read_capped_lines
from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, first_token, numbered_lines
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["read_nl2bash"]

SOURCE = "nl2bash"


def _locate(root: Path) -> Path:
    """``all.cm`` from the repo root, from ``data/bash/``, or the file itself."""
    if root.is_file():
        return root
    for cand in (root / "data" / "bash" / "all.cm", root / "all.cm"):
        if cand.is_file():
            return cand
    raise DataError(
        f"NL2Bash corpus not found under {root} (expected data/bash/all.cm, "
        "one command per line, with the aligned all.nl beside it)"
    )


def read_nl2bash(root: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream the NL2Bash commands (``data/bash/all.cm``) as benign Linux examples.

    Parameters
    ----------
    root : the NL2Bash checkout, its ``data/bash`` folder, or the ``all.cm`` file itself.
    skips : counter for dropped records (blank lines, over-long lines).

    Returns
    -------
    Iterator[Example]
        One example per line of ``all.cm``; ``meta["description"]`` is the aligned line of
        ``all.nl`` when that file is present. NL2Bash has no group field, so ``group`` is the first
        token of the command (the program), which keeps variants of one program together.

    Raises
    ------
    DataError
        When ``root`` does not exist or holds no ``all.cm`` (raised at call time).
    """
    p = Path(root).expanduser()
    if not p.exists():
        raise DataError(f"NL2Bash corpus not found: {p} does not exist (expected a checkout with data/bash/all.cm)")
    cm = _locate(p)
    return _iter(cm, cm.with_suffix(".nl"), counter(skips))


def _iter(cm: Path, nl: Path, skips: SkipCounter) -> Iterator[Example]:
    rel = "data/bash/all.cm" if cm.parent.name == "bash" else cm.name
    with contextlib.ExitStack() as stack:
        descriptions: Iterator[tuple[str, bool]] = iter(())
        if nl.is_file():
            descriptions = read_capped_lines(stack.enter_context(open_binary(nl)))
        nl_index, description = -1, ("", False)
        for lineno, line in numbered_lines(stack.enter_context(open_binary(cm)), rel, skips):
            # the two files are aligned by line number; an over-long command line is skipped (counted),
            # so advance all.nl to this line rather than pairing items by position
            while nl_index < lineno:
                description = next(descriptions, ("", False))
                nl_index += 1
            text = clean_text(line, f"{rel}:{lineno + 1}", skips)
            if text is None:
                continue
            if description[1]:
                skips.note("description_too_long", f"{nl.name}:{lineno + 1}")
            yield Example(
                text=text,
                label="benign",
                group=first_token(text),
                source=SOURCE,
                platform="linux",
                meta={
                    "description": "" if description[1] else description[0].strip(),
                    "upstream_path": rel,
                    "upstream_index": lineno,
                },
            )
