"""Text cleaning shared by training and serving: the one definition of "a text every featuriser accepts".

It lives below both (in ``data``) so that the students (``ClassifierMixin._check_texts``) and the ONNX
scoring path (:mod:`distilsec.serving.runtime.features`) run the same function: a copy would drift, and a
drifted copy changes scores between ``--runtime native`` and ``--runtime onnx`` without any error.
"""

from __future__ import annotations

__all__ = ["clean_text"]


def clean_text(t: object) -> str:
    """A str every featuriser accepts: None -> "", non-str -> ``str()``, lone surrogates -> U+FFFD.

    Lone surrogates come from broken decoders (``surrogateescape``, JSON ``"\\ud800"`` escapes); UTF-8
    cannot encode them, and every featuriser encodes to UTF-8. ASCII (most events) returns at once.
    """
    if t is None:
        return ""
    s = t if isinstance(t, str) else str(t)
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", errors="replace").decode("utf-8")
    return s
