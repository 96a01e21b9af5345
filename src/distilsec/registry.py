"""Name -> factory registry, so a config names a model as ``"char_cnn.v1"`` (the spaCy pattern).

When behaviour changes, register ``.v2`` and keep ``.v1``: old configs keep meaning what they meant.

Built-in names are looked up in :data:`BUILTINS` (name -> ``"module:attr"``) and only the module a name
points to is imported, on first use: scoring a char-CNN bundle imports torch and that one student, not
transformers, the LLM stack or the CVE models (seconds of start-up). Anything else, third-party and user
code included, registers itself with the :func:`register` decorator as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from distilsec.errors import ConfigError

__all__ = ["BUILTINS", "register", "get_factory", "registered", "create"]

_REGISTRY: dict[str, Callable[..., Any]] = {}

#: Built-in factories by name. A test checks each entry against the name its ``@register`` decorator uses.
BUILTINS: dict[str, str] = {
    "char_cnn.v1": "distilsec.students.char_cnn:CharCNNStudent",
    "hashed_linear.v1": "distilsec.students.hashed_linear:HashedLinearStudent",
    "tfidf_linear.v1": "distilsec.students.tfidf_linear:TfidfLinearStudent",
    "html_inspector.v1": "distilsec.students.html_inspector:HTMLInspectorStudent",
    "encoder.v1": "distilsec.teachers.encoder:EncoderTeacher",
    "ensemble.v1": "distilsec.teachers.ensemble:EnsembleTeacher",
    "llm.v1": "distilsec.teachers.llm.teacher:LLMTeacher",
    "cve_model.v1": "distilsec.students.cve_model:CveModel",
    "cvss_linear.v1": "distilsec.students.cvss_linear:CvssLinearModel",
    "attack_model.v1": "distilsec.students.attack_model:AttackModel",
    "ngram_embedding.v1": "distilsec.students.ngram_embedding:NgramEmbeddingStudent",
    "embedding_linear.v1": "distilsec.teachers.embedding_linear:EmbeddingLinearTeacher",
    "viewed.v1": "distilsec.teachers.viewed:ViewedModel",
}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class/function decorator that registers a factory under ``name`` (``snake_case.vN``)."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"registry name {name!r} is already taken by {_REGISTRY[name]!r}")
        _REGISTRY[name] = factory
        factory.registry_name = name  # type: ignore[attr-defined]
        return factory

    return deco


def _load_builtin(name: str) -> Callable[..., Any]:
    """Import the one module a built-in name points to; its ``@register`` decorator fills the registry."""
    module, _, attr = BUILTINS[name].partition(":")
    factory = getattr(importlib.import_module(module), attr)
    return _REGISTRY.get(name, factory)


def _ensure_builtin_loaded() -> None:
    """Import every built-in model (slow: torch, transformers, the LLM stack); kept for callers that want all."""
    for name in BUILTINS:
        _load_builtin(name)


def get_factory(name: str) -> Callable[..., Any]:
    """The factory registered under ``name``; a ConfigError lists the known names otherwise."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in BUILTINS:
        return _load_builtin(name)
    raise ConfigError(f"unknown model type {name!r}; known: {', '.join(registered())}")


def registered() -> list[str]:
    """Every known name, built-in or registered, without importing any model."""
    return sorted(set(_REGISTRY) | set(BUILTINS))


def create(name: str, params: dict[str, Any]) -> Any:
    """Build an object from a registry name and its ``__init__`` keyword arguments."""
    factory = get_factory(name)
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for {name!r}: {exc}") from None
