"""Any fitted teacher with its answers kept in the teacher-call ledger (counted, cached, resumable).

The LLM teacher uses the ledger natively; this wrapper gives the same to any other teacher (e.g. the
fine-tuned encoder), so budget-aware labelling can count calls and seconds the same way for both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from distilsec.teachers.labelling import CallResult, run_labelling
from distilsec.teachers.ledger import TeacherLedger

__all__ = ["LedgeredTeacher", "teacher_signature"]


def _state_arrays(teacher: Any) -> list[np.ndarray]:
    """Learned arrays of a teacher: a torch ``model_``'s state dict, else attributes ending in ``_``."""
    model = getattr(teacher, "model_", None)
    if model is not None and hasattr(model, "state_dict"):
        return [v.detach().cpu().contiguous().numpy() for _, v in sorted(model.state_dict().items())]
    out = []
    for name in sorted(vars(teacher)):
        v = getattr(teacher, name)
        if name.endswith("_") and isinstance(v, np.ndarray):
            out.append(v)
    return out


def teacher_signature(teacher: Any) -> str:
    """A teacher's ledger identity: its own ``signature`` when it has one, else a hash of its type,
    parameters, classes and learned weights (two differently fitted teachers never share answers)."""
    sig = getattr(teacher, "signature", None)
    if isinstance(sig, str):
        return sig
    h = hashlib.sha256()
    params = teacher.get_params() if hasattr(teacher, "get_params") else {}
    h.update(json.dumps([type(teacher).__name__, params, list(teacher.classes_)], sort_keys=True, default=str).encode())
    weights = getattr(teacher, "weights_", None)  # an ensemble's weights chosen on validation are learned state
    if weights is not None:
        h.update(json.dumps([float(w) for w in weights]).encode())
    for arr in _state_arrays(teacher):
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return f"{type(teacher).__name__}:{h.hexdigest()[:24]}"


class LedgeredTeacher:
    """``predict_proba`` of ``teacher`` through the ledger; ``calls`` / ``call_seconds`` add up what it cost.

    Parameters
    ----------
    teacher : a fitted model with ``predict_proba`` and ``classes_``.
    ledger : the ledger (``None``: count calls but keep nothing).
    batch_size : texts per teacher call (the encoder scores batches).
    """

    def __init__(self, teacher: Any, ledger: TeacherLedger | None, *, batch_size: int = 64, progress: bool = True):
        self.teacher = teacher
        self.ledger = ledger
        self.batch_size = batch_size
        self.progress = progress
        self.classes_ = list(teacher.classes_)
        self.signature = teacher_signature(teacher)
        self.calls = 0
        self.call_seconds = 0.0

    def _call(self, batch: list[str]) -> list[CallResult]:
        proba = np.asarray(self.teacher.predict_proba(batch), dtype=np.float64)
        return [CallResult({"proba": [round(float(v), 8) for v in row]}) for row in proba]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        run = run_labelling(
            list(texts),
            self._call,
            self.ledger,
            self.signature,
            "predict_proba",
            batch_size=self.batch_size,
            desc="teacher labelling",
            progress=self.progress,
        )
        self.calls += run.calls
        self.call_seconds += run.call_seconds
        out = np.array([a["proba"] for a in run.answers], dtype=np.float64).reshape(len(texts), len(self.classes_))
        return out / out.sum(axis=1, keepdims=True)

    def recorded_seconds(self, texts: Sequence[str]) -> float:
        """Seconds the ledger recorded when these texts were first answered (a cold-cache cost)."""
        if self.ledger is None:
            return 0.0
        got = self.ledger.get_many(self.signature, "predict_proba", texts)
        return float(sum(e.seconds for e in got.values()))
