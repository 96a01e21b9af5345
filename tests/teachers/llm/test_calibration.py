"""Calibration removes a label bias learned nothing about ranking, and round-trips through JSON."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.errors import ConfigError, DataError
from distilsec.teachers.llm.calibration import Calibrator, bias_report, normalise_logprobs


def _biased(n: int = 600, seed: int = 0, shift: float = 3.0):
    """An informative but 'malicious'-biased scorer: 10% positives, logit shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    z = 2.0 * (2 * y - 1) + rng.normal(0, 1.2, n) + shift
    logp = np.stack([np.zeros(n), z], axis=1)
    return normalise_logprobs(logp), y


@pytest.mark.parametrize("method", ["bias", "affine"])
def test_calibration_removes_the_bias_and_keeps_the_ranking(method):
    logp, y = _biased()
    test_logp, test_y = _biased(seed=1)
    before = bias_report(np.exp(test_logp), test_y, ["benign", "malicious"])
    cal = Calibrator(method).fit(logp, y)
    after = bias_report(cal.transform(test_logp), test_y, ["benign", "malicious"])
    assert before["predicted_share"]["malicious"] > 0.7  # the bias is real
    assert abs(after["predicted_share"]["malicious"] - after["true_share"]["malicious"]) < 0.06
    assert after["accuracy"] > before["accuracy"] + 0.3
    assert after["fpr"] < before["fpr"]
    assert after["auc"] == pytest.approx(before["auc"], abs=1e-9)  # a monotone map: same ranking
    assert after["log_loss"] < before["log_loss"]


def test_rows_sum_to_one_and_json_round_trip():
    logp, y = _biased(100)
    cal = Calibrator("affine").fit(logp, y)
    p = cal.transform(logp)
    assert np.allclose(p.sum(axis=1), 1.0) and np.isfinite(p).all()
    again = Calibrator.from_dict(cal.to_dict())
    assert np.allclose(again.transform(logp), p)


def test_contextual_and_none():
    logp, _ = _biased(50)
    cf = np.log(np.array([[0.1, 0.9], [0.2, 0.8]]))
    cal = Calibrator("contextual").fit_contextual(cf)
    flat = cal.transform(cf.mean(axis=0, keepdims=True))
    assert flat[0, 0] == pytest.approx(flat[0, 1], abs=0.05)
    assert np.allclose(Calibrator("none").fit(logp, np.zeros(50, int)).transform(logp), np.exp(logp))


def test_multiclass_bias():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 900)
    z = np.eye(3)[y] * 2.0 + rng.normal(0, 1, (900, 3)) + np.array([0, 0, 2.5])  # class 2 favoured
    cal = Calibrator("bias").fit(z, y)
    pred = cal.transform(z).argmax(axis=1)
    assert abs((pred == 2).mean() - (y == 2).mean()) < 0.08


def test_errors():
    with pytest.raises(ConfigError):
        Calibrator("platt")
    with pytest.raises(DataError):
        Calibrator("bias").fit(np.zeros((4, 2)), np.zeros(4, int))  # one class only
    with pytest.raises(DataError):
        normalise_logprobs(np.array([[0.0, np.nan]]))
