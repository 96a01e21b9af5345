"""Open-book retrieval: a BM25 index over knowledge passages, with exact-ID routing, cached on disk.

An analyst's question often names the entity outright ("mitigations for T1548.002?", "what is CWE-79?"). A
bag-of-words ranker scores such a question by its common words as much as by the ID, so an exact ID is
*routed*: every passage about an entity named in the question comes first, then BM25 fills the rest.

Notes
-----
* The tokenizer is stemmer-free and keeps ATT&CK / CWE / CAPEC / CVE IDs whole (``t1548.002``, ``cwe-79``,
  ``cve-2021-44228``): a default word tokenizer would split them into ``t1548`` + ``002`` or drop ``79``.
  A sub-technique ID also yields its parent's ID, so a question about T1548.002 reaches T1548's passages.
* The index (``bm25s``) is built once and saved under ``$DISTILSEC_CACHE/retrieval/<fingerprint>`` (else
  ``~/.cache/distilsec``); the fingerprint hashes every passage's fields, so a data change rebuilds it.
  Nothing is pickled: the score matrix is ``.npy`` loaded with ``allow_pickle=False``, the vocabulary and
  parameters JSON, the passages JSONL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from distilsec.data.knowledge.passage import Passage
from distilsec.errors import ConfigError, DataError

__all__ = [
    "BM25Index",
    "tokenize",
    "find_ids",
    "excerpt",
    "query_weights",
    "fingerprint",
    "load_or_build",
    "index_for_data",
    "data_stamp",
    "retrieval_cache_dir",
]

log = logging.getLogger("distilsec.retrieval")

#: bump when the tokenizer or the document text changes: it is part of the cache key.
INDEX_VERSION = "bm25.v1"

_ID = r"(?:t\d{4}(?:\.\d{3})?|(?:cwe|capec)-\d+|cve-\d{4}-\d{4,}|(?:m|g|s|c|ta|dc|ds|de)\d{4})"
_TOKEN = re.compile(rf"(?<![\w.-]){_ID}(?![\w-])|[a-z0-9]+", re.IGNORECASE)
_ID_ONLY = re.compile(rf"(?<![\w.-]){_ID}(?![\w-])", re.IGNORECASE)
_STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
    }
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; entity IDs kept whole (a sub-technique also gives its parent ID)."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0).lower()
        if tok in _STOP or (len(tok) < 2 and not tok.isdigit()):
            continue
        out.append(tok)
        if tok.startswith("t") and "." in tok:
            out.append(tok.split(".", 1)[0])
    return out


def find_ids(text: str) -> list[str]:
    """Entity IDs named in ``text``, upper-cased, in order of first mention (``["T1548.002", "CWE-79"]``)."""
    seen: dict[str, None] = {}
    for m in _ID_ONLY.finditer(text):
        seen.setdefault(m.group(0).upper(), None)
    return list(seen)


_SENTENCE_END = re.compile(r"[.!?;:](?=\s)")


def _cut_words(text: str, start: int, max_chars: int) -> int:
    """End of the longest run of whole words of ``text[start:]`` within ``max_chars`` (a word longer: cut)."""
    end = start + max_chars
    if end >= len(text):
        return len(text)
    if text[end] == " ":
        return end
    space = text.rfind(" ", start, end)
    return space if space > start else end


def _stem(term: str) -> str:
    """A crude stem for matching a window's words with the query's (``tactic`` ~ ``tactics``): 6 letters."""
    return term[:6] if term.isalpha() else term


def excerpt(
    text: str, query: str, max_chars: int, weights: Mapping[str, float] | None = None, *, known: str = ""
) -> str:
    """The ``max_chars`` window of ``text`` that best matches ``query``, starting at a sentence where possible.

    Candidate windows start at the text's start and at every sentence start (within a sentence longer than
    ``max_chars`` also every ``max_chars // 2`` characters, at a word), and run up to ``max_chars`` characters
    of whole words. A window scores the summed ``weights`` (default 1 each; the index's IDF from
    :meth:`BM25Index.term_weights`) of the distinct :func:`tokenize` terms of ``query`` it contains (matched on
    their first 6 letters, so ``tactic`` finds ``Tactics``), leaving out the terms of ``known`` (what the
    reader sees anyway, e.g. the passage's title). The best window wins, ties to the earliest, so a passage
    whose query terms are all near its start gives its head (what cutting the first ``max_chars`` characters
    gives). ``" ..."`` marks text left out at either end.
    """
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    w: dict[str, float] = {}
    for t in tokenize(query):
        v = 1.0 if weights is None else float(weights.get(t, 0.0))
        w[_stem(t)] = max(w.get(_stem(t), 0.0), v)
    for t in tokenize(known):
        w.pop(_stem(t), None)
    w = {t: v for t, v in w.items() if v > 0}
    starts = [0] + [m.end() + 1 for m in _SENTENCE_END.finditer(text) if m.end() + 1 < len(text)]
    step = max(max_chars // 2, 1)
    filled: list[int] = []
    for a, b in zip(starts, [*starts[1:], len(text)], strict=True):
        filled.append(a)
        pos = a + step
        while b - a > max_chars and pos < b:
            space = text.find(" ", pos, b)
            if space < 0:
                break
            filled.append(space + 1)
            pos = space + 1 + step
    best = (-1.0, 0, _cut_words(text, 0, max_chars))
    if w:
        for s in filled:
            e = _cut_words(text, s, max_chars)
            score = sum(w.get(t, 0.0) for t in {_stem(t) for t in tokenize(text[s:e])})
            if score > best[0]:
                best = (score, s, e)
            if e >= len(text):
                break  # later starts only lose text
    _, s, e = best
    return ("... " if s > 0 else "") + text[s:e].strip() + (" ..." if e < len(text) else "")


def query_weights(index: Any, query: str) -> dict[str, float] | None:
    """The index's IDF of ``query``'s terms (:meth:`BM25Index.term_weights`), or None for an index without it
    (then :func:`excerpt` weighs every term 1)."""
    term_weights = getattr(index, "term_weights", None)
    return term_weights(query) if callable(term_weights) else None


def _doc_text(p: Passage) -> str:
    return f"{p.entity} {p.title}\n{p.text}"


def fingerprint(passages: Sequence[Passage]) -> str:
    """SHA-256 over every passage's fields and the index version: equal iff the index would be equal."""
    h = hashlib.sha256(INDEX_VERSION.encode())
    for p in passages:
        h.update(json.dumps(asdict(p), ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def retrieval_cache_dir() -> Path:
    """``$DISTILSEC_CACHE/retrieval``, else ``~/.cache/distilsec/retrieval`` (as the model cache)."""
    root = os.environ.get("DISTILSEC_CACHE") or Path.home() / ".cache" / "distilsec"
    return Path(root) / "retrieval"


def _require_bm25s() -> Any:
    try:
        import bm25s
    except ImportError:
        raise ConfigError(
            "open-book retrieval needs bm25s: install the 'assistant' extra (pip install -e '.[assistant]')"
        ) from None
    return bm25s


class BM25Index:
    """Passages and their BM25 index; :meth:`search` returns ``(passage, score)`` pairs, best first.

    Routed (exact-ID) hits get a score above every BM25 score, so callers can sort on score alone.
    """

    def __init__(self, passages: Sequence[Passage], bm25: Any, fp: str) -> None:
        self.passages = list(passages)
        self.bm25 = bm25
        self.fingerprint = fp
        self._by_entity: dict[str, list[int]] = {}
        for i, p in enumerate(self.passages):
            for key in {p.entity.upper(), p.id.split("#", 1)[0].upper()}:
                self._by_entity.setdefault(key, []).append(i)
        self.by_id = {p.id: p for p in self.passages}

    @classmethod
    def build(cls, passages: Sequence[Passage]) -> BM25Index:
        """Index ``passages`` in memory (a few seconds for tens of thousands of passages)."""
        if not passages:
            raise DataError("no passages to index: the knowledge data gave none")
        bm25s = _require_bm25s()
        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG
        bm25 = bm25s.BM25()
        bm25.index([tokenize(_doc_text(p)) or [""] for p in passages], show_progress=False)
        return cls(passages, bm25, fingerprint(passages))

    def save(self, folder: str | Path) -> Path:
        """Write the index (npy + JSON) and the passages (JSONL) into ``folder``; no pickle anywhere."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(out), corpus=None, allow_pickle=False, show_progress=False)
        with open(out / "passages.jsonl", "w", encoding="utf-8") as f:
            for p in self.passages:
                f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
        (out / "fingerprint.txt").write_text(self.fingerprint + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> BM25Index:
        """Read an index written by :meth:`save` (arrays loaded with ``allow_pickle=False``)."""
        bm25s = _require_bm25s()
        src = Path(folder)
        try:
            fp = (src / "fingerprint.txt").read_text(encoding="utf-8").strip()
            with open(src / "passages.jsonl", encoding="utf-8") as f:
                passages = [Passage(**json.loads(line)) for line in f if line.strip()]
            bm25 = bm25s.BM25.load(str(src), load_corpus=False, allow_pickle=False)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise DataError(f"retrieval index {src} is unreadable ({exc}); delete it to rebuild") from None
        return cls(passages, bm25, fp)

    def _bm25_scores(self, query: str) -> Any:
        import numpy as np

        vocab = self.bm25.vocab_dict
        toks = [t for t in tokenize(query) if t in vocab]
        if not toks:
            return np.zeros(len(self.passages), dtype=np.float32)
        return self.bm25.get_scores(toks)

    def term_weights(self, query: str) -> dict[str, float]:
        """BM25's IDF of each :func:`tokenize` term of ``query`` over the indexed passages (unseen terms: highest).

        Read from the score matrix (columns are terms, so a term's document frequency is its column's
        length): no pass over the passages.
        """
        scores = getattr(self.bm25, "scores", None) or {}
        indptr = scores.get("indptr")
        n = len(self.passages)
        vocab = getattr(self.bm25, "vocab_dict", None) or {}
        out: dict[str, float] = {}
        for t in tokenize(query):
            i = vocab.get(t)
            df = int(indptr[i + 1] - indptr[i]) if i is not None and indptr is not None else 0
            out[t] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return out

    def search(self, query: str, k: int = 4, *, main_first: bool = False) -> list[tuple[Passage, float]]:
        """The ``k`` best passages for ``query``: those about an entity it names first, then by BM25.

        Among a named entity's passages, a part the query names (``mitigations`` -> ``T1548#mitigations``)
        comes first, then by BM25; with ``main_first`` the entity's own passage (its definition: name,
        tactics, description) comes before its other parts, so a short top-k holds it.
        """
        if k <= 0:
            return []
        scores = self._bm25_scores(query)
        top = float(scores.max()) if len(scores) else 0.0
        routed: list[int] = []
        stems = {t[:6] for t in tokenize(query) if len(t) >= 6}

        def rank(i: int) -> tuple[bool, bool, float]:
            # a part named in the question ("mitigations" -> T1548#mitigations) before the entity's others
            part = self.passages[i].id.partition("#")[2]
            named = bool(part) and part[:6].lower() in stems
            return (not named, main_first and bool(part), -float(scores[i]))

        for ent in find_ids(query):
            hits = sorted(self._by_entity.get(ent, []), key=rank)
            routed.extend(i for i in hits if i not in routed)
        out: list[tuple[Passage, float]] = []
        for rank, i in enumerate(routed[:k]):
            out.append((self.passages[i], top + 1.0 + (len(routed) - rank)))
        if len(out) < k:
            taken = set(routed)
            order = scores.argsort()[::-1]
            for i in order:
                if len(out) >= k or scores[i] <= 0:
                    break
                if int(i) not in taken:
                    out.append((self.passages[int(i)], float(scores[i])))
        return out


def load_or_build(passages: Sequence[Passage], cache: str | Path | None = None) -> BM25Index:
    """The index of ``passages`` from the on-disk cache, built and saved there first when missing or stale.

    The cache key is :func:`fingerprint`, so changed data gets a new folder; the folder is written under a
    temporary name and renamed, so a killed build never leaves a half index under the final name.
    """
    fp = fingerprint(passages)
    root = Path(cache) if cache is not None else retrieval_cache_dir()
    folder = root / fp[:24]
    cached = _cached_index(folder, fp)
    if cached is not None:
        return BM25Index(passages, cached.bm25, fp)
    log.info("building the retrieval index of %d passages into %s", len(passages), folder)
    index = BM25Index.build(passages)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{fp[:12]}-", dir=root))
    try:
        index.save(tmp)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError as exc:  # a read-only cache costs a rebuild next time, not the answer
        log.warning("could not cache the retrieval index in %s: %s", folder, exc)
        shutil.rmtree(tmp, ignore_errors=True)
    return index


def _cached_index(folder: Path, fp: str) -> BM25Index | None:
    """The index saved in ``folder`` when it is there, readable and of fingerprint ``fp``; else None."""
    if not (folder / "fingerprint.txt").is_file():
        return None
    try:
        index = BM25Index.load(folder)
    except DataError as exc:
        log.warning("%s: rebuilding", exc)
        return None
    return index if index.fingerprint == fp else None


def data_stamp(data_dir: str | Path, parts: Sequence[str] = ("attack", "cwe", "capec", "cve")) -> str:
    """SHA-256 of every file's relative path, size and modification time under ``data_dir/<part>``.

    Cheap (no file is read), so a cached index is found without re-reading the knowledge (seconds).
    """
    root = Path(data_dir)
    h = hashlib.sha256(INDEX_VERSION.encode())
    for part in parts:
        base = root / part
        if not base.exists():
            continue
        for f in sorted(base.rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def index_for_data(
    data_dir: str | Path, loader: Callable[[Path], Sequence[Passage]], cache: str | Path | None = None
) -> BM25Index:
    """The index of the passages ``loader(data_dir)`` gives, without calling it when the files are unchanged.

    The data files' :func:`data_stamp` points at the passages' fingerprint (``stamps/<stamp>``); when both
    the stamp and the index are cached the index is read from disk alone. Otherwise the passages are read,
    :func:`load_or_build` finds or builds the index, and the stamp is recorded.
    """
    root = Path(cache) if cache is not None else retrieval_cache_dir()
    stamp = data_stamp(data_dir)
    stamp_file = root / "stamps" / stamp[:24]
    if stamp_file.is_file():
        fp = stamp_file.read_text(encoding="utf-8").strip()
        folder = root / fp[:24]
        cached = _cached_index(folder, fp)
        if cached is not None:
            return cached
    index = load_or_build(loader(Path(data_dir)), root)
    try:
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(index.fingerprint + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("could not record the data stamp in %s: %s", stamp_file, exc)
    return index
