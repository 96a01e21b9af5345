"""Word tokens of raw markup and code: one definition shared by the HTML inspector and the linear model.

A token is a maximal run of ASCII word characters (letters, digits, ``_``) and non-ASCII characters,
the tokeniser of Saxe et al. (2018) for web content: ``<input type="password">`` gives ``input``,
``type``, ``password``; a Cyrillic or Chinese word stays one token. It works on any markup (HTML, CSS,
JavaScript) without parsing it, so a malformed or obfuscated page costs the same as a clean one.
Torch-free, so that the ONNX runtime can share it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TOKEN_PATTERN", "WORD_BYTE", "hashing_vectorizer_params", "ANALYZERS"]

#: The token regular expression for ``str`` input (sklearn's ``token_pattern``; no capture group).
TOKEN_PATTERN = r"(?:[^\x00-\x7F]|\w)+"

#: The same definition on UTF-8 bytes: ASCII letters, digits, ``_`` and every byte >= 0x80 (all bytes
#: of a non-ASCII character are >= 0x80, so a UTF-8 run of them is exactly one regex token).
WORD_BYTE = np.zeros(256, dtype=bool)
WORD_BYTE[[*range(ord("0"), ord("9") + 1), *range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1)]] = True
WORD_BYTE[ord("_")] = True
WORD_BYTE[0x80:] = True

#: ``analyzer`` values of the hashed linear model: sklearn's character n-grams, or word n-grams of
#: :data:`TOKEN_PATTERN` tokens (for long documents, where character n-grams cost too much per byte).
ANALYZERS = ("char", "char_wb", "word")


def hashing_vectorizer_params(
    analyzer: str, ngram_range: tuple[int, int], n_features: int, lowercase: bool
) -> dict[str, Any]:
    """Keyword arguments of sklearn's ``HashingVectorizer`` for the hashed linear model's features.

    Shared by training (:class:`~distilsec.students.HashedLinearStudent`) and the torch-free runtime,
    so that both featurise a text identically.
    """
    if analyzer not in ANALYZERS:
        raise ValueError(f"analyzer must be one of {ANALYZERS}, got {analyzer!r}")
    params: dict[str, Any] = {
        "analyzer": analyzer,
        "ngram_range": tuple(ngram_range),
        "n_features": n_features,
        "alternate_sign": False,
        "norm": "l2",
        "lowercase": lowercase,
        "dtype": np.float32,
    }
    if analyzer == "word":
        params["token_pattern"] = TOKEN_PATTERN
    return params
