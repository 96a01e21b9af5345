"""Moved to :mod:`distilsec.students.cwe_hierarchy`; this alias stays for one release."""

import importlib as _importlib
import sys as _sys
import warnings as _warnings

_warnings.warn(f"{__name__} moved to distilsec.students.cwe_hierarchy", DeprecationWarning, stacklevel=2)
_sys.modules[__name__] = _importlib.import_module("distilsec.students.cwe_hierarchy")
