"""Moved to :mod:`distilsec.serving.export`; this package stays for one release."""

import importlib as _importlib
import warnings as _warnings

_NEW = "distilsec.serving.export"
_warnings.warn(f"{__name__} moved to {_NEW}", DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_importlib.import_module(_NEW), name)
