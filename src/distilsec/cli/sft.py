"""``distilsec sft CONFIG``: LoRA fine-tuning of a small causal LM on chat JSONL (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import friendly_errors, parse_overrides, setup_logging, stdout_to_stderr


def sft(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="SFT config (YAML), e.g. configs/sft/cti-sft.yaml.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoints, adapter, merged, GGUF).")] = Path(
        "runs/sft"
    ),
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps (train.max_steps).")] = None,
    resume: Annotated[
        bool, typer.Option("--resume/--no-resume", help="Continue from --out's newest checkpoint.")
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """LoRA SFT of CONFIG's model (shipped GGUF alias, .gguf, HF folder or name) on chat-format JSONL.

    Loss on the assistant answers only; resumable (run the same command again after a kill). Extra
    ``--section.key value`` arguments override the config. Standard output holds only the run folder.
    """
    setup_logging(verbose)

    def go() -> None:
        from distilsec.pipeline.sft import run_sft
        from distilsec.teachers.llm.sft.config import load_sft_config

        overrides: dict[str, object] = dict(parse_overrides(ctx.args))
        if max_steps is not None:
            overrides["train.max_steps"] = max_steps
        cfg = load_sft_config(config, overrides)
        with stdout_to_stderr():
            report = run_sft(cfg, out=out, resume=resume)
        c = report["cost"]
        typer.echo(
            f"steps {report['training']['steps']}  loss {report['training']['train_loss'][-1]:.4f}  "
            f"{c['tokens_per_s']} tokens/s  {c['seconds_per_step']} s/step",
            err=True,
        )
        typer.echo(str(out))

    friendly_errors(go)
