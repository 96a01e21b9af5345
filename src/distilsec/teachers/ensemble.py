"""An ensemble teacher: several big models fitted on the same labels, their soft labels averaged.

Distillation only needs the teacher's output distribution, so the teacher can be the best combination
that can be trained once, offline: here, a fine-tuned transformer encoder (which reads language and knows
what ``Invoke-WebRequest`` means) beside a wide n-gram model trained on *every* labelled row (which the
encoder, on a CPU budget, sees only a sample of). Their errors differ, so their average ranks better than
either, and the student learns from that average. The same idea drives the CVE teacher (issue 6).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.bundle import load_model
from distilsec.errors import BundleError, ConfigError
from distilsec.registry import create, register
from distilsec.students.base import ClassifierMixin
from distilsec.teachers.labelling import stage_progress
from distilsec.teachers.viewed import with_view

__all__ = ["EnsembleTeacher"]

log = logging.getLogger("distilsec.teacher")

COMBINES = ("mean_logprob", "mean_proba")
WEIGHTS_FROM = ("config", "validation")
#: per-member weight steps tried by :meth:`EnsembleTeacher.choose_weights` (normalised afterwards).
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


@register("ensemble.v1")
class EnsembleTeacher(ClassifierMixin):
    """Weighted average of member models' class probabilities (a teacher).

    Parameters
    ----------
    members : one mapping per member: ``type`` (a registry name such as ``"encoder.v1"``), an optional
        ``weight`` (default 1), and that model's own constructor arguments.
    combine : ``"mean_logprob"`` (weighted geometric mean, renormalised: a confident, correct member is
        not diluted by an unsure one) or ``"mean_proba"`` (arithmetic mean).
        A member with ``view: decoded.v1`` reads that view of each text (privileged information, see
        :mod:`distilsec.teachers.viewed`); the others read the raw text.
    combine : ``"mean_logprob"`` (weighted geometric mean, renormalised: a confident, correct member is
        not diluted by an unsure one) or ``"mean_proba"`` (arithmetic mean).
    weights : ``"config"`` (each member's ``weight``) or ``"validation"``: the run calls
        :meth:`choose_weights` with the members' validation probabilities and the weights that detect best
        at the operating point win, one member alone included, so the ensemble is never worse on
        validation than its best member (a weak member cannot drag a strong one down).
    random_state : passed to every member that takes one and sets none.

    Attributes
    ----------
    classes_ : class names.  members_ : the fitted member models, in ``members`` order.
    weights_ : the weights in use (normalised); chosen on validation when ``weights="validation"``.
    """

    def __init__(
        self,
        members: Sequence[Mapping[str, Any]] = (),
        combine: str = "mean_logprob",
        weights: str = "config",
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.combine = combine
        self.weights = weights
        self.random_state = random_state

    def _specs(self) -> list[tuple[str, float, dict[str, Any]]]:
        if not self.members:
            raise ConfigError("ensemble.v1 needs at least one member ({type: ..., weight: ..., <params>})")
        if self.combine not in COMBINES:
            raise ConfigError(f"ensemble.v1 combine must be one of {COMBINES}, not {self.combine!r}")
        if self.weights not in WEIGHTS_FROM:
            raise ConfigError(f"ensemble.v1 weights must be one of {WEIGHTS_FROM}, not {self.weights!r}")
        specs = []
        for i, m in enumerate(self.members):
            params = dict(m)
            kind = params.pop("type", None)
            if not kind:
                raise ConfigError(f"ensemble.v1 member {i} has no 'type'")
            weight = float(params.pop("weight", 1.0))
            if weight <= 0:
                raise ConfigError(f"ensemble.v1 member {i} ({kind}) needs a positive weight, not {weight}")
            kind, params = with_view(kind, params)
            specs.append((kind, weight, params))
        return specs

    def fit(
        self, texts: Sequence[str], y: Sequence[str], *, classes: Sequence[str] | None = None, **kwargs: Any
    ) -> EnsembleTeacher:
        """Fit every member on the same texts and labels (in order; each shows its own progress)."""
        import inspect

        members = []
        specs = self._specs()
        for i, (kind, _, params) in enumerate(specs):
            model = create(kind, params)
            if "random_state" in inspect.signature(type(model).__init__).parameters and "random_state" not in params:
                model.set_params(random_state=self.random_state)
            # a log line at start and end (the member draws its own bar, if it has one)
            with self._stage(f"ensemble member {i + 1}/{len(specs)} ({kind}): fit", len(texts)) as stage:
                model.fit(texts, y, classes=classes, **kwargs)
                stage.advance(len(texts))
            members.append(model)
        first = list(members[0].classes_)
        for m in members[1:]:
            if list(m.classes_) != first:
                raise ConfigError(f"ensemble members disagree on classes: {first} vs {list(m.classes_)}")
        self.members_ = members
        self.classes_ = first
        w = np.array([weight for _, weight, _ in specs], dtype=np.float64)
        self.weights_ = (w / w.sum()).tolist()
        return self

    def tune(self, component_probas: Mapping[str, np.ndarray], labels: Sequence[str], *, view: Any) -> None:
        """Weights chosen on validation when ``weights="validation"`` (see :meth:`choose_weights`)."""
        probas = [component_probas[name] for name in self.components()]
        self.choose_weights(probas, labels, positive=view.positive, negative=view.negative, target_fpr=view.target_fpr)

    def choose_weights(
        self,
        member_probas: Sequence[np.ndarray],
        labels: Sequence[str],
        *,
        positive: str | None,
        negative: str,
        target_fpr: float,
    ) -> list[float]:
        """Set :attr:`weights_` to the grid point that detects best on these (validation) probabilities.

        The score is the mean detection rate at false-positive rates of 1x, 3x and 10x ``target_fpr``
        (one point alone rests on a handful of validation negatives), plus a thousandth of the AUC to break
        ties. Every member alone is on the grid, so the chosen ensemble is never worse than its best member
        on this data. Does nothing (keeps the configured weights) unless ``weights="validation"`` or when
        there is no detection view.
        """
        self._check_fitted()
        if self.weights != "validation":
            return list(self.weights_)
        y = np.array([str(v) != negative if positive is None else str(v) == positive for v in labels])
        if y.all() or not y.any():
            log.info("ensemble weights: validation has one class only, configured weights kept")
            return list(self.weights_)
        best, best_score = None, -np.inf
        for point in itertools.product(WEIGHT_GRID, repeat=len(member_probas)):
            if sum(point) == 0 or (len(member_probas) > 1 and max(point) < 1.0):
                continue  # all-zero, or a rescaled copy of a point with a 1.0 in it
            w = np.array(point) / sum(point)
            scores = _binary_scores(self._combine(member_probas, w), self.classes_, positive, negative)
            score = _detection_score(y, scores, target_fpr)
            if score > best_score + 1e-12:
                best, best_score = w, score
        self.weights_ = [round(float(v), 4) for v in best]
        log.info("ensemble weights chosen on validation: %s (score %.4f)", self.weights_, best_score)
        return list(self.weights_)

    def member_probas(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each member's ``predict_proba`` (the report shows members beside the ensemble)."""
        self._check_fitted()
        out = []
        for i, m in enumerate(self.members_):
            desc = f"ensemble member {i + 1}/{len(self.members_)} ({m.registry_name}): scoring"
            with self._stage(desc, len(texts)) as stage:
                out.append(m.predict_proba(texts))
                stage.advance(len(texts))
        return out

    def components(self) -> dict[str, Any]:
        """The fitted members by name (``member-<i>``, in ``members`` order), evaluated beside the ensemble."""
        self._check_fitted()
        return {f"member-{i}": m for i, m in enumerate(self.members_)}

    def predict_proba_components(self, texts: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The ensemble's probabilities and each member's, every member scored once."""
        per_member = self.member_probas(self._check_texts(texts))
        return self.combine_probas(per_member), {f"member-{i}": p for i, p in enumerate(per_member)}

    @staticmethod
    def _stage(desc: str, n: int) -> Any:
        """Log lines only: a bar here would sit on top of the member's own."""
        return stage_progress(desc, n, unit="texts", logger=log, disable=True)

    def combine_probas(self, probas: Sequence[np.ndarray]) -> np.ndarray:
        """The ensemble's distribution from members' probabilities (rows sum to 1), with :attr:`weights_`."""
        self._check_fitted()
        return self._combine(probas, np.asarray(self.weights_, dtype=np.float64))

    def _combine(self, probas: Sequence[np.ndarray], w: np.ndarray) -> np.ndarray:
        if self.combine == "mean_proba":
            p = sum(wi * pi for wi, pi in zip(w, probas, strict=True))
        else:
            z = sum(wi * np.log(np.clip(pi, 1e-12, 1.0)) for wi, pi in zip(w, probas, strict=True) if wi > 0)
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
        p = np.asarray(p, dtype=np.float64)
        return p / p.sum(axis=1, keepdims=True)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.combine_probas(self.member_probas(self._check_texts(texts)))

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return int(sum(int(getattr(m, "n_parameters", 0)) for m in self.members_))

    # ---- persistence: one bundle folder per member, no code in any of them ----
    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        self._check_fitted()  # NotFittedError, not AttributeError, and no half-written folder
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(self.members_):
            m.save(path / f"member-{i}")
        own = {"n_parameters": self.n_parameters, "n_members": len(self.members_), "weights_": self.weights_}
        self._write_manifest(path, own, extra)
        return path

    @classmethod
    def load(cls, path: str | Path) -> EnsembleTeacher:
        path = Path(path)
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        n = int(manifest.get("n_members", len(obj.members)))
        members = []
        for i in range(n):
            sub = path / f"member-{i}"
            if not sub.is_dir():
                raise BundleError(f"{path} is an ensemble bundle without its member folder {sub.name}")
            members.append(load_model(sub))
        obj.members_ = members
        weights = manifest.get("weights_")
        if weights is None:  # a bundle from before weights_ was stored: the configured weights
            w = np.array([weight for _, weight, _ in obj._specs()], dtype=np.float64)
            weights = (w / w.sum()).tolist()
        if len(weights) != n:
            raise BundleError(f"{path}: {len(weights)} ensemble weights for {n} members")
        obj.weights_ = [float(v) for v in weights]
        return obj


def _binary_scores(proba: np.ndarray, classes: Sequence[str], positive: str | None, negative: str) -> np.ndarray:
    """The alert score: P(positive), or 1 - P(negative) when every non-negative class alerts."""
    classes = list(classes)
    if positive is not None and positive in classes:
        return proba[:, classes.index(positive)]
    return 1.0 - proba[:, classes.index(negative)]


def _detection_score(y: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    """Mean TPR at FPR 1x/3x/10x the target (thresholds from the negatives' scores), + AUC/1000."""
    from sklearn.metrics import roc_auc_score

    neg = np.sort(scores[~y])[::-1]
    pos = scores[y]
    tprs = []
    for f in (target_fpr, 3 * target_fpr, 10 * target_fpr):
        k = min(int(np.floor(f * len(neg))), len(neg) - 1)
        tprs.append(float((pos > neg[k]).mean()))
    return float(np.mean(tprs)) + 1e-3 * float(roc_auc_score(y, scores))
