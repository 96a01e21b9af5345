"""Filters every generated sample must pass, and the vocabulary of rejections they produce.

A synthetic sample is only worth training on when it is (1) a well-formed item of the task, (2) new:
neither a copy of another generated sample, nor a near-copy of a seed, nor a near-copy of the test
set, and (3) still of its intended label in the eyes of a judge (the teacher or a second model).
Each check here returns a reason instead of raising, so garbage from an LLM (prose, binary bytes, an
empty answer, half an HTML page) is counted as a rejection by name and never stops a run.

Near-duplicates use the project's one definition (:mod:`distilsec.data.curate`): Jaccard similarity of
lower-cased character 5-gram sets. Candidates come from MinHash LSH (the shingle/MinHash cache of
:mod:`distilsec.data.near_dup` and the curation's banding for 99% recall), confirmed with the exact
Jaccard; :func:`exact_near_copies` is an exact set-similarity join (prefix filtering) used to audit the
result, so "no near-duplicate of the test set is left" is checked exactly, not just with MinHash's 99%
recall.
"""

from __future__ import annotations

import math
import re
import shlex
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from distilsec.data.curate import _lsh_params, jaccard
from distilsec.data.near_dup import ShingleCache
from distilsec.data.url_normalise import normalise_url
from distilsec.errors import DataError
from distilsec.methods.synthesize.cmdline_mutator import KNOWN_BINARIES, binary_of
from distilsec.methods.synthesize.html_tree import Element, iter_elements, parse_html

__all__ = [
    "Rejection",
    "FILTER_ORDER",
    "MAX_CHARS",
    "check_parse",
    "check_cmdline",
    "check_url",
    "check_html",
    "find_near_duplicates",
    "dedup_generated",
    "exact_near_copies",
    "near_duplicate_share",
    "judge_agreement",
]

#: rejection reasons in the order the filters run (generation failures first); reports use this order.
FILTER_ORDER = (
    "llm_error",
    "empty_answer",
    "seed_too_large",
    "seed_error",
    "no_variation",
    "parse",
    "exact_duplicate",
    "near_duplicate_seed",
    "near_duplicate_protected",
    "near_duplicate_generated",
    "judge_error",
    "judge_disagrees",
)
#: size caps per task: a 50 MB page is refused by length before any parsing.
MAX_CHARS = {"cmdline": 8192, "url": 4096, "html": 1_000_000}


@dataclass(frozen=True)
class Rejection:
    """A generated sample that did not make it, and why.

    Attributes
    ----------
    text : the sample (``None`` when generation itself failed).
    label : its intended label.  seed_id : the seed it came from.
    reason : one of :data:`FILTER_ORDER`.  detail : a short explanation (the parse error, the
        near-copy's similarity, the judge's probability...).
    provenance : as on the candidate.
    """

    text: str | None
    label: str | None
    seed_id: str
    reason: str
    detail: str = ""
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


# ---- parse checks: None = fine, else why not ----
def _text_problem(text: Any, max_chars: int, *, one_line: bool) -> str | None:
    if not isinstance(text, str):
        return f"not text ({type(text).__name__})"
    if not text.strip():
        return "empty"
    if len(text) > max_chars:
        return f"{len(text):,} characters, above the cap of {max_chars:,}"
    if "\ufffd" in text:
        return "undecodable bytes (U+FFFD replacement characters)"
    if re.search(r"[\ud800-\udfff]", text):
        return "invalid unicode (lone surrogates)"
    if "\x00" in text:
        return "NUL bytes"
    allowed = "\t" if one_line else "\t\n\r"
    # control characters (category Cc) only: a no-break space or a zero-width joiner is real page/command text
    bad = next((c for c in text if (c < " " or "\x7f" <= c <= "\x9f") and c not in allowed), None)
    if bad is not None:
        return "line breaks in a one-line item" if bad in "\n\r" else f"control character {bad!r}"
    return None


_STARTERS = frozenset(
    [
        "here",
        "this",
        "sure",
        "the",
        "i",
        "you",
        "note",
        "certainly",
        "below",
        "as",
        "it",
        "a",
        "an",
        "to",
        "in",
        "that",
        "these",
        "we",
        "my",
        "sorry",
        "unfortunately",
        "new",
        "command",
        "example",
        "output",
        "answer",
    ]
)


#: words a small LLM writes where the program should be: the labels and the prompt's own words.
_NOT_PROGRAMS = frozenset({"benign", "malicious", "phishing", "label", "data", "seed", "variation", "safe", "harmless"})


def check_cmdline(text: Any, *, max_chars: int = MAX_CHARS["cmdline"]) -> str | None:
    """Why ``text`` is not a plausible command line, or ``None``.

    It must be printable (line breaks allowed: the data holds multi-line commands), tokenise (POSIX
    ``shlex`` or Windows rules: balanced double quotes), start with a program name, and not be prose
    ("Here is a new command that...").
    """
    problem = _text_problem(text, max_chars, one_line=False)
    if problem:
        return problem
    try:
        shlex.split(text, posix=True)
    except ValueError:
        if text.count('"') % 2:
            return "does not tokenise (unbalanced quotes)"
    binary = binary_of(text)
    if not binary or not re.fullmatch(r"[\w.+~$@{}\[\]-]{1,80}", binary):
        return f"no program name at the start ({text.split()[0][:40]!r})"
    if binary in _NOT_PROGRAMS:
        return f"starts with {binary!r}, a label or prompt word, not a program"
    words = text.split()
    if binary not in KNOWN_BINARIES:
        first = words[0].strip(",.:!?\"'").lower()
        if first in _STARTERS or binary in _STARTERS:
            return f"prose, not a command ({' '.join(words[:6])[:60]!r})"
        plain = [w for w in words if re.fullmatch(r"[A-Za-z]+[,.!?:;]?", w)]
        if len(words) >= 5 and len(plain) >= 0.8 * len(words) and not any(w[:1] in "-/" for w in words[1:]):
            return f"prose, not a command ({' '.join(words[:6])[:60]!r})"
    return None


_HOST = re.compile(r"(?:[\w-]{1,63}\.)+[^\W\d_]{2,63}|(?:\d{1,3}\.){3}\d{1,3}|localhost", re.I)
_WEB_SCHEMES = frozenset({"", "http", "https", "hxxp", "hxxps", "ftp", "ftps", "ws", "wss"})


def check_url(text: Any, *, max_chars: int = MAX_CHARS["url"]) -> str | None:
    """Why ``text`` is not a URL, or ``None``.

    Accepted: a scheme plus host, or a bare ``host/path`` as the URL lists write them (the form
    :func:`~distilsec.data.url_normalise.normalise_url` gives); the host must be a domain with an
    alphabetic TLD, an IPv4 address, ``localhost`` or an IPv6 literal, and a port must be a number.
    """
    problem = _text_problem(text, max_chars, one_line=True)
    if problem:
        return problem
    if re.search(r"\s", text.strip()):
        return "contains whitespace"
    norm = normalise_url(text.strip())
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", norm)
    scheme = m.group(1).lower() if m else ""
    rest = norm[m.end() :] if m else norm
    if scheme not in _WEB_SCHEMES:
        return None if rest else "nothing after the scheme"
    try:
        parts = urlsplit("http://" + rest)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        return f"does not parse as a URL ({exc})"
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        return None if re.fullmatch(r"\[[0-9A-Fa-f:.]+\](?::\d+)?", hostport) else f"bad IPv6 host ({hostport[:60]!r})"
    host = hostport.split(":", 1)[0]
    if not host or not _HOST.fullmatch(host):
        return f"no valid host ({host[:60]!r})"
    return None


def check_html(text: Any, *, max_chars: int = MAX_CHARS["html"]) -> str | None:
    """Why ``text`` is not an HTML page, or ``None``: it must be below the size cap, parse with the
    stdlib parser (:func:`~distilsec.methods.synthesize.html_tree.parse_html`) and hold HTML elements."""
    problem = _text_problem(text, max_chars, one_line=False)
    if problem:
        return problem
    try:
        root = parse_html(text, max_chars=max_chars)
    except DataError as exc:
        return str(exc)
    elements = [el for el in iter_elements(root) if el is not root]
    if not elements:
        return "no HTML elements (plain text)"
    if len(_visible(root)) + sum(len(el.attrs) for el in elements) == 0:
        return "no content (elements without text or attributes)"
    return None


def _visible(root: Element) -> str:
    return root.text()


def check_parse(text: Any, task: str, *, max_chars: int | None = None) -> str | None:
    """The task's parse check (see :func:`check_cmdline`, :func:`check_url`, :func:`check_html`)."""
    cap = max_chars if max_chars is not None else MAX_CHARS.get(task, 100_000)
    if task == "cmdline":
        return check_cmdline(text, max_chars=cap)
    if task == "url":
        return check_url(text, max_chars=cap)
    if task == "html":
        return check_html(text, max_chars=cap)
    return _text_problem(text, cap, one_line=False)


# ---- novelty ----
#: LSH candidate threshold cap: above it the banding degenerates (one band of 64 rows at 1.0), so the
#: index is built for this threshold (more candidates) and the exact Jaccard decides.
_MAX_LSH_THRESHOLD = 0.95


def _lsh(threshold: float, num_perm: int) -> Any:
    from datasketch import MinHashLSH

    return MinHashLSH(num_perm=num_perm, params=_lsh_params(min(threshold, _MAX_LSH_THRESHOLD), num_perm))


def find_near_duplicates(
    texts: Sequence[str],
    reference: Sequence[str],
    *,
    threshold: float = 0.9,
    cache: ShingleCache | None = None,
) -> dict[int, tuple[int, float]]:
    """Index of each text with a near-copy in ``reference`` -> (reference index, Jaccard).

    MinHash LSH candidates (the curation's banding, tuned for 99% recall) confirmed with the exact
    Jaccard; see :func:`exact_near_copies` for the exact audit.
    """
    if not texts or not reference:
        return {}
    cache = cache or ShingleCache(num_perm=64)
    ref_sets = cache.sets(list(reference))
    lsh = _lsh(threshold, cache.num_perm)
    for j, mh in enumerate(cache.minhashes(list(reference))):
        lsh.insert(j, mh, check_duplication=False)
    q_sets = cache.sets(list(texts))
    out: dict[int, tuple[int, float]] = {}
    for i, mh in enumerate(cache.minhashes(list(texts))):
        best = max(((jaccard(q_sets[i], ref_sets[j]), j) for j in lsh.query(mh)), default=(0.0, -1))
        if best[0] >= threshold:
            out[i] = (best[1], best[0])
    return out


def dedup_generated(
    texts: Sequence[str], labels: Sequence[Any], *, threshold: float = 0.9, cache: ShingleCache | None = None
) -> dict[int, int]:
    """Near-duplicates among the generated texts themselves: dropped index -> the kept index it copies
    (greedy star clustering, first one kept, same label only, as in curation)."""
    if not texts:
        return {}
    cache = cache or ShingleCache(num_perm=64)
    sets, mhs = cache.sets(list(texts)), cache.minhashes(list(texts))
    lsh = _lsh(threshold, cache.num_perm)
    dropped: dict[int, int] = {}
    for i in range(len(texts)):
        dup = next(
            (j for j in sorted(lsh.query(mhs[i])) if labels[j] == labels[i] and jaccard(sets[i], sets[j]) >= threshold),
            None,
        )
        if dup is None:
            lsh.insert(i, mhs[i], check_duplication=False)
        else:
            dropped[i] = dup
    return dropped


def exact_near_copies(
    texts: Sequence[str],
    reference: Sequence[str],
    *,
    threshold: float = 0.9,
    cache: ShingleCache | None = None,
) -> dict[int, tuple[int, float]]:
    """Exact set-similarity join: every text with a reference text at Jaccard >= ``threshold``.

    Prefix filtering: with shingles sorted rarest first, two sets at Jaccard >= t must share a shingle
    within their first ``|s| - ceil(t*|s|) + 1`` shingles, so only the reference texts sharing a
    prefix shingle are compared, and none is missed.
    """
    if not texts or not reference:
        return {}
    cache = cache or ShingleCache(num_perm=64)
    ref_sets = cache.sets(list(reference))
    q_sets = cache.sets(list(texts))
    freq: dict[bytes, int] = defaultdict(int)
    for s in ref_sets:
        for tok in s:
            freq[tok] += 1

    def prefix(s: set[bytes]) -> list[bytes]:
        k = len(s) - math.ceil(threshold * len(s) - 1e-9) + 1
        return sorted(s, key=lambda tok: (freq.get(tok, 0), tok))[: max(k, 1)]

    index: dict[bytes, list[int]] = defaultdict(list)
    for j, s in enumerate(ref_sets):
        for tok in prefix(s):
            index[tok].append(j)
    out: dict[int, tuple[int, float]] = {}
    for i, s in enumerate(q_sets):
        cands = {j for tok in prefix(s) for j in index.get(tok, ())}
        best = max(((jaccard(s, ref_sets[j]), j) for j in cands), default=(0.0, -1))
        if best[0] >= threshold:
            out[i] = (best[1], best[0])
    return out


def near_duplicate_share(
    texts: Sequence[str], reference: Sequence[str], *, threshold: float = 0.9, cache: ShingleCache | None = None
) -> float:
    """Share of ``texts`` with a near-copy in ``reference`` (exact; 0.0 for no texts)."""
    if not texts:
        return 0.0
    return len(exact_near_copies(texts, reference, threshold=threshold, cache=cache)) / len(texts)


# ---- label agreement ----
def judge_agreement(
    judge: Any,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    threshold: float = 0.5,
    batch_size: int = 256,
) -> list[tuple[str | None, str]]:
    """Per text: ``(None, detail)`` when the judge gives its intended label at least ``threshold``
    probability, else ``(reason, detail)`` with reason ``"judge_disagrees"`` or ``"judge_error"``.

    ``judge`` is any fitted model with ``predict_proba`` and ``classes_`` (the LLM teacher, the encoder
    teacher, a student bundle). A batch the judge fails on (an endpoint that times out, a model that
    raises) is rejected as ``judge_error`` with the error message; the other batches still count.
    """
    classes = [str(c) for c in getattr(judge, "classes_", [])]
    out: list[tuple[str | None, str]] = []
    for start in range(0, len(texts), max(1, batch_size)):
        batch = list(texts[start : start + batch_size])
        blabels = list(labels[start : start + batch_size])
        try:
            proba = np.asarray(judge.predict_proba(batch), dtype=np.float64)
            if proba.shape != (len(batch), len(classes)) or not np.isfinite(proba).all():
                raise DataError(f"judge returned probabilities of shape {proba.shape} for {len(batch)} texts")
        except Exception as exc:  # any failure of the judge is a counted rejection, never a lost run
            msg = f"{type(exc).__name__}: {str(exc)[:200]}"
            out.extend(("judge_error", msg) for _ in batch)
            continue
        for row, lab in zip(proba, blabels, strict=True):
            if str(lab) not in classes:
                out.append(("judge_error", f"label {lab!r} is not one of the judge's classes {classes}"))
                continue
            p = float(row[classes.index(str(lab))])
            out.append((None if p >= threshold else "judge_disagrees", f"p({lab})={p:.3f}"))
    return out
