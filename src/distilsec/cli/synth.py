"""``distilsec synth``: write new labelled examples from seeds (LLM or programmatic), filtered and reviewable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging


def synth(
    seeds: Annotated[
        list[Path] | None, typer.Argument(help="Seed files/folders: text lines, JSONL/CSV (text,label[,group]), .html.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write.")] = Path("runs/synth"),
    task: Annotated[
        str | None, typer.Option(help="cmdline, url or html (default: the config's, else guessed).")
    ] = None,
    generator: Annotated[str, typer.Option(help="mutate (programmatic) or llm.")] = "mutate",
    n_per_seed: Annotated[int, typer.Option(help="Variants asked per seed.")] = 4,
    label: Annotated[str | None, typer.Option(help="Label of seeds that have none (text lines, pages).")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Run config: seeds from its training split, val+test protected.")
    ] = None,
    group: Annotated[list[str] | None, typer.Option(help="Only seeds of this group (repeatable).")] = None,
    protect: Annotated[
        list[Path] | None, typer.Option(help="Texts no sample may near-copy, e.g. the test set.")
    ] = None,
    judge: Annotated[Path | None, typer.Option(help="Bundle that must give each sample its label.")] = None,
    judge_threshold: Annotated[float, typer.Option(help="Minimum judge probability of the label.")] = 0.5,
    model: Annotated[str, typer.Option(help="GGUF alias/path, or the served model with --endpoint.")] = (
        "qwen2.5-coder-0.5b"
    ),
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL for --generator llm.")] = None,
    ledger: Annotated[str, typer.Option(help="Ledger SQLite path, 'default', or 'none'.")] = "default",
    temperature: Annotated[float, typer.Option(help="LLM sampling temperature.")] = 0.8,
    max_calls: Annotated[int | None, typer.Option(help="Refuse more new LLM calls than this.")] = None,
    near_dup_threshold: Annotated[float, typer.Option(help="Jaccard (char 5-grams) of a near-copy.")] = 0.9,
    max_seeds: Annotated[int | None, typer.Option(help="Use only the first N seeds.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="random_state of every choice (and the LLM sampler).")] = 0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Generate variations of SEEDS that keep their intent and label; keep those that pass the filters.

    Writes samples.jsonl, rejected.jsonl, stats.json and report.md under --out. LLM calls go through the
    teacher-call ledger: killed? Run the same command again; stored answers are not asked again.
    """
    setup_logging(verbose)

    def go() -> None:
        from distilsec.pipeline.synth import run_synth_job, synth_settings

        section, arm = synth_settings(
            task=task,
            generator=generator,
            n_per_seed=n_per_seed,
            max_seeds=max_seeds,
            judge_threshold=judge_threshold,
            near_dup_threshold=near_dup_threshold,
            model=model,
            endpoint=endpoint,
            ledger=None if ledger == "none" else ledger,
            temperature=temperature,
        )
        run_dir, result = run_synth_job(
            section,
            arm,
            seeds=[str(p) for p in seeds or []],
            out=str(out),
            label=label,
            config=str(config) if config else None,
            groups=group or [],
            protect=[str(p) for p in protect or []],
            judge=str(judge) if judge else None,
            max_calls=max_calls,
            random_state=seed,
        )
        s = result.stats
        console.print(
            f"generated {s['generated']}, kept {s['kept']}, rejected {s['rejected_by_filter']}; "
            f"near-duplicate share of the protected set {s['near_duplicate_share_protected']:.4f}"
        )
        typer.echo(str(run_dir))

    friendly_errors(go)
