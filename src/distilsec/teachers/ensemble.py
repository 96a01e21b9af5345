"""An ensemble teacher: several big models fitted on the same labels, their soft labels averaged.

Distillation only needs the teacher's output distribution, so the teacher can be the best combination
that can be trained once, offline: here, a fine-tuned transformer encoder (which reads language and knows
what ``Invoke-WebRequest`` means) beside a wide n-gram model trained on *every* labelled row (which the
encoder, on a CPU budget, sees only a sample of). Their errors differ, so their average ranks better than
either, and the student learns from that average. The same idea drives the CVE teacher (issue 6).
"""

from __future__ import annotations

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

__all__ = ["EnsembleTeacher"]

log = logging.getLogger("distilsec.teacher")

COMBINES = ("mean_logprob", "mean_proba")


@register("ensemble.v1")
class EnsembleTeacher(ClassifierMixin):
    """Weighted average of member models' class probabilities (a teacher).

    Parameters
    ----------
    members : one mapping per member: ``type`` (a registry name such as ``"encoder.v1"``), an optional
        ``weight`` (default 1), and that model's own constructor arguments.
    combine : ``"mean_logprob"`` (weighted geometric mean, renormalised: a confident, correct member is
        not diluted by an unsure one) or ``"mean_proba"`` (arithmetic mean).
    random_state : passed to every member that takes one and sets none.

    Attributes
    ----------
    classes_ : class names.  members_ : the fitted member models, in ``members`` order.
    """

    def __init__(
        self,
        members: Sequence[Mapping[str, Any]] = (),
        combine: str = "mean_logprob",
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.combine = combine
        self.random_state = random_state

    def _specs(self) -> list[tuple[str, float, dict[str, Any]]]:
        if not self.members:
            raise ConfigError("ensemble.v1 needs at least one member ({type: ..., weight: ..., <params>})")
        if self.combine not in COMBINES:
            raise ConfigError(f"ensemble.v1 combine must be one of {COMBINES}, not {self.combine!r}")
        specs = []
        for i, m in enumerate(self.members):
            params = dict(m)
            kind = params.pop("type", None)
            if not kind:
                raise ConfigError(f"ensemble.v1 member {i} has no 'type'")
            weight = float(params.pop("weight", 1.0))
            if weight <= 0:
                raise ConfigError(f"ensemble.v1 member {i} ({kind}) needs a positive weight, not {weight}")
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
        return self

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
        """The ensemble's distribution from members' probabilities (rows sum to 1)."""
        w = np.array([weight for _, weight, _ in self._specs()], dtype=np.float64)
        w = w / w.sum()
        if self.combine == "mean_proba":
            p = sum(wi * pi for wi, pi in zip(w, probas, strict=True))
        else:
            z = sum(wi * np.log(np.clip(pi, 1e-12, 1.0)) for wi, pi in zip(w, probas, strict=True))
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
        self._write_manifest(path, {"n_parameters": self.n_parameters, "n_members": len(self.members_)}, extra)
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
        return obj
