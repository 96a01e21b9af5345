"""dtrizna/slp ``malicious.cm``: a short list of penetration-testing command lines (Linux)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from distilsec._internal.textio import open_binary
from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, first_token, numbered_lines
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["read_slp"]

SOURCE = "slp-malicious"


def read_slp(path: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream ``data/malicious.cm`` of the slp repository as malicious Linux examples.

    Parameters
    ----------
    path : the ``malicious.cm`` file, or the repository root that holds ``data/malicious.cm``.
    skips : counter for dropped records (blank lines are ``empty_text``).

    Returns
    -------
    Iterator[Example]
        One example per non-blank line. slp has no group field, so ``group`` is the first token of
        the command (the program), as for NL2Bash.

    Raises
    ------
    DataError
        When neither ``path`` nor ``path/data/malicious.cm`` is a file (raised at call time).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "data" / "malicious.cm"
    if not p.is_file():
        raise DataError(
            f"slp command list not found: {p} (expected the slp repository root with "
            "data/malicious.cm, or that file; one command per line)"
        )
    return _iter(p, counter(skips))


def _iter(path: Path, skips: SkipCounter) -> Iterator[Example]:
    rel = "data/malicious.cm" if path.parent.name == "data" else path.name
    with open_binary(path) as fh:
        for lineno, line in numbered_lines(fh, rel, skips):
            text = clean_text(line, f"{rel}:{lineno + 1}", skips)
            if text is None:
                continue
            yield Example(
                text=text,
                label="malicious",
                group=first_token(text),
                source=SOURCE,
                platform="linux",
                meta={"upstream_path": rel, "upstream_index": lineno},
            )
