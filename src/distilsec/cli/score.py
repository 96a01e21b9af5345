"""``distilsec score``: stream events through a model bundle, locally (N processes) or on Ray."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from distilsec.cli._common import console, friendly_errors, setup_logging

__all__ = ["score", "events_progress"]


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed else 0.0
        return Text(f"{task.completed:,.0f} events  {rate:,.0f} events/s", style="cyan")


def events_progress(description: str) -> Progress:
    """A progress display for streams of unknown length: events done and events/s (stderr)."""
    return Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), _RateColumn(), TimeElapsedColumn(), console=console
    )


def score(
    source: Annotated[
        str, typer.Argument(help="Input file (text lines, JSONL or CSV; .gz ok) or - for stdin; a folder for Ray.")
    ] = "-",
    model: Annotated[Path, typer.Option("--model", "-m", help="Model bundle folder.")] = Path("."),
    format: Annotated[str, typer.Option("--format", "-f", help="Output format: jsonl, csv or parquet.")] = "jsonl",
    input_format: Annotated[str, typer.Option(help="auto, lines, jsonl, csv or tsv.")] = "auto",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file (default stdout).")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows scored per batch (bounds memory).")] = 2048,
    runtime: Annotated[
        str, typer.Option(help="auto (model.onnx if exported, else native), native/torch, onnx, onnx-int8.")
    ] = "auto",
    threads: Annotated[int, typer.Option(help="Threads per scoring process.")] = 1,
    workers: Annotated[int, typer.Option(help="Scoring processes (local engine); 0 or 1 = in this process.")] = 0,
    proba: Annotated[bool, typer.Option("--proba", help="Add every class probability (teacher labelling).")] = False,
    engine: Annotated[str, typer.Option(help="local or ray (Ray Data; needs the 'ray' extra).")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (default: start Ray locally).")] = None,
    ray_cpus: Annotated[int | None, typer.Option(help="CPUs of a local Ray (default: all).")] = None,
    progress: Annotated[bool, typer.Option(help="Show events done and events/s on stderr.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Score events with a model bundle: one output row per input row (score, label)."""
    setup_logging(verbose)

    def go() -> None:
        from distilsec.errors import DistilsecError
        from distilsec.runtime import RUNTIMES
        from distilsec.score_sinks import OUTPUT_FORMATS
        from distilsec.scoring import ScoringModel, score_stream

        if format not in OUTPUT_FORMATS:
            raise DistilsecError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, not {format!r}")
        if input_format not in ("auto", "lines", "jsonl", "csv", "tsv"):
            raise DistilsecError(f"--input-format must be auto, lines, jsonl, csv or tsv, not {input_format!r}")
        if runtime not in RUNTIMES:
            raise DistilsecError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        if engine not in ("local", "ray"):
            raise DistilsecError(f"--engine must be local or ray, not {engine!r}")
        if batch_size < 1:
            raise DistilsecError("--batch-size must be at least 1")
        with contextlib.ExitStack() as stack:
            out: Any = sys.stdout.buffer if format == "parquet" else sys.stdout
            if output:
                mode = "wb" if format == "parquet" else "w"
                kw = {} if format == "parquet" else {"encoding": "utf-8", "newline": ""}
                out = stack.enter_context(open(output, mode, **kw))  # noqa: SIM115
            bar = stack.enter_context(events_progress(f"scoring with {model.name}")) if progress else None
            task = bar.add_task(f"scoring with {model.name}", total=None) if bar else None

            def on_batch(n: int) -> None:
                if bar is not None and task is not None:
                    bar.advance(task, n)

            if engine == "ray":
                from distilsec.engines.ray_engine import score_with_ray

                stats = score_with_ray(
                    model, source, out, runtime=runtime, input_format=input_format, output_format=format,
                    batch_size=batch_size, proba=proba, address=ray_address, num_cpus=ray_cpus, on_batch=on_batch,
                )  # fmt: skip
            else:
                scorer = ScoringModel(model, runtime=runtime, threads=threads)
                stats = score_stream(
                    scorer, source, out, input_format=input_format, output_format=format, batch_size=batch_size,
                    on_batch=on_batch, workers=workers, proba=proba,
                )  # fmt: skip
        msg = f"scored {stats.n_scored} of {stats.n_rows} rows"
        if stats.n_errors:
            msg += f"; {stats.n_errors} rows could not be read ({stats.errors})"
        if stats.n_truncated:
            msg += f"; {stats.n_truncated} over-long lines truncated"
        console.print(msg)

    friendly_errors(go)
