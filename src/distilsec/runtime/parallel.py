"""Moved to :mod:`distilsec.serving.runtime.parallel`; this alias stays for one release."""

import importlib as _importlib
import sys as _sys
import warnings as _warnings

_warnings.warn(f"{__name__} moved to distilsec.serving.runtime.parallel", DeprecationWarning, stacklevel=2)
_sys.modules[__name__] = _importlib.import_module("distilsec.serving.runtime.parallel")
