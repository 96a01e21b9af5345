"""Evaluation: metrics at an operating threshold, report figures, Markdown/JSON reports.

Start at :func:`evaluate` (``evaluation/evaluate.py``): threshold chosen on dev, applied to test, one
:class:`Report`. ``distilsec.evaluation.metrics.evaluate`` is the metrics dict it is built on.

Names are loaded lazily (PEP 562) so that ``from distilsec.evaluation.metrics import evaluate`` does not
import matplotlib; ``from distilsec.evaluation import plot_roc`` works as usual. The one eager import is
the ``evaluate`` module (numpy only): a submodule named like a package attribute replaces that attribute
when it is first imported, so ``distilsec.evaluation.evaluate`` would otherwise be the function or the
module depending on import order. Bound here, after the submodule import, it is always the function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from distilsec.evaluation.evaluate import OperatingPoint, Probas, Report, Split, evaluate

if TYPE_CHECKING:
    from distilsec.evaluation.metrics import (
        DEFAULT_FPRS,
        MAX_GROUP_ROWS,
        TprAtFpr,
        binary_labels,
        binary_scores,
        choose_threshold,
        fpr_key,
        to_jsonable,
        tpr_at_fpr,
        tpr_at_fpr_detail,
    )
    from distilsec.evaluation.plots import plot_confusion, plot_noise_experiment, plot_roc, plot_tp_fp_bars
    from distilsec.evaluation.report import (
        breakdown_table,
        markdown_image,
        markdown_table,
        models_comparison_table,
        write_report,
    )

_WHERE = {
    "metrics": [
        "DEFAULT_FPRS",
        "MAX_GROUP_ROWS",
        "TprAtFpr",
        "binary_labels",
        "binary_scores",
        "choose_threshold",
        "fpr_key",
        "to_jsonable",
        "tpr_at_fpr",
        "tpr_at_fpr_detail",
    ],
    "plots": ["plot_confusion", "plot_noise_experiment", "plot_roc", "plot_tp_fp_bars"],
    "report": [
        "breakdown_table",
        "markdown_image",
        "markdown_table",
        "models_comparison_table",
        "write_report",
    ],
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "DEFAULT_FPRS",
    "MAX_GROUP_ROWS",
    "OperatingPoint",
    "Probas",
    "Report",
    "Split",
    "TprAtFpr",
    "binary_labels",
    "binary_scores",
    "breakdown_table",
    "choose_threshold",
    "evaluate",
    "fpr_key",
    "markdown_image",
    "markdown_table",
    "models_comparison_table",
    "plot_confusion",
    "plot_noise_experiment",
    "plot_roc",
    "plot_tp_fp_bars",
    "to_jsonable",
    "tpr_at_fpr",
    "tpr_at_fpr_detail",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
