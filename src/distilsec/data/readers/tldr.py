"""tldr-pages: community command examples, the largest benign command-line source."""

from __future__ import annotations

import lzma
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from distilsec.data.example import Example
from distilsec.data.readers._common import clean_text, counter, need_dir, numbered_lines
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

__all__ = ["read_tldr", "page_commands"]

SOURCE = "tldr"


def read_tldr(path: str | Path, *, skips: SkipCounter | None = None) -> Iterator[Example]:
    """Stream the example commands of the English tldr pages as benign examples.

    Parameters
    ----------
    path : either the ``tldr-pages.tar.xz`` archive (any tar compression; members are read one at a
        time in streaming mode, nothing is extracted to disk) or a directory that contains ``pages/``
        (a checkout). Only English pages, ``pages/<platform>/<command>.md``, are read; translated
        ``pages.<lang>/`` folders are not, so that the benign side is one language.
    skips : counter for dropped records.

    Returns
    -------
    Iterator[Example]
        One example per line that starts and ends with a backtick; ``group`` is the page name,
        ``platform`` the pages sub-folder (``common``, ``linux``, ``windows``...), and
        ``meta["description"]`` the nearest preceding ``- ...:`` line, without ``- `` and ``:``.

    Raises
    ------
    DataError
        When ``path`` is missing, is a directory without ``pages/``, or is not a readable tar archive.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(
            f"tldr pages not found: {p} does not exist (expected tldr-pages.tar.xz or a "
            "folder containing pages/<platform>/<command>.md)"
        )
    sk = counter(skips)
    if p.is_dir():
        need_dir(p / "pages", "tldr pages folder", f"{p}/pages/<platform>/<command>.md")
        return _iter_dir(p, sk)
    return _iter_tar(p, sk)


def _page_key(name: str) -> tuple[str, str] | None:
    """``(platform, page)`` for an English page path ``.../pages/<platform>/<page>.md``, else None."""
    parts = PurePosixPath(name).parts
    if len(parts) < 3 or parts[-3] != "pages" or not parts[-1].endswith(".md"):
        return None
    return parts[-2], parts[-1][: -len(".md")]


def _iter_dir(root: Path, skips: SkipCounter) -> Iterator[Example]:
    for page in sorted(root.glob("pages/*/*.md"), key=lambda q: q.as_posix()):
        if page.is_file():
            rel = page.relative_to(root).as_posix()
            with open(page, "rb") as fh:
                yield from page_commands(fh, page.parent.name, page.name[: -len(".md")], rel, skips)


def _iter_tar(archive: Path, skips: SkipCounter) -> Iterator[Example]:
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                key = _page_key(member.name)
                if key is None or not member.isfile():
                    continue
                fh = tar.extractfile(member)
                if fh is not None:
                    yield from page_commands(fh, key[0], key[1], member.name, skips)
    except (tarfile.TarError, lzma.LZMAError, zlib.error, EOFError, OSError) as exc:
        raise DataError(
            f"cannot read tldr archive {archive}: {type(exc).__name__}: {exc} "
            "(expected a tar archive of pages/<platform>/<command>.md)"
        ) from exc


#: tldr folder names -> the platform names the other sources use (``osx`` is ``macos`` in LOOBins/Atomic).
PLATFORM_ALIASES = {"osx": "macos"}


def page_commands(stream: IO[bytes], platform: str, page: str, where: str, skips: SkipCounter) -> Iterator[Example]:
    """The commands of one page: lines in backticks, each with the ``- `` line that describes it."""
    description = ""
    index = 0
    for lineno, raw in numbered_lines(stream, where, skips):
        line = raw.strip()
        if line.startswith("- "):
            description = line[2:].strip().removesuffix(":").rstrip()
            continue
        if len(line) < 2 or line[0] != "`" or line[-1] != "`":
            continue
        text = clean_text(line[1:-1], f"{where}:{lineno + 1}", skips)
        if text is None:
            continue
        yield Example(
            text=text,
            label="benign",
            group=page,
            source=SOURCE,
            platform=PLATFORM_ALIASES.get(platform, platform),
            meta={
                "tldr_platform": platform,
                "description": description,
                "upstream_path": where,
                "upstream_index": index,
            },
        )
        index += 1
