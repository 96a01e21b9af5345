"""The one record type every reader yields and every model consumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Example", "example_id"]


def example_id(text: str, label: str | None, source: str) -> str:
    """A stable 16-hex id from source, label and text, so that splits can store ids, not copies."""
    h = hashlib.sha1(f"{source}\0{label}\0{text}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled (or unlabelled) text.

    Attributes
    ----------
    text : the command line / URL / document as the model sees it.
    label : class name (``"malicious"``, ``"benign"``, a CWE id...), ``None`` when unlabelled.
    group : the unit that must never straddle train and test (binary, technique, registrable domain).
    source : where the record came from (``"lolbas"``, ``"tldr"``...); used for per-source reports
        and for the shortcut audit.
    platform : operating system or platform when known (``"windows"``, ``"linux"``...), else ``""``.
    time : ISO date when known, else ``""``; used for time splits.
    id : stable identifier; derived from source, label and text when not given.
    meta : free-form upstream fields (description, technique...), never used as model input.
    """

    text: str
    label: str | None
    group: str = ""
    source: str = ""
    platform: str = ""
    time: str = ""
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", example_id(self.text, self.label, self.source))

    def with_text(self, text: str) -> Example:
        """A copy with new text (same id: normalising a record does not make it a new record)."""
        return replace(self, text=text)

    def with_label(self, label: str | None) -> Example:
        """A copy with another label (e.g. a flipped label in the noise experiment)."""
        return replace(self, label=label)
