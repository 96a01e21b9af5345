"""Teachers: big models used only while training (fine-tuned encoders, local LLMs)."""

from distilsec.teachers.encoder import EncoderTeacher
from distilsec.teachers.ensemble import EnsembleTeacher
from distilsec.teachers.llm import LLMTeacher

__all__ = ["EncoderTeacher", "EnsembleTeacher", "LLMTeacher"]
