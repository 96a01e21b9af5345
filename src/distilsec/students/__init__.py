"""Students: small, fast models with the scikit-learn contract (fit, predict_proba, save, load).

The classes are imported on first access (PEP 562), not with the package: importing one student module
(which Python does through this package) must not import every student's framework.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CharCNNStudent", "HashedLinearStudent", "HTMLInspectorStudent", "SoftTargets", "TfidfLinearStudent"]

_WHERE = {
    "CharCNNStudent": "distilsec.students.char_cnn",
    "HashedLinearStudent": "distilsec.students.hashed_linear",
    "HTMLInspectorStudent": "distilsec.students.html_inspector",
    "SoftTargets": "distilsec.students.base",
    "TfidfLinearStudent": "distilsec.students.tfidf_linear",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
