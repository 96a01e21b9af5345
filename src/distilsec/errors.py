"""Named errors: every bad input ends in one of these, with a message a user can act on."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError

__all__ = ["DistilsecError", "DataError", "ConfigError", "BundleError", "NotFittedError"]


class DistilsecError(Exception):
    """Base class of every error distilsec raises on purpose."""


class DataError(DistilsecError, ValueError):
    """Input data is missing, empty or malformed (the message names the file and the record)."""


class ConfigError(DistilsecError, ValueError):
    """A run config is invalid (the message names the config path that is wrong)."""


class BundleError(DistilsecError, ValueError):
    """A model bundle is missing, incomplete or unsafe to load (e.g. contains a pickle)."""


def __getattr__(name: str) -> Any:
    """``NotFittedError`` is scikit-learn's, re-exported lazily: importing sklearn costs seconds, and the
    CLI and the ONNX scoring path import this module without needing it (PEP 562)."""
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
