"""``distilsec``: train, evaluate and score small security models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import friendly_errors, parse_overrides, setup_logging
from distilsec.cli._common import stdout_to_stderr as _stdout_to_stderr
from distilsec.cli.ask import ask
from distilsec.cli.attack import attack as attack_command
from distilsec.cli.bench import bench_app
from distilsec.cli.cti_data import cti_data
from distilsec.cli.curate import data_curate
from distilsec.cli.cve import cve as cve_command
from distilsec.cli.export import export
from distilsec.cli.init import init
from distilsec.cli.label import label_app
from distilsec.cli.review import retrain, review, review_export, review_import, review_log
from distilsec.cli.score import score
from distilsec.cli.semisup import semisup_app
from distilsec.cli.serve import serve
from distilsec.cli.sft import sft
from distilsec.cli.synth import synth
from distilsec.cli.synth_tables import synth_tables

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
config_app = typer.Typer(no_args_is_help=True, help="Inspect run configs.")
data_app = typer.Typer(no_args_is_help=True, help="Prepare and inspect data.")
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")
app.add_typer(label_app, name="label")
app.add_typer(semisup_app, name="semisup")
app.command("init")(init)
app.command("cve")(cve_command)
app.command("attack")(attack_command)
app.command("ask")(ask)
app.command("cti-data")(cti_data)
app.command("score")(score)
app.command("export")(export)
app.command("serve")(serve)
app.command("review")(review)
app.command("retrain")(retrain)
app.command("review-export")(review_export)
app.command("review-import")(review_import)
app.command("review-log")(review_log)
app.command("synth")(synth)
app.command("sft", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(sft)
app.command("synth-tables", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(synth_tables)
data_app.command("curate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(data_curate)

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
    decontaminate: Annotated[
        list[Path] | None, typer.Option(help="Benchmark file whose CVEs/near-copies leave training (repeatable).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the earlier run in --out (only a distilsec run folder).")
    ] = False,
    labels: Annotated[
        Path | None,
        typer.Option(help="Analyst label ledger (a run's review/ledger.jsonl); outranks teacher and original labels."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train the teacher, distil the students and evaluate them, as CONFIG says.

    Extra ``--section.key value`` arguments override the config. Standard output holds only the run
    folder's path (``RUN=$(distilsec run ...)``); progress and reports go to standard error.
    """
    setup_logging(verbose)

    def go() -> None:
        from distilsec.config import load_config
        from distilsec.pipeline.run import run_experiment

        overrides = parse_overrides(ctx.args)
        if device:
            overrides["run.device"] = device
        cfg = load_config(config, overrides)  # the whole config is checked before any data is read
        with _stdout_to_stderr():
            result = run_experiment(
                cfg,
                out=out,
                data_dir=data_dir,
                decontaminate=[str(p) for p in decontaminate or []],
                overwrite=overwrite,
                labels=labels,
            )
        typer.echo(str(result.run_dir))

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
        from distilsec.pipeline.run import prepare_data

        data = prepare_data(load_config(config, parse_overrides(ctx.args)), data_dir=data_dir)
        typer.echo(json.dumps(data.report, indent=2, default=str))

    friendly_errors(go)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
