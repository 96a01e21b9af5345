"""Build the CTI assistant's instruction data: knowledge -> template records (+ teacher-written records) ->
entity split -> dedup -> decontamination -> train/val JSONL, held-out MCQ/RCM TSVs, a data card and a report.

Teacher-written records (:mod:`distilsec.data.instruct.teacher_written`, when ``teacher`` asks for some) are
written by an LLM from one quoted passage each, parsed and grounding-checked there, then go through the same
entity split and decontamination as template records, after near-duplicate removal among themselves and
against the template records; those about held-out entities go to ``heldout-teacher.jsonl``.

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
from distilsec.data.instruct.teacher_written import TEMPLATE as TEACHER_TEMPLATE
from distilsec.data.instruct.teacher_written import TeacherWriter, TeacherWriting
from distilsec.data.instruct.templates import generate
from distilsec.data.knowledge.load import DEFAULT_MAX_CVES, Knowledge, load_knowledge
from distilsec.data.readers.cti_bench import write_bench_tsv
from distilsec.data.readers.cti_mcq import McqItem, write_mcq_tsv
from distilsec.data.skips import SkipCounter
from distilsec.errors import ConfigError, DataError, DistilsecError

__all__ = ["build_cti_data", "open_generator", "open_writer", "OUTPUT_FILES", "TEACHER_FILES"]

log = logging.getLogger("distilsec.cti_data")

OUTPUT_FILES = ("train.jsonl", "val.jsonl", "heldout-mcq.tsv", "heldout-rcm.tsv", "DATA_CARD.md", "report.json")
#: written as well when teacher-written records are asked for (free-answer records about held-out entities).
TEACHER_FILES = ("heldout-teacher.jsonl",)
NEAR_DUP_THRESHOLD = 0.9
#: teacher-written questions this similar (char 5-gram Jaccard) to a kept question are near-duplicates.
TEACHER_NEAR_DUP_THRESHOLD = 0.8


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


def open_generator(cfg: TeacherWriting) -> Any:
    """The LLM backend ``cfg.generator`` names: an OpenAI-compatible endpoint for an http(s) URL, else a GGUF
    (path, shipped alias or folder holding one, resolved as ``distilsec ask --model`` does) run by llama.cpp.

    Raises
    ------
    ConfigError, DataError
        The model cannot be found or loaded (one line, naming it). An endpoint is not contacted here: one
        that cannot be reached fails its first calls, which stops the build (see ``TeacherWriter``).
    """
    spec = cfg.generator.strip()
    if spec.startswith(("http://", "https://")):
        from distilsec.teachers.llm.endpoint import EndpointBackend

        return EndpointBackend(spec, cfg.served_model, timeout=cfg.timeout, max_retries=cfg.max_retries)
    from distilsec.teachers.llm.assistant.model import resolve_model
    from distilsec.teachers.llm.llamacpp import LlamaCppBackend

    path = resolve_model(spec)  # ConfigError naming what is missing
    try:
        return LlamaCppBackend(path, n_ctx=cfg.n_ctx, n_threads=cfg.n_threads)
    except DistilsecError:
        raise
    except Exception as exc:  # llama.cpp raises ValueError / RuntimeError for a file it cannot load
        raise ConfigError(f"cannot load generator {spec!r}: {type(exc).__name__}: {str(exc)[:200]}") from None


def open_writer(cfg: TeacherWriting, seed: int = 0, backend: Any = None) -> TeacherWriter:
    """The teacher-written generator with its ledger and (unless ``backend`` is given) its LLM opened."""
    from distilsec.teachers.ledger import TeacherLedger, default_ledger_path

    if cfg.n < 0:
        raise ConfigError(f"--teacher-written must be >= 0, got {cfg.n}")
    be = backend if backend is not None else open_generator(cfg)
    try:
        led = None
        if cfg.ledger is not None:
            led = TeacherLedger(default_ledger_path() if cfg.ledger == "default" else Path(cfg.ledger))
    except Exception:
        be.close()
        raise
    return TeacherWriter(cfg, be, led, seed)


def _question_key(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?. ")


def _dedup_teacher(
    records: list[Record], reference: Sequence[Record], threshold: float
) -> tuple[list[Record], dict[str, Any]]:
    """Teacher-written records without an exact or near-duplicate question among themselves (first kept) or
    among the template records' questions (which are kept: they come with their distractors and checks)."""
    from distilsec.data.near_dup import ShingleCache, near_copies, near_dedup

    ref_keys = {_question_key(r.question) for r in reference}
    seen: set[str] = set()
    exact: list[Record] = []
    n_template_exact = 0
    for r in records:
        k = _question_key(r.question)
        if k in ref_keys:
            n_template_exact += 1
        elif k not in seen:
            seen.add(k)
            exact.append(r)
    cache = ShingleCache()
    texts = [_question_key(r.question) for r in exact]
    kept_idx, dropped = near_dedup(texts, [TEACHER_TEMPLATE] * len(texts), threshold, cache) if exact else ([], {})
    kept = [exact[i] for i in kept_idx]
    ref = list(dict.fromkeys(_question_key(r.question) for r in reference))
    hits = (
        near_copies(ref, {"q": [_question_key(r.question) for r in kept]}, threshold, cache)["q"]
        if ref and kept
        else {}
    )
    out = [r for i, r in enumerate(kept) if i not in hits]
    return out, {
        "exact": len(records) - len(exact) - n_template_exact,
        "near": len(dropped),
        "template_copies": n_template_exact + len(hits),
        "threshold": threshold,
        "n_out": len(out),
    }


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


def _teacher_report(
    writer: TeacherWriter,
    to_train: list[Record],
    to_held: list[Record],
    dedup: dict[str, Any],
    dec: dict[str, Any],
    train: list[Record],
    val: list[Record],
    heldout: list[Record],
    wall: float,
) -> dict[str, Any]:
    """What the teacher-written generator asked, kept, rejected (per reason, every stage) and cost."""
    rep = writer.report()
    n_train = sum(r.template == TEACHER_TEMPLATE for r in train)
    n_val = sum(r.template == TEACHER_TEMPLATE for r in val)
    kept = n_train + n_val + len(heldout)
    rejected = dict(rep.pop("rejected"))
    for reason, n in (
        ("duplicate", dedup["exact"] + dedup["near"]),
        ("template_copy", dedup["template_copies"]),
        ("contaminated", dec["removed_by_template"].get(TEACHER_TEMPLATE, 0)),
        ("heldout_duplicate", len(to_held) - len(heldout)),
    ):
        if n:
            rejected[reason] = rejected.get(reason, 0) + n
    rep.update(
        routed_heldout=len(to_held),
        routed_train=len(to_train),
        dedup=dedup,
        rejected=rejected,
        written={"train": n_train, "val": n_val, "heldout": len(heldout)},
        kept=kept,
        yield_share=round(kept / rep["asked"], 4) if rep["asked"] else 0.0,
        wall_seconds=round(wall, 2),
        # what the kept records cost when their answers were made (ledger seconds, so a resumed or cached
        # run reports the real price, not the near-zero of reading answers back)
        seconds_per_kept=round(rep["recorded_seconds"] / kept, 2) if kept else None,
    )
    return rep


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
    teacher: TeacherWriting | None = None,
    teacher_backend: Any = None,
) -> dict[str, Any]:
    """Build the instruction data under ``out`` (see :data:`OUTPUT_FILES`); returns the report.

    ``teacher`` with ``n > 0`` adds teacher-written records (and :data:`TEACHER_FILES`); its generator is
    opened first, so a model that cannot be loaded fails before any work. ``teacher_backend`` replaces the
    generator named in ``teacher`` (tests pass a fake).

    Raises
    ------
    ConfigError
        A used ``out`` without ``overwrite``, a setting out of range, or a generator that cannot be loaded
        or reached.
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
    writer = open_writer(teacher, seed, teacher_backend) if teacher is not None and teacher.n != 0 else None
    try:
        return _build(
            Path(data_dir),
            out,
            benches,
            writer,
            t0,
            seed=seed,
            heldout_share=heldout_share,
            max_per_template=max_per_template,
            val_share=val_share,
            max_heldout_per_template=max_heldout_per_template,
            max_heldout_rcm=max_heldout_rcm,
            max_cves=max_cves,
            parts=parts,
        )
    finally:
        if writer is not None:
            writer.close()


def _build(
    data_dir: Path,
    out: Path,
    benches: list[Any],
    writer: TeacherWriter | None,
    t0: float,
    *,
    seed: int,
    heldout_share: float,
    max_per_template: int | None,
    val_share: float,
    max_heldout_per_template: int,
    max_heldout_rcm: int,
    max_cves: int | None,
    parts: Sequence[str],
) -> dict[str, Any]:
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

        written_by_teacher: list[Record] = []
        teacher_wall = 0.0
        if writer is not None:
            n = writer.cfg.n
            bar.update(task, description=f"teacher-written records 0/{n}")
            t_teacher = time.perf_counter()
            written_by_teacher = writer.write(
                know.passages, lambda i: bar.update(task, description=f"teacher-written records {i}/{n}")
            )
            teacher_wall = time.perf_counter() - t_teacher
            log.info("teacher-written: %d asked, %d grounded", n, len(written_by_teacher))
        t_touch = [bool(record_touches(r, held)) for r in written_by_teacher]
        teacher_train = [r for r, t in zip(written_by_teacher, t_touch, strict=True) if not t]
        teacher_held = [r for r, t in zip(written_by_teacher, t_touch, strict=True) if t]

        bar.update(task, description="capping and de-duplicating")
        capped = _cap(train_pool, max_per_template, seed)
        deduped, dedup_report = _dedup(capped, NEAR_DUP_THRESHOLD)
        log.info("dedup: %d -> %d records", len(capped), len(deduped))
        teacher_deduped, teacher_dedup = _dedup_teacher(teacher_train, deduped, TEACHER_NEAR_DUP_THRESHOLD)

        bar.update(task, description="decontaminating")
        kept, dec_report = decontaminate_records([*deduped, *teacher_deduped], benches, threshold=DEFAULT_THRESHOLD)
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
        heldout_teacher: list[Record] = []
        if writer is not None:
            seen_q: set[str] = set()
            for r in teacher_held:
                if _question_key(r.question) not in seen_q:
                    seen_q.add(_question_key(r.question))
                    r.split = "heldout"
                    heldout_teacher.append(r)
            _write_jsonl(out / "heldout-teacher.jsonl", heldout_teacher)

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
            "generated": len(records) + len(written_by_teacher),
            "routed_heldout": len(held_pool) + len(teacher_held),
            "capped": len(train_pool) - len(capped),
            "duplicates": len(capped) - len(deduped) + len(teacher_train) - len(teacher_deduped),
            "contaminated": dec_report["removed"],
            "written": len(train) + len(val),
        },
        "dedup": dedup_report,
        "decontamination": dec_report,
        "audit": audit,
        "sources": source_licences(Path(data_dir)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if writer is not None:
        report["teacher"] = _teacher_report(
            writer, teacher_train, teacher_held, teacher_dedup, dec_report, train, val, heldout_teacher, teacher_wall
        )
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
