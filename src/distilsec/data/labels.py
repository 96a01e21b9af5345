"""Which label is the alert: the detection view of a label set, decided *before* any training.

A detector's metrics (TPR at a false-positive rate, the operating threshold) need one *positive* (alert)
and one *negative* (all-clear) class. A user's table may say ``1/0``, ``bad/good`` or ``phishing/
legitimate`` instead of ``malicious/benign``: :func:`resolve_detection_view` infers the pair for common
conventions and says so, or stops with an error naming ``evaluation.positive`` -- before minutes of
training, not after. :func:`small_split_warnings` flags splits too small for their metrics to mean much.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from distilsec.errors import ConfigError, DataError

__all__ = [
    "KNOWN_PAIRS",
    "MIN_EXAMPLES_PER_CLASS",
    "DetectionView",
    "check_enough_classes",
    "resolve_detection_view",
    "small_split_warnings",
]

#: (positive, negative) label conventions, matched case-insensitively; the first pair found wins.
KNOWN_PAIRS: tuple[tuple[str, str], ...] = (
    ("malicious", "benign"),
    ("1", "0"),
    ("true", "false"),
    ("yes", "no"),
    ("bad", "good"),
    ("phishing", "legitimate"),
    ("phishing", "benign"),
    ("phish", "legit"),
    ("phish", "legitimate"),
    ("malware", "clean"),
    ("malware", "benign"),
    ("malware", "goodware"),
    ("malicious", "clean"),
    ("malicious", "legitimate"),
    ("spam", "ham"),
    ("attack", "normal"),
    ("attack", "benign"),
    ("anomalous", "normal"),
    ("anomaly", "normal"),
    ("fraud", "legit"),
    ("fraud", "legitimate"),
    ("suspicious", "benign"),
    ("positive", "negative"),
    ("pos", "neg"),
)
#: all-clear labels: in a multi-class table (benign + several attack kinds) the one of these is the negative.
NEGATIVE_NAMES = frozenset(n for _, n in KNOWN_PAIRS) | {"safe", "clean", "normal", "benign"}
#: below this many examples of a class in the validation or test split, its metrics are noise: one example
#: moves a rate by more than 5 points, and a threshold chosen for FPR 1e-3 cannot be measured.
MIN_EXAMPLES_PER_CLASS = 20


@dataclass(frozen=True)
class DetectionView:
    """The resolved alert / all-clear labels and, when inferred, the note to print."""

    positive: str
    negative: str
    note: str | None = None


def _find(name: str, classes: Sequence[str]) -> str | None:
    """The class spelled ``name``: exactly, else the one class equal to it ignoring case (``True`` vs ``true``)."""
    if name in classes:
        return name
    hits = [c for c in classes if c.casefold() == name.casefold()]
    return hits[0] if len(hits) == 1 else None


def check_enough_classes(counts: Mapping[str, int], where: str) -> None:
    """Refuse a label set with fewer than two classes: every model would learn to say one thing.

    A single-class table otherwise trains "successfully" and reports macro-F1 1.000 for a model whose
    every score is 0.0.
    """
    if len(counts) < 2:
        shown = ", ".join(f"{k!r} ({v} rows)" for k, v in counts.items()) or "none"
        raise DataError(
            f"{where} has {len(counts)} label class(es) ({shown}): a classifier needs examples of at least two "
            "classes (check data.label_column and data.label_map)"
        )


def resolve_detection_view(
    classes: Sequence[str], positive: str, negative: str, *, explicit: Iterable[str] = ()
) -> DetectionView:
    """The (positive, negative) labels to evaluate and ship with, spelled exactly as in ``classes``.

    Parameters
    ----------
    classes : the training labels (at least two).
    positive, negative : the configured ``evaluation.positive`` / ``evaluation.negative``.
    explicit : which of ``"positive"``, ``"negative"`` the user set (the others are defaults to infer over).

    Raises
    ------
    ConfigError
        A label the user named is not a class, or the label set matches no known convention (the message
        names ``evaluation.positive`` / ``evaluation.negative`` and the labels to choose from).
    """
    classes = [str(c) for c in classes]
    explicit = set(explicit)
    shown = ", ".join(repr(c) for c in classes)
    given = {}
    for key, name in (("positive", positive), ("negative", negative)):
        if key in explicit:
            found = _find(name, classes)
            if found is None:
                raise ConfigError(
                    f"evaluation.{key} is {name!r}, which is not one of the labels ({shown}): "
                    f"set --evaluation.{key} to one of them"
                )
            given[key] = found
    if len(classes) == 2:
        return _binary_view(classes, given, shown)
    return _multiclass_view(classes, given, positive, negative, shown)


def _binary_view(classes: list[str], given: dict[str, str], shown: str) -> DetectionView:
    if "positive" in given or "negative" in given:
        pos = given.get("positive") or next(c for c in classes if c != given["negative"])
        neg = given.get("negative") or next(c for c in classes if c != pos)
        if pos == neg:
            raise ConfigError(f"evaluation.positive and evaluation.negative both name the label {pos!r}")
        return DetectionView(pos, neg)
    for p, n in KNOWN_PAIRS:
        pos, neg = _find(p, classes), _find(n, classes)
        if pos is not None and neg is not None:
            note = None
            if (pos, neg) != ("malicious", "benign"):
                note = (
                    f"labels {shown}: alerting on {pos!r} (positive), {neg!r} is the negative class (inferred; "
                    "set evaluation.positive / evaluation.negative to change)"
                )
            return DetectionView(pos, neg, note)
    negatives = [c for c in classes if c.casefold() in NEGATIVE_NAMES]
    if len(negatives) == 1:
        neg = negatives[0]
        pos = next(c for c in classes if c != neg)
        note = (
            f"labels {shown}: alerting on {pos!r}, {neg!r} is the negative class "
            "(inferred; set evaluation.positive to change)"
        )
        return DetectionView(pos, neg, note)
    raise ConfigError(
        f"cannot tell which of the labels {shown} is the alert (positive) class: set evaluation.positive "
        f"(e.g. --evaluation.positive {classes[1]}) and evaluation.negative"
    )


def _multiclass_view(
    classes: list[str], given: dict[str, str], positive: str, negative: str, shown: str
) -> DetectionView:
    """Several classes: the score is ``1 - P(negative)``, so the all-clear class is what must be known."""
    if "negative" in given:
        return DetectionView(given.get("positive", positive), given["negative"])
    found = _find(negative, classes)
    if found is not None:
        return DetectionView(given.get("positive", positive), found)
    negatives = [c for c in classes if c.casefold() in NEGATIVE_NAMES]
    if len(negatives) == 1:
        pos = given.get("positive", positive)
        note = (
            f"labels {shown}: {negatives[0]!r} is the negative (all-clear) class; every other class is an alert "
            "(inferred; set evaluation.negative to change)"
        )
        return DetectionView(pos, negatives[0], note)
    if "positive" in given:  # score = P(positive) when no all-clear class exists
        return DetectionView(given["positive"], negative)
    raise ConfigError(
        f"cannot tell which of the labels {shown} is the all-clear (negative) class: set evaluation.negative "
        "(e.g. --evaluation.negative <label>), or evaluation.positive for a one-class-versus-rest detector"
    )


def small_split_warnings(
    splits: Mapping[str, Sequence[str]], classes: Sequence[str], minimum: int = MIN_EXAMPLES_PER_CLASS
) -> list[str]:
    """One warning per evaluation split (val, test) with fewer than ``minimum`` examples of some class.

    The rule is stated in each warning, so a report with AUC 1.0 on three test rows says what it is worth.
    """
    out = []
    for name, labels in splits.items():
        counts = Counter(labels)
        small = {c: counts.get(c, 0) for c in classes if counts.get(c, 0) < minimum}
        if small:
            shown = ", ".join(f"{c!r}: {n}" for c, n in small.items())
            out.append(
                f"{name} split has fewer than {minimum} examples of a class ({shown} of {len(labels)} rows): its "
                f"metrics are not reliable (below {minimum}, one example moves a class's rates by over "
                f"{100 / minimum:.0f} points); add data or raise split.val_fraction / split.test_fraction"
            )
    return out
