"""evaluation.evaluate: the threshold is chosen on dev and applied unchanged to test."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from distilsec.data.example import Example
from distilsec.evaluation import Probas, Report, Split, evaluate
from distilsec.evaluation.metrics import binary_labels, binary_scores, choose_threshold
from distilsec.evaluation.metrics import evaluate as metrics_evaluate

CLASSES = ["benign", "malicious"]
VIEW = SimpleNamespace(positive="malicious", negative="benign", target_fpr=0.1)


def _split(n: int, seed: int) -> tuple[Split, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    p = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    labels = ["malicious" if v else "benign" for v in y]
    split = Split(
        texts=[f"s{seed}-t{i}" for i in range(n)],
        labels=labels,
        groups=[f"g{i % 7}" for i in range(n)],
        sources=["a" if i % 2 else "b" for i in range(n)],
        platforms=None,
    )
    return split, np.column_stack([1 - p, p])


class _Model:
    """predict_proba by text from a lookup: the model path must give what the Probas path gives."""

    def __init__(self, *pairs: tuple[Split, np.ndarray]) -> None:
        self.rows = {t: row for split, proba in pairs for t, row in zip(split.texts, proba, strict=True)}

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.array([self.rows[t] for t in texts])


def test_threshold_is_chosen_on_dev_and_metrics_equal_the_hand_written_sequence():
    dev, p_dev = _split(200, 0)
    test, p_test = _split(300, 1)
    report = evaluate(Probas(p_test, p_dev), test, dev, classes=CLASSES, view=VIEW)
    thr = choose_threshold(binary_labels(dev.labels, CLASSES), binary_scores(p_dev, CLASSES), VIEW.target_fpr)
    expected = metrics_evaluate(test.labels, p_test, CLASSES, threshold=thr, groups=test.groups, sources=test.sources)
    assert isinstance(report, Report)
    assert report.threshold == thr
    assert report.metrics == expected
    # not the threshold that test data would give: it is measured, not fitted
    assert report.threshold != choose_threshold(
        binary_labels(test.labels, CLASSES), binary_scores(p_test, CLASSES), VIEW.target_fpr
    )


def test_model_and_precomputed_probas_give_the_same_report():
    dev, p_dev = _split(150, 2)
    test, p_test = _split(150, 3)
    a = evaluate(_Model((dev, p_dev), (test, p_test)), test, dev, classes=CLASSES, view=VIEW)
    b = evaluate(Probas(p_test, p_dev), test, dev, classes=CLASSES, view=VIEW)
    assert a.threshold == b.threshold and a.metrics == b.metrics
    np.testing.assert_array_equal(a.curve[1], 1.0 - p_test[:, 0])  # 1 - P(benign)
    np.testing.assert_array_equal(a.curve[0], np.array(test.labels) == "malicious")


def test_without_dev_no_threshold_is_chosen():
    test, p_test = _split(100, 4)
    report = evaluate(Probas(p_test), test, classes=CLASSES, view=VIEW, breakdowns=False, at_default=True)
    assert report.threshold is None
    assert report.metrics["threshold_given"] is False
    assert "by_group" not in report.metrics and "by_source" not in report.metrics
    assert report.at_default == metrics_evaluate(test.labels, p_test, CLASSES)


def test_dev_split_without_dev_probas_is_refused():
    dev, _ = _split(50, 5)
    test, p_test = _split(50, 6)
    with pytest.raises(ValueError, match="Probas.dev"):
        evaluate(Probas(p_test), test, dev, classes=CLASSES, view=VIEW)


def test_classes_without_a_detection_view_have_no_threshold_and_no_binary_metrics():
    classes = ["news", "shopping", "sports"]
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(3), size=60)
    split = Split([f"t{i}" for i in range(60)], [classes[i % 3] for i in range(60)])
    report = evaluate(Probas(p, p), split, split, classes=classes, view=VIEW)
    assert report.threshold is None and report.curve is None
    assert report.metrics["auc"] is None and report.metrics["auc_ovr_macro"] is not None


def test_split_from_examples_keeps_labels_as_text_and_metadata_on_request():
    examples = [
        Example(id="1", text="a", label="benign", group="g", source="s", platform="linux"),
        Example(id="2", text="b", label="malicious", group="h", source="s", platform="windows"),
    ]
    full = Split.from_examples(examples)
    assert full.labels == ["benign", "malicious"] and full.platforms == ["linux", "windows"] and len(full) == 2
    assert Split.from_examples(examples, metadata=False).groups is None


def test_per_source_threshold_holds_the_budget_on_every_validation_source():
    """Pooled negatives let one odd benign source take most false positives; per source, none does."""
    from types import SimpleNamespace

    import numpy as np

    from distilsec.evaluation.evaluate import Probas, Split, evaluate

    rng = np.random.default_rng(0)
    n = 2000
    sources = ["popular"] * 1800 + ["odd"] * 200
    labels = ["benign"] * n + ["malicious"] * 200
    benign_scores = np.concatenate([rng.uniform(0.0, 0.3, 1800), rng.uniform(0.2, 0.8, 200)])
    scores = np.concatenate([benign_scores, rng.uniform(0.7, 1.0, 200)])
    proba = np.column_stack([1 - scores, scores])
    dev = Split([""] * len(labels), labels, sources=sources + ["bad"] * 200)
    pooled = SimpleNamespace(positive="malicious", negative="benign", target_fpr=0.01, threshold_scope=None)
    scoped = SimpleNamespace(positive="malicious", negative="benign", target_fpr=0.01, threshold_scope="per_source")
    kw = {"classes": ["benign", "malicious"], "breakdowns": False}
    t_pooled = evaluate(Probas(proba, proba), dev, dev, view=pooled, **kw).threshold
    t_scoped = evaluate(Probas(proba, proba), dev, dev, view=scoped, **kw).threshold
    odd = benign_scores[1800:]
    assert (odd >= t_pooled).mean() > 0.03  # the pooled budget does not hold on the odd source
    assert (odd >= t_scoped).mean() <= 0.01 and t_scoped > t_pooled
