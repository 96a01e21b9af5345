"""A transfer set for distillation: perturbed training texts that only the teacher labels ("function matching").

On its own training rows a teacher answers almost exactly the hard label (it has fitted them), so its soft
labels there carry little that the labels did not already say, and a distilled student ends where the
hard-label student does. Between and around those rows the teacher's answer is what the student cannot
learn from labels: how malicious a command is when half of it comes from a benign one, when an argument
is missing, when a flag is swapped. Beyer et al. (2022, "Knowledge distillation: a good teacher is patient
and consistent") show that students match a teacher best on such perturbed inputs (mixup-like mixtures), scored
by the teacher on exactly the input the student sees. This module makes those inputs; the teacher scores
them once per run and the student learns them from the soft labels alone (``alpha = 1`` on these rows).

The perturbations work on *pieces* (a token and the separator after it: whitespace, ``/ \\ ? & = ; | ,``),
so they apply to command lines and URLs alike and never cut inside a token:

* ``splice``: the head of one text + the tail of another (a string-level mixup; labels may differ);
* ``drop``: each piece dropped with probability 0.2 (at least one kept);
* ``swap``: one piece replaced by a piece of another text.

Deterministic for a seed; versioned by :data:`VERSION` (a change of the recipe is a new version).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["VERSION", "pieces", "transfer_texts"]

VERSION = "transfer_set.v1"

_SEPARATOR = re.compile(r"(\s+|[/\\?&=;|,])")
#: cap on one perturbed text: a splice of two long texts never grows past what either could be
_MAX_CHARS = 4096


def pieces(text: str) -> list[str]:
    """``text`` cut after each separator: ``"a -b /c"`` -> ``["a ", "-b ", "/", "c"]`` (joined back exactly)."""
    parts = _SEPARATOR.split(text)
    out = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    return [p for p in out if p]


def _join(parts: list[str]) -> str:
    """Pieces back into one text; a piece that ended its text gets a space before the next (no glued tokens)."""
    return "".join(p if i == len(parts) - 1 or _SEPARATOR.search(p[-1]) else p + " " for i, p in enumerate(parts))


def _splice(a: list[str], b: list[str], rng: np.random.Generator) -> list[str]:
    return a[: int(rng.integers(1, len(a) + 1))] + b[int(rng.integers(0, len(b))) :]


def _drop(a: list[str], rng: np.random.Generator) -> list[str]:
    keep = rng.random(len(a)) >= 0.2
    if not keep.any():
        keep[int(rng.integers(0, len(a)))] = True
    return [p for p, k in zip(a, keep, strict=True) if k]


def _swap(a: list[str], b: list[str], rng: np.random.Generator) -> list[str]:
    out = list(a)
    out[int(rng.integers(0, len(a)))] = b[int(rng.integers(0, len(b)))]
    return out


def transfer_texts(texts: Sequence[str], copies: int, *, seed: int = 0) -> list[str]:
    """``copies`` perturbed versions of every text (``copies * len(texts)`` strings, copy by copy).

    Each row gets one perturbation, chosen uniformly from splice / drop / swap, with a partner drawn from
    the whole set (so a splice mixes classes as often as the classes are mixed in ``texts``). Empty texts
    stay empty.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, not {copies}")
    cut = [pieces(t) for t in texts]
    n = len(cut)
    rng = np.random.default_rng([seed, 0x7F5E7])
    out: list[str] = []
    for _ in range(copies):
        partners = rng.permutation(n) if n else np.zeros(0, dtype=int)
        kinds = rng.integers(0, 3, size=n)
        for i in range(n):
            a, b = cut[i], cut[int(partners[i])]
            if not a or not b:
                out.append(texts[i])
                continue
            if kinds[i] == 0:
                new = _splice(a, b, rng)
            elif kinds[i] == 1:
                new = _drop(a, rng)
            else:
                new = _swap(a, b, rng)
            out.append(_join(new)[:_MAX_CHARS])
    return out
