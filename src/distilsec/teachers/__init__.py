"""Teachers: big models used only while training (fine-tuned encoders, local LLMs).

The classes are imported on first access (PEP 562), not with the package: importing one teacher module
must not import transformers and the LLM stack for the others.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EncoderTeacher", "EnsembleTeacher", "LLMTeacher"]

_WHERE = {
    "EncoderTeacher": "distilsec.teachers.encoder",
    "EnsembleTeacher": "distilsec.teachers.ensemble",
    "LLMTeacher": "distilsec.teachers.llm.teacher",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
