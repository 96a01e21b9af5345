"""The teacher-call ledger: every teacher answer stored on disk, keyed by model + prompt template + input.

Teacher calls are the expensive part of labelling (an LLM on a CPU answers a few times per second),
so each answer is written to SQLite the moment it arrives. A re-run reads answers back instead of
calling again, two runs with the same teacher share them, and a job killed at any point loses at most
the one call that was in flight (distilabel's cache-by-signature idea, one row per input).

Notes
-----
* The key is ``(model, template, input_sha256)``. ``model`` identifies the weights (the GGUF SHA-256,
  an endpoint URL + model name, or a hash of fitted weights); ``template`` identifies everything else
  that shapes the answer (prompt text, few-shot examples, label words, generation settings). Batch size,
  threads and device are left out on purpose: they do not change what the teacher says.
* Answers are raw (label-word log-probabilities, logits), never calibrated probabilities: calibration
  is refitted cheaply, a call is not.
* SQLite runs in WAL mode with one commit per answer, so a reader (e.g. a progress monitor or a second
  labelling process) never blocks the writer, and a killed process leaves a consistent database.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilsec.errors import DataError

__all__ = ["TeacherLedger", "LedgerEntry", "input_key", "default_ledger_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    model TEXT NOT NULL,
    template TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    answer TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    PRIMARY KEY (model, template, input_sha256)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS templates (
    template TEXT PRIMARY KEY,
    description TEXT NOT NULL
) WITHOUT ROWID;
"""


def input_key(text: str) -> str:
    """SHA-256 of the exact input text (surrogates kept), the per-row part of the ledger key."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def default_ledger_path() -> Path:
    """``$DISTILSEC_CACHE/teacher/ledger.sqlite``, else ``~/.cache/distilsec/teacher/ledger.sqlite``."""
    import os

    root = os.environ.get("DISTILSEC_CACHE") or Path.home() / ".cache" / "distilsec"
    return Path(root) / "teacher" / "ledger.sqlite"


@dataclass(frozen=True)
class LedgerEntry:
    """One stored teacher answer and what it cost."""

    answer: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class TeacherLedger:
    """SQLite store of teacher answers (see the module docstring for the keying rules).

    Parameters
    ----------
    path : the database file (created with its folder when missing).

    Examples
    --------
    >>> import tempfile, os
    >>> led = TeacherLedger(os.path.join(tempfile.mkdtemp(), "l.sqlite"))
    >>> led.put("m", "t", "git status", {"logprobs": [-0.1, -2.3]}, seconds=0.2)
    >>> led.get_many("m", "t", ["git status", "ls"])["git status"].answer
    {'logprobs': [-0.1, -2.3]}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self.path} is not a usable teacher ledger: {exc}") from None

    # ---- writing ----
    def describe_template(self, template: str, description: dict[str, Any]) -> None:
        """Record what a template id stands for (prompt text, shots...), so the ledger can be audited."""
        self._db.execute(
            "INSERT OR IGNORE INTO templates (template, description) VALUES (?, ?)",
            (template, json.dumps(description, sort_keys=True, default=str)),
        )

    def put(
        self,
        model: str,
        template: str,
        text: str,
        answer: dict[str, Any],
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        seconds: float = 0.0,
    ) -> None:
        """Store one answer and commit at once (a later kill cannot lose it)."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                model,
                template,
                input_key(text),
                json.dumps(answer, separators=(",", ":")),
                int(prompt_tokens),
                int(completion_tokens),
                float(seconds),
                time.time(),
            ),
        )

    def put_many(self, model: str, template: str, rows: Sequence[tuple[str, dict[str, Any], int, int, float]]) -> None:
        """Store ``(text, answer, prompt_tokens, completion_tokens, seconds)`` rows in one transaction.

        For batched teachers (an encoder scores 64 texts per forward pass): the batch is stored whole
        or not at all, so a kill loses at most the batch in flight.
        """
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        model,
                        template,
                        input_key(t),
                        json.dumps(a, separators=(",", ":")),
                        int(pt),
                        int(ct),
                        float(s),
                        now,
                    )
                    for t, a, pt, ct, s in rows
                ],
            )

    # ---- reading ----
    def get_many(self, model: str, template: str, texts: Iterable[str]) -> dict[str, LedgerEntry]:
        """Stored answers for those of ``texts`` that have one (text -> entry)."""
        by_key: dict[str, str] = {}
        for t in texts:
            by_key.setdefault(input_key(t), t)
        out: dict[str, LedgerEntry] = {}
        keys = list(by_key)
        for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT input_sha256, answer, prompt_tokens, completion_tokens, seconds FROM answers "
                f"WHERE model = ? AND template = ? AND input_sha256 IN ({marks})",
                (model, template, *chunk),
            )
            for key, answer, pt, ct, sec in rows:
                out[by_key[key]] = LedgerEntry(json.loads(answer), pt, ct, sec)
        return out

    def count(self, model: str | None = None, template: str | None = None) -> int:
        """Number of stored answers, optionally for one model and template."""
        sql, args = _where(model, template)
        return int(self._db.execute(f"SELECT COUNT(*) FROM answers{sql}", args).fetchone()[0])

    def cost(self, model: str | None = None, template: str | None = None) -> dict[str, float]:
        """What the stored answers cost when they were made: calls, tokens and seconds."""
        sql, args = _where(model, template)
        n, pt, ct, sec = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
            f"COALESCE(SUM(seconds), 0) FROM answers{sql}",
            args,
        ).fetchone()
        return {"calls": int(n), "prompt_tokens": int(pt), "completion_tokens": int(ct), "seconds": float(sec)}

    def seconds_per_call(self, model: str, template: str | None = None) -> float | None:
        """Mean measured seconds per call for this model (and template), ``None`` with no history."""
        c = self.cost(model, template) if template else self.cost(model)
        return c["seconds"] / c["calls"] if c["calls"] else None

    def iter_answers(self, model: str, template: str) -> Iterator[tuple[str, LedgerEntry]]:
        """All ``(input_sha256, entry)`` rows of one model and template."""
        rows = self._db.execute(
            "SELECT input_sha256, answer, prompt_tokens, completion_tokens, seconds FROM answers "
            "WHERE model = ? AND template = ?",
            (model, template),
        )
        for key, answer, pt, ct, sec in rows:
            yield key, LedgerEntry(json.loads(answer), pt, ct, sec)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TeacherLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _where(model: str | None, template: str | None) -> tuple[str, Sequence[str]]:
    conds, args = [], []
    if model is not None:
        conds.append("model = ?")
        args.append(model)
    if template is not None:
        conds.append("template = ?")
        args.append(template)
    return (" WHERE " + " AND ".join(conds) if conds else ""), args
