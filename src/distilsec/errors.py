"""Named errors: every bad input ends in one of these, with a message a user can act on."""

__all__ = ["DistilsecError", "DataError", "ConfigError", "BundleError", "NotFittedError", "RESTORE_BUNDLE"]

#: The fix for a bundle file that no longer matches what ``save`` wrote (the end of many BundleError lines).
#: Here, not in :mod:`distilsec.bundle`, so that the bundle module and its schema need not import each other.
RESTORE_BUNDLE = "restore the bundle from its original copy or retrain it"


class DistilsecError(Exception):
    """Base class of every error distilsec raises on purpose."""


class DataError(DistilsecError, ValueError):
    """Input data is missing, empty or malformed (the message names the file and the record)."""


class ConfigError(DistilsecError, ValueError):
    """A run config is invalid (the message names the config path that is wrong)."""


class BundleError(DistilsecError, ValueError):
    """A model bundle is missing, incomplete or unsafe to load (e.g. contains a pickle)."""


class NotFittedError(DistilsecError, ValueError, AttributeError):
    """A model was used (predict, save...) before ``fit``.

    The same bases as scikit-learn's ``NotFittedError`` (ValueError, AttributeError), so code catching
    those still catches it; our own class, so that importing this module (every command does) does not
    import scikit-learn (seconds of start-up, and a dependency serving does not otherwise need).
    """
