"""Teachers: big models used only while training (fine-tuned encoders, local LLMs).

The classes are imported on first access (PEP 562), not with the package: importing one teacher module
must not import transformers and the LLM stack for the others.
"""

from __future__ import annotations

from distilsec._internal.lazy import lazy_exports

__all__ = ["EncoderTeacher", "EnsembleTeacher", "LLMTeacher"]

_WHERE = {
    "EncoderTeacher": "distilsec.teachers.encoder",
    "EnsembleTeacher": "distilsec.teachers.ensemble",
    "LLMTeacher": "distilsec.teachers.llm.teacher",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
