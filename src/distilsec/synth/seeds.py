"""Moved to :mod:`distilsec.methods.synthesize.seeds`; this alias stays for one release."""

import importlib as _importlib
import sys as _sys
import warnings as _warnings

_warnings.warn(f"{__name__} moved to distilsec.methods.synthesize.seeds", DeprecationWarning, stacklevel=2)
_sys.modules[__name__] = _importlib.import_module("distilsec.methods.synthesize.seeds")
