"""llama.cpp in this process: a GGUF instruct model scores label words from its next-token logits.

Needs the optional extra ``llm`` (``llama-cpp-python``). The prompt is rendered with the model's own
chat template and tokenized exactly as ``llama_cpp.server`` does for ``/v1/chat/completions``, so the
in-process backend and an OpenAI-compatible llama.cpp server see the same tokens and give the same
labels.

Notes
-----
* Only the last position's logits are read (``logits_all=False``): the full log-softmax over the
  vocabulary gives every label word's probability, not just the top few candidates, and memory stays
  at one row of logits instead of ``n_ctx x n_vocab`` floats.
* Consecutive prompts share the system rules and few-shot examples, so the key-value cache of that
  common prefix is kept and only the new tokens are evaluated (prompt evaluation is the CPU cost:
  ~260 tokens/s for the 0.5B model on 2 threads).
* ``generate`` samples a completion with ``Llama.create_chat_completion`` (the model's own chat template,
  as the server does), seeded, with stop sequences. It moves the key-value cache, so the next ``label``
  call starts from a fresh context instead of reusing a prefix that is no longer there.
* The CTI assistant (:mod:`distilsec.teachers.llm.assistant`) uses only the public calls: ``stream`` (the
  completion's text pieces as they are decoded), ``next_token_logprobs`` and ``letter_logprobs`` (the choice
  of a multiple-choice question in one forward pass). They keep the key-value cache bookkeeping in this
  class, so no caller has to know that a completion invalidates the cached prefix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import redirect_stderr
from io import StringIO
from typing import Any

import numpy as np

from distilsec.errors import ConfigError, DataError
from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import Messages, make_answer, make_generation
from distilsec.teachers.llm.gguf_assemble import resolve_gguf
from distilsec.teachers.llm.prompts import token_matches

__all__ = ["LlamaCppBackend", "require_llama_cpp"]

log = logging.getLogger("distilsec.llm")


def require_llama_cpp() -> Any:
    """The ``llama_cpp`` module, or a ConfigError that says how to install it."""
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError(
            "the in-process LLM backend needs llama-cpp-python: install the 'llm' extra, e.g. "
            "CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install -c constraints.txt -e '.[llm]' "
            "(it builds from source, ~6-9 min), or set teacher.endpoint to an OpenAI-compatible server"
        ) from None
    return llama_cpp


class LlamaCppBackend:
    """A GGUF model run by llama.cpp (CPU or GPU), scoring label words of a chat prompt.

    Parameters
    ----------
    model : packaged alias or GGUF path (see :func:`~distilsec.teachers.llm.gguf_assemble.resolve_gguf`).
    n_ctx : context tokens (system + shots + one input must fit).
    n_threads : CPU threads.
    n_gpu_layers : layers offloaded to a GPU when llama.cpp was built with one (0 = CPU only).
    reuse_prefix : keep the key-value cache of the prompt prefix shared with the previous call (the
        benchmark turns it off to measure what it saves).

    Attributes
    ----------
    path, sha256 : the GGUF file and its digest.  model_id : ``gguf:<sha256>`` (the ledger key part).
    """

    def __init__(
        self, model: str, *, n_ctx: int = 2048, n_threads: int = 2, n_gpu_layers: int = 0, reuse_prefix: bool = True
    ) -> None:
        llama_cpp = require_llama_cpp()
        from llama_cpp import llama_chat_format

        self.path, self.sha256 = resolve_gguf(model)
        self.model_id = f"gguf:{self.sha256}"
        quiet = StringIO()
        with redirect_stderr(quiet):
            self.llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers,
                logits_all=False,
                verbose=False,
            )
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(f"{self.path.name} has no chat template: use an instruct model")
        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self.llm._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=self.llm._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )
        self.reuse_prefix = reuse_prefix
        self._cached: list[int] = []
        self.last_reused = 0  # prompt tokens of the latest call read from the key-value cache
        self._label_ids: dict[tuple[str, ...], list[np.ndarray]] = {}
        self._pieces: list[str] | None = None

    # ---- tokens ----
    def tokens(self, messages: Messages) -> list[int]:
        """Prompt tokens, rendered and tokenized as llama.cpp's chat-completion handler does."""
        res = self._formatter(messages=messages)
        return self.llm.tokenize(res.prompt.encode("utf-8"), add_bos=not res.added_special, special=True)

    def count_tokens(self, messages: Messages) -> int:
        return len(self.tokens(messages))

    def _vocab_pieces(self) -> list[str]:
        if self._pieces is None:
            n = self.llm.n_vocab()
            self._pieces = [self.llm.detokenize([i]).decode("utf-8", errors="ignore") for i in range(n)]
        return self._pieces

    def label_token_ids(self, label_words: Sequence[str]) -> list[np.ndarray]:
        """Vocabulary ids whose text starts exactly one label word (``" mal"``, ``"Mal"``, ``"malicious"``)."""
        key = tuple(label_words)
        if key not in self._label_ids:
            pieces = self._vocab_pieces()
            ids = [
                np.array([i for i, p in enumerate(pieces) if token_matches(p, w, label_words)], dtype=np.int64)
                for w in label_words
            ]
            empty = [w for w, a in zip(label_words, ids, strict=True) if not len(a)]
            if empty:
                raise ConfigError(f"no token of this model starts the label word(s) {empty}")
            self._label_ids[key] = ids
        return self._label_ids[key]

    # ---- one call ----
    def _next_token_logprobs(self, tokens: list[int]) -> np.ndarray:
        if len(tokens) >= self.llm.n_ctx():
            raise DataError(
                f"prompt of {len(tokens)} tokens does not fit n_ctx={self.llm.n_ctx()}: "
                "lower max_input_chars / n_shots or raise n_ctx"
            )
        common = 0
        for a, b in zip(self._cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # always evaluate at least one token for fresh logits
        if common == 0 or not self.reuse_prefix or not self.llm._ctx.kv_cache_seq_rm(-1, common, -1):
            self.llm.reset()
            common = 0
        self.llm.n_tokens = common
        self.last_reused = common
        self.llm.eval(tokens[common:])
        self._cached = list(tokens)
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.llm.n_vocab(),))
        z = logits.astype(np.float64)
        m = z.max()
        return z - (m + np.log(np.exp(z - m).sum()))

    def next_token_logprobs(self, messages: Messages) -> np.ndarray:
        """Log-probabilities over the whole vocabulary of the token that follows the chat prompt.

        One forward pass, no sampling: the cheapest way to read a model's choice (a label, a letter). The
        prompt prefix shared with the previous such call is read from the key-value cache (``reuse_prefix``).

        Raises
        ------
        DataError
            The prompt does not fit ``n_ctx``.
        """
        return self._next_token_logprobs(self.tokens(messages))

    def letter_logprobs(self, messages: Messages, letters: Sequence[str]) -> list[float | None]:
        """Log-probability of each of ``letters`` as the next token, over tokens that are *exactly* it.

        ``"A"`` and ``" A"`` count for A, ``"Answer"`` does not: :meth:`label`'s matching counts any token a
        label word starts, which for single letters would add unrelated words (``"because"`` for B) and bias
        a multiple-choice answer. A letter no token spells is None.
        """
        ids = self.exact_token_ids(letters)
        lp = self.next_token_logprobs(messages)
        out: list[float | None] = []
        for a in ids:
            if not len(a):
                out.append(None)
                continue
            v = lp[a]
            m = v.max()
            out.append(float(m + np.log(np.exp(v - m).sum())))
        return out

    def exact_token_ids(self, words: Sequence[str]) -> list[np.ndarray]:
        """Vocabulary ids whose text, stripped of spaces, is exactly each word (cached per word list)."""
        key = ("=exact", *words)
        if key not in self._label_ids:
            pieces = self._vocab_pieces()
            self._label_ids[key] = [
                np.array([i for i, p in enumerate(pieces) if p.strip() == w], dtype=np.int64) for w in words
            ]
        return self._label_ids[key]

    def label(self, messages: Messages, label_words: Sequence[str]) -> CallResult:
        t0 = time.perf_counter()
        tokens = self.tokens(messages)
        lp = self._next_token_logprobs(tokens)
        ids = self.label_token_ids(label_words)
        per_label = []
        for a in ids:
            v = lp[a]
            m = v.max()
            per_label.append(float(m + np.log(np.exp(v - m).sum())))
        top = int(lp.argmax())
        text = self._vocab_pieces()[top]
        seconds = time.perf_counter() - t0
        log.debug("llama.cpp call: %d tokens (%d reused) in %.2f s", len(tokens), self.last_reused, seconds)
        return CallResult(make_answer(per_label, text, "logprobs"), prompt_tokens=len(tokens), seconds=seconds)

    def generate(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> CallResult:
        """One sampled completion of the chat prompt (llama.cpp's sampler seeded with ``seed``).

        Raises
        ------
        DataError
            The prompt plus ``max_tokens`` does not fit the context (lower the seed's size or raise n_ctx).
        """
        t0 = time.perf_counter()
        n_prompt = len(self.tokens(messages))
        if n_prompt + max_tokens > self.llm.n_ctx():
            raise DataError(
                f"prompt of {n_prompt} tokens + max_tokens={max_tokens} does not fit n_ctx={self.llm.n_ctx()}: "
                "shorten the seed (max_input_chars) or raise n_ctx"
            )
        self._cached = []  # the completion rewrites the context: the next label() call starts afresh
        reply = self.llm.create_chat_completion(
            messages=messages,
            max_tokens=int(max_tokens),
            temperature=float(temperature),
            top_p=float(top_p),
            seed=int(seed),
            stop=list(stop) or None,
        )
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        seconds = time.perf_counter() - t0
        text = (choice.get("message") or {}).get("content") or ""
        log.debug("llama.cpp generation: %d prompt tokens in %.2f s", n_prompt, seconds)
        return CallResult(
            make_generation(text, choice.get("finish_reason")),
            prompt_tokens=int(usage.get("prompt_tokens", n_prompt)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
        )

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """The completion's text pieces as llama.cpp decodes them (for an answer shown while it is written).

        Same template and sampler as :meth:`generate` (``create_chat_completion(stream=True)``); llama.cpp
        itself reuses the key-value cache of the prompt prefix shared with its previous completion. The
        completion rewrites the context, so the next :meth:`label` / :meth:`next_token_logprobs` call starts
        afresh; that bookkeeping is why callers stream through here and not through ``self.llm``.
        """
        self._cached = []
        for chunk in self.llm.create_chat_completion(
            messages=messages,
            max_tokens=int(max_tokens),
            temperature=float(temperature),
            seed=int(seed),
            stop=list(stop) or None,
            stream=True,
        ):
            piece = (chunk["choices"][0].get("delta") or {}).get("content")
            if piece:
                yield piece

    def close(self) -> None:
        self.llm.close() if hasattr(self.llm, "close") else None
        self._cached = []
