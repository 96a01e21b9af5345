"""Evaluate one model the one way: threshold chosen on dev (validation) data, applied unchanged to test.

The operating threshold is part of the model (it ships in the bundle and runs in production), so it is
chosen on data the test figures never see; choosing it on test would make the reported false-positive
rate hold by construction instead of being a measurement. Every place that reports a model's figures
(``distilsec run``, its noise experiment, the sweeps) calls :func:`evaluate` so that rule lives here once.

Typical use::

    from distilsec.evaluation import Split, evaluate

    report = evaluate(model, Split.from_examples(data.test), Split.from_examples(data.val),
                      classes=data.classes, view=config.evaluation)
    report.threshold            # chosen on val for view.target_fpr
    report.metrics["auc"]       # metrics.evaluate(...) at that threshold, today's keys unchanged
    report.curve                # (binary labels, binary scores) on test, for ROC plots

This module imports only numpy at import time (the metrics, and so scikit-learn, load on first call):
``distilsec.evaluation`` imports it eagerly, see the note in that package's ``__init__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    from distilsec.data.example import Example

__all__ = ["OperatingPoint", "Probas", "Report", "Split", "evaluate"]


class OperatingPoint(Protocol):
    """What :func:`evaluate` needs to know about the detection view; ``config.evaluation`` is one."""

    positive: str | None
    negative: str
    target_fpr: float


class Probas(NamedTuple):
    """Probabilities already computed (columns in the order of ``classes``), instead of a model.

    Pass this when the caller has the probabilities anyway (an ensemble scores its members once and
    combines them; a sweep scores many arms): :func:`evaluate` then calls no model.
    """

    test: np.ndarray
    dev: np.ndarray | None = None


@dataclass(frozen=True)
class Split:
    """One evaluation split: its texts (to score a model), true labels and optional per-example metadata.

    ``groups``/``sources``/``platforms`` each add a breakdown table to the metrics when given (and
    ``evaluate(..., breakdowns=True)``); leave them None for headline figures only.
    """

    texts: list[str]
    labels: list[str]
    groups: list[Any] | None = None
    sources: list[Any] | None = None
    platforms: list[Any] | None = None

    @classmethod
    def from_examples(cls, examples: Sequence[Example], *, metadata: bool = True) -> Split:
        """The split of ``examples``: labels as ``str`` (as the models' ``classes`` are), metadata if asked."""
        texts = [ex.text for ex in examples]
        labels = [str(ex.label) for ex in examples]
        if not metadata:
            return cls(texts, labels)
        return cls(
            texts,
            labels,
            groups=[ex.group for ex in examples],
            sources=[ex.source for ex in examples],
            platforms=[ex.platform for ex in examples],
        )

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Report:
    """One model's evaluation on test.

    Attributes
    ----------
    threshold : float or None
        The operating threshold chosen on dev for ``view.target_fpr`` (flag when ``score >= threshold``);
        None when no dev split was given or the classes have no detection view (neither ``view.positive``
        nor ``view.negative`` is a class).
    metrics : dict
        :func:`distilsec.evaluation.metrics.evaluate` on test at ``threshold`` — exactly the dict it
        returns (plain JSON, same keys); at its 0.5 placeholder (``threshold_given = False``) when
        ``threshold`` is None.
    at_default : dict or None
        The same metrics at the 0.5 / argmax decision with no breakdowns (what a threshold-free figure
        reports), only when ``evaluate(..., at_default=True)``; else None.
    proba : ndarray, shape (n_test, n_classes)
        The test probabilities the metrics were computed from.
    curve : (ndarray of bool, ndarray of float) or None
        Test binary labels and binary scores (``1 - P(negative)``, see
        :func:`~distilsec.evaluation.metrics.binary_scores`) for ROC / score plots; None without a
        detection view.
    """

    threshold: float | None
    metrics: dict[str, Any]
    proba: np.ndarray = field(repr=False)
    curve: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    at_default: dict[str, Any] | None = None


def evaluate(
    model_or_proba: Any,
    test: Split,
    dev: Split | None = None,
    *,
    classes: Sequence[str],
    view: OperatingPoint,
    breakdowns: bool = True,
    at_default: bool = False,
) -> Report:
    """Choose the operating threshold on ``dev`` for ``view.target_fpr``, apply it to ``test``, measure.

    ``model_or_proba``: a fitted model (``predict_proba(texts) -> (n, n_classes)``, run on ``dev.texts``
    then ``test.texts``) or :class:`Probas` computed beforehand (``Probas.dev`` needed with a ``dev``).
    ``dev``: the validation split (must hold negatives); None chooses no threshold (metrics at the 0.5
    placeholder). ``classes``: the probability columns' order. ``view``: ``positive``, ``negative``,
    ``target_fpr`` (``config.evaluation`` fits); when neither label is a class (website categories) there
    is no detection view: binary metrics are None and no threshold is chosen. ``breakdowns``: add
    ``by_group``/``by_source``/``by_platform`` for the metadata ``test`` carries. ``at_default``: also
    fill :attr:`Report.at_default`.

    The figures are those of the sequence this replaces, unchanged: ``choose_threshold(binary_labels(dev),
    binary_scores(dev_proba), target_fpr)``, then :func:`distilsec.evaluation.metrics.evaluate` on test at
    it. Raises ValueError (from the metrics) for a dev split without negatives, unknown labels or
    probabilities of the wrong shape.
    """
    from distilsec.evaluation.metrics import choose_threshold
    from distilsec.evaluation.metrics import evaluate as metrics_at

    classes = list(classes)
    proba_test, proba_dev = _probas(model_or_proba, test, dev)
    has_view = view.positive in classes or view.negative in classes
    positive = view.positive if has_view else None
    threshold = None
    if dev is not None and has_view:
        y_dev, s_dev = _binary(dev.labels, proba_dev, classes, view.negative, positive)
        threshold = choose_threshold(y_dev, s_dev, view.target_fpr)
        if getattr(view, "threshold_scope", None) == "per_source" and dev.sources is not None:
            threshold = _strictest_per_source(y_dev, s_dev, dev.sources, view.target_fpr, threshold)
    meta = {"groups": test.groups, "sources": test.sources, "platforms": test.platforms} if breakdowns else {}
    metrics = metrics_at(
        test.labels, proba_test, classes, positive=positive, negative=view.negative, threshold=threshold, **meta
    )
    default = None
    if at_default:
        default = metrics_at(test.labels, proba_test, classes, positive=positive, negative=view.negative)
    curve = _binary(test.labels, proba_test, classes, view.negative, positive) if has_view else None
    return Report(threshold, metrics, proba_test, curve, default)


def _strictest_per_source(
    y: np.ndarray, s: np.ndarray, sources: Sequence[Any], target_fpr: float, pooled: float
) -> float:
    """The highest of the per-source thresholds: every source's validation FPR is within the budget.

    A threshold chosen on pooled validation negatives holds on average, not per source: on URLs the
    benign sources differ (popular domains vs a crawl of odd ones), and the one the pooled threshold
    fits worst gets many times the target FPR on test. Taking the strictest per-source threshold buys
    the budget on every source at some detection rate; the report measures both.
    """
    from distilsec.evaluation.metrics import choose_threshold

    src = np.array([str(v) for v in sources], dtype=object)
    best = pooled
    for value in np.unique(src[~y.astype(bool)]):
        mask = src == value
        best = max(best, choose_threshold(y[mask], s[mask], target_fpr))
    return best


def _binary(
    labels: list[str], proba: np.ndarray, classes: list[str], negative: str, positive: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """The detection view of a split: binary labels and ``1 - P(negative)`` (or ``P(positive)``) scores."""
    from distilsec.evaluation.metrics import binary_labels, binary_scores

    return (
        binary_labels(labels, classes, negative=negative, positive=positive),
        binary_scores(proba, classes, negative=negative, positive=positive),
    )


def _probas(model_or_proba: Any, test: Split, dev: Split | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Test and dev probabilities: given, or scored by the model (dev only when a dev split is given)."""
    if isinstance(model_or_proba, Probas):
        if dev is not None and model_or_proba.dev is None:
            raise ValueError("evaluate(): a dev split was given but Probas.dev is None")
        return np.asarray(model_or_proba.test), model_or_proba.dev
    proba_dev = None if dev is None else model_or_proba.predict_proba(dev.texts)  # dev first, as before
    return model_or_proba.predict_proba(test.texts), proba_dev
