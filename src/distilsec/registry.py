"""Name -> factory registry, so a config names a model as ``"char_cnn.v1"`` (the spaCy pattern).

When behaviour changes, register ``.v2`` and keep ``.v1``: old configs keep meaning what they meant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distilsec.errors import ConfigError

__all__ = ["register", "get_factory", "registered", "create"]

_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class/function decorator that registers a factory under ``name`` (``snake_case.vN``)."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"registry name {name!r} is already taken by {_REGISTRY[name]!r}")
        _REGISTRY[name] = factory
        factory.registry_name = name  # type: ignore[attr-defined]
        return factory

    return deco


def _ensure_builtin_loaded() -> None:
    # Importing the packages runs their @register decorators.
    import distilsec.students  # noqa: F401
    import distilsec.teachers  # noqa: F401
    import distilsec.vuln.cvss_model  # noqa: F401
    import distilsec.vuln.model  # noqa: F401


def get_factory(name: str) -> Callable[..., Any]:
    """The factory registered under ``name``; a ConfigError lists the known names otherwise."""
    _ensure_builtin_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model type {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def registered() -> list[str]:
    _ensure_builtin_loaded()
    return sorted(_REGISTRY)


def create(name: str, params: dict[str, Any]) -> Any:
    """Build an object from a registry name and its ``__init__`` keyword arguments."""
    factory = get_factory(name)
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for {name!r}: {exc}") from None
