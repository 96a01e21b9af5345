"""``distilsec``: train, evaluate and score small security models."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, parse_overrides, setup_logging

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
config_app = typer.Typer(no_args_is_help=True, help="Inspect run configs.")
data_app = typer.Typer(no_args_is_help=True, help="Prepare and inspect data.")
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command(context_settings=EXTRA)
def run(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Run config (YAML or TOML).")],
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<task>/<time>-<hash>).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data root (default $DISTILSEC_DATA or ../shared/data).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, mps (overrides run.device).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train the teacher, distil the students and evaluate them, as CONFIG says.

    Extra ``--section.key value`` arguments override the config.
    """
    setup_logging(verbose)

    def go() -> None:
        from distilsec.config import load_config
        from distilsec.run import run_experiment

        overrides = parse_overrides(ctx.args)
        if device:
            overrides["run.device"] = device
        cfg = load_config(config, overrides)
        result = run_experiment(cfg, out=out, data_dir=data_dir)
        typer.echo(str(result.run_dir))

    friendly_errors(go)


@app.command()
def score(
    source: Annotated[str, typer.Argument(help="Input file (text lines, JSONL or CSV; .gz ok) or - for stdin.")] = "-",
    model: Annotated[Path, typer.Option("--model", "-m", help="Model bundle folder.")] = Path("."),
    format: Annotated[str, typer.Option("--format", "-f", help="Output format: jsonl or csv.")] = "jsonl",
    input_format: Annotated[str, typer.Option(help="auto, lines, jsonl, csv or tsv.")] = "auto",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file (default stdout).")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows scored per batch (bounds memory).")] = 2048,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Score events with a model bundle: one output row per input row (score, label)."""
    setup_logging(verbose)

    def go() -> None:
        from distilsec.errors import DistilsecError
        from distilsec.scoring import ScoringModel, score_stream

        if format not in ("jsonl", "csv"):
            raise DistilsecError(f"--format must be jsonl or csv, not {format!r}")
        if input_format not in ("auto", "lines", "jsonl", "csv", "tsv"):
            raise DistilsecError(f"--input-format must be auto, lines, jsonl, csv or tsv, not {input_format!r}")
        scorer = ScoringModel(model)
        with contextlib.ExitStack() as stack:
            out = sys.stdout
            if output:
                out = stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
            stats = score_stream(
                scorer, source, out, input_format=input_format, output_format=format, batch_size=batch_size
            )
        msg = f"scored {stats.n_scored} of {stats.n_rows} rows"
        if stats.n_errors:
            msg += f"; {stats.n_errors} rows could not be read ({stats.errors})"
        if stats.n_truncated:
            msg += f"; {stats.n_truncated} over-long lines truncated"
        console.print(msg)

    friendly_errors(go)


@config_app.command("show", context_settings=EXTRA)
def config_show(ctx: typer.Context, config: Path) -> None:
    """Print the fully resolved config (every default written out)."""

    def go() -> None:
        from distilsec.config import dump_config, load_config

        typer.echo(dump_config(load_config(config, parse_overrides(ctx.args))))

    friendly_errors(go)


@data_app.command("prepare", context_settings=EXTRA)
def data_prepare(
    ctx: typer.Context,
    config: Path,
    data_dir: Annotated[Path | None, typer.Option(help="Data root.")] = None,
) -> None:
    """Read, curate and split the data as CONFIG says; print the curation report (no training)."""
    setup_logging(False)

    def go() -> None:
        import json

        from distilsec.config import load_config
        from distilsec.run import prepare_data

        data = prepare_data(load_config(config, parse_overrides(ctx.args)), data_dir=data_dir)
        typer.echo(json.dumps(data.report, indent=2, default=str))

    friendly_errors(go)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
