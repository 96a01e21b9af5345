"""Local LLM teachers: GGUF models in llama.cpp or any OpenAI-compatible endpoint, few-shot and calibrated.

Only :class:`LLMTeacher` is imported here; the llama.cpp backend loads ``llama_cpp`` (the optional
extra ``llm``) when a teacher first needs it, so the core install stays light.
"""

from distilsec.teachers.llm.teacher import LLMTeacher

__all__ = ["LLMTeacher"]
