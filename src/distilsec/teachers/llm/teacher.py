"""An instruct LLM as a teacher: few-shot prompts, label-word probabilities, calibration, a call ledger.

The LLM follows the teacher contract: ``fit`` picks few-shot examples from the labelled texts and
calibrates the label probabilities on labelled data; ``predict_proba`` returns calibrated soft labels
with columns in ``classes_`` order. Every call goes through the teacher-call ledger, so scoring the
same texts again costs nothing and a killed job resumes where it stopped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.errors import BundleError, ConfigError, DataError
from distilsec.registry import register
from distilsec.students.base import ClassifierMixin, encode_labels
from distilsec.teachers.labelling import CostEstimate, LabelRun, estimate_cost, run_labelling
from distilsec.teachers.ledger import TeacherLedger, default_ledger_path
from distilsec.teachers.llm.backend import LLMBackend
from distilsec.teachers.llm.calibration import Calibrator, bias_report
from distilsec.teachers.llm.guard import GUARD_POLICIES, strip_variants
from distilsec.teachers.llm.prompts import PromptTemplate

__all__ = ["LLMTeacher", "CONTENT_FREE_INPUTS"]

log = logging.getLogger("distilsec.llm")

#: inputs without content, for contextual calibration (Zhao et al. 2021).
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")


@register("llm.v1")
class LLMTeacher(ClassifierMixin):
    """Few-shot instruct LLM classifier (teacher), in-process (llama.cpp) or behind an endpoint.

    Parameters
    ----------
    model : a packaged GGUF alias (``"qwen2.5-coder-0.5b"``, ``"qwen2.5-coder-1.5b"``) or a GGUF path for
        the in-process backend; the served model name when ``endpoint`` is set.
    endpoint : base URL of an OpenAI-compatible API (``http://127.0.0.1:8080/v1``); ``None`` runs
        llama.cpp in this process (needs the ``llm`` extra).
    endpoint_mode : ``"logprobs"`` or ``"json"`` (for servers without log-probabilities).
    task : what the texts are (``"cmdline"``, ``"url"``, ``"domain"``, ``"text"``); names them in the prompt.
    label_words : the word the model answers for each class (``{class: word}``); default: the class names.
    n_shots : few-shot examples per class, picked from the labelled texts.
    max_shot_chars, max_input_chars : length caps for shots and inputs (prompt tokens are the CPU cost).
    calibration : ``"affine"``, ``"bias"``, ``"contextual"`` or ``"none"`` (see
        :mod:`~distilsec.teachers.llm.calibration`).
    n_calibration : labelled texts used for calibration when ``fit`` gets no calibration set.
    ledger : SQLite path for the teacher-call ledger; ``"default"`` = ``~/.cache/distilsec/teacher``;
        ``None`` = no ledger (answers kept in memory only).
    n_ctx, n_threads : llama.cpp context size and CPU threads.
    max_calls : refuse a labelling job that needs more calls (``None`` = no limit).
    injection_guard : ``"max"`` (also score the input without instruction-like text, keep the more
        suspicious answer), ``"flag"`` (label such inputs ``positive``) or ``"none"``.
    positive : the class an attacker wants to escape (the guard's direction).
    progress : show a progress bar during labelling.
    random_state : seed of the few-shot and calibration sampling.

    Attributes
    ----------
    classes_ : class names.  shots_ : ``[(text, class)]`` few-shot examples in prompt order.
    calibrator_ : the fitted :class:`Calibrator`.  model_sha256_ : GGUF digest (in-process backend).
    fit_report_ : bias and ranking on the calibration set, before and after calibration.
    last_run_ : cost of the latest labelling job (calls made, answers read from the ledger, seconds).
    guard_hits_ : inputs of the latest call in which the injection guard found instruction-like text.
    """

    def __init__(
        self,
        model: str = "qwen2.5-coder-0.5b",
        endpoint: str | None = None,
        endpoint_mode: str = "logprobs",
        task: str = "cmdline",
        label_words: Mapping[str, str] | None = None,
        n_shots: int = 3,
        max_shot_chars: int = 120,
        max_input_chars: int = 300,
        calibration: str = "affine",
        n_calibration: int = 200,
        ledger: str | None = "default",
        n_ctx: int = 2048,
        n_threads: int = 2,
        max_calls: int | None = None,
        injection_guard: str = "max",
        positive: str = "malicious",
        progress: bool = True,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.endpoint = endpoint
        self.endpoint_mode = endpoint_mode
        self.task = task
        self.label_words = label_words
        self.n_shots = n_shots
        self.max_shot_chars = max_shot_chars
        self.max_input_chars = max_input_chars
        self.calibration = calibration
        self.n_calibration = n_calibration
        self.ledger = ledger
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_calls = max_calls
        self.injection_guard = injection_guard
        self.positive = positive
        self.progress = progress
        self.random_state = random_state

    # ---- heavy resources, loaded on first use ----
    def connect(self, backend: LLMBackend | None = None) -> LLMTeacher:
        """Open the backend (llama.cpp model or endpoint client) and the ledger.

        ``backend`` injects a ready backend (tests use a fake one; two teachers can share a model).
        """
        if backend is not None:
            self.backend_ = backend
        elif self.endpoint:
            from distilsec.teachers.llm.endpoint import EndpointBackend

            self.backend_ = EndpointBackend(self.endpoint, self.model, mode=self.endpoint_mode)
        else:
            from distilsec.teachers.llm.llamacpp import LlamaCppBackend

            expected = getattr(self, "model_sha256_", None)
            self.backend_ = LlamaCppBackend(self.model, n_ctx=self.n_ctx, n_threads=self.n_threads)
            if expected and expected != self.backend_.sha256:
                raise BundleError(
                    f"the GGUF model {self.model!r} has SHA-256 {self.backend_.sha256}, but this teacher was "
                    f"fitted with {expected}: its shots and calibration do not apply to other weights"
                )
            self.model_sha256_ = self.backend_.sha256
        if self.ledger is None:
            self.ledger_ = None
        else:
            self.ledger_ = TeacherLedger(default_ledger_path() if self.ledger == "default" else self.ledger)
        return self

    def _backend(self) -> LLMBackend:
        if not hasattr(self, "backend_"):
            self.connect()
        return self.backend_

    def close(self) -> None:
        """Release the model and the ledger (a later call loads them again)."""
        if hasattr(self, "backend_"):
            self.backend_.close()
            del self.backend_
        if getattr(self, "ledger_", None) is not None:
            self.ledger_.close()
            del self.ledger_

    # ---- prompt ----
    def _words(self, classes: Sequence[str]) -> tuple[str, ...]:
        words = dict(self.label_words or {})
        unknown = sorted(set(words) - set(classes))
        if unknown:
            raise ConfigError(f"label_words names classes {unknown} that are not in {list(classes)}")
        return tuple(words.get(c, c) for c in classes)

    def template(self) -> PromptTemplate:
        self._check_fitted()
        return PromptTemplate(self.task, self._words(self.classes_), self.max_input_chars)

    def _shot_pairs(self) -> list[tuple[str, str]]:
        words = dict(zip(self.classes_, self._words(self.classes_), strict=True))
        return [(t, words[c]) for t, c in self.shots_]

    @property
    def signature(self) -> str:
        """``model_id/template_id``: the ledger key of this teacher's answers (batch size, threads excluded)."""
        self._check_fitted()
        backend = self._backend()
        return f"{backend.model_id}/{self._template_id()}"

    def _template_id(self) -> str:
        extra = [self.endpoint_mode] if self.endpoint else []
        return self.template().signature(self._shot_pairs(), extra=extra)

    # ---- raw answers through the ledger ----
    def estimate(self, texts: Sequence[str]) -> CostEstimate:
        """Calls, tokens and seconds that scoring ``texts`` would cost now (nothing is called).

        Includes the injection guard's second look at inputs that hold instruction-like text.
        """
        texts = self._check_texts(texts)
        if self.injection_guard == "max":
            texts = texts + [v for t in texts for v in strip_variants(t)]
        return self._estimate_exact(texts)

    def _estimate_exact(self, texts: list[str]) -> CostEstimate:
        backend, tmpl, shots = self._backend(), self.template(), self._shot_pairs()
        default = 0.6 if not self.endpoint else 1.0
        return estimate_cost(
            texts,
            getattr(self, "ledger_", None),
            backend.model_id,
            self._template_id(),
            tokens_per_call=lambda t: backend.count_tokens(tmpl.messages(t, shots)),
            default_seconds_per_call=default,
        )

    def raw_logprobs(self, texts: Sequence[str], *, desc: str = "LLM teacher") -> np.ndarray:
        """Label-word log-probabilities, shape (n, n_classes), renormalised over the labels.

        With the injection guard on, an input holding instruction-like text is also scored without it
        (:func:`~distilsec.teachers.llm.guard.strip_variants`) and the more suspicious answer is kept
        (``"max"``), or the input is labelled ``positive`` outright (``"flag"``); see
        :mod:`~distilsec.teachers.llm.guard`. Answers that could not be read (a JSON-mode reply outside
        the schema) become uniform rows and are counted in ``last_run_.errors``.
        """
        self._check_fitted()
        texts = self._check_texts(texts)
        if self.injection_guard not in GUARD_POLICIES:
            raise ConfigError(f"injection_guard must be one of {list(GUARD_POLICIES)}, not {self.injection_guard!r}")
        guarded: dict[int, list[str]] = {}
        if self.injection_guard != "none":
            for i, t in enumerate(texts):
                variants = strip_variants(t)
                if variants:
                    guarded[i] = variants
        self.guard_hits_ = len(guarded)
        extra = [v for i in sorted(guarded) for v in guarded[i]] if self.injection_guard == "max" else []
        rows = self._ask(texts + extra, desc)
        out = rows[: len(texts)]
        pos = self.classes_.index(self.positive) if self.positive in self.classes_ else None
        j = len(texts)
        for i in sorted(guarded):
            if self.injection_guard == "flag" and pos is not None:
                out[i] = np.full(len(self.classes_), np.log(0.01 / (len(self.classes_) - 1)))
                out[i, pos] = np.log(0.99)
            elif self.injection_guard == "max":
                alts = rows[j : j + len(guarded[i])]
                j += len(guarded[i])
                if pos is None:
                    out[i] = alts[0]  # no attack direction: score the fully stripped text
                else:
                    for alt in alts:
                        if _margin(alt, pos) > _margin(out[i], pos):
                            out[i] = alt
        return out

    def _ask(self, texts: list[str], desc: str) -> np.ndarray:
        """Normalised label log-probs of ``texts`` through the ledger (one call per text not stored)."""
        backend, tmpl, shots = self._backend(), self.template(), self._shot_pairs()
        words = tmpl.label_words
        ledger = getattr(self, "ledger_", None)
        template_id = self._template_id()
        if ledger is not None:
            ledger.describe_template(
                template_id,
                {"system": tmpl.system(), "user": tmpl.user("{input}"), "shots": shots, "words": list(words)},
            )
        est = self._estimate_exact(texts) if texts else None
        if est is not None and est.calls:
            log.warning("LLM teacher: %s", est.describe())
        run = run_labelling(
            texts,
            lambda batch: [backend.label(tmpl.messages(t, shots), words) for t in batch],
            ledger,
            backend.model_id,
            template_id,
            desc=desc,
            max_calls=self.max_calls,
            estimate=est,
            progress=self.progress,
        )
        out = np.zeros((len(texts), len(words)))
        for i, ans in enumerate(run.answers):
            row, ok = _answer_row(ans, len(words))
            out[i] = row
            if not ok:
                run.errors.append(texts[i][:80])
        if run.errors:
            log.warning("LLM teacher: %d answers could not be read (uniform rows used)", len(run.errors))
        self.last_run_: LabelRun = run
        m = out.max(axis=1, keepdims=True)
        return out - (m + np.log(np.exp(out - m).sum(axis=1, keepdims=True)))

    # ---- the contract ----
    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[str],
        *,
        classes: Sequence[str] | None = None,
        calibration_texts: Sequence[str] | None = None,
        calibration_y: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> LLMTeacher:
        """Pick few-shot examples from ``texts`` and calibrate on labelled data.

        Parameters
        ----------
        texts, y : the labelled set.
        classes : class order (default: sorted labels).
        calibration_texts, calibration_y : labelled data for calibration (the validation split);
            default: ``n_calibration`` labelled texts not used as shots.
        sample_weight : accepted for interface compatibility and ignored (no weights are trained).
        """
        texts = self._check_texts(texts)
        self.classes_, y_idx = encode_labels(y, classes)
        if len(self.classes_) < 2:
            raise DataError("an LLM teacher needs labelled examples of at least two classes")
        self._words(self.classes_)  # validate label_words early
        rng = np.random.default_rng(self.random_state)
        shot_idx = _pick_shots(texts, y_idx, len(self.classes_), self.n_shots, self.max_shot_chars, rng)
        self.shots_ = [(texts[i], self.classes_[y_idx[i]]) for i in shot_idx]
        self.calibrator_ = Calibrator(self.calibration)
        if calibration_texts is None:
            rest = np.setdiff1d(np.arange(len(texts)), shot_idx)
            take = rng.permutation(rest)[: self.n_calibration]
            cal_texts, cal_y = [texts[i] for i in take], y_idx[take]
        else:
            if calibration_y is None or len(calibration_y) != len(calibration_texts):
                raise DataError("calibration_texts needs calibration_y of the same length")
            cal_texts = self._check_texts(calibration_texts)
            _, cal_y = encode_labels(calibration_y, self.classes_)
        report: dict[str, Any] = {"calibration": self.calibration, "n_calibration": len(cal_texts)}
        if self.calibration != "none" and len(cal_texts):
            raw = self.raw_logprobs(cal_texts, desc="LLM calibration set")
            report["before"] = bias_report(np.exp(raw), cal_y, self.classes_)
            if self.calibration == "contextual":
                self.calibrator_.fit_contextual(self.raw_logprobs(list(CONTENT_FREE_INPUTS), desc="content-free"))
            else:
                self.calibrator_.fit(raw, cal_y)
            report["after_in_sample"] = bias_report(self.calibrator_.transform(raw), cal_y, self.classes_)
        self.fit_report_ = report
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order."""
        raw = self.raw_logprobs(texts)  # checks that the teacher is fitted
        return self.calibrator_.transform(raw)

    def predict_proba_uncalibrated(self, texts: Sequence[str]) -> np.ndarray:
        """The label-word probabilities as the model gives them (renormalised over the labels)."""
        return np.exp(self.raw_logprobs(texts))

    @property
    def n_parameters(self) -> int:
        return 0  # the weights are not part of the teacher bundle; see model_sha256_

    # ---- persistence: JSON only; the weights are named by alias/path and SHA-256, never copied ----
    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        self._check_fitted()  # before reading shots_: NotFittedError, not AttributeError
        path = Path(path)
        self._write_manifest(
            path,
            {
                "shots": [list(s) for s in self.shots_],
                "calibrator": self.calibrator_.to_dict(),
                "model_sha256": getattr(self, "model_sha256_", None),
                "fit_report": getattr(self, "fit_report_", {}),
            },
            extra,
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> LLMTeacher:  # type: ignore[override]
        manifest = cls._read_manifest(path)
        obj = cls._from_manifest(manifest)
        try:
            obj.shots_ = [(str(t), str(c)) for t, c in manifest["shots"]]
            obj.calibrator_ = Calibrator.from_dict(manifest["calibrator"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{path}: malformed LLM teacher manifest ({exc})") from None
        if manifest.get("model_sha256"):
            obj.model_sha256_ = manifest["model_sha256"]
        obj.fit_report_ = manifest.get("fit_report", {})
        return obj


def _margin(logp: np.ndarray, pos: int) -> float:
    """How much more likely the positive class is than all others together (log-odds)."""
    others = np.delete(logp, pos)
    m = others.max()
    return float(logp[pos] - (m + np.log(np.exp(others - m).sum())))


def _answer_row(answer: Mapping[str, Any], k: int) -> tuple[np.ndarray, bool]:
    """Log-probs of one ledger answer; missing labels get the endpoint's floor; unreadable -> uniform."""
    lps = list(answer.get("logprobs") or [])
    if len(lps) != k or all(v is None for v in lps):
        return np.full(k, -math.log(k)), False
    known = [v for v in lps if v is not None]
    floor = answer.get("floor")
    fill = min(known) - math.log(2.0) if floor is None else min(float(floor), min(known))
    return np.array([fill if v is None else float(v) for v in lps]), True


def _pick_shots(
    texts: Sequence[str], y: np.ndarray, k: int, n_shots: int, max_chars: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_shots`` texts per class (short ones preferred), interleaved so no class sits at the end."""
    per_class: list[list[int]] = []
    for c in range(k):
        rows = np.flatnonzero(y == c)
        short = rows[[len(texts[i]) <= max_chars for i in rows]] if len(rows) else rows
        pool = short if len(short) >= n_shots else rows[np.argsort([len(texts[i]) for i in rows], kind="stable")]
        pool = pool if len(short) >= n_shots else pool[: max(n_shots, 1) * 4]
        per_class.append(rng.permutation(pool)[:n_shots].tolist() if len(pool) else [])
    order: list[int] = []
    for j in range(n_shots):
        round_ = [per_class[c][j] for c in rng.permutation(k) if j < len(per_class[c])]
        order.extend(round_)
    return np.array(order, dtype=np.int64)
