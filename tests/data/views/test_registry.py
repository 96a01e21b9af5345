"""The view registry: names, unknown names, apply_view's list contract, raw.v1 as the identity."""

from __future__ import annotations

import base64

import pytest

from distilsec.data.views import VIEW_NAMES, apply_view, decoded_v1, get_view, raw_v1
from distilsec.data.views.decoded import SEPARATOR
from distilsec.errors import ConfigError


def test_names_and_lookup() -> None:
    assert VIEW_NAMES == ("raw.v1", "decoded.v1")
    assert get_view("raw.v1") is raw_v1
    assert get_view("decoded.v1") is decoded_v1


@pytest.mark.parametrize("name", ["decoded", "decoded.v2", "", None, 3])
def test_unknown_name_is_a_config_error_listing_the_known_names(name: object) -> None:
    with pytest.raises(ConfigError, match=r"raw\.v1, decoded\.v1"):
        get_view(name)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        apply_view(name, ["x"])  # type: ignore[arg-type]


def test_raw_is_the_identity() -> None:
    texts = ["", "ls -la", "powershell -enc SQBFAFgA", "x" * 10_000]
    assert apply_view("raw.v1", texts) == texts


def test_apply_view_keeps_length_and_order_and_takes_any_iterable() -> None:
    enc = base64.b64encode("whoami".encode("utf-16-le")).decode()
    texts = ["ls", f"powershell -enc {enc}", "ls"]
    out = apply_view("decoded.v1", iter(texts))
    assert isinstance(out, list) and len(out) == 3
    assert out[0] == out[2] == "ls"
    assert out[1] == f"powershell -enc {enc}{SEPARATOR}powershell-encoded: whoami"
    assert apply_view("decoded.v1", []) == []


def test_apply_view_never_raises_on_odd_values() -> None:
    odd = [None, b"powershell -enc SQBFAFgA", b"\xff\xfe\x00", 3.5, float("nan"), 7, "", "\x00\x01"]
    for name in VIEW_NAMES:
        out = apply_view(name, odd)
        assert len(out) == len(odd) and all(isinstance(t, str) for t in out)
    out = apply_view("decoded.v1", odd)
    assert out[0] == "" and out[1].endswith("powershell-encoded: IEX") and out[3] == "3.5"


def test_view_starts_with_the_raw_text_or_is_it() -> None:
    """A model trained on the view still reads the raw: the view is a prefix-extension of the text."""
    enc = base64.b64encode(b"ping 127.0.0.1").decode()
    for text in ["whoami", f"echo {enc} | base64 -d | sh", "http://0x7f000001/login"]:
        view = decoded_v1(text)
        assert view == text or view.startswith(text + SEPARATOR)
