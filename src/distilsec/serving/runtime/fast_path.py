"""Moved to :mod:`distilsec.serving.export.fast_path`; this alias stays for one release.

Exporting a run's students is export (it traces torch modules), not the scoring runtime: under
``serving.runtime`` it made the scoring engine depend on the exporter and, through the parity check,
on the data preparation code.
"""

import importlib as _importlib
import sys as _sys
import warnings as _warnings

_warnings.warn(f"{__name__} moved to distilsec.serving.export.fast_path", DeprecationWarning, stacklevel=2)
_sys.modules[__name__] = _importlib.import_module("distilsec.serving.export.fast_path")
