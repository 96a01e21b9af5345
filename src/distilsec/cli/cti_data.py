"""``distilsec cti-data``: build the CTI assistant's instruction data from the knowledge in the data folder.

Heavy imports (the pipeline, numpy, datasketch) happen inside the command, so ``distilsec --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging


def cti_data(
    out: Annotated[Path, typer.Option("--out", help="Output folder (train/val JSONL, held-out TSVs, data card).")],
    data_dir: Annotated[
        Path | None, typer.Option(help="Data root holding attack/, cwe/, capec/, cve/ (default: $DISTILSEC_DATA).")
    ] = None,
    decontaminate: Annotated[
        list[Path] | None,
        typer.Option(help="Benchmark TSV (CTI-Bench MCQ, RCM or VSP format) to decontaminate against; repeatable."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the held-out draw, distractors and answer letters.")] = 0,
    heldout_share: Annotated[float, typer.Option(help="Share of techniques / CWEs / CAPEC entries held out.")] = 0.1,
    max_per_template: Annotated[int, typer.Option(help="At most this many training records per template.")] = 2000,
    max_cves: Annotated[int, typer.Option(help="CVE records read (newest NVD feed files first).")] = 3000,
    overwrite: Annotated[bool, typer.Option(help="Replace the contents of a non-empty --out.")] = False,
    teacher_written: Annotated[
        int, typer.Option(help="Passages an LLM writes a grounded question/answer record from (0: none).")
    ] = 0,
    generator: Annotated[
        str,
        typer.Option(help="LLM of --teacher-written: GGUF path or alias, or an OpenAI-compatible base URL."),
    ] = "qwen2.5-coder-0.5b",
    generator_model: Annotated[str, typer.Option(help="Served model name when --generator is a URL.")] = "default",
    judge: Annotated[
        bool, typer.Option(help="Also ask the LLM whether the passage supports each teacher-written answer.")
    ] = False,
    ledger: Annotated[
        str, typer.Option(help="Teacher-call ledger: SQLite path, 'default' or 'none' (a rerun resumes from it).")
    ] = "default",
    threads: Annotated[int, typer.Option(help="llama.cpp threads of a GGUF --generator.")] = 2,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every stage.")] = False,
) -> None:
    """Build chat-format instruction data (MCQ + free answer) split by entity, de-duplicated and decontaminated.

    With --teacher-written N, an LLM (--generator) also writes N records, each grounded in one quoted knowledge
    passage; every call goes through the teacher-call ledger, so a killed build resumes by running the same
    command again (with --overwrite if --out was written).
    """
    setup_logging(verbose)
    if not verbose:
        # revoked / deprecated ATT&CK objects are expected: their per-reason counts go to report.json and
        # the data card, not 50 warning lines on the terminal
        logging.getLogger("distilsec.data").setLevel(logging.ERROR)

    def go() -> None:
        from distilsec.data.instruct.teacher_written import TeacherWriting
        from distilsec.data.paths import resolve_data_dir
        from distilsec.pipeline.cti_data import build_cti_data

        teacher = None
        if teacher_written:
            teacher = TeacherWriting(
                teacher_written,
                generator=generator,
                served_model=generator_model,
                ledger=None if ledger == "none" else ledger,
                judge=judge,
                n_threads=threads,
            )

        # an explicit --data-dir is taken as is, so that a missing part folder is named by the loader
        root = resolve_data_dir(data_dir, required=() if data_dir else ("attack",))
        report = build_cti_data(
            root,
            out,
            decontaminate=list(decontaminate or []),
            seed=seed,
            heldout_share=heldout_share,
            max_per_template=max_per_template,
            max_cves=max_cves,
            overwrite=overwrite,
            teacher=teacher,
        )
        c = report["counts"]
        dec, audit = report["decontamination"], report["audit"]
        console.print(
            f"wrote {out}: train {sum(c['train'].values())}, val {sum(c['val'].values())}, "
            f"held-out MCQ {sum(c['heldout_mcq'].values())}, held-out RCM {report['heldout_rcm']} "
            f"({report['seconds']} s)"
        )
        console.print(
            f"held out: {', '.join(f'{len(v)} {k}' for k, v in report['heldout']['entities'].items())}; "
            f"decontamination removed {dec['removed']} {dec['removed_by_reason']}; audit {audit}"
        )
        t = report.get("teacher")
        if t:
            spk = t["seconds_per_kept"]
            console.print(
                f"teacher-written: asked {t['asked']}, kept {t['kept']} (train {t['written']['train']}, val "
                f"{t['written']['val']}, held-out {t['written']['heldout']}); {t['calls']} new calls, {t['cached']} "
                f"from the ledger; rejected {t['rejected']}; "
                + (f"{spk} s per kept record" if spk is not None else "no record kept")
            )
        skipped = sum(report["knowledge"]["skips"].values())
        console.print(f"knowledge objects skipped (revoked, deprecated, unlinked...): {skipped}, see report.json")

    friendly_errors(go)
