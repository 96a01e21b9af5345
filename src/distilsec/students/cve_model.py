"""The shipped CVE model: a CWE classifier + CVSS heads + the CWE names and parent chains, in one bundle.

Layout (no pickles: JSON + safetensors only)::

    BUNDLE/manifest.json      type "cve_model.v1", top_k, backoff_threshold, metrics
    BUNDLE/cwe/               any classifier bundle (the distilled tfidf_linear student by default)
    BUNDLE/cvss/              cvss_linear.v1 bundle (optional)
    BUNDLE/cwe_index.json     names, abstraction and parent chains of the CWE classes
    BUNDLE/training_ids.json  the CVE IDs the bundle was trained on (so a benchmark can be checked for leakage)

A run folder holds a ``manifest.json`` of type ``cve_run`` naming its shipped bundle, so both the run
folder and the bundle folder are accepted wherever a model is asked for: :func:`distilsec.bundle.load_model`
follows the pointer, and :func:`require_cve_model` checks that what it loaded is a CVE model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec import __version__
from distilsec.bundle import RUN_TYPE, check_no_pickle, load_model, read_manifest, with_extra, write_manifest
from distilsec.errors import BundleError, DataError
from distilsec.registry import register
from distilsec.students.cwe_hierarchy import CweIndex, backoff, top_k_cwes

__all__ = ["CveModel", "require_cve_model", "load_cve_model", "RUN_TYPE"]
INDEX_FILE = "cwe_index.json"
IDS_FILE = "training_ids.json"


@register("cve_model.v1")
class CveModel:
    """CVE description -> top-k CWE (with names and parents, optional back-off) and CVSS v3.1.

    Parameters
    ----------
    cwe_model : fitted classifier with ``predict_proba`` and ``classes_`` (CWE IDs).
    cvss_model : fitted :class:`~distilsec.students.cvss_linear.CvssLinearModel`, or None.
    index : names and parent chains of the classes.
    top_k : CWEs returned per description.
    backoff_threshold : back off to a parent when the top CWE's probability is below this (None = never).
    training_ids : the CVE IDs the CWE and CVSS models were trained on (saved with the bundle; a benchmark
        sharing them is not held-out, and ``distilsec bench`` says so).
    """

    registry_name = "cve_model.v1"

    def __init__(
        self,
        cwe_model: Any,
        cvss_model: Any | None,
        index: CweIndex,
        top_k: int = 3,
        backoff_threshold: float | None = None,
        training_ids: Sequence[str] | None = None,
    ) -> None:
        self.cwe_model = cwe_model
        self.cvss_model = cvss_model
        self.index = index
        self.top_k = top_k
        self.backoff_threshold = backoff_threshold
        self.training_ids = training_ids  # as given (the sklearn rule); save() writes them sorted and unique

    @property
    def classes_(self) -> list[str]:
        return list(self.cwe_model.classes_)

    def rank_cwes(self, texts: Sequence[str], k: int | None = None) -> list[list[str]]:
        """CWE IDs per text, best first (what the RCM evaluator needs)."""
        proba = self.cwe_model.predict_proba(_texts(texts))
        order = np.argsort(-proba, axis=1, kind="stable")[:, : (k or self.top_k)]
        cls = np.asarray(self.classes_)
        return [list(cls[row]) for row in order]

    def predict(
        self, texts: Sequence[str], *, top_k: int | None = None, backoff_threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """Per text: ``{"cwe": [top-k], "cwe_backoff": {...} (when a threshold is set), "cvss": {...}}``."""
        texts = _texts(texts)
        proba = self.cwe_model.predict_proba(texts)
        tops = top_k_cwes(proba, self.classes_, self.index, top_k or self.top_k)
        thr = backoff_threshold if backoff_threshold is not None else self.backoff_threshold
        backs = backoff(proba, self.classes_, self.index, thr) if thr is not None else None
        cvss = self.cvss_model.predict(texts) if self.cvss_model is not None else None
        out = []
        for i, top in enumerate(tops):
            rec: dict[str, Any] = {"cwe": top}
            if backs is not None:
                rec["cwe_backoff"] = backs[i]
            if cvss is not None:
                rec["cvss"] = cvss[i]
            out.append(rec)
        return out

    @property
    def n_parameters(self) -> int:
        n = int(getattr(self.cwe_model, "n_parameters", 0))
        return n + (int(self.cvss_model.n_parameters) if self.cvss_model is not None else 0)

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.cwe_model.save(path / "cwe")
        if self.cvss_model is not None:
            self.cvss_model.save(path / "cvss")
        (path / INDEX_FILE).write_text(json.dumps(self.index.to_json(), indent=1, sort_keys=True))
        if self.training_ids is not None:
            (path / IDS_FILE).write_text(json.dumps(sorted(set(self.training_ids))))
        manifest = {
            "type": self.registry_name,
            "top_k": self.top_k,
            "backoff_threshold": self.backoff_threshold,
            "n_parameters": self.n_parameters,
            "classes": self.classes_,
            "has_cvss": self.cvss_model is not None,
            "distilsec_version": __version__,
        }
        write_manifest(path, with_extra(manifest, extra))
        return path

    @classmethod
    def load(cls, path: str | Path) -> CveModel:
        manifest = read_manifest(path)
        if manifest["type"] != cls.registry_name:
            raise BundleError(f"{path} holds a {manifest['type']!r} model, not {cls.registry_name!r}")
        check_no_pickle(path)
        p = Path(path)
        try:
            index = CweIndex(json.loads((p / INDEX_FILE).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"{p}: {INDEX_FILE} is missing or not JSON: {exc}") from None
        cvss = load_model(p / "cvss") if manifest.get("has_cvss") else None
        ids = None
        if (p / IDS_FILE).is_file():
            try:
                ids = json.loads((p / IDS_FILE).read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise BundleError(f"{p}: {IDS_FILE} is not JSON: {exc}") from None
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise BundleError(f"{p}: {IDS_FILE} must be a list of CVE IDs")
        return cls(load_model(p / "cwe"), cvss, index, manifest.get("top_k", 3), manifest.get("backoff_threshold"), ids)


def _texts(texts: Sequence[str]) -> list[str]:
    """The descriptions as a list; one bare string is refused (``list("abc")`` would score each character)."""
    if isinstance(texts, str):
        raise DataError("expected a sequence of CVE descriptions, got a single string")
    return list(texts)


def require_cve_model(model: Any, path: str | Path) -> CveModel:
    """``model`` (what :func:`distilsec.bundle.load_model` gave for ``path``) if it is a CVE model.

    ``distilsec cve`` and ``distilsec bench`` need the CWE index and the CVSS heads; any other bundle
    type is one BundleError line saying what to pass instead.
    """
    if not isinstance(model, CveModel):
        kind = getattr(model, "registry_name", type(model).__name__)
        raise BundleError(
            f"{path} holds a {kind!r} bundle; `distilsec cve` and `distilsec bench` need a CVE model "
            f"({CveModel.registry_name}) or a CVE run folder"
        )
    return model


def load_cve_model(path: str | Path) -> CveModel:
    """Deprecated (one release): ``require_cve_model(load_model(path), path)``; kept for old imports."""
    import warnings

    warnings.warn(
        "load_cve_model is deprecated: use distilsec.bundle.load_model (+ require_cve_model)",
        DeprecationWarning,
        stacklevel=2,
    )
    return require_cve_model(load_model(path), path)
