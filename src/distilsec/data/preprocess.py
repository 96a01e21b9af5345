"""Text preprocessing shared by training and scoring, named in the bundle so both always agree."""

from __future__ import annotations

from collections.abc import Callable

from distilsec.errors import BundleError

__all__ = ["get_preprocessor", "PREPROCESSORS"]


def _identity(text: str) -> str:
    return text


def _cmdline(text: str) -> str:
    from distilsec.data.placeholders import normalise_placeholders

    return normalise_placeholders(text)


def _url(text: str) -> str:
    from distilsec.data.url_normalise import normalise_url

    return normalise_url(text)


PREPROCESSORS: dict[str, Callable[[str], str]] = {"none": _identity, "cmdline": _cmdline, "url": _url}


def get_preprocessor(name: str) -> Callable[[str], str]:
    try:
        return PREPROCESSORS[name]
    except KeyError:
        raise BundleError(f"unknown preprocessor {name!r}; known: {sorted(PREPROCESSORS)}") from None
