"""Which label alerts, decided before training; too-small splits are named (issue 11, items 2 and 3)."""

from __future__ import annotations

import pytest

from distilsec.data.labels import (
    MIN_EXAMPLES_PER_CLASS,
    check_enough_classes,
    resolve_detection_view,
    small_split_warnings,
)
from distilsec.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("classes", "positive", "negative"),
    [
        (["benign", "malicious"], "malicious", "benign"),
        (["0", "1"], "1", "0"),
        (["False", "True"], "True", "False"),
        (["good", "bad"], "bad", "good"),
        (["legitimate", "phishing"], "phishing", "legitimate"),
        (["legit", "phish"], "phish", "legit"),
        (["clean", "malware"], "malware", "clean"),
        (["ham", "spam"], "spam", "ham"),
        (["attack", "normal"], "attack", "normal"),
        (["anomalous", "normal"], "anomalous", "normal"),
        (["no", "yes"], "yes", "no"),
        (["benign", "ransomware"], "ransomware", "benign"),
    ],
)
def test_positive_class_is_inferred_for_common_conventions(classes, positive, negative) -> None:
    view = resolve_detection_view(sorted(classes), "malicious", "benign")
    assert (view.positive, view.negative) == (positive, negative)
    if (positive, negative) != ("malicious", "benign"):
        assert view.note and "evaluation.positive" in view.note


def test_unknown_label_pair_is_an_error_naming_the_option() -> None:
    with pytest.raises(ConfigError, match="set evaluation.positive"):
        resolve_detection_view(["alpha", "beta"], "malicious", "benign")


def test_explicit_positive_picks_the_other_class_as_negative() -> None:
    view = resolve_detection_view(["alpha", "beta"], "beta", "benign", explicit={"positive"})
    assert (view.positive, view.negative, view.note) == ("beta", "alpha", None)


def test_explicit_positive_that_is_not_a_label_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"evaluation.positive is '2', which is not one of the labels \('0', '1'\)"):
        resolve_detection_view(["0", "1"], "2", "benign", explicit={"positive"})


def test_explicit_label_matches_ignoring_case() -> None:
    view = resolve_detection_view(["False", "True"], "true", "benign", explicit={"positive"})
    assert (view.positive, view.negative) == ("True", "False")


def test_multiclass_keeps_working_and_finds_the_all_clear_class() -> None:
    assert resolve_detection_view(["benign", "downloader", "malicious"], "malicious", "benign").negative == "benign"
    view = resolve_detection_view(["malware", "normal", "phishing"], "malicious", "benign")
    assert view.negative == "normal" and view.note
    with pytest.raises(ConfigError, match="set evaluation.negative"):
        resolve_detection_view(["games", "news", "shopping"], "malicious", "benign")


def test_single_class_is_refused() -> None:
    with pytest.raises(DataError, match="at least two classes"):
        check_enough_classes({"benign": 300}, "events.csv")
    check_enough_classes({"benign": 3, "malicious": 1}, "events.csv")


def test_small_split_warning_states_the_rule() -> None:
    ok = ["benign"] * MIN_EXAMPLES_PER_CLASS + ["malicious"] * MIN_EXAMPLES_PER_CLASS
    assert small_split_warnings({"val": ok, "test": ok}, ["benign", "malicious"]) == []
    warnings = small_split_warnings({"val": ok, "test": ["benign"] * 2 + ["malicious"]}, ["benign", "malicious"])
    assert len(warnings) == 1
    assert warnings[0].startswith("test split has fewer than 20 examples of a class ('benign': 2, 'malicious': 1")
    missing = small_split_warnings({"test": ["benign"] * 50}, ["benign", "malicious"])
    assert "'malicious': 0" in missing[0]
