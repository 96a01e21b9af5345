"""Build the CTI assistant's instruction data: knowledge -> template records -> entity split -> dedup ->
decontamination -> train/val JSONL, held-out MCQ/RCM TSVs, a data card and a report.

Stages log one line each; the order matters: records touching a held-out entity are routed out *before*
capping and dedup (so no cap can hide a leak), decontamination runs on what would be written, and the
audits re-read the written files (held-out mentions, benchmark CVE IDs and near-copies), which must be zero.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distilsec._internal.console import progress
from distilsec.data.instruct.card import render_card, source_licences
from distilsec.data.instruct.decontaminate import (
    DEFAULT_THRESHOLD,
    audit_jsonl,
    decontaminate_records,
    read_benchmark,
)
from distilsec.data.instruct.records import Record, mcq_prompt, record_from_json
from distilsec.data.instruct.split import choose_heldout, held_set, record_touches, touches_heldout, val_bucket
from distilsec.data.instruct.templates import generate
from distilsec.data.knowledge.load import DEFAULT_MAX_CVES, Knowledge, load_knowledge
from distilsec.data.readers.cti_bench import write_bench_tsv
from distilsec.data.readers.cti_mcq import McqItem, write_mcq_tsv
from distilsec.data.skips import SkipCounter
from distilsec.errors import ConfigError, DataError

__all__ = ["build_cti_data", "OUTPUT_FILES"]

log = logging.getLogger("distilsec.cti_data")

OUTPUT_FILES = ("train.jsonl", "val.jsonl", "heldout-mcq.tsv", "heldout-rcm.tsv", "DATA_CARD.md", "report.json")
NEAR_DUP_THRESHOLD = 0.9


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {out} is not empty; pass --overwrite to replace its contents")


def _cap(records: list[Record], cap: int | None, seed: int) -> list[Record]:
    """At most ``cap`` records per template (a seeded sample, input order kept)."""
    if cap is None:
        return records
    by_t: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_t[r.template].append(i)
    rng = random.Random(seed)
    keep: set[int] = set()
    for idx in by_t.values():
        keep.update(idx if len(idx) <= cap else rng.sample(idx, cap))
    return [r for i, r in enumerate(records) if i in keep]


def _dedup(records: list[Record], threshold: float) -> tuple[list[Record], dict[str, Any]]:
    """Exact duplicates (same user turn and answer), then near-duplicates with the same template and answer."""
    from distilsec.data.near_dup import ShingleCache, near_dedup

    seen: set[tuple[str, str]] = set()
    exact: list[Record] = []
    for r in records:
        key = (" ".join(r.user.lower().split()), r.answer_text.lower())
        if key not in seen:
            seen.add(key)
            exact.append(r)
    texts = [f"{r.user}\n{r.answer}" for r in exact]
    labels = [(r.template, r.form, r.answer_text) for r in exact]
    kept, dropped = near_dedup(texts, labels, threshold, ShingleCache()) if exact else ([], {})
    out = [exact[i] for i in kept]
    return out, {"exact": len(records) - len(exact), "near": len(dropped), "threshold": threshold, "n_out": len(out)}


def _write_jsonl(path: Path, records: Sequence[Record]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")


def _url(r: Record, urls: dict[str, str]) -> str:
    """The upstream page of the record's subject, else of the first entity that has one (a procedure's technique)."""
    return next((urls[e] for e in (r.subject, *r.entities) if urls.get(e)), "")


def _heldout_mcq(pool: list[Record], know: Knowledge, cap: int, seed: int) -> list[McqItem]:
    urls = {p.id: p.url for p in know.passages}
    mcq = _cap([r for r in pool if r.form == "mcq"], cap, seed)
    return [
        McqItem(r.question, r.options, r.answer, mcq_prompt(r.question, r.options), r.url or _url(r, urls))  # type: ignore[arg-type]
        for r in mcq
    ]


def _audit_heldout(paths: Sequence[Path], held: set[str]) -> int:
    """Written training records that list or name a held-out entity (must be 0)."""
    bad = 0
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                user, answer, meta = record_from_json(json.loads(line))
                if touches_heldout(meta.get("entities", []), [user, answer, str(meta.get("question", ""))], held):
                    bad += 1
    return bad


def build_cti_data(
    data_dir: Path,
    out: Path,
    *,
    decontaminate: Sequence[Path] = (),
    seed: int = 0,
    heldout_share: float = 0.1,
    max_per_template: int | None = 2000,
    val_share: float = 0.05,
    max_heldout_per_template: int = 200,
    max_heldout_rcm: int = 500,
    max_cves: int | None = DEFAULT_MAX_CVES,
    parts: Sequence[str] = ("attack", "cwe", "capec", "cve"),
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the instruction data under ``out`` (see :data:`OUTPUT_FILES`); returns the report.

    Raises
    ------
    ConfigError
        A used ``out`` without ``overwrite``, or a setting out of range.
    DataError
        Missing knowledge, an unreadable benchmark file, or a failed audit (which would be a bug).
    """
    if not 0.0 < heldout_share < 1.0:
        raise ConfigError(f"--heldout-share must be in (0, 1), got {heldout_share}")
    if max_per_template is not None and max_per_template < 1:
        raise ConfigError(f"--max-per-template must be >= 1, got {max_per_template}")
    out = Path(out)
    _check_out(out, overwrite)
    t0 = time.perf_counter()
    benches = [read_benchmark(p) for p in decontaminate]
    skips = SkipCounter()
    with progress("spinner") as bar:
        task = bar.add_task("reading the knowledge")
        know = load_knowledge(Path(data_dir), parts=parts, max_cves=max_cves)
        log.info("knowledge: %d passages", len(know.passages))

        bar.update(task, description="generating template records")
        heldout = choose_heldout(know.links, heldout_share, seed)
        held = held_set(heldout)
        records = generate(know.links, held=held, seed=seed, skips=skips)
        generated = Counter(r.template for r in records)
        touching = [bool(record_touches(r, held)) for r in records]
        train_pool = [r for r, t in zip(records, touching, strict=True) if not t]
        held_pool = [r for r, t in zip(records, touching, strict=True) if t]
        log.info("records: %d generated, %d touch held-out entities", len(records), len(held_pool))

        bar.update(task, description="capping and de-duplicating")
        capped = _cap(train_pool, max_per_template, seed)
        deduped, dedup_report = _dedup(capped, NEAR_DUP_THRESHOLD)
        log.info("dedup: %d -> %d records", len(capped), len(deduped))

        bar.update(task, description="decontaminating")
        kept, dec_report = decontaminate_records(deduped, benches, threshold=DEFAULT_THRESHOLD)
        log.info("decontamination: %d removed", dec_report["removed"])

        bar.update(task, description="writing")
        out.mkdir(parents=True, exist_ok=True)
        for r in kept:
            r.split = "val" if val_bucket(r.subject, seed, val_share) else "train"
        train = [r for r in kept if r.split == "train"]
        val = [r for r in kept if r.split == "val"]
        _write_jsonl(out / "train.jsonl", train)
        _write_jsonl(out / "val.jsonl", val)
        for r in held_pool:
            r.split = "heldout"
        mcq_items = _heldout_mcq(held_pool, know, max_heldout_per_template, seed)
        write_mcq_tsv(out / "heldout-mcq.tsv", mcq_items)
        heldout_mcq_counts = Counter(
            r.template for r in _cap([r for r in held_pool if r.form == "mcq"], max_heldout_per_template, seed)
        )
        cwes_held = set(heldout["cwes"])
        rcm = [c for c in know.links.cves if c.cwe in cwes_held]
        rcm = random.Random(seed).sample(rcm, min(len(rcm), max_heldout_rcm)) if rcm else []
        write_bench_tsv(out / "heldout-rcm.tsv", "rcm", [(c.cve_id, c.description, c.cwe) for c in rcm])

        bar.update(task, description="auditing the written files")
        written = [out / "train.jsonl", out / "val.jsonl"]
        audit = audit_jsonl(written, benches, threshold=DEFAULT_THRESHOLD)
        audit["heldout_mentions"] = _audit_heldout(written, held)
    report: dict[str, Any] = {
        "settings": {
            "seed": seed,
            "heldout_share": heldout_share,
            "max_per_template": max_per_template,
            "val_share": val_share,
            "max_heldout_per_template": max_heldout_per_template,
            "max_heldout_rcm": max_heldout_rcm,
            "max_cves": max_cves,
            "data_dir": str(data_dir),
        },
        "knowledge": know.read_report,
        "generated": dict(generated),
        "generation_skips": skips.as_dict(),
        "counts": {
            "train": dict(Counter(r.template for r in train)),
            "val": dict(Counter(r.template for r in val)),
            "heldout_mcq": dict(heldout_mcq_counts),
        },
        "answer_letters": dict(Counter(r.answer for r in train if r.form == "mcq")),
        "heldout": {"entities": heldout, "records_routed": len(held_pool)},
        "heldout_rcm": len(rcm),
        # every generated record is written or counted in exactly one of these
        "flow": {
            "generated": len(records),
            "routed_heldout": len(held_pool),
            "capped": len(train_pool) - len(capped),
            "duplicates": len(capped) - len(deduped),
            "contaminated": dec_report["removed"],
            "written": len(train) + len(val),
        },
        "dedup": dedup_report,
        "decontamination": dec_report,
        "audit": audit,
        "sources": source_licences(Path(data_dir)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "DATA_CARD.md").write_text(render_card(report), encoding="utf-8")
    if audit["shared_cve_ids"] or audit["near_copies"] or audit["heldout_mentions"]:
        raise DataError(f"audit of the written training files failed: {audit} (a bug: report.json has the details)")
    log.info(
        "cti-data: %d train, %d val, %d held-out MCQ, %d held-out RCM in %.1f s",
        len(train),
        len(val),
        len(mcq_items),
        len(rcm),
        report["seconds"],
    )
    return report
