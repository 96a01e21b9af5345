"""The shipped ATT&CK tagger: a sentence classifier over technique IDs + ``none``, thresholds, technique index.

Layout (no pickles: JSON + safetensors only)::

    BUNDLE/manifest.json      type "attack_model.v1", threshold (default), thresholds (per technique),
                              backoff_ratio, top_k, metrics
    BUNDLE/classifier/        any classifier bundle whose classes are technique IDs and "none"
    BUNDLE/techniques.json    name, tactics and parent of every technique the tagger may answer

What a user reads per sentence (:meth:`AttackModel.tag`):

- ``top``: the best technique, whatever its score (parent back-off applied when the model is unsure which
  sub-technique: the family's mass is spread over its members);
- ``candidates``: the ``top_k`` best techniques with their probabilities;
- ``techniques``: those at or above their own threshold (chosen on validation per technique), best first;
  empty for a sentence that describes no technique, which is most of a report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec import __version__
from distilsec.bundle import check_no_pickle, load_model, read_manifest, with_extra, write_manifest
from distilsec.errors import BundleError, DataError
from distilsec.registry import register
from distilsec.students.technique_index import NONE, TechniqueIndex

__all__ = ["AttackModel", "require_attack_model", "INDEX_FILE"]

INDEX_FILE = "techniques.json"
CLASSIFIER = "classifier"
_UNSET: Any = object()


@register("attack_model.v1")
class AttackModel:
    """Sentence -> ATT&CK techniques (IDs, names, tactics, scores), and report-level aggregation.

    Parameters
    ----------
    classifier : fitted model with ``predict_proba`` and ``classes_`` (technique IDs and ``"none"``).
    index : names, tactics and parents of the techniques.
    threshold : the score a technique needs to be reported when it has no threshold of its own.
    thresholds : per-technique thresholds (chosen on validation where the technique has enough examples).
    backoff_ratio : parent back-off for ``top``: techniques are grouped by parent; in the family with the
        most probability, the best member is answered if it holds at least this share of the family's mass,
        else the parent. ``None``: plain arg-max.
    top_k : candidates listed per sentence.
    """

    registry_name = "attack_model.v1"

    def __init__(
        self,
        classifier: Any,
        index: TechniqueIndex,
        threshold: float = 0.5,
        thresholds: Mapping[str, float] | None = None,
        backoff_ratio: float | None = None,
        top_k: int = 3,
    ) -> None:
        self.classifier = classifier
        self.index = index
        self.threshold = threshold
        self.thresholds = thresholds
        self.backoff_ratio = backoff_ratio
        self.top_k = top_k

    @property
    def classes_(self) -> list[str]:
        return list(self.classifier.classes_)

    @property
    def n_parameters(self) -> int:
        return int(getattr(self.classifier, "n_parameters", 0))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.classifier.predict_proba(_texts(texts))

    # ---- decisions ----
    def top_ids(self, proba: np.ndarray, backoff_ratio: float | None = _UNSET) -> tuple[list[str], np.ndarray]:
        """The ``top`` technique per row of ``proba`` and its score (the family mass when backed off);
        ``backoff_ratio`` overrides the model's own (validation tries several)."""
        ratio = self.backoff_ratio if backoff_ratio is _UNSET else backoff_ratio
        classes = self.classes_
        cols = np.array([j for j, c in enumerate(classes) if c != NONE])
        p = proba[:, cols]
        names = [classes[j] for j in cols]
        best = p.argmax(axis=1)
        if ratio is None:
            return [names[j] for j in best], p[np.arange(len(p)), best]
        families = sorted({self.index.parent(c) for c in names})
        fam_index = {f: i for i, f in enumerate(families)}
        member_family = np.array([fam_index[self.index.parent(c)] for c in names])
        is_sub = np.array(["." in c for c in names])
        membership = np.zeros((len(names), len(families)))
        membership[np.arange(len(names)), member_family] = 1.0
        mass = p @ membership
        rows = np.arange(len(p))
        best_family = mass.argmax(axis=1)
        # the best member of the best family; the family's parent when that member holds too little of its mass
        j = np.where(member_family[None, :] == best_family[:, None], p, -1.0).argmax(axis=1)
        family_mass = mass[rows, best_family]
        back = (p[rows, j] < ratio * family_mass) & is_sub[j]
        out = [families[f] if b else names[m] for f, m, b in zip(best_family, j, back, strict=True)]
        return out, np.where(back, family_mass, p[rows, j])

    def threshold_of(self, technique: str) -> float:
        if self.thresholds and technique in self.thresholds:
            return float(self.thresholds[technique])
        return float(self.threshold)

    def above_threshold(self, proba: np.ndarray) -> list[list[tuple[str, float]]]:
        """Per row: the techniques at or above their threshold, best first."""
        classes = self.classes_
        thr = np.array([np.inf if c == NONE else self.threshold_of(c) for c in classes])
        hits = proba >= thr
        out = []
        for i in range(len(proba)):
            js = np.flatnonzero(hits[i])
            js = js[np.argsort(-proba[i, js], kind="stable")]
            out.append([(classes[j], float(proba[i, j])) for j in js])
        return out

    def tag(self, sentences: Sequence[str], *, top_k: int | None = None) -> list[dict[str, Any]]:
        """Per sentence: ``{"top", "candidates", "techniques", "none"}`` (see the module docstring)."""
        sentences = _texts(sentences)
        if not sentences:
            return []
        return self.tag_proba(self.predict_proba(sentences), top_k=top_k)

    def tag_proba(self, proba: np.ndarray, *, top_k: int | None = None) -> list[dict[str, Any]]:
        """:meth:`tag` from the class probabilities of the sentences (rows of ``proba``, columns ``classes_``).

        For callers that computed the probabilities elsewhere: the HTTP API scores sentences through its
        micro-batcher (shared with ``/v1/score``) and tags from what it returns.
        """
        proba = np.asarray(proba)
        if not len(proba):
            return []
        classes = self.classes_
        k = top_k or self.top_k
        tops, top_scores = self.top_ids(proba)
        hits = self.above_threshold(proba)
        none_col = classes.index(NONE) if NONE in classes else None
        # the k best technique columns per row (argpartition, then those k sorted): no full sort of 700 classes
        tech = np.where(np.asarray(classes) == NONE, -1.0, proba)
        k = min(k, tech.shape[1])
        part = np.argpartition(-tech, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(tech, part, axis=1)
        best = np.take_along_axis(part, np.argsort(-part_scores, axis=1, kind="stable"), axis=1)
        describe = self.index.describe
        out = []
        for i in range(len(proba)):
            out.append(
                {
                    "top": describe(tops[i], top_scores[i]),
                    "candidates": [describe(classes[j], proba[i, j]) for j in best[i] if classes[j] != NONE],
                    "techniques": [describe(c, sc) for c, sc in hits[i]],
                    "none": round(float(proba[i, none_col]), 6) if none_col is not None else 0.0,
                }
            )
        return out

    def aggregate(
        self, sentences: Sequence[str], tags: Sequence[Mapping[str, Any]], max_evidence: int = 3
    ) -> list[dict[str, Any]]:
        """Report level: every technique tagged in some sentence, with its best score, count and evidence."""
        found: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for i, t in enumerate(tags):
            for tech in t["techniques"]:
                found[tech["id"]].append((float(tech["score"]), i))
        out = []
        for tid, hits in found.items():
            hits.sort(key=lambda h: -h[0])
            rec = self.index.describe(tid, hits[0][0])
            rec["count"] = len(hits)
            rec["evidence"] = [
                {"sentence": int(i), "text": sentences[i], "score": round(s, 6)} for s, i in hits[:max_evidence]
            ]
            out.append(rec)
        out.sort(key=lambda r: (-r["score"], r["id"]))
        return out

    # ---- persistence ----
    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.classifier.save(path / CLASSIFIER)
        (path / INDEX_FILE).write_text(json.dumps(self.index.to_json(), indent=1, sort_keys=True))
        manifest = {
            "type": self.registry_name,
            "threshold": float(self.threshold),
            "thresholds": {k: float(v) for k, v in sorted((self.thresholds or {}).items())},
            "backoff_ratio": self.backoff_ratio,
            "top_k": self.top_k,
            "n_parameters": self.n_parameters,
            "classes": self.classes_,
            "task": "attack",
            "distilsec_version": __version__,
        }
        write_manifest(path, with_extra(manifest, extra))
        return path

    @classmethod
    def load(cls, path: str | Path) -> AttackModel:
        manifest = read_manifest(path)
        if manifest["type"] != cls.registry_name:
            raise BundleError(f"{path} holds a {manifest['type']!r} model, not {cls.registry_name!r}")
        check_no_pickle(path)
        p = Path(path)
        try:
            index = TechniqueIndex.from_json(
                json.loads((p / INDEX_FILE).read_text(encoding="utf-8")), str(p / INDEX_FILE)
            )
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{p}: {INDEX_FILE} is missing or not JSON: {exc}") from None
        classifier = load_model(p / CLASSIFIER)
        if manifest.get("classes") is not None and list(manifest["classes"]) != list(classifier.classes_):
            raise BundleError(
                f"{p}: the manifest's classes differ from the classifier's; restore or retrain the bundle"
            )
        return cls(
            classifier,
            index,
            threshold=manifest.get("threshold", 0.5),
            thresholds=manifest.get("thresholds") or None,
            backoff_ratio=manifest.get("backoff_ratio"),
            top_k=manifest.get("top_k", 3),
        )


def _texts(texts: Sequence[str]) -> list[str]:
    """The sentences as a list; one bare string is refused (``list("abc")`` would tag each character)."""
    if isinstance(texts, str):
        raise DataError("expected a sequence of sentences, got a single string")
    return list(texts)


def require_attack_model(model: Any, path: str | Path) -> AttackModel:
    """``model`` (what :func:`distilsec.bundle.load_model` gave for ``path``) if it is an ATT&CK tagger."""
    if not isinstance(model, AttackModel):
        kind = getattr(model, "registry_name", type(model).__name__)
        raise BundleError(
            f"{path} holds a {kind!r} bundle; `distilsec attack` needs an ATT&CK tagger "
            f"({AttackModel.registry_name}) or an ATT&CK run folder (distilsec run configs/attack-techniques.yaml)"
        )
    return model
