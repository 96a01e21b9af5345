"""The fast path of `normalise_placeholders` (scoring runs it on every command line) changes no output."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data import placeholders as ph


def _reference(text: str) -> str:
    """The function as it was: every pattern tried on every text, until nothing changes."""

    def step(t: str) -> str:
        t = ph._TLDR.sub(ph._tldr, t)
        t = ph._ATOMIC.sub(ph._atomic, t)
        t = ph._LOLBAS.sub(ph._lolbas, t)
        t = ph._ANGLE.sub(ph._angle, t)
        return ph._PATHTO.sub(ph._pathto, t)

    prev = None
    while prev != text:
        prev, text = text, step(text)
    return ph._scrub(text)


PIECES = st.sampled_from(
    ["{{", "}}", "{", "}", "#{", "<", ">", "path/to/", "/path/to/", "path\\to\\", "PATH", "FILE_NAME", "CMD",
     ":.exe", "[-d|--domain]", "...", " ", "a", "x.dll", "\n", "|", "$", "ENTER", "TARGET_IP", "~", "."]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES | st.text(max_size=4), max_size=14).map("".join))
def test_placeholder_fast_path_gives_the_same_text_as_the_full_scan(text):
    assert ph.normalise_placeholders(text) == _reference(text)


def test_placeholder_fast_path_keeps_real_commands_and_rewrites_placeholders():
    assert ph.normalise_placeholders("cmd.exe /c whoami") == "cmd.exe /c whoami"
    assert ph.normalise_placeholders("tar -xf {{path/to/file.tar}}") == _reference("tar -xf {{path/to/file.tar}}")
