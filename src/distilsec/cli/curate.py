"""``distilsec data curate``: the CVE task's curation and decontamination, as a report (no training)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, parse_overrides, setup_logging


def data_curate(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="A CVE run config (data.task: cve), e.g. configs/cve-cwe.yaml.")],
    decontaminate: Annotated[
        list[Path] | None, typer.Option(help="Benchmark file to decontaminate against (repeatable).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data root.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the report (JSON) and split id lists here.")] = None,
) -> None:
    """Read, merge, label, decontaminate, de-duplicate and time-split the CVE data; print the report."""
    setup_logging(False)

    def go() -> None:
        from distilsec.config import load_config
        from distilsec.errors import ConfigError
        from distilsec.tasks.cve import prepare_cve_data

        cfg = load_config(config, parse_overrides(ctx.args))
        if cfg.data.task != "cve":
            raise ConfigError(f"{config}: `data curate` is for the CVE task (data.task: cve); use `data prepare`")
        data = prepare_cve_data(cfg, data_dir=data_dir, benchmarks=[str(p) for p in decontaminate or []])
        report = json.dumps(data.report, indent=2, default=str)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "curation.json").write_text(report)
            for task in ("cwe", "cvss"):
                for name in ("train", "val", "test"):
                    ids = [e.id for e in getattr(data, f"{task}_{name}")]
                    (out / f"{task}-{name}.txt").write_text("\n".join(ids) + "\n")
            console.print(f"report and split ids written to {out}")
        typer.echo(report)
        for task in ("cwe", "cvss"):
            dec = data.report[task].get("decontamination")
            if dec:
                console.print(
                    f"{task}: decontamination removed {dec['removed']} training records {dec['removed_by_reason']}; "
                    f"left: {dec['after']}"
                )

    friendly_errors(go)
