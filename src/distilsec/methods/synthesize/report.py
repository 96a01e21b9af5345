"""The run folder of a synthesis job: samples, rejections, statistics and a reviewable report.

``samples.jsonl`` holds the kept samples (text, label, group, provenance: seed ids, generator, model,
prompt template, variant, random seed); ``rejected.jsonl`` every rejected attempt with its reason;
``stats.json`` the filter statistics; ``report.md`` a table of generated / kept / rejected-by-filter
and a short sample of each kind (label x variation) next to its seed, so a reviewer can judge whether
the variations keep the intent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distilsec.data.example import Example
from distilsec.methods.synthesize.filters import Rejection

__all__ = ["write_synth_run", "synth_sections", "MAX_REJECTED_TEXT"]

#: characters of a rejected sample kept in ``rejected.jsonl`` (a rejected 50 MB page is not copied).
MAX_REJECTED_TEXT = 4000


def _short(text: str | None, n: int) -> str:
    """One line of at most ``n`` characters; a page is shown as what a reader sees of it.

    The first 240 characters of a kit page are its licence comment and ``<head>``: identical for seed and
    variant. The title, form controls and visible text (:func:`~distilsec.data.html_text.html_view`) are
    what a re-skin changes, so that is what the report shows.
    """
    if text is None:
        return ""
    if text.lstrip()[:1] == "<":
        from distilsec.data.html_text import html_view

        text = "[page] " + html_view(text, max_chars=4 * n)
    one = " ".join(text.split())
    return one if len(one) <= n else one[:n] + "..."


def _md(text: str) -> str:
    """Text for a Markdown table cell inside a code span (shown literally, so only ``|`` and backticks matter)."""
    return text.replace("|", "\\|").replace("`", "'")


def write_synth_run(
    out: str | Path,
    examples: Sequence[Example],
    rejected: Sequence[Rejection],
    stats: dict[str, Any],
    *,
    seeds: Sequence[Example] = (),
    samples_per_kind: int = 3,
    sample_chars: int = 240,
    settings: dict[str, Any] | None = None,
) -> Path:
    """Write ``samples.jsonl``, ``rejected.jsonl``, ``stats.json`` and ``report.md`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "samples.jsonl", "w", encoding="utf-8") as fh:
        for ex in examples:
            row = {"id": ex.id, "text": ex.text, "label": ex.label, "group": ex.group, "source": ex.source}
            row["provenance"] = ex.meta.get("provenance", {})
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(out / "rejected.jsonl", "w", encoding="utf-8") as fh:
        for r in rejected:
            text = r.text if r.text is None or len(r.text) <= MAX_REJECTED_TEXT else r.text[:MAX_REJECTED_TEXT]
            row = {
                "text": text,
                "truncated": r.text is not None and len(r.text) > MAX_REJECTED_TEXT,
                "label": r.label,
                "seed_id": r.seed_id,
                "reason": r.reason,
                "detail": r.detail,
                "provenance": r.provenance,
            }
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    sections = synth_sections(examples, rejected, stats, seeds, samples_per_kind, sample_chars, settings or {})
    title = f"Synthetic {stats.get('task')} samples"
    # the one report writer, imported at its one call: methods/ sits beside evaluation/ in the layers (the
    # import-linter contract flags this edge until the writer moves below both)
    from distilsec.evaluation.report import write_report

    full = {**stats, "settings": settings or {}}
    write_report(out, title=title, sections=sections, metrics=full, metrics_name="stats.json")
    return out


def synth_sections(
    examples: Sequence[Example],
    rejected: Sequence[Rejection],
    stats: dict[str, Any],
    seeds: Sequence[Example],
    per_kind: int,
    chars: int,
    settings: dict[str, Any],
) -> list[tuple[str, str]]:
    """The ``report.md`` sections of a synthesis run: set-up, filter statistics, samples, rejections, settings."""
    setup = (
        f"Generator `{stats.get('generator')}`, {stats.get('n_seeds')} seeds x {stats.get('n_per_seed')} variants, "
        f"random_state {stats.get('random_state')}, {stats.get('seconds')} s "
        f"({stats.get('samples_per_second')} samples/s)."
    )
    sections = [
        ("Set-up", setup),
        ("Filter statistics", _filter_section(stats)),
        ("Samples of each kind", _samples_section(examples, seeds, per_kind, chars)),
        ("Rejected samples (first of each reason)", _rejected_section(rejected, chars)),
    ]
    if settings:
        sections.append(("Settings", "\n".join(["```json", json.dumps(settings, indent=2, default=str), "```"])))
    return sections


def _filter_section(stats: dict[str, Any]) -> str:
    lines = ["| stage | samples |", "|---|---:|", f"| generated | {stats.get('generated', 0)} |"]
    for reason, n in stats.get("rejected_by_filter", {}).items():
        lines.append(f"| rejected: {reason} | {n} |")
    lines += [f"| **kept** | **{stats.get('kept', 0)}** |", ""]
    lines.append(
        f"Near-duplicate share of the protected set ({stats.get('protected_size', 0)} texts) among kept samples, "
        f"exact Jaccard >= {stats.get('thresholds', {}).get('near_dup')}: "
        f"**{stats.get('near_duplicate_share_protected', 0.0):.4f}**."
    )
    if stats.get("judge"):
        lines.append(f"Judge: `{stats['judge']}`, threshold {stats.get('thresholds', {}).get('judge')}.")
    if stats.get("llm"):
        lines.append(f"LLM: `{json.dumps(stats['llm'])}`.")
    lines += [
        "",
        f"Kept by label: `{json.dumps(stats.get('kept_by_label', {}))}`; "
        f"by kind: `{json.dumps(stats.get('kept_by_kind', {}))}`.",
    ]
    return "\n".join(lines)


def _samples_section(examples: Sequence[Example], seeds: Sequence[Example], per_kind: int, chars: int) -> str:
    """A few samples of each (label, variation) next to their seed, so a reviewer can judge the intent kept."""
    seed_text = {s.id: s.text for s in seeds}
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for ex in examples:
        groups[(str(ex.label), str(ex.meta.get("provenance", {}).get("variation")))].append(ex)
    lines: list[str] = []
    for (label, kind), exs in sorted(groups.items()):
        lines += [f"### {label} / {kind} ({len(exs)} kept)", "", "| seed | generated |", "|---|---|"]
        for ex in exs[:per_kind]:
            seed_ids = ex.meta.get("provenance", {}).get("seed_ids") or []
            seed = seed_text.get(seed_ids[0], "") if seed_ids else ""
            lines.append(f"| `{_md(_short(seed, chars))}` | `{_md(_short(ex.text, chars))}` |")
        lines.append("")
    return "\n".join(lines) or "_(no sample kept)_"


def _rejected_section(rejected: Sequence[Rejection], chars: int) -> str:
    lines = ["| reason | detail | sample |", "|---|---|---|"]
    shown: set[str] = set()
    for r in rejected:
        if r.reason in shown:
            continue
        shown.add(r.reason)
        lines.append(f"| {r.reason} | {_md(_short(r.detail, 120))} | `{_md(_short(r.text, chars))}` |")
    return "\n".join(lines)
