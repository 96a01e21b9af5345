"""``distilsec score``: stream events through a model bundle, locally (N processes) or on Ray."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from distilsec._internal.console import progress
from distilsec.cli._common import console, friendly_errors, setup_logging

__all__ = ["score", "events_progress"]


def events_progress(description: str) -> Progress:
    """A progress display for streams of unknown length: events done and events/s (stderr)."""
    return progress("events")


def _advance(bar: Progress | None, description: str) -> Any:
    """An ``on_batch`` callback that moves ``bar`` (or None without one)."""
    if bar is None:
        return None
    task = bar.add_task(description, total=None)
    return lambda n: bar.advance(task, n)


def check_output(path: Path) -> None:
    """Refuse an output path whose folder is missing before the model loads (seconds), not after."""
    from distilsec.errors import DataError

    if not path.parent.is_dir():
        raise DataError(f"cannot write {path}: the folder {path.parent} does not exist; create it or choose another -o")
    if path.is_dir():
        raise DataError(f"cannot write {path}: it is a folder; give a file name with -o")


def _hint_export(scorer: Any) -> None:
    """Say once when a bundle could score several times faster after ``distilsec export``.

    For an ATT&CK tagger, say instead what its score and label mean and where the names and tactics are.
    """
    if getattr(scorer, "tagger", None) is not None:
        console.print(
            "[yellow]note:[/] an ATT&CK tagger: score = probability that a line describes some technique, label = "
            "its best technique at or above that technique's threshold (else none); for names, tactics, top-k and "
            "report aggregation use `distilsec attack --per-line --json`",
            soft_wrap=True,
        )
        return
    from distilsec.serving.runtime.onnx_model import SUPPORTED

    onnx = scorer.bundle_dir / "model.onnx"
    if scorer.runtime == "native" and scorer.manifest.get("type") in SUPPORTED and not onnx.is_file():
        console.print(
            f"[yellow]note:[/] {scorer.bundle_dir} has no model.onnx; `distilsec export {scorer.bundle_dir}` "
            "makes scoring several times faster and start in under a second"
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
    threads: Annotated[
        int, typer.Option(help="Threads per scoring process: parts of a batch scored at once, one core each.")
    ] = 1,
    workers: Annotated[int, typer.Option(help="Scoring processes (local engine); 0 or 1 = in this process.")] = 0,
    text_column: Annotated[
        str | None,
        typer.Option(help="JSONL/CSV field holding the text (default: the bundle's training column, then text, url)."),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="JSONL/CSV field copied to the output as id (default: the bundle's, then id).")
    ] = None,
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
        from distilsec.errors import DataError, DistilsecError
        from distilsec.serving.runtime import RUNTIMES
        from distilsec.serving.scoring import ScoringModel, open_output, score_stream
        from distilsec.serving.sinks import OUTPUT_FORMATS

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
        if threads < 1 or workers < 0:
            raise DistilsecError("--threads must be at least 1 and --workers at least 0")
        if output is not None:
            check_output(output)
        with contextlib.ExitStack() as stack:
            if engine == "ray":
                from distilsec.serving.ray_engine import score_with_ray

                out: Any = sys.stdout.buffer if format == "parquet" else sys.stdout
                if output is not None:
                    out = stack.enter_context(open_output(output, format))
                bar = stack.enter_context(events_progress(f"scoring with {model.name}")) if progress else None
                stats = score_with_ray(
                    model, source, out, runtime=runtime, input_format=input_format, output_format=format,
                    batch_size=batch_size, proba=proba, address=ray_address, num_cpus=ray_cpus,
                    on_batch=_advance(bar, f"scoring with {model.name}"), text_column=text_column, id_column=id_column,
                )  # fmt: skip
            else:
                scorer = ScoringModel(model, runtime=runtime, threads=threads)
                _hint_export(scorer)
                target: Any = (
                    output if output is not None else (sys.stdout.buffer if format == "parquet" else sys.stdout)
                )
                bar = stack.enter_context(events_progress(f"scoring with {model.name}")) if progress else None
                stats = score_stream(
                    scorer, source, target, input_format=input_format, output_format=format, batch_size=batch_size,
                    on_batch=_advance(bar, f"scoring with {model.name}"), workers=workers, proba=proba,
                    text_column=text_column, id_column=id_column,
                )  # fmt: skip
        if stats.n_rows and not stats.n_scored:
            raise DataError(stats.nothing_scored_message(source))
        msg = f"scored {stats.n_scored} of {stats.n_rows} rows"
        if stats.n_errors:
            msg += f"; {stats.n_errors} rows could not be read ({stats.errors})"
        if stats.n_truncated:
            msg += f"; {stats.n_truncated} over-long lines truncated"
        console.print(msg)

    friendly_errors(go)
