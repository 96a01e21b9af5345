"""The analyst label ledger: every review decision, appended to one JSONL file, never rewritten.

Why a ledger rather than a table of current labels: a label that decides what a detector learns must be
auditable (who changed it, when, from what, and why) and reversible (an undo is a new line that cancels an
old one, so the history stays). The current labels are a *replay* of the lines (:meth:`LabelLedger.state`).

Durability and concurrency (two browser tabs, the web page and a ``review-import`` at once):

* every append takes an exclusive ``fcntl`` lock on the file, re-reads what others appended meanwhile,
  checks the caller's view is still current (:class:`LedgerConflict` otherwise: no silent lost update),
  writes the whole line in one ``write`` and ``fsync``s it before returning; a decision acknowledged to a
  user is on disk;
* each line carries the hash of the line before it and its own (a hash chain): a hand-edited, deleted or
  reordered line is found on the next read (:class:`~distilsec.errors.DataError` naming the line);
* a last line without its newline is a write torn by a crash: it was never acknowledged, so it is ignored
  when read and cut off by the next append.

This module is pure data (the :mod:`distilsec.data` layer): the web page, the importers and the pipeline's
``run --labels`` all read and write decisions through it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from distilsec.errors import DataError, DistilsecError

__all__ = [
    "ACTIONS",
    "Decision",
    "LabelLedger",
    "LedgerConflict",
    "LedgerEntry",
    "LedgerState",
    "check_analyst_name",
]

log = logging.getLogger("distilsec.data.label_ledger")

#: ``label`` sets an item's label; ``skip`` passes it over; ``note`` comments without deciding; ``undo``
#: cancels an earlier line (its ``undo_of``).
ACTIONS = ("label", "skip", "note", "undo")
Action = Literal["label", "skip", "note", "undo"]
#: the format of a line; a reader refuses lines of a newer format instead of misreading them.
VERSION = 1
#: the ``prev`` of the first line.
GENESIS = "0" * 64
#: bounds that keep one line small whatever a client sends (the web page bounds its bodies too).
MAX_NOTE_CHARS = 2000
MAX_NAME_CHARS = 64
MAX_FIELD_CHARS = 512

_KEYS = {
    "v", "seq", "id", "at", "who", "action", "item", "split", "old", "new", "note", "undo_of", "source", "ext",
    "prev", "hash",
}  # fmt: skip


class LedgerConflict(DistilsecError):
    """The item changed since the caller looked at it (another tab or analyst decided meanwhile).

    ``current`` is the item's decision now (None: undecided), so the caller can show it instead of
    overwriting it blindly.
    """

    def __init__(self, message: str, current: Decision | None) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the ledger. ``old`` is the item's label (analyst's, else original) when it was written."""

    seq: int
    id: str
    at: str
    who: str
    action: str
    item: str
    split: str | None
    old: str | None
    new: str | None
    note: str
    undo_of: str | None
    source: str
    ext: str | None
    prev: str
    hash: str
    v: int = VERSION

    def as_json(self) -> str:
        return _canonical(asdict(self))


@dataclass(frozen=True)
class Decision:
    """An item's current analyst label: the latest ``label`` line for it that no ``undo`` cancelled."""

    item: str
    label: str
    who: str
    at: str
    note: str
    entry: str
    split: str | None
    source: str


@dataclass
class LedgerState:
    """The replay of a ledger: current decisions, skips, notes and which lines were undone."""

    entries: list[LedgerEntry] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)
    #: item -> analysts who skipped it (a later label or an undo of the skip clears it)
    skipped: dict[str, set[str]] = field(default_factory=dict)
    undone: set[str] = field(default_factory=set)
    by_item: dict[str, list[LedgerEntry]] = field(default_factory=dict)
    #: external ids already imported (``labelstudio:task/annotation``): a re-import skips them
    ext_ids: set[str] = field(default_factory=set)

    def labels(self) -> dict[str, str]:
        """item id -> analyst label, for every item with a current decision."""
        return {item: d.label for item, d in self.decisions.items()}

    def history(self, item: str) -> list[LedgerEntry]:
        return list(self.by_item.get(item, []))

    def last_undoable(self, who: str | None = None) -> LedgerEntry | None:
        """The latest label/skip/note line not undone yet (by ``who`` when given): what "undo" cancels."""
        for e in reversed(self.entries):
            if e.action != "undo" and e.id not in self.undone and (who is None or e.who == who):
                return e
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _canonical(obj: dict[str, Any]) -> str:
    """The one serialisation that is hashed and written: sorted keys, no spaces, non-ASCII escaped."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _digest(obj: dict[str, Any]) -> str:
    body = {k: v for k, v in obj.items() if k != "hash"}
    return hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


def check_analyst_name(who: str) -> str:
    """An analyst name: 1-64 printable characters (it is shown in pages and written to audit lines)."""
    who = (who or "").strip()
    if not who or len(who) > MAX_NAME_CHARS or any(unicodedata.category(c)[0] == "C" for c in who):
        raise DataError(f"analyst name {who[:80]!r} must be 1-{MAX_NAME_CHARS} printable characters")
    return who


def _check_text(name: str, value: str | None, limit: int = MAX_FIELD_CHARS) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise DataError(f"ledger field {name!r} must be text of at most {limit} characters")
    return value


class LabelLedger:
    """An append-only JSONL ledger of analyst decisions at ``path`` (created on the first append).

    ``original`` maps item id -> the label the data gave it, so that each line records the label it
    replaced (``old``) even for an item's first decision.
    """

    def __init__(self, path: str | Path, original: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.original = dict(original or {})
        self._state = LedgerState()
        self._offset = 0  # bytes of the file replayed into _state
        self._last_hash = GENESIS

    # ------------------------------------------------------------------ reading

    def state(self) -> LedgerState:
        """The replayed ledger, with whatever other processes appended since the last call."""
        if self.path.exists():
            import fcntl

            with open(self.path, "rb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # never read a line while a writer writes it
                try:
                    self._catch_up(f)
                finally:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return self._state

    def entries(self) -> list[LedgerEntry]:
        return list(self.state().entries)

    def _catch_up(self, f: Any) -> None:
        """Replay the bytes appended since the last read (all of them again if the file shrank)."""
        size = os.fstat(f.fileno()).st_size
        if size < self._offset:
            self._state, self._offset, self._last_hash = LedgerState(), 0, GENESIS
        f.seek(self._offset)
        data = f.read()
        end = data.rfind(b"\n") + 1  # a tail without its newline is a torn write: never acknowledged
        if end < len(data):
            log.warning(
                "%s: ignoring an unfinished last line (%d bytes, a write cut short)", self.path, len(data) - end
            )
        line_no = self._state.entries[-1].seq if self._state.entries else 0
        for raw in data[:end].splitlines():
            line_no += 1
            if not raw.strip():
                raise DataError(f"{self.path} line {line_no}: empty line in the ledger: {_RESTORE}")
            entry = self._parse(raw, line_no)
            self._apply(entry, line_no)
        self._offset += end

    def _parse(self, raw: bytes, line_no: int) -> LedgerEntry:
        where = f"{self.path} line {line_no}"
        try:
            obj = json.loads(raw.decode("ascii"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DataError(f"{where} is not a ledger line (not JSON): {_RESTORE}") from None
        if not isinstance(obj, dict) or set(obj) != _KEYS:
            raise DataError(f"{where}: the line's keys are not the ledger's: {_RESTORE}")
        if obj["v"] != VERSION:
            raise DataError(f"{where}: ledger format v{obj['v']} (this distilsec reads v{VERSION}): upgrade distilsec")
        if obj["hash"] != _digest(obj) or _canonical(obj).encode("ascii") != raw.rstrip(b"\r"):
            raise DataError(f"{where}: the line was changed after it was written (hash mismatch): {_RESTORE}")
        if obj["prev"] != self._last_hash or obj["seq"] != line_no:
            raise DataError(f"{where}: a line before it was removed, added or reordered (chain broken): {_RESTORE}")
        if obj["action"] not in ACTIONS:
            raise DataError(f"{where}: unknown action {obj['action']!r}: {_RESTORE}")
        return LedgerEntry(**obj)

    def _apply(self, e: LedgerEntry, line_no: int) -> None:
        s = self._state
        if e.action == "undo":
            target = next((x for x in s.by_item.get(e.item, []) if x.id == e.undo_of), None)
            if target is None or target.action == "undo" or target.id in s.undone:
                raise DataError(f"{self.path} line {line_no}: undoes {e.undo_of!r}, which it cannot: {_RESTORE}")
            s.undone.add(target.id)
        s.entries.append(e)
        s.by_item.setdefault(e.item, []).append(e)
        if e.ext:
            s.ext_ids.add(e.ext)
        self._last_hash = e.hash
        self._refresh_item(e.item)

    def _refresh_item(self, item: str) -> None:
        """The item's decision and skips from its lines (undone ones left out)."""
        s = self._state
        live = [x for x in s.by_item.get(item, []) if x.id not in s.undone and x.action != "undo"]
        labels = [x for x in live if x.action == "label"]
        if labels:
            x = labels[-1]
            s.decisions[item] = Decision(item, str(x.new), x.who, x.at, x.note, x.id, x.split, x.source)
        else:
            s.decisions.pop(item, None)
        last_label = labels[-1].seq if labels else -1
        skippers = {x.who for x in live if x.action == "skip" and x.seq > last_label}
        if skippers:
            s.skipped[item] = skippers
        else:
            s.skipped.pop(item, None)

    # ------------------------------------------------------------------ writing

    def current_label(self, item: str) -> str | None:
        """The item's label now: the analyst's decision, else the data's original label."""
        d = self._state.decisions.get(item)
        return d.label if d is not None else self.original.get(item)

    def append(
        self,
        action: Action,
        item: str,
        *,
        who: str,
        new: str | None = None,
        note: str = "",
        undo_of: str | None = None,
        split: str | None = None,
        source: str = "review",
        ext: str | None = None,
        expect: str | None = None,
        at: str | None = None,
    ) -> LedgerEntry:
        """Append one decision under the file lock, fsynced before it returns.

        ``expect`` (optional) is the id of the item's decision line the caller saw ("" for none): when the
        item's decision is another one now, :class:`LedgerConflict` is raised and nothing is written.
        ``ext`` is an external annotation id (an import): a second import of the same id is refused the
        same way. ``at`` is when the decision was made (an import's annotation time), default now.
        """
        if action not in ACTIONS:
            raise DataError(f"unknown ledger action {action!r}; one of {', '.join(ACTIONS)}")
        who = check_analyst_name(who)
        if len(note or "") > MAX_NOTE_CHARS:
            raise DataError(f"a note holds at most {MAX_NOTE_CHARS} characters (got {len(note)})")
        for name, value in (("item", item), ("new", new), ("split", split), ("source", source), ("ext", ext)):
            _check_text(name, value)
        if not item:
            raise DataError("a ledger line needs the item's id")
        if action == "label" and not new:
            raise DataError("a label decision needs the new label")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as f:
            self._catch_up(f)
            s = self._state
            current = s.decisions.get(item)
            if expect is not None and (current.entry if current else "") != expect:
                raise LedgerConflict(_changed(item, current), current)
            if ext is not None and ext in s.ext_ids:
                raise LedgerConflict(f"{ext} was imported before", current)
            if action == "undo":
                target = next((x for x in s.by_item.get(item, []) if x.id == undo_of), None)
                if target is None or target.action == "undo":
                    raise DataError(f"nothing to undo: {undo_of!r} is not a decision on item {item}")
                if target.id in s.undone:
                    raise LedgerConflict(f"decision {undo_of} was undone already", current)
            obj = {
                "v": VERSION,
                "seq": (s.entries[-1].seq if s.entries else 0) + 1,
                "id": secrets.token_hex(8),
                "at": at or _now(),
                "who": who,
                "action": action,
                "item": item,
                "split": split,
                "old": self.current_label(item),
                "new": new if action == "label" else None,
                "note": note or "",
                "undo_of": undo_of if action == "undo" else None,
                "source": source,
                "ext": ext,
                "prev": self._last_hash,
            }
            obj["hash"] = _digest(obj)
            line = (_canonical(obj) + "\n").encode("ascii")
            f.seek(self._offset)
            f.truncate()  # cut a torn tail (see the module doc) before writing after it
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
            entry = LedgerEntry(**obj)
            self._apply(entry, entry.seq)
            self._offset += len(line)
            return entry

    def undo(self, entry_id: str, *, who: str, note: str = "", source: str = "review") -> LedgerEntry:
        """Cancel the line ``entry_id`` (a label, skip or note) with an ``undo`` line."""
        target = next((e for e in self.state().entries if e.id == entry_id), None)
        if target is None:
            raise DataError(f"no ledger line {entry_id!r} to undo")
        return self.append("undo", target.item, who=who, undo_of=entry_id, note=note, split=target.split, source=source)

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        with os.fdopen(fd, "r+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield f
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


_RESTORE = "the ledger is append-only; restore it from a backup (or move it aside to start a new one)"


def _changed(item: str, current: Decision | None) -> str:
    if current is None:
        return f"item {item} changed meanwhile: its decision was undone"
    return f"item {item} changed meanwhile: {current.who} labelled it {current.label!r} at {current.at}"
