"""A teacher that reads a richer *view* of each sample than the student does (privileged information).

The student scores billions of raw strings, so it cannot afford to base64-decode every PowerShell
``-EncodedCommand``, undo ``^`` escapes, percent-decode URLs or parse HTML forms. The teacher runs once,
offline, so it can: it is trained and queried on ``view(text)`` (the raw text followed by what decoding
found, see :mod:`distilsec.data.views`), and the student learns the teacher's soft labels on the *raw*
text. This is Vapnik's learning using privileged information applied to distillation: the teacher's
knowledge of what an encoded payload does reaches a student that never decodes anything.

Config::

    teacher:
      type: viewed.v1
      view: decoded.v1
      model: {type: hashed_linear.v1, ngram_range: [1, 5]}

or, inside an ensemble, ``view: decoded.v1`` on one member (see :class:`~distilsec.teachers.ensemble.EnsembleTeacher`).
The view's name (with its version) is stored in the bundle, so a reloaded teacher applies the same view.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.bundle import load_model
from distilsec.errors import BundleError, ConfigError
from distilsec.registry import create, register
from distilsec.students.base import ClassifierMixin

__all__ = ["ViewedModel", "with_view", "check_views"]


@register("viewed.v1")
class ViewedModel(ClassifierMixin):
    """Any registered model, trained and queried on ``view(text)`` instead of ``text``.

    Parameters
    ----------
    view : a registered view name with its version (``"decoded.v1"``; ``"raw.v1"`` is the identity).
    model : the wrapped model's spec: ``type`` plus its constructor arguments.
    random_state : passed to the wrapped model when it takes one and its spec sets none.

    Attributes
    ----------
    classes_ : class names.  model_ : the fitted wrapped model.
    """

    def __init__(self, view: str = "decoded.v1", model: Mapping[str, Any] | None = None, random_state: int = 0) -> None:
        self.view = view
        self.model = model
        self.random_state = random_state

    def _spec(self) -> tuple[str, dict[str, Any]]:
        from distilsec.data.views import get_view

        get_view(self.view)  # an unknown view is a ConfigError before any training
        params = dict(self.model or {})
        kind = params.pop("type", None)
        if not kind:
            raise ConfigError("viewed.v1 needs model: {type: <registered model>, ...}")
        return kind, params

    def fit(
        self, texts: Sequence[str], y: Sequence[str], *, classes: Sequence[str] | None = None, **kwargs: Any
    ) -> ViewedModel:
        """Fit the wrapped model on the viewed texts (labels, classes and soft targets pass through)."""
        from distilsec.data.views import apply_view

        kind, params = self._spec()
        model = create(kind, params)
        if "random_state" in inspect.signature(type(model).__init__).parameters and "random_state" not in params:
            model.set_params(random_state=self.random_state)
        model.fit(apply_view(self.view, self._check_texts(texts)), y, classes=classes, **kwargs)
        self.model_ = model
        self.classes_ = list(model.classes_)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        from distilsec.data.views import apply_view

        self._check_fitted()
        return self.model_.predict_proba(apply_view(self.view, self._check_texts(texts)))

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return int(getattr(self.model_, "n_parameters", 0))

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model_.save(path / "model")
        self._write_manifest(path, {"n_parameters": self.n_parameters}, extra)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ViewedModel:
        path = Path(path)
        from distilsec.data.views import get_view

        obj = cls._from_manifest(cls._read_manifest(path))
        get_view(obj.view)  # a bundle naming a view this version does not have: one clear error
        if not (path / "model").is_dir():
            raise BundleError(f"{path} is a viewed.v1 bundle without its model folder")
        obj.model_ = load_model(path / "model")
        return obj


def with_view(kind: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(kind, params)`` with a ``view`` key turned into a :class:`ViewedModel` spec (config sugar)."""
    from distilsec.data.views import get_view

    params = dict(params)
    view = params.pop("view", None)
    if view is None:
        return kind, params
    get_view(view)  # an unknown view fails before any member trains
    random_state = params.get("random_state", 0)
    return "viewed.v1", {"view": view, "model": {"type": kind, **params}, "random_state": random_state}


def check_views(spec: Any) -> None:
    """Every ``view`` named anywhere in a model section (ensemble members included) exists: a typo in a view
    name fails before any data is read, not minutes into training."""
    from distilsec.data.views import get_view

    if isinstance(spec, Mapping):
        if isinstance(spec.get("view"), str) and "type" in spec:
            get_view(spec["view"])
        for value in spec.values():
            check_views(value)
    elif isinstance(spec, list | tuple):
        for value in spec:
            check_views(value)
