"""Moved to :mod:`distilsec.data.labels`; this alias stays for one release."""

import importlib as _importlib
import sys as _sys
import warnings as _warnings

_warnings.warn(f"{__name__} moved to distilsec.data.labels", DeprecationWarning, stacklevel=2)
_sys.modules[__name__] = _importlib.import_module("distilsec.data.labels")
