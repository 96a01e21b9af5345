"""The data card of a built instruction set: what is in it, where it came from, what was removed and why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["source_licences", "render_card"]

_LABELLED = re.compile(r"\bLicen[cs]e:\s*(.+)", re.IGNORECASE)
_MENTION = re.compile(r"[^.]*\blicen[cs]e\b[^.]*\.", re.IGNORECASE)


def _licence(text: str) -> str:
    """The README's ``Licence: ...`` statement (prose, not a table), else its first sentence about a licence."""
    paras = [
        " ".join(ln for ln in p.splitlines() if not ln.lstrip().startswith("|")) for p in re.split(r"\n\s*\n", text)
    ]
    paras = [" ".join(p.split()) for p in paras if p.strip()]
    for p in paras:
        m = _LABELLED.search(p)
        if m:
            return m.group(1)[:500]
    for p in paras:
        m = _MENTION.search(p)
        if m:
            return m.group(0).strip()[:500]
    return "see the README"


def source_licences(data_dir: Path, parts: tuple[str, ...] = ("attack", "capec", "cwe", "cve")) -> dict[str, str]:
    """Each part's README title and licence sentence (the data card must repeat the terms of use)."""
    out: dict[str, str] = {}
    for part in parts:
        readme = Path(data_dir) / part / "README.md"
        if not readme.is_file():
            out[part] = "(no README found)"
            continue
        text = readme.read_text(encoding="utf-8", errors="replace")
        title = text.split("\n", 1)[0].lstrip("# ").strip()
        out[part] = f"{title}. Licence: {_licence(text)}"
    return out


def _table(rows: list[list[Any]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _generators(report: dict[str, Any]) -> list[str]:
    """Per-generator counts, the teacher-written filter's rejections by reason, and what a kept record cost."""
    t = report.get("teacher")
    if not t:
        return []
    counts: dict[str, dict[str, int]] = report["counts"]
    flow = report["flow"]
    tw = t["written"]
    n_template = {s: sum(v for k, v in counts[s].items() if k != "teacher_written") for s in ("train", "val")}
    rows = [
        [
            "template",
            flow["generated"] - t["grounded"],
            n_template["train"],
            n_template["val"],
            f"{sum(counts['heldout_mcq'].values())} MCQ",
        ],
        [f"teacher-written (`{t['generator']}`)", t["asked"], tw["train"], tw["val"], f"{tw['heldout']} free"],
    ]
    rejected = sorted(t["rejected"].items(), key=lambda kv: (-kv[1], kv[0]))
    spk = t["seconds_per_kept"]
    return [
        "## Generators",
        "",
        _table(rows, ["generator", "records made / asked", "train", "val", "held-out"]),
        "",
        "Teacher-written records: an LLM writes one question and answer from one quoted knowledge passage "
        "(`meta.provenance` is the passage ID, `meta.source` its source, `meta.evidence` the span it quoted). "
        f"Model `{t['model_id']}`, prompt `{t['template_id']}`, judge {'on' if t['judge'] else 'off'}. "
        f"Asked {t['asked']}, kept {t['kept']} (yield {t['yield_share']:.0%}); {t['calls']} new calls, "
        f"{t['cached']} answers read back from the ledger, {t['errors']} failed calls.",
        "",
        _table([[k, v] for k, v in rejected] or [["(none)", 0]], ["rejected because", "records"]),
        "",
        f"Cost: {t['recorded_seconds']} s of generation for the answers used"
        + (f", {spk} s per kept record" if spk is not None else "")
        + f" ({t['call_seconds']} s of new calls in this build, {t['wall_seconds']} s wall). Records about "
        f"held-out entities ({t['routed_heldout']}) are in `heldout-teacher.jsonl`, never in train/val.",
        "",
    ]


def render_card(report: dict[str, Any]) -> str:
    """Markdown from a build report (:func:`distilsec.pipeline.cti_data.build_cti_data`'s ``report.json``)."""
    counts: dict[str, dict[str, int]] = report["counts"]
    templates = sorted({t for c in counts.values() for t in c})
    rows = [[t, *(counts[s].get(t, 0) for s in ("train", "val", "heldout_mcq"))] for t in templates]
    rows.append(["**all**", *(sum(counts[s].values()) for s in ("train", "val", "heldout_mcq"))])
    held = report["heldout"]
    dec = report["decontamination"]
    teacher = report.get("teacher")
    parts = [
        "# CTI instruction data",
        "",
        "Chat-format instruction records (system / user / assistant) about MITRE ATT&CK, CAPEC, CWE and CVE, "
        "generated from the structured links of the knowledge (template records, multiple-choice and free-answer)"
        + (", and written by an LLM from quoted knowledge passages (teacher-written records)" if teacher else "")
        + ", for fine-tuning a local CTI assistant. Every record keeps its provenance (passage IDs) in `meta`.",
        "",
        f"Built with seed {report['settings']['seed']} in {report['seconds']} s.",
        "",
        "## Files",
        "",
        "* `train.jsonl`, `val.jsonl`: chat records "
        "(`messages`, `meta.{id, template, form, entities, provenance, split}`"
        + ("; teacher-written ones add `meta.{source, evidence, generator}`" if teacher else "")
        + ").",
        f"* `heldout-mcq.tsv`: {sum(counts['heldout_mcq'].values())} multiple-choice questions "
        "about held-out entities, CTI-Bench MCQ format (`URL Question Option A..D Prompt GT`).",
        f"* `heldout-rcm.tsv`: {report['heldout_rcm']} CVEs whose CWE is held out, CTI-Bench RCM format.",
        *(
            [
                f"* `heldout-teacher.jsonl`: {report['teacher']['written']['heldout']} teacher-written free-answer "
                "records about held-out entities (chat format)."
            ]
            if report.get("teacher")
            else []
        ),
        "",
        "## Records per template and split",
        "",
        _table(rows, ["template", "train", "val", "held-out MCQ"]),
        "",
        *_generators(report),
        "## Held-out entities (no training record lists or names them)",
        "",
        _table([[k, len(v)] for k, v in held["entities"].items()], ["kind", "held out"]),
        "",
        f"Share {report['settings']['heldout_share']}; techniques are held out by family (parent + sub-techniques). "
        f"Records routed to the held-out side: {held['records_routed']}. Audit of the written training files: "
        f"{report['audit']['heldout_mentions']} held-out mentions.",
        "",
        "## De-duplication and decontamination",
        "",
        f"* exact duplicates removed: {report['dedup']['exact']}; near-duplicates (char 5-gram Jaccard >= "
        f"{report['dedup']['threshold']}, same template and answer): {report['dedup']['near']}.",
        f"* benchmarks: {', '.join(b['path'] for b in dec['benchmarks']) or 'none given'}; removed {dec['removed']} "
        f"records {dec['removed_by_reason']}.",
        f"* final audit of the written train/val files: shared CVE IDs {report['audit']['shared_cve_ids']}, "
        f"near-copies {report['audit']['near_copies']}.",
        "",
        "## Sources and licences",
        "",
        *(f"* `{k}`: {v}" for k, v in report["sources"].items()),
        "",
        "MITRE ATT&CK, CAPEC and CWE content: © The MITRE Corporation. This work is reproduced and distributed "
        "with the permission of The MITRE Corporation.",
        "",
        "## Knowledge read",
        "",
        _table(
            [[k, v.get("passages", 0), v.get("seconds", 0)] for k, v in report["knowledge"]["parts"].items()],
            ["part", "passages", "seconds"],
        ),
        "",
        f"Skipped while reading (per reason): {report['knowledge']['skips']}",
        "",
    ]
    return "\n".join(parts)
