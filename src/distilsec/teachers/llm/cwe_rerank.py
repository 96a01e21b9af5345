"""An LLM as a CVE -> CWE teacher: re-rank a classifier's top-k CWEs as a multiple-choice question.

Soft labels over every CWE class for a CVE description, in three steps:

1. **candidates**: the CVE classifier's (e.g. ``cve_model.v1``'s CWE model) ``k`` most probable CWEs;
2. **the LLM's choice**: the candidates become options ``A``.. (``CWE-79: Improper Neutralization of ...``,
   sorted by CWE number so the letter order does not repeat the classifier's ranking), and the next-token
   log-probability of each letter is read in one forward pass (no decoding, no parse failure). Each answer
   goes through the teacher-call ledger, keyed by the model, the prompt template and the rendered prompt;
   the ledger keeps raw letter log-probabilities, calibration is refitted at no LLM cost;
3. **the combination** (a weighted product of experts): with ``p`` the classifier's distribution sharpened
   by ``clf_temperature_`` and ``q = softmax(letter log-probs / llm_temperature_)`` over the candidates,

       p'(c) ∝ p(c) * (k * q(c)) ** weight_    for the k candidates,
       p'(c) ∝ p(c)                            for every other class,

   i.e. the LLM is neutral (ratio 1 to uniform) outside the options it was shown, so the tail keeps the
   classifier's shape and the result is a full probability vector usable as distillation soft targets.
   ``fit`` picks both temperatures by log-loss and ``weight_`` on a labelled validation sample (log-loss of
   the combined vector; top-1 accuracy is reported alongside).

Why a plain class and not a registered model: at prediction time it needs a live LLM backend and the base
classifier's probabilities; a registry bundle is self-contained and servable, and a GGUF does not belong in
a student bundle. Its learned state (two temperatures, one weight) is saved as JSON; the backend and the
classifier are passed in again after :meth:`CweRerankTeacher.load`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.errors import BundleError, ConfigError, DataError
from distilsec.teachers.labelling import CallResult, run_labelling
from distilsec.teachers.ledger import TeacherLedger
from distilsec.teachers.llm.backend import Messages

__all__ = [
    "CweRerankTeacher",
    "RERANK_LETTERS",
    "cwe_mcq_messages",
    "combine",
    "llm_distribution",
    "option_logprobs",
]

RERANK_LETTERS = ("A", "B", "C", "D", "E", "F", "G", "H")
TEMPLATE_VERSION = "cwe_rerank.v1"
SYSTEM = "You are a vulnerability analyst. You map CVE descriptions to the CWE weakness that is their root cause."
INSTRUCTION = "Which CWE is the root-cause weakness of this vulnerability?"
ASK = "Reply with the letter of the correct option only."
#: the letter log-probability used for a letter no vocabulary token spells (never the model's choice)
_MISSING = -50.0
_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
_TEMPERATURES = tuple(float(t) for t in np.exp(np.linspace(np.log(0.02), np.log(10.0), 55)))


def _cwe_number(cwe: str) -> int:
    m = re.search(r"(\d+)", cwe)
    return int(m.group(1)) if m else 10**9


def _cut(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0] + " ..."


def cwe_mcq_messages(description: str, options: Sequence[tuple[str, str]], *, max_chars: int = 600) -> Messages:
    """The chat prompt: the description (cut to ``max_chars``), then the options as ``A. CWE-79: name``."""
    if not 2 <= len(options) <= len(RERANK_LETTERS):
        raise ConfigError(f"the CWE question needs 2-{len(RERANK_LETTERS)} options, got {len(options)}")
    lines = [f"{letter}. {cwe}: {name}" if name else f"{letter}. {cwe}"
             for letter, (cwe, name) in zip(RERANK_LETTERS, options, strict=False)]  # fmt: skip
    user = f"CVE description: {_cut(description, max_chars)}\n\n{INSTRUCTION}\n" + "\n".join(lines) + f"\n\n{ASK}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def option_logprobs(backend: Any, messages: Messages, n: int) -> list[float | None]:
    """Next-token log-probabilities of the first ``n`` letters (tokens that are exactly the letter when the
    backend offers ``letter_logprobs``, else its generic ``label`` call)."""
    letters = list(RERANK_LETTERS[:n])
    if callable(getattr(backend, "letter_logprobs", None)):
        return list(backend.letter_logprobs(messages, letters))
    res = backend.label(messages, letters)
    return list(res.answer.get("logprobs") or [None] * n)


def llm_distribution(letter_logprobs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(log-probs / temperature)`` over the options of each row (NaN / missing letters get ~0)."""
    z = np.where(np.isfinite(letter_logprobs), letter_logprobs, _MISSING) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sharpen(proba: np.ndarray, temperature: float) -> np.ndarray:
    logp = np.log(np.clip(proba, 1e-300, None)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def combine(base_proba: np.ndarray, candidates: np.ndarray, llm_proba: np.ndarray, weight: float) -> np.ndarray:
    """The weighted product of experts of the module docstring: ``base_proba`` (n, C), ``candidates`` (n, k)
    column indices, ``llm_proba`` (n, k) over those candidates; rows sum to 1."""
    base = np.asarray(base_proba, dtype=np.float64)
    k = candidates.shape[1]
    log_out = np.log(np.clip(base, 1e-300, None))
    rows = np.arange(base.shape[0])[:, None]
    log_out[rows, candidates] += float(weight) * np.log(np.clip(k * llm_proba, 1e-300, None))
    log_out -= log_out.max(axis=1, keepdims=True)
    out = np.exp(log_out)
    return out / out.sum(axis=1, keepdims=True)


def _nll(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None))))


class CweRerankTeacher:
    """Soft CWE labels: a classifier's top-k re-ranked by an LLM's multiple-choice letter probabilities.

    Parameters
    ----------
    base : fitted CWE classifier with ``predict_proba`` and ``classes_`` (e.g. ``CveModel.cwe_model``); may
        be None when every call passes ``base_proba``.
    names : CWE ID -> catalog name (a :class:`~distilsec.students.cwe_hierarchy.CweIndex` works too).
    classes : the columns of ``base_proba`` when ``base`` is None.
    k : candidates shown to the LLM (2-8).
    max_chars : description characters in the prompt (prompt evaluation is the CPU cost).
    weight, llm_temperature, clf_temperature : fixed values; ``None`` = chosen by :meth:`fit`.
    backend : the LLM (``letter_logprobs`` or ``label``; see :meth:`connect`).
    ledger : the teacher-call ledger (None: answers kept in memory only).

    Attributes
    ----------
    classes_ : class names.  weight_, llm_temperature_, clf_temperature_ : the combination in use.
    fit_report_ : what :meth:`fit` measured (validation accuracy and log-loss per weight).
    calls, call_seconds : LLM calls made (ledger hits excluded) and their seconds.
    """

    def __init__(
        self,
        base: Any = None,
        names: Mapping[str, str] | Any = None,
        *,
        classes: Sequence[str] | None = None,
        k: int = 5,
        max_chars: int = 600,
        weight: float | None = None,
        llm_temperature: float | None = None,
        clf_temperature: float | None = None,
        backend: Any = None,
        ledger: TeacherLedger | None = None,
        progress: bool = True,
    ) -> None:
        self.base = base
        self.names = names
        self.classes = classes
        self.k = k
        self.max_chars = max_chars
        self.weight = weight
        self.llm_temperature = llm_temperature
        self.clf_temperature = clf_temperature
        self.backend = backend
        self.ledger = ledger
        self.progress = progress
        self.calls = 0
        self.call_seconds = 0.0

    # ---- plumbing ----
    def connect(self, backend: Any, ledger: TeacherLedger | None = None) -> CweRerankTeacher:
        """Attach the LLM (and a ledger) after :meth:`load`."""
        self.backend, self.ledger = backend, ledger if ledger is not None else self.ledger
        return self

    @property
    def classes_(self) -> list[str]:
        if self.base is not None:
            return list(self.base.classes_)
        if self.classes is None:
            raise ConfigError("CweRerankTeacher needs a base classifier or the class list")
        return list(self.classes)

    def _name(self, cwe: str) -> str:
        if self.names is None:
            return ""
        if hasattr(self.names, "name"):
            return str(self.names.name(cwe))
        return str(self.names.get(cwe, ""))

    @property
    def template_id(self) -> str:
        """The ledger's template key: the prompt text, the option format and the limits."""
        spec = json.dumps([TEMPLATE_VERSION, SYSTEM, INSTRUCTION, ASK, self.k, self.max_chars])
        return f"{TEMPLATE_VERSION}:{hashlib.sha256(spec.encode()).hexdigest()[:16]}"

    def _base_proba(self, texts: Sequence[str], base_proba: np.ndarray | None) -> np.ndarray:
        if base_proba is None:
            if self.base is None:
                raise ConfigError("pass base_proba or give the teacher a base classifier")
            base_proba = self.base.predict_proba(list(texts))
        p = np.asarray(base_proba, dtype=np.float64)
        if p.shape != (len(texts), len(self.classes_)):
            raise DataError(f"base_proba has shape {p.shape}, expected ({len(texts)}, {len(self.classes_)})")
        return p

    def candidates(self, base_proba: np.ndarray) -> np.ndarray:
        """(n, k) column indices of the options, sorted by CWE number (the letter order)."""
        if not 2 <= self.k <= len(RERANK_LETTERS):
            raise ConfigError(f"k must be 2-{len(RERANK_LETTERS)}, got {self.k}")
        k = min(self.k, base_proba.shape[1])
        top = np.argsort(-base_proba, axis=1, kind="stable")[:, :k]
        cls = self.classes_
        return np.array([sorted(row, key=lambda j: (_cwe_number(cls[j]), cls[j])) for row in top], dtype=np.int64)

    def messages(self, text: str, cand_row: Sequence[int]) -> Messages:
        cls = self.classes_
        return cwe_mcq_messages(text, [(cls[j], self._name(cls[j])) for j in cand_row], max_chars=self.max_chars)

    # ---- the LLM ----
    def letter_logprobs(self, texts: Sequence[str], candidates: np.ndarray, *, desc: str = "LLM CWE") -> np.ndarray:
        """(n, k) raw letter log-probabilities (NaN: no token spells the letter), through the ledger."""
        prompts = [
            json.dumps(self.messages(t, row), ensure_ascii=False) for t, row in zip(texts, candidates, strict=True)
        ]
        k = candidates.shape[1]
        if self.backend is None:
            model_id = "none"
        else:
            model_id = str(getattr(self.backend, "model_id", type(self.backend).__name__))
        if self.ledger is not None:
            self.ledger.describe_template(
                self.template_id,
                {"system": SYSTEM, "instruction": INSTRUCTION, "ask": ASK, "k": self.k, "max_chars": self.max_chars},
            )

        def call(batch: list[str]) -> list[CallResult]:
            if self.backend is None:
                raise ConfigError("CweRerankTeacher has no LLM backend: call connect(backend) first")
            out = []
            for prompt in batch:
                t0 = time.perf_counter()
                messages = json.loads(prompt)
                lps = option_logprobs(self.backend, messages, k)
                seconds = time.perf_counter() - t0
                count = getattr(self.backend, "count_tokens", None)
                n_tokens = int(count(messages)) if callable(count) else 0
                out.append(CallResult({"logprobs": lps}, prompt_tokens=n_tokens, seconds=seconds))
            return out

        run = run_labelling(prompts, call, self.ledger, model_id, self.template_id, desc=desc, progress=self.progress)
        self.calls += run.calls
        self.call_seconds += run.call_seconds
        rows = [[np.nan if v is None else float(v) for v in a["logprobs"]] for a in run.answers]
        return np.array(rows, dtype=np.float64).reshape(len(texts), k)

    # ---- fitting and scoring ----
    def fit(
        self, texts: Sequence[str], labels: Sequence[str], *, base_proba: np.ndarray | None = None
    ) -> CweRerankTeacher:
        """Choose the temperatures (log-loss) and the weight (log-loss of the combined vector) on labelled data."""
        p = self._base_proba(texts, base_proba)
        idx = {c: i for i, c in enumerate(self.classes_)}
        unknown = sorted({y for y in labels if y not in idx})
        if unknown:
            raise DataError(f"labels not among the classifier's classes: {unknown[:5]}")
        y = np.array([idx[v] for v in labels], dtype=np.int64)
        cand = self.candidates(p)
        lp = self.letter_logprobs(texts, cand, desc="LLM CWE (fit)")
        self.clf_temperature_ = self.clf_temperature or min(_TEMPERATURES, key=lambda t: _nll(_sharpen(p, t), y))
        ps = _sharpen(p, self.clf_temperature_)
        pos = np.array([np.flatnonzero(r == t)[0] if t in r else -1 for r, t in zip(cand, y, strict=True)])
        inside = pos >= 0
        if self.llm_temperature is not None:
            self.llm_temperature_ = float(self.llm_temperature)
        elif inside.any():
            self.llm_temperature_ = min(_TEMPERATURES, key=lambda t: _nll(llm_distribution(lp[inside], t), pos[inside]))
        else:
            self.llm_temperature_ = 1.0
        q = llm_distribution(lp, self.llm_temperature_)
        report: dict[str, Any] = {"n": len(y), "label_in_candidates": round(float(inside.mean()), 4), "weights": {}}
        for w in _WEIGHTS if self.weight is None else (self.weight,):
            comb = combine(ps, cand, q, w)
            report["weights"][str(w)] = {
                "top1": round(float(np.mean(comb.argmax(axis=1) == y)), 4),
                "log_loss": round(_nll(comb, y), 4),
            }
        self.weight_ = float(
            self.weight
            if self.weight is not None
            else min(_WEIGHTS, key=lambda w: report["weights"][str(w)]["log_loss"])
        )
        report.update(weight=self.weight_, llm_temperature=self.llm_temperature_, clf_temperature=self.clf_temperature_)
        self.fit_report_ = report
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "weight_"):
            raise ConfigError("CweRerankTeacher is not fitted: call fit() (or load())")

    def score(self, texts: Sequence[str], *, base_proba: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Everything about each text: ``base`` (sharpened classifier), ``candidates`` (n, k), ``llm`` (n, k)
        calibrated LLM distribution over them, ``letter_logprobs`` (raw), ``proba`` (the combined vector)."""
        self._check_fitted()
        p = self._base_proba(texts, base_proba)
        cand = self.candidates(p)
        lp = self.letter_logprobs(texts, cand)
        ps = _sharpen(p, self.clf_temperature_)
        q = llm_distribution(lp, self.llm_temperature_)
        return {
            "base": ps,
            "candidates": cand,
            "letter_logprobs": lp,
            "llm": q,
            "proba": combine(ps, cand, q, self.weight_),
        }

    def predict_proba(self, texts: Sequence[str], *, base_proba: np.ndarray | None = None) -> np.ndarray:
        """The combined soft labels, columns in ``classes_`` order."""
        return self.score(texts, base_proba=base_proba)["proba"]

    def predict(self, texts: Sequence[str], *, base_proba: np.ndarray | None = None) -> list[str]:
        cls = np.asarray(self.classes_)
        return [str(c) for c in cls[self.predict_proba(texts, base_proba=base_proba).argmax(axis=1)]]

    # ---- persistence (JSON only) ----
    def save(self, path: str | Path) -> Path:
        """``path/cwe_rerank.json``: parameters, classes and the learned combination (no backend, no classifier)."""
        self._check_fitted()
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        state = {
            "type": TEMPLATE_VERSION,
            "params": {"k": self.k, "max_chars": self.max_chars, "weight": self.weight,
                       "llm_temperature": self.llm_temperature, "clf_temperature": self.clf_temperature},
            "classes": self.classes_,
            "weight_": self.weight_,
            "llm_temperature_": self.llm_temperature_,
            "clf_temperature_": self.clf_temperature_,
            "fit_report_": getattr(self, "fit_report_", {}),
        }  # fmt: skip
        (p / "cwe_rerank.json").write_text(json.dumps(state, indent=1))
        return p

    @classmethod
    def load(
        cls, path: str | Path, *, base: Any = None, names: Mapping[str, str] | Any = None, backend: Any = None,
        ledger: TeacherLedger | None = None,
    ) -> CweRerankTeacher:  # fmt: skip
        f = Path(path) / "cwe_rerank.json"
        try:
            state = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"{f} is missing or not JSON: {exc}") from None
        if state.get("type") != TEMPLATE_VERSION:
            raise BundleError(f"{f} holds {state.get('type')!r}, not {TEMPLATE_VERSION!r}")
        obj = cls(base, names, classes=state["classes"], backend=backend, ledger=ledger, **state["params"])
        if base is not None and list(base.classes_) != state["classes"]:
            raise BundleError(f"{f}: the base classifier's classes differ from those the teacher was fitted with")
        obj.weight_ = float(state["weight_"])
        obj.llm_temperature_ = float(state["llm_temperature_"])
        obj.clf_temperature_ = float(state["clf_temperature_"])
        obj.fit_report_ = state.get("fit_report_", {})
        return obj
