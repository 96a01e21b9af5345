"""``distilsec bench``: CTI-Bench-compatible evaluation of a CVE model (RCM accuracy, VSP MAD)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

bench_app = typer.Typer(no_args_is_help=True, help="Benchmark a CVE model on CTI-Bench-format files.")

ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="CVE model bundle, or a CVE run folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print every metric as JSON after the summary line.")]


def _run(task: str, file: Path, model: Path, as_json: bool) -> None:
    from distilsec.bundle import load_model
    from distilsec.data.readers.cti_bench import read_bench
    from distilsec.evaluation.cve_metrics import evaluate_rcm, evaluate_vsp
    from distilsec.students.cve_model import require_cve_model

    bench = read_bench(file, task)
    cve_model = require_cve_model(load_model(model), model)
    texts = [it.description for it in bench.items]
    if task == "rcm":
        metrics = evaluate_rcm([it.gt for it in bench.items], cve_model.rank_cwes(texts, k=3))
        typer.echo(f"accuracy: {metrics['accuracy']:.3f}")
    else:
        if cve_model.cvss_model is None:
            from distilsec.errors import BundleError

            raise BundleError(f"{model} has no CVSS model; train one with a 'cve.cvss' section")
        metrics = evaluate_vsp([it.gt for it in bench.items], cve_model.cvss_model.predict_vectors(texts))
        typer.echo(f"mad: {metrics['mad']:.2f}")
    metrics.update(file=str(file), rows=bench.n_rows, skipped=bench.skips)
    if cve_model.training_ids is not None:  # a benchmark the model was trained on measures memory, not skill
        seen = bench.ids & set(cve_model.training_ids)
        metrics["benchmark_ids_in_training_data"] = len(seen)
        if seen:
            console.print(
                f"[bold yellow]warning[/]: {len(seen):,} of the file's {len(bench.ids):,} CVE IDs are in this "
                "model's training data, so this is not a held-out figure (a run's time-split model is "
                "RUN_DIR/cve-model-heldout)"
            )
    if bench.skips:
        console.print(f"[yellow]{sum(bench.skips.values())} of {bench.n_rows} rows skipped[/]: {bench.skips}")
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))


@bench_app.command("cti-rcm")
def cti_rcm(file: Path, model: ModelOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Root-cause mapping: exact-match accuracy of the top CWE against GT (prints ``accuracy: 0.xxx``)."""
    setup_logging(False)
    friendly_errors(lambda: _run("rcm", file, model, as_json))


@bench_app.command("cti-vsp")
def cti_vsp(file: Path, model: ModelOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Severity prediction: mean absolute deviation of the CVSS v3 base score (prints ``mad: x.xx``)."""
    setup_logging(False)
    friendly_errors(lambda: _run("vsp", file, model, as_json))
