"""``distilsec synth-tables``: the seed's Tables 1 and 2 (held-out attacks, general test set)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import friendly_errors, parse_overrides, setup_logging


def synth_tables(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Run config with a 'synth' section (e.g. configs/html-synth.yaml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("runs/synth-tables"),
    data_dir: Annotated[
        Path | None, typer.Option(help="Data root (default $DISTILSEC_DATA or ../shared/data).")
    ] = None,
) -> None:
    """Production model vs models trained with synthetic data: held-out attacks and the general test set.

    Extra ``--section.key value`` arguments override the config.
    """
    setup_logging(False)

    def go() -> None:
        from distilsec.pipeline.sweeps.synth_config import load_synth_config
        from distilsec.pipeline.sweeps.synth_tables import run_synth_tables

        run_synth_tables(load_synth_config(config, parse_overrides(ctx.args)), out=out, data_dir=data_dir)
        typer.echo(str(out / "report.md"))

    friendly_errors(go)
