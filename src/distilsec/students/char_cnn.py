"""eXpose-style character CNN student (Saxe & Berlin, 2017) for short strings: URLs, command lines.

Character embedding, parallel 1-D convolutions of several widths, pooling over time, dense layers,
softmax. The default size is eXpose's (~3.3M parameters); shipped configs use a narrower one to reach
tens of thousands of events per second on one CPU core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from distilsec._internal.device import resolve_device
from distilsec.bundle import WEIGHTS, load_module_weights
from distilsec.registry import register
from distilsec.students._bytes import VOCAB_SIZE, encode_bytes
from distilsec.students._torch_predict import predict_batches
from distilsec.students.base import ClassifierMixin, SoftTargets, encode_labels

__all__ = ["CharCNNStudent", "CharCNNModule"]


class CharCNNModule(nn.Module):
    """The network: byte ids (n, L) -> logits (n, n_classes)."""

    def __init__(
        self,
        n_classes: int,
        embedding_dim: int,
        kernel_sizes: Sequence[int],
        n_filters: int,
        hidden_dims: Sequence[int],
        dropout: float,
        pooling: str,
    ) -> None:
        super().__init__()
        self.pooling = pooling
        self.embed = nn.Embedding(VOCAB_SIZE, embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, n_filters, k, padding=k - 1) for k in kernel_sizes)
        layers: list[nn.Module] = []
        width = n_filters * len(kernel_sizes)
        for h in hidden_dims:
            layers += [nn.Dropout(dropout), nn.Linear(width, h), nn.ReLU()]
            width = h
        layers += [nn.Dropout(dropout), nn.Linear(width, n_classes)]
        self.head = nn.Sequential(*layers)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids).transpose(1, 2)  # (n, E, L)
        feats = []
        for conv in self.convs:
            h = torch.relu(conv(x))
            # eXpose sums over time; max pooling is the robust default for variable lengths.
            feats.append(h.sum(dim=2) if self.pooling == "sum" else h.amax(dim=2))
        return self.head(torch.cat(feats, dim=1))


@register("char_cnn.v1")
class CharCNNStudent(ClassifierMixin):
    """Character CNN classifier with the scikit-learn contract.

    Parameters
    ----------
    max_len : bytes read per text (the rest is ignored).
    embedding_dim, kernel_sizes, n_filters, hidden_dims, dropout, pooling : architecture
        (eXpose: 32, (2, 3, 4, 5), 256, (1024, 1024, 1024), 0.5, "sum").
    epochs, batch_size, lr, weight_decay : training.
    random_state : seed; two fits with the same seed and data give the same model.
    device : "auto" (CUDA, MPS, CPU) or a torch device string.

    Attributes
    ----------
    classes_ : class names, the column order of ``predict_proba``.
    module_ : the trained network.
    history_ : mean training loss per epoch.
    """

    def __init__(
        self,
        max_len: int = 200,
        embedding_dim: int = 32,
        kernel_sizes: Sequence[int] = (2, 3, 4, 5),
        n_filters: int = 256,
        hidden_dims: Sequence[int] = (1024, 1024, 1024),
        dropout: float = 0.5,
        pooling: str = "max",
        epochs: int = 5,
        batch_size: int = 128,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        random_state: int = 0,
        device: str = "auto",
    ) -> None:
        self.max_len = max_len
        self.embedding_dim = embedding_dim
        self.kernel_sizes = kernel_sizes
        self.n_filters = n_filters
        self.hidden_dims = hidden_dims
        self.dropout = dropout
        self.pooling = pooling
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device

    def _build(self, n_classes: int) -> CharCNNModule:
        if self.pooling not in ("max", "sum"):
            raise ValueError(f"pooling must be 'max' or 'sum', got {self.pooling!r}")
        return CharCNNModule(
            n_classes,
            self.embedding_dim,
            tuple(self.kernel_sizes),
            self.n_filters,
            tuple(self.hidden_dims),
            self.dropout,
            self.pooling,
        )

    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        *,
        soft_targets: SoftTargets | None = None,
        sample_weight: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
    ) -> CharCNNStudent:
        """Train from scratch on texts and hard labels, plus the teacher's soft targets if given."""
        from distilsec.students._torch_training import train_torch_classifier  # fit only: scoring never imports it

        texts = self._check_texts(texts)
        self.classes_, y_idx = encode_labels(y, classes)
        torch.manual_seed(self.random_state)
        self.module_ = self._build(len(self.classes_))
        ids = torch.as_tensor(encode_bytes(texts, self.max_len))
        dev = resolve_device(self.device)
        self.history_ = train_torch_classifier(
            self.module_,
            lambda idx: ids[idx].to(dev),
            y_idx,
            soft_targets=soft_targets,
            sample_weight=sample_weight,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            random_state=self.random_state,
            device=dev,
            desc="char-CNN student",
        )
        self.module_.to("cpu")
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        texts = self._check_texts(texts)
        if not texts:  # an empty batch has shape (0, n_classes), not (0, 0)
            return np.zeros((0, len(self.classes_)))
        ids = torch.as_tensor(encode_bytes(texts, self.max_len))
        return predict_batches(self.module_, lambda idx: ids[idx], len(texts), 1024)

    @property
    def n_parameters(self) -> int:
        self._check_fitted()
        return sum(p.numel() for p in self.module_.parameters())

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        path = Path(path)
        self._write_manifest(path, {"n_parameters": self.n_parameters}, extra)
        save_file({k: v.contiguous() for k, v in self.module_.state_dict().items()}, path / WEIGHTS)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CharCNNStudent:
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        obj.module_ = obj._build(len(obj.classes_))
        load_module_weights(
            obj.module_, path, "params (embedding_dim, kernel_sizes, n_filters, hidden_dims) and classes"
        )
        obj.module_.eval()
        return obj
