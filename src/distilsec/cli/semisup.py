"""``distilsec semisup``: the semi-supervised experiments (Figure 2, budget-aware labelling, LLM teacher check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import friendly_errors, parse_overrides, setup_logging

semisup_app = typer.Typer(no_args_is_help=True, help="Semi-supervised experiments with teachers that label data.")
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
DataDir = Annotated[Path | None, typer.Option(help="Data root (default $DISTILSEC_DATA or ../shared/data).")]


@semisup_app.command("figure2", context_settings=EXTRA)
def figure2(ctx: typer.Context, config: Path, out: Out, data_dir: DataDir = None) -> None:
    """Student quality vs share of teacher-labelled data at a fixed training budget (+ pseudo-labelling)."""
    setup_logging(False)

    def go() -> None:
        from distilsec.pipeline.sweeps.figure2 import run_figure2
        from distilsec.pipeline.sweeps.semisup_config import load_semisup_config

        run_figure2(load_semisup_config(config, parse_overrides(ctx.args)), out=out, data_dir=data_dir)
        typer.echo(str(out / "report.md"))

    friendly_errors(go)


@semisup_app.command("budget", context_settings=EXTRA)
def budget(ctx: typer.Context, config: Path, out: Out, data_dir: DataDir = None) -> None:
    """Teacher calls and time with and without budget-aware labelling, at equal student quality."""
    setup_logging(False)

    def go() -> None:
        from distilsec.pipeline.sweeps.budget import run_budget
        from distilsec.pipeline.sweeps.semisup_config import load_semisup_config

        run_budget(load_semisup_config(config, parse_overrides(ctx.args)), out=out, data_dir=data_dir)
        typer.echo(str(out / "report.md"))

    friendly_errors(go)


@semisup_app.command("llm-eval", context_settings=EXTRA)
def llm_eval(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="A run config naming the task and its data (e.g. cmdline-distill).")],
    out: Out,
    model: Annotated[str, typer.Option(help="GGUF alias or path; the served model name with --endpoint.")] = (
        "qwen2.5-coder-0.5b"
    ),
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL instead of llama.cpp.")] = None,
    shots: Annotated[int, typer.Option(help="Few-shot examples per class.")] = 3,
    n_val: Annotated[int, typer.Option(help="Validation examples labelled by the LLM.")] = 240,
    min_per_class: Annotated[int, typer.Option(help="At least this many per class in the sample.")] = 60,
    n_inject: Annotated[int, typer.Option(help="Caught malicious samples attacked with injections (0 = skip).")] = 20,
    ledger: Annotated[str, typer.Option(help="Ledger SQLite path, or 'default'.")] = "default",
    threads: Annotated[int, typer.Option(help="llama.cpp CPU threads (1 is faster on a busy machine).")] = 2,
    data_dir: DataDir = None,
) -> None:
    """LLM teacher accuracy, AUC and bias before/after calibration, and its prompt-injection flip rate."""
    setup_logging(False)

    def go() -> None:
        from distilsec.pipeline.sweeps.llm_eval import run_llm_eval

        params = {"model": model, "endpoint": endpoint, "n_shots": shots, "ledger": ledger, "n_threads": threads}
        run_llm_eval(
            config,
            out=out,
            teacher_params=params,
            n_val=n_val,
            min_per_class=min_per_class,
            n_inject=n_inject,
            data_dir=data_dir,
            overrides=parse_overrides(ctx.args),
        )
        typer.echo(str(out / "report.md"))

    friendly_errors(go)
