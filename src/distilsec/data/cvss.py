"""CVSS v3.x base vectors: parse, validate, assemble, and score (the score comes from the ``cvss`` package).

The model predicts each of the eight base metrics; the vector is assembled from them and the base score
and severity are *computed* from the vector with the FIRST formula (``cvss.CVSS3``), never predicted
directly, so a predicted score is always one a real vector can have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from distilsec.errors import DataError

__all__ = ["METRICS", "VALUES", "parse_vector", "build_vector", "base_score", "severity", "score_vector"]

#: The eight base metrics, in vector order.
METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")
#: Allowed values per metric.
VALUES: dict[str, tuple[str, ...]] = {
    "AV": ("N", "A", "L", "P"),
    "AC": ("L", "H"),
    "PR": ("N", "L", "H"),
    "UI": ("N", "R"),
    "S": ("U", "C"),
    "C": ("H", "L", "N"),
    "I": ("H", "L", "N"),
    "A": ("H", "L", "N"),
}
_PREFIX = re.compile(r"^CVSS:3\.[01]/")


def parse_vector(vector: str) -> dict[str, str]:
    """The base metrics of a CVSS v3.0/v3.1 vector (``CVSS:3.1/AV:N/...``; the prefix may be omitted).

    Temporal and environmental metrics, if present, are ignored.

    Raises
    ------
    DataError
        When the vector is not text, has an unknown version, lacks a base metric, repeats one, or has a
        value outside the specification (the message names the problem).
    """
    if not isinstance(vector, str) or not vector.strip():
        raise DataError(f"not a CVSS vector: {vector!r}")
    v = vector.strip()
    if v.upper().startswith("CVSS:") and not _PREFIX.match(v):
        raise DataError(f"unsupported CVSS version in {vector!r} (expected CVSS:3.0 or CVSS:3.1)")
    body = _PREFIX.sub("", v)
    out: dict[str, str] = {}
    for part in body.split("/"):
        key, sep, value = part.partition(":")
        if not sep:
            raise DataError(f"malformed CVSS vector {vector!r}: {part!r} is not METRIC:VALUE")
        if key in out:
            raise DataError(f"malformed CVSS vector {vector!r}: {key} appears twice")
        if key in VALUES:
            if value not in VALUES[key]:
                raise DataError(f"malformed CVSS vector {vector!r}: {key}:{value} (allowed: {VALUES[key]})")
            out[key] = value
    missing = [m for m in METRICS if m not in out]
    if missing:
        raise DataError(f"CVSS vector {vector!r} lacks base metric(s) {missing}")
    return out


def build_vector(metrics: Mapping[str, str], version: str = "3.1") -> str:
    """``CVSS:3.1/AV:../AC:../...`` from a metric -> value mapping (validated)."""
    parts = []
    for m in METRICS:
        value = metrics.get(m)
        if value not in VALUES[m]:
            raise DataError(f"metric {m} needs one of {VALUES[m]}, got {value!r}")
        parts.append(f"{m}:{value}")
    return f"CVSS:{version}/" + "/".join(parts)


def base_score(vector: str) -> float:
    """The CVSS v3.x base score of ``vector`` (FIRST's formula, via the ``cvss`` package)."""
    from cvss import CVSS3
    from cvss.exceptions import CVSSError

    metrics = parse_vector(vector)  # our validation first: clear messages, prefix optional
    version = "3.0" if vector.strip().startswith("CVSS:3.0/") else "3.1"
    try:
        return float(CVSS3(build_vector(metrics, version)).base_score)
    except CVSSError as exc:  # pragma: no cover - parse_vector already rejects what CVSS3 would
        raise DataError(f"cannot score CVSS vector {vector!r}: {exc}") from None


def severity(score: float) -> str:
    """Qualitative severity of a v3.x base score: None, Low, Medium, High, Critical."""
    if score == 0.0:
        return "None"
    if score < 4.0:
        return "Low"
    if score < 7.0:
        return "Medium"
    if score < 9.0:
        return "High"
    return "Critical"


def score_vector(vector: str) -> tuple[float, str]:
    """``(base score, severity)`` of a vector."""
    s = base_score(vector)
    return s, severity(s)
