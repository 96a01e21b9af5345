"""Versioned views of a sample's text: what a teacher reads, when it may read more than the student.

A view is a function ``str -> str``, named ``<name>.v<version>``; a name never changes meaning (a new
behaviour gets a new version), so a teacher trained on ``decoded.v1`` can be rebuilt later on the same
input. ``raw.v1`` is the text itself; ``decoded.v1`` (:mod:`.decoded`) appends what the text's
encodings hide: learning using privileged information, where the teacher affords the decoding at
training time and the student never calls it.

>>> apply_view("decoded.v1", ["whoami", "powershell -enc dwBoAG8AYQBtAGkA"])[1].splitlines()[-1]
'powershell-encoded: whoami'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from distilsec.data.views.decoded import decoded_v1
from distilsec.errors import ConfigError

__all__ = ["VIEW_NAMES", "get_view", "apply_view", "raw_v1", "decoded_v1"]


def raw_v1(text: str) -> str:
    """The text itself (the student's view, and the teacher's default)."""
    return text


_VIEWS: dict[str, Callable[[str], str]] = {"raw.v1": raw_v1, "decoded.v1": decoded_v1}
#: The registered view names, in a fixed order.
VIEW_NAMES: tuple[str, ...] = tuple(_VIEWS)


def get_view(name: str) -> Callable[[str], str]:
    """The view function registered as ``name``; :class:`~distilsec.errors.ConfigError` naming the known
    views when there is none."""
    try:
        return _VIEWS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown text view {name!r}; known views: {', '.join(VIEW_NAMES)}") from None


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def apply_view(name: str, texts: Iterable[object]) -> list[str]:
    """``get_view(name)`` applied to every text: a list of the same length, in the same order.

    Never raises on odd input: ``None`` becomes ``""``, bytes are decoded as UTF-8 (errors replaced),
    other values go through ``str``. Only an unknown view name raises (``ConfigError``).
    """
    view = get_view(name)
    return [view(_as_text(t)) for t in texts]
