"""An instruct LLM writes variations of seed examples, every call through the teacher-call ledger.

The LLM gets the seed as quoted data (:mod:`distilsec.methods.synthesize.prompts`) plus a directive chosen by the
generator (another binary / other flags / obfuscation / other values for command lines; a brand or
product, a language and a layout variant for pages) and samples one answer with a seed derived from
``random_state``, the seed example and the variant index. Each raw answer is stored in the ledger the
moment it arrives, keyed by model + template (prompt text and generation settings) + input (seed
text, label, directive, variant and sampler seed): a rerun costs no call, and a killed job resumes
where it stopped with nothing lost.

Failures are data, not crashes: a backend that raises (an endpoint timing out after its retries, a
prompt too long for the context) gives a candidate with ``error="llm_error"``, an answer with nothing
in it gives ``"empty_answer"``; neither is stored, so a later run asks again. Only a run of
``max_consecutive_errors`` failures in a row stops the job, with the last error in the message (a dead
endpoint should not be asked 10 000 times).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from distilsec.data.example import Example
from distilsec.errors import ConfigError, DataError
from distilsec.methods.synthesize.base import Candidate, provenance, variant_rng, variant_seed
from distilsec.methods.synthesize.brands import DEFAULT_BRANDS, LANGUAGES, Brand
from distilsec.methods.synthesize.prompts import DIRECTIVES, GenerationTemplate, extract_answer
from distilsec.teachers.ledger import TeacherLedger, default_ledger_path

__all__ = ["LLMGenerator", "DIRECTIVE_KINDS"]

log = logging.getLogger("distilsec.methods.synthesize")

#: short names of the directives (the "kind" of a variant in reports), per task.
DIRECTIVE_KINDS = {
    "cmdline": ("binary", "flags", "obfuscation", "values"),
    "url": ("domain", "path", "brand_position"),
    "html": ("rebrand",),
}
_DEFAULTS = {  # task -> (max_tokens, max_input_chars)
    "cmdline": (160, 600),
    "url": (96, 400),
    "html": (1500, 2500),
}


class LLMGenerator:
    """Synthetic examples written by a local LLM (llama.cpp) or any OpenAI-compatible endpoint.

    Parameters
    ----------
    task : ``"cmdline"``, ``"url"`` or ``"html"``.
    model : GGUF alias or path (in-process llama.cpp), or the served model name with ``endpoint``.
    endpoint : base URL of an OpenAI-compatible API; ``None`` runs llama.cpp in this process.
    ledger : SQLite path, ``"default"`` (``~/.cache/distilsec/teacher/ledger.sqlite``) or ``None``
        (no resume).
    max_tokens : tokens per answer (default per task: 160 command line, 96 URL, 1500 page).
    temperature, top_p : sampling settings (part of the ledger key).
    stop : stop sequences (part of the ledger key).
    max_input_chars : characters of the seed shown to the model (default per task).
    brands, languages : targets of page variants (``task="html"``).
    n_ctx, n_threads : llama.cpp context and threads (the context must hold seed + answer).
    timeout, max_retries : per request, for an endpoint.
    max_calls : refuse to make more than this many new calls (``None`` = no limit).
    max_consecutive_errors : stop the job (DataError) after this many failed calls in a row.

    Attributes
    ----------
    calls_ : new LLM calls made.  cached_ : answers read from the ledger.  errors_ : failed calls.
    call_seconds_ : seconds spent in new calls.  backend_ : the connected backend.
    """

    name = "llm_generator.v1"

    def __init__(
        self,
        task: str = "cmdline",
        *,
        model: str = "qwen2.5-coder-0.5b",
        endpoint: str | None = None,
        ledger: str | None = "default",
        max_tokens: int | None = None,
        temperature: float = 0.8,
        top_p: float = 0.95,
        stop: Sequence[str] = (),
        max_input_chars: int | None = None,
        brands: Sequence[Brand] | None = None,
        languages: Sequence[str] = LANGUAGES,
        n_ctx: int = 4096,
        n_threads: int = 2,
        timeout: float = 120.0,
        max_retries: int = 3,
        max_calls: int | None = None,
        max_consecutive_errors: int = 20,
    ) -> None:
        self.task = task
        self.model = model
        self.endpoint = endpoint
        self.ledger = ledger
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.stop = stop
        self.max_input_chars = max_input_chars
        self.brands = brands
        self.languages = languages
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_calls = max_calls
        self.max_consecutive_errors = max_consecutive_errors

    # ---- resources ----
    def connect(self, backend: Any = None, ledger: TeacherLedger | None = None) -> LLMGenerator:
        """Open the backend and the ledger (tests inject a fake backend and a ledger)."""
        if self.task not in DIRECTIVES:
            raise ConfigError(f"unknown generation task {self.task!r}; known: {sorted(DIRECTIVES)}")
        if backend is not None:
            self.backend_ = backend
        elif self.endpoint:
            from distilsec.teachers.llm.endpoint import EndpointBackend

            self.backend_ = EndpointBackend(
                self.endpoint, self.model, timeout=self.timeout, max_retries=self.max_retries
            )
        else:
            from distilsec.teachers.llm.llamacpp import LlamaCppBackend

            self.backend_ = LlamaCppBackend(self.model, n_ctx=self.n_ctx, n_threads=self.n_threads)
        if ledger is not None:
            self.ledger_: TeacherLedger | None = ledger
        elif self.ledger is None:
            self.ledger_ = None
        else:
            self.ledger_ = TeacherLedger(default_ledger_path() if self.ledger == "default" else self.ledger)
        self.calls_, self.cached_, self.errors_, self.call_seconds_ = 0, 0, 0, 0.0
        self._consecutive = 0
        return self

    def close(self) -> None:
        """Release the backend and the ledger."""
        if hasattr(self, "backend_"):
            self.backend_.close()
            del self.backend_
        if getattr(self, "ledger_", None) is not None:
            self.ledger_.close()  # type: ignore[union-attr]
            self.ledger_ = None

    # ---- prompt identity ----
    def template(self) -> GenerationTemplate:
        return GenerationTemplate(self.task, self.max_input_chars or _DEFAULTS[self.task][1])

    def settings(self) -> dict[str, Any]:
        """Generation settings that change answers (part of the ledger template id)."""
        return {
            "max_tokens": int(self.max_tokens or _DEFAULTS[self.task][0]),
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "stop": list(self.stop),
        }

    @property
    def template_id(self) -> str:
        return self.template().signature(self.settings())

    # ---- the generator contract ----
    def _directive(self, seed: Example, i: int, random_state: int) -> tuple[str, str, dict[str, Any]]:
        """(directive text, kind, details) of variant ``i``: directives taken in turn from a seeded offset."""
        rng = variant_rng(random_state, seed.id, i)
        if self.task == "html":
            brands = list(self.brands or DEFAULT_BRANDS)
            order = variant_rng(random_state, seed.id, -1).sample(brands, len(brands))
            brand = order[i % len(order)]
            language = rng.choice(list(self.languages) or ["en"])
            layout = rng.randint(1, 5)
            text = DIRECTIVES["html"][0].format(
                brand=brand.name, product=brand.product, language=language, layout=layout
            )
            return text, f"{brand.kind}-brand", {"target_brand": brand.name, "language": language, "layout": layout}
        options = DIRECTIVES[self.task]
        offset = variant_rng(random_state, seed.id, -1).randrange(len(options))
        j = (offset + i) % len(options)
        return options[j], DIRECTIVE_KINDS[self.task][j], {}

    def generate(self, seed: Example, n: int, *, random_state: int = 0) -> list[Candidate]:
        """``n`` LLM-written variants of ``seed`` (failed calls and empty answers carry ``error``)."""
        if not hasattr(self, "backend_"):
            self.connect()
        backend, ledger, tmpl = self.backend_, self.ledger_, self.template()
        settings, template_id = self.settings(), self.template_id
        if ledger is not None:
            ledger.describe_template(
                template_id,
                {
                    "kind": "generation",
                    "system": tmpl.system(),
                    "user": tmpl.user("{seed}", "{label}", "{directive}"),
                    "settings": settings,
                },
            )
        shown = seed.text[: tmpl.max_input_chars] if isinstance(seed.text, str) else ""
        jobs = []
        for i in range(n):
            directive, kind, details = self._directive(seed, i, random_state)
            sampler_seed = variant_seed(random_state, seed.id, i)
            key = json.dumps(
                {
                    "seed": shown,
                    "truncated": isinstance(seed.text, str) and len(seed.text) > len(shown),
                    "label": seed.label,
                    "directive": directive,
                    "variant": i,
                    "sampler_seed": sampler_seed,
                },
                sort_keys=True,
                ensure_ascii=False,
            )
            prov = provenance(
                self.name,
                seed,
                variant=i,
                random_seed=sampler_seed,
                model=backend.model_id,
                template=template_id,
                variation=kind,
                directive=directive,
                **details,
            )
            jobs.append((key, directive, prov))
        stored = ledger.get_many(backend.model_id, template_id, [k for k, _, _ in jobs]) if ledger is not None else {}
        out = []
        for key, directive, prov in jobs:
            entry = stored.get(key)
            if entry is not None:
                self.cached_ += 1
                answer = entry.answer
            else:
                answer = self._call(seed, directive, prov, key)
                if isinstance(answer, Candidate):
                    out.append(answer)
                    continue
            raw = answer.get("text") if isinstance(answer, dict) else None
            multiline = isinstance(seed.text, str) and "\n" in seed.text.strip()
            text = extract_answer(raw if isinstance(raw, str) else "", self.task, multiline=multiline)
            if not text:
                out.append(
                    Candidate(None, seed.label, seed.id, prov, "empty_answer", f"raw answer: {str(raw)[:200]!r}")
                )
            else:
                out.append(Candidate(text, seed.label, seed.id, {**prov, "finish_reason": answer.get("finish_reason")}))
        return out

    def _call(self, seed: Example, directive: str, prov: dict[str, Any], key: str) -> dict[str, Any] | Candidate:
        """One new call, stored at once; a failure becomes a candidate with ``error="llm_error"``."""
        if self.max_calls is not None and self.calls_ >= self.max_calls:
            raise DataError(
                f"LLM generation reached max_calls={self.max_calls}; the answers so far are in the ledger, "
                "run again (with a higher limit) to continue"
            )
        s = self.settings()
        messages = self.template().messages(seed.text if isinstance(seed.text, str) else "", seed.label, directive)
        t0 = time.perf_counter()
        try:
            res = self.backend_.generate(
                messages,
                max_tokens=s["max_tokens"],
                temperature=s["temperature"],
                top_p=s["top_p"],
                seed=int(prov["random_seed"]),
                stop=tuple(s["stop"]),
            )
            if not isinstance(res.answer, dict):
                raise DataError(f"backend answered {type(res.answer).__name__}, not a JSON object")
        except Exception as exc:  # a failed call is a counted rejection; only a dead backend stops the job
            self.errors_ += 1
            self._consecutive += 1
            msg = f"{type(exc).__name__}: {str(exc)[:300]}"
            if self._consecutive >= self.max_consecutive_errors:
                raise DataError(
                    f"the LLM failed {self._consecutive} calls in a row (last: {msg}); answers so far are in the "
                    "ledger, fix the backend and run again to continue"
                ) from exc
            log.warning("LLM generation call failed (%s); counted as a rejection", msg)
            return Candidate(None, seed.label, seed.id, prov, "llm_error", msg)
        self._consecutive = 0
        self.calls_ += 1
        sec = res.seconds or time.perf_counter() - t0
        self.call_seconds_ += sec
        if self.ledger_ is not None:
            self.ledger_.put(
                self.backend_.model_id,
                self.template_id,
                key,
                res.answer,
                prompt_tokens=res.prompt_tokens,
                completion_tokens=res.completion_tokens,
                seconds=sec,
            )
        return res.answer

    def cost(self) -> dict[str, Any]:
        """What this generator spent so far: new calls, ledger hits, failures, seconds."""
        return {
            "calls": getattr(self, "calls_", 0),
            "cached": getattr(self, "cached_", 0),
            "errors": getattr(self, "errors_", 0),
            "call_seconds": round(getattr(self, "call_seconds_", 0.0), 3),
            "model": getattr(getattr(self, "backend_", None), "model_id", None),
            "template": self.template_id if self.task in DIRECTIVES else None,
        }
