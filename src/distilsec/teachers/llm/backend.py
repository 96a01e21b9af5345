"""What every LLM backend does: one chat prompt in, label-word log-probabilities (or a sampled answer) out.

Two backends implement it: :class:`~distilsec.teachers.llm.llamacpp.LlamaCppBackend` (llama.cpp in
this process) and :class:`~distilsec.teachers.llm.endpoint.EndpointBackend` (any OpenAI-compatible
server: vLLM, Ollama, the llama.cpp server, hosted APIs). A teacher never needs to know which one
it talks to, and the ledger keys answers by ``model_id``. Besides scoring label words (``label``), a
backend writes text (``generate``): the synthetic-data generators ask it for new examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from distilsec.teachers.labelling import CallResult

__all__ = ["LLMBackend", "Messages", "make_answer", "make_generation"]

Messages = list[dict[str, str]]


@runtime_checkable
class LLMBackend(Protocol):
    """An LLM that scores the next token of a chat prompt.

    Attributes
    ----------
    model_id : identity of the weights, part of every ledger key (a GGUF's SHA-256, or the endpoint URL
        plus the served model name).
    """

    model_id: str

    def label(self, messages: Messages, label_words: Sequence[str]) -> CallResult:
        """One call: the answer holds ``logprobs`` (one per label word, ``None`` if unseen) and ``text``."""
        ...

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
        """One sampled chat completion: the answer holds ``text`` and ``finish_reason`` (see
        :func:`make_generation`). ``seed`` fixes the sampler, so one prompt and seed give one answer."""
        ...

    def count_tokens(self, messages: Messages) -> int:
        """Prompt tokens of ``messages`` (exact or estimated), for cost estimates."""
        ...

    def close(self) -> None:
        """Release the model or connection."""
        ...


def make_answer(
    logprobs: Sequence[float | None], text: str, mode: str, floor: float | None = None
) -> dict[str, object]:
    """The JSON answer stored in the ledger: raw label log-probs, the generated text, how it was read.

    ``floor`` is an upper bound for a label that is ``None`` because an endpoint's top-k candidates
    missed it (the lowest candidate's log-probability).
    """
    return {
        "logprobs": [None if v is None else round(float(v), 6) for v in logprobs],
        "text": text,
        "mode": mode,
        "floor": None if floor is None else round(float(floor), 6),
    }


def make_generation(text: str, finish_reason: str | None) -> dict[str, object]:
    """The JSON answer of a ``generate`` call stored in the ledger: the raw completion and why it stopped.

    The raw text is stored, not the extracted example: extraction rules can change without paying for
    the calls again (distilabel keeps raw output for the same reason).
    """
    return {"text": text, "finish_reason": finish_reason}
