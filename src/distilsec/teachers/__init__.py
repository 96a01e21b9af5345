"""Teachers: big models used only while training (fine-tuned encoders; LLMs in later issues)."""

from distilsec.teachers.encoder import EncoderTeacher

__all__ = ["EncoderTeacher"]
