"""Calibration of LLM label probabilities on labelled data, and the bias report before and after.

Small instruct LLMs are heavily biased toward one answer (the 0.5B Qwen calls ``git status``
malicious with p≈0.95). The ranking in their label-word log-probabilities is still informative, so a
few parameters fitted on labelled validation data remove most of the bias:

* ``bias``: per-class offsets ``b`` (``softmax(log p + b)``), the "vector scaling" of Guo et al. 2017
  without the scale; one parameter per class.
* ``affine``: a shared temperature and per-class offsets (``softmax(a * log p + b)``), i.e. Platt
  scaling for k classes. The default.
* ``contextual``: Zhao et al. 2021: offsets ``-log p(content-free input)``, no labels needed.
* ``none``: the renormalised label-word probabilities as they come.

Everything fits by minimising the negative log-likelihood (convex in ``a`` and ``b``) with a light L2
penalty, and is stored as plain JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from distilsec.errors import ConfigError, DataError

__all__ = ["Calibrator", "CALIBRATION_METHODS", "bias_report", "normalise_logprobs"]

CALIBRATION_METHODS = ("none", "bias", "affine", "contextual")
Method = Literal["none", "bias", "affine", "contextual"]


def normalise_logprobs(logp: np.ndarray) -> np.ndarray:
    """Label-word log-probabilities renormalised over the labels (rows sum to 1 in probability)."""
    logp = np.asarray(logp, dtype=np.float64)
    if logp.ndim != 2 or logp.shape[1] < 2:
        raise DataError(f"expected (n, n_classes>=2) log-probabilities, got shape {logp.shape}")
    if not np.isfinite(logp).all():
        raise DataError("label log-probabilities contain NaN or infinity")
    return log_softmax(logp, axis=1)


@dataclass
class Calibrator:
    """``proba = softmax(scale * log p + bias)`` on renormalised label-word log-probabilities.

    Attributes
    ----------
    method : one of :data:`CALIBRATION_METHODS`.
    scale, bias : the fitted map (identity before :meth:`fit`).
    l2 : penalty on ``bias`` and on ``scale - 1`` (keeps tiny calibration sets from overfitting).
    """

    method: Method = "affine"
    scale: float = 1.0
    bias: list[float] = field(default_factory=list)
    l2: float = 1e-3

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ConfigError(f"unknown calibration {self.method!r}; known: {list(CALIBRATION_METHODS)}")

    def fit(self, logp: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on labelled rows (``y`` = class indices); ``contextual`` wants :meth:`fit_contextual`."""
        z = normalise_logprobs(logp)
        y = np.asarray(y, dtype=np.int64)
        k = z.shape[1]
        if len(y) != len(z):
            raise DataError(f"{len(z)} score rows but {len(y)} labels")
        self.scale, self.bias = 1.0, [0.0] * k
        if self.method in ("none", "contextual"):
            return self
        if len(np.unique(y)) < 2:
            raise DataError("calibration needs labelled examples of at least two classes")
        onehot = np.eye(k)[y]
        fit_scale = self.method == "affine"

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a = theta[0] if fit_scale else 1.0
            b = theta[-k:]
            lp = log_softmax(a * z + b, axis=1)
            n = len(y)
            loss = -(onehot * lp).sum() / n + self.l2 * (b @ b + (a - 1.0) ** 2)
            resid = (np.exp(lp) - onehot) / n  # d loss / d logits
            grad_b = resid.sum(axis=0) + 2 * self.l2 * b
            if not fit_scale:
                return loss, grad_b
            grad_a = float((resid * z).sum() + 2 * self.l2 * (a - 1.0))
            return loss, np.concatenate([[grad_a], grad_b])

        theta0 = np.concatenate([[1.0], np.zeros(k)]) if fit_scale else np.zeros(k)
        bounds = ([(1e-3, 100.0)] if fit_scale else []) + [(None, None)] * k
        res = minimize(nll, theta0, jac=True, method="L-BFGS-B", bounds=bounds)
        self.scale = float(res.x[0]) if fit_scale else 1.0
        b = res.x[-k:]
        self.bias = (b - b.mean()).tolist()  # offsets are defined up to a constant
        return self

    def fit_contextual(self, logp_content_free: np.ndarray) -> Calibrator:
        """Offsets that make content-free inputs ("N/A", "") come out uniform (no labels needed)."""
        z = normalise_logprobs(logp_content_free).mean(axis=0)
        self.scale, self.bias = 1.0, (-(z - z.mean())).tolist()
        return self

    def transform(self, logp: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (rows sum to 1)."""
        z = normalise_logprobs(logp)
        b = np.asarray(self.bias or [0.0] * z.shape[1])
        if len(b) != z.shape[1]:
            raise DataError(f"calibrator has {len(b)} classes, scores have {z.shape[1]}")
        return np.exp(log_softmax(self.scale * z + b, axis=1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(**d)


def bias_report(proba: np.ndarray, y: Sequence[int], classes: Sequence[str], positive: str = "malicious") -> dict:
    """How biased a classifier's argmax decisions are, and how well it ranks.

    Returns accuracy, balanced accuracy, log-loss, AUC (binary: score of ``positive``; multi-class:
    macro one-vs-rest), the predicted vs true share of each class and, for binary tasks, the false
    and true positive rates of the argmax decision and the mean P(positive) on true negatives.
    """
    from sklearn.metrics import balanced_accuracy_score, log_loss, roc_auc_score

    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    k = len(classes)
    pred = proba.argmax(axis=1)
    out: dict[str, Any] = {
        "n": len(y),
        "accuracy": float((pred == y).mean()) if len(y) else None,
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if len(np.unique(y)) > 1 else None,
        "log_loss": float(log_loss(y, np.clip(proba, 1e-12, 1.0), labels=list(range(k)))) if len(y) else None,
        "predicted_share": {c: float((pred == j).mean()) for j, c in enumerate(classes)},
        "true_share": {c: float((y == j).mean()) for j, c in enumerate(classes)},
    }
    try:
        if k == 2:
            out["auc"] = float(roc_auc_score(y, proba[:, 1]))
        else:
            out["auc"] = float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(range(k))))
    except ValueError:
        out["auc"] = None
    if k == 2 and positive in classes:
        pos = list(classes).index(positive)
        neg_rows, pos_rows = y != pos, y == pos
        out["fpr"] = float((pred[neg_rows] == pos).mean()) if neg_rows.any() else None
        out["tpr"] = float((pred[pos_rows] == pos).mean()) if pos_rows.any() else None
        out["mean_p_positive_on_negatives"] = float(proba[neg_rows, pos].mean()) if neg_rows.any() else None
    return out
