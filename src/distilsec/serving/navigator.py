"""ATT&CK Navigator layers: what ``distilsec attack --navigator layer.json`` writes for an analyst to open.

The format is the Navigator's layer file format 4.5 (``layers/spec/v4.5/layerformat.md`` in
mitre-attack/attack-navigator): a JSON object with ``name``, ``versions`` (``attack``, ``navigator``,
``layer``), ``domain`` and a list of ``techniques``, each ``{techniqueID, tactic, score, comment, enabled,
metadata: [{name, value}], showSubtechniques}``. Choices, and why:

- one entry per (technique, tactic), as the Navigator writes its own layers: a technique of two tactics
  (T1055 is privilege escalation and defence evasion) is annotated in both columns;
- ``score`` is the tagger's best probability for the technique, in percent (0-100, the Navigator's default
  gradient range), so the colour says how sure the tagger was;
- ``comment`` holds the evidence sentences (truncated), so that an analyst hovering a cell sees *why*;
- a tagged sub-technique's parent gets an unscored entry with ``showSubtechniques`` (and the layout expands
  annotated sub-techniques), otherwise the Navigator hides the tagged sub-technique under a closed parent.

Nothing here depends on a model: the input is the report-level aggregate (``TechniqueTally.results``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from distilsec.errors import DataError

__all__ = [
    "LAYER_VERSION",
    "NAVIGATOR_VERSION",
    "ATTACK_VERSION",
    "DOMAINS",
    "navigator_layer",
    "write_layer",
    "check_layer",
    "tactic_shortname",
]

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
#: the ATT&CK release of the shared data (v18.1); a bundle that records its own ``attack_version`` overrides it
ATTACK_VERSION = "18"
DOMAINS = ("enterprise-attack", "mobile-attack", "ics-attack")
#: the Navigator's default gradient: low scores red-ish white, high scores red (a heat map of evidence)
GRADIENT = {"colors": ["#ffffff", "#ffb3b3", "#e60d0d"], "minValue": 0, "maxValue": 100}
#: characters of one evidence sentence in a comment, and of the whole comment
EVIDENCE_CHARS = 300
COMMENT_CHARS = 2000

_TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def tactic_shortname(tactic: str) -> str:
    """The Navigator's tactic key: ``Defense Evasion`` / ``defense_evasion`` -> ``defense-evasion``."""
    return re.sub(r"[\s_]+", "-", tactic.strip().lower())


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _comment(rec: Mapping[str, Any]) -> str:
    """The evidence sentences, best first, each with its score (and report, when several were tagged)."""
    lines = []
    for ev in rec.get("evidence") or []:
        where = f"{ev['report']}: " if ev.get("report") else ""
        lines.append(f"[{float(ev['score']):.2f}] {where}{_clip(str(ev['text']), EVIDENCE_CHARS)}")
    text = "\n".join(lines)
    return text if len(text) <= COMMENT_CHARS else text[: COMMENT_CHARS - 1].rstrip() + "…"


def _metadata(rec: Mapping[str, Any]) -> list[dict[str, str]]:
    meta = [
        {"name": "name", "value": str(rec.get("name") or "")},
        {"name": "best score", "value": f"{float(rec['score']):.3f}"},
        {"name": "sentences", "value": str(int(rec.get("count", 0)))},
    ]
    if rec.get("reports"):
        meta.append({"name": "reports", "value": ", ".join(rec["reports"])})
    return meta


def navigator_layer(
    techniques: Sequence[Mapping[str, Any]],
    *,
    name: str,
    description: str = "",
    domain: str = "enterprise-attack",
    attack_version: str = ATTACK_VERSION,
    tactics_of: Callable[[str], Iterable[str]] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Navigator layer (format 4.5) of tagged techniques.

    Parameters
    ----------
    techniques : report-level records ``{id, name, tactics, score (0-1), count, evidence, reports?}``, as
        :meth:`TechniqueTally.results <distilsec.serving.tagging.TechniqueTally.results>` gives them.
    name, description : shown in the Navigator's layer tab and its description box.
    domain : ``enterprise-attack``, ``mobile-attack`` or ``ics-attack``.
    attack_version : the ATT&CK release the tagger was trained on (the Navigator offers to upgrade older ones).
    tactics_of : technique ID -> its tactics, for the parents of tagged sub-techniques (their entries
        make the sub-techniques visible); without it a parent takes its sub-technique's tactics.
    metadata : layer-level ``name -> value`` pairs (the model, the reports, the date...).
    """
    if domain not in DOMAINS:
        raise DataError(f"unknown ATT&CK domain {domain!r}; one of {', '.join(DOMAINS)}")
    entries: list[dict[str, Any]] = []
    tagged = {str(r["id"]) for r in techniques}
    parents: dict[str, list[str]] = {}
    for rec in techniques:
        tid = str(rec["id"])
        tactics = [tactic_shortname(t) for t in rec.get("tactics") or ([rec["tactic"]] if rec.get("tactic") else [])]
        base = {
            "techniqueID": tid,
            "score": round(100 * float(rec["score"]), 1),
            "comment": _comment(rec),
            "enabled": True,
            "metadata": _metadata(rec),
            "showSubtechniques": False,
        }
        for tactic in tactics or [None]:  # no tactic known: one entry the Navigator shows under every tactic
            entries.append({**base, **({"tactic": tactic} if tactic else {})})
        if "." in tid:
            parent = tid.split(".", 1)[0]
            parents.setdefault(parent, tactics)
    for parent, sub_tactics in sorted(parents.items()):
        if parent in tagged:
            for e in entries:
                if e["techniqueID"] == parent:
                    e["showSubtechniques"] = True
            continue
        tactics = [tactic_shortname(t) for t in (tactics_of(parent) if tactics_of else [])] or sub_tactics
        for tactic in tactics or [None]:
            entries.append(
                {
                    "techniqueID": parent,
                    **({"tactic": tactic} if tactic else {}),
                    "comment": "a sub-technique is tagged",
                    "enabled": True,
                    "metadata": [],
                    "showSubtechniques": True,
                }
            )
    layer: dict[str, Any] = {
        "name": name,
        "versions": {"attack": str(attack_version), "navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION},
        "domain": domain,
        "description": description,
        "sorting": 3,  # descending by score: the strongest evidence first in each tactic column
        "layout": {
            "layout": "side",
            "showID": True,
            "showName": True,
            "showAggregateScores": False,
            "countUnscored": False,
            "aggregateFunction": "max",
            "expandedSubtechniques": "annotated",
        },
        "hideDisabled": False,
        "techniques": entries,
        "gradient": dict(GRADIENT),
        "legendItems": [
            {"label": "tagged, the tagger sure (score near 100)", "color": GRADIENT["colors"][-1]},
            {"label": "tagged, lower score", "color": GRADIENT["colors"][1]},
        ],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
        "metadata": [{"name": k, "value": str(v)} for k, v in (metadata or {}).items()],
    }
    check_layer(layer)
    return layer


def check_layer(layer: Mapping[str, Any]) -> None:
    """Raise :class:`DataError` naming the first field of ``layer`` that the 4.5 format does not allow.

    Checks what the format requires (``name``, ``domain``, ``versions.navigator``/``layer``, each technique's
    ``techniqueID``, the gradient's colours and bounds, legend items' and metadata's fields) and the types
    of the optional fields written here.
    """

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise DataError(f"invalid Navigator layer: {what}")

    need(isinstance(layer.get("name"), str) and bool(layer["name"]), "'name' must be a non-empty string")
    need(layer.get("domain") in DOMAINS, f"'domain' must be one of {DOMAINS}")
    versions = layer.get("versions")
    need(isinstance(versions, Mapping), "'versions' must be an object")
    assert isinstance(versions, Mapping)
    need(versions.get("layer") == LAYER_VERSION, f"'versions.layer' must be {LAYER_VERSION!r}")
    nav = str(versions.get("navigator", ""))
    need(
        bool(re.fullmatch(r"\d+\.\d+(\.\d+)?", nav)) and tuple(int(x) for x in nav.split(".")[:2]) >= (4, 9),
        "'versions.navigator' must be at least 4.9.0",
    )
    need(isinstance(layer.get("description", ""), str), "'description' must be a string")
    need(layer.get("sorting", 0) in (0, 1, 2, 3), "'sorting' must be 0, 1, 2 or 3")
    for i, t in enumerate(layer.get("techniques") or []):
        where = f"techniques[{i}]"
        need(
            isinstance(t.get("techniqueID"), str) and bool(_TECHNIQUE_ID.match(t["techniqueID"])),
            f"{where}.techniqueID",
        )
        need(
            "tactic" not in t
            or (isinstance(t["tactic"], str) and bool(re.fullmatch(r"[a-z]+(-[a-z]+)*", t["tactic"]))),
            f"{where}.tactic must be a tactic shortname",
        )
        need(
            "score" not in t or isinstance(t["score"], (int, float)) and not isinstance(t["score"], bool),
            f"{where}.score must be a number",
        )
        need(isinstance(t.get("comment", ""), str), f"{where}.comment must be a string")
        need(isinstance(t.get("enabled", True), bool), f"{where}.enabled must be a boolean")
        need(isinstance(t.get("showSubtechniques", False), bool), f"{where}.showSubtechniques must be a boolean")
        for m in t.get("metadata") or []:
            need(
                isinstance(m.get("name"), str) and isinstance(m.get("value"), str),
                f"{where}.metadata needs name and value strings",
            )
    g = layer.get("gradient")
    if g is not None:
        need(isinstance(g.get("colors"), list) and len(g["colors"]) >= 2, "'gradient.colors' needs two colours or more")
        need(
            all(isinstance(c, str) and re.fullmatch(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?", c) for c in g["colors"]),
            "'gradient.colors' must be hex RGB",
        )
        need(
            isinstance(g.get("minValue"), (int, float)) and isinstance(g.get("maxValue"), (int, float)),
            "'gradient' needs minValue and maxValue",
        )
        need(g["maxValue"] > g["minValue"], "'gradient.maxValue' must be above minValue")
    for item in layer.get("legendItems") or []:
        need(
            isinstance(item.get("label"), str) and isinstance(item.get("color"), str),
            "legendItems need label and color",
        )
    for m in layer.get("metadata") or []:
        need(
            isinstance(m.get("name"), str) and isinstance(m.get("value"), str), "metadata needs name and value strings"
        )


def write_layer(layer: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``layer`` as JSON to ``path`` (its folder must exist); returns the path."""
    p = Path(path)
    if not p.parent.is_dir():
        raise DataError(f"cannot write {p}: the folder {p.parent} does not exist")
    if p.is_dir():
        raise DataError(f"cannot write {p}: it is a folder; give a file name for the layer")
    try:
        p.write_text(json.dumps(layer, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p
