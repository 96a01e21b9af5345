"""Students: small, fast models with the scikit-learn contract (fit, predict_proba, save, load).

The classes are imported on first access (PEP 562), not with the package: importing one student module
(which Python does through this package) must not import every student's framework.
"""

from __future__ import annotations

from distilsec._internal.lazy import lazy_exports

__all__ = ["CharCNNStudent", "HashedLinearStudent", "HTMLInspectorStudent", "SoftTargets", "TfidfLinearStudent"]

_WHERE = {
    "CharCNNStudent": "distilsec.students.char_cnn",
    "HashedLinearStudent": "distilsec.students.hashed_linear",
    "HTMLInspectorStudent": "distilsec.students.html_inspector",
    "SoftTargets": "distilsec.students.base",
    "TfidfLinearStudent": "distilsec.students.tfidf_linear",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
