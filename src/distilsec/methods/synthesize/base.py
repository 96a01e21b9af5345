"""The generator contract: a seed example in, labelled candidates with their provenance out.

Every synthetic-data generator (the LLM one and the programmatic mutators) follows one protocol, so
:func:`~distilsec.methods.synthesize.synthesize` never needs to know which one it drives. A generator
never filters: it returns every attempt, failed ones included (``text=None`` with ``error`` set), so
the method can count each rejection by its reason instead of losing it silently.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from distilsec.data.example import Example

__all__ = ["Candidate", "Generator", "TASK_KINDS", "variant_rng", "variant_seed", "provenance"]

#: tasks a generator can write for: what the generated texts are (and which parse check applies).
TASK_KINDS = ("cmdline", "url", "html")


@dataclass(frozen=True)
class Candidate:
    """One generated sample before filtering.

    Attributes
    ----------
    text : the generated text, ``None`` when the attempt failed (``error`` says why).
    label : the label the sample is meant to have (the seed's label: variations keep the intent).
    seed_id : id of the seed example it was made from.
    provenance : JSON-able record of how it was made: ``generator`` (name.version), ``seed_ids``,
        ``model`` (or ``None`` for programmatic generators), ``template`` (prompt/template hash),
        ``variant`` (index), ``random_seed`` and generator-specific details (``variation``...).
    error : why there is no text (``"llm_error"``, ``"empty_answer"``, ``"seed_too_large"``...).
    detail : a short human-readable explanation of ``error``.
    """

    text: str | None
    label: str | None
    seed_id: str
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    error: str | None = None
    detail: str = ""

    @property
    def kind(self) -> str:
        """What variation this is (``provenance["variation"]``), for per-kind samples in the report."""
        return str(self.provenance.get("variation") or "variant")


@runtime_checkable
class Generator(Protocol):
    """Anything that writes new labelled samples from one seed.

    Attributes
    ----------
    name : registry-style name with a version (``"cmdline_mutator.v1"``); part of every provenance.
    task : ``"cmdline"``, ``"url"`` or ``"html"`` (what the generated texts are).
    """

    name: str
    task: str

    def generate(self, seed: Example, n: int, *, random_state: int = 0) -> list[Candidate]:
        """``n`` candidates from ``seed`` (failed attempts included, with ``error`` set); deterministic in
        ``random_state``."""
        ...


def variant_seed(random_state: int, seed_id: str, variant: int) -> int:
    """A 31-bit seed for one variant of one seed example, stable across processes and platforms.

    Derived with SHA-256 rather than ``hash()``: Python salts string hashes per process, and a rerun
    must ask the ledger for exactly the same calls.
    """
    h = hashlib.sha256(f"{random_state}\0{seed_id}\0{variant}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def variant_rng(random_state: int, seed_id: str, variant: int) -> random.Random:
    """The random generator of one variant (see :func:`variant_seed`)."""
    return random.Random(variant_seed(random_state, seed_id, variant))


def provenance(
    generator: str,
    seed: Example,
    *,
    variant: int,
    random_seed: int,
    model: str | None = None,
    template: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """The provenance record every candidate carries (see :class:`Candidate`)."""
    return {
        "generator": generator,
        "seed_ids": [seed.id],
        "model": model,
        "template": template,
        "variant": variant,
        "random_seed": random_seed,
        **details,
    }
