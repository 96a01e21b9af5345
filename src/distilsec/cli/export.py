"""``distilsec export``: a student bundle to ONNX (+ int8), with a parity check on validation texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging

__all__ = ["export"]


def _read_texts(path: str, limit: int) -> list[str]:
    from distilsec.data.readers.events import ScoreStats, iter_records, open_records

    stream, fmt = open_records(path)
    try:
        texts = []
        for _, text in iter_records(stream, fmt, ScoreStats()):
            if text is not None:
                texts.append(text)
                if len(texts) >= limit:
                    break
        return texts
    finally:
        if path != "-":
            stream.close()


def _flips(parity: dict) -> str:
    """How many decisions differ and how close to the threshold the farthest of them was."""
    n = parity["n_decisions_differ"]
    margin = parity.get("max_flip_margin")
    return f"{n} (≤{margin:.1e})" if n and margin is not None else str(n)


def export(
    bundle: Annotated[Path, typer.Argument(help="Student bundle folder (char_cnn.v1 or hashed_linear.v1).")],
    out: Annotated[
        Path | None, typer.Option(help="Write an ONNX-only bundle here (default: into the bundle itself).")
    ] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Also write model.int8.onnx (dynamic quantisation).")] = False,
    int8_ops: Annotated[
        str, typer.Option(help="Op types to quantise, comma-separated, or 'all'.")
    ] = "MatMul,Gemm,Gather",
    texts: Annotated[
        str | None,
        typer.Option(help="Validation texts for the parity check (lines/JSONL/CSV); default: the run's val split."),
    ] = None,
    max_texts: Annotated[int, typer.Option(min=1, help="At most this many validation texts.")] = 20000,
    data_dir: Annotated[Path | None, typer.Option(help="Data root, to rebuild the run's validation split.")] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="Largest allowed |score difference| of the float32 graph.")
    ] = 1e-4,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Export a trained student to ONNX and check it scores like the original (same decisions)."""
    setup_logging(verbose)

    def go() -> None:
        from rich.table import Table

        from distilsec.serving.export import export_onnx
        from distilsec.serving.export.onnx import check_exportable
        from distilsec.serving.export.parity import run_validation_texts

        check_exportable(bundle)
        if texts is not None:
            val, source = _read_texts(texts, max_texts), f"texts from {texts}"
        else:
            console.print("reading the run's validation split (same data, curation and split as the run)...")
            val, source = run_validation_texts(bundle, max_texts, data_dir)
        ops = [o.strip() for o in int8_ops.split(",") if o.strip()]
        result = export_onnx(bundle, validation_texts=val, out=out, int8=int8, int8_ops=ops, tolerance=tolerance,
                             validation_source=source)  # fmt: skip
        table = Table(title=f"ONNX parity on {source}")
        for col in (
            "file",
            "bytes",
            "texts",
            "max |Δscore|",
            "mean |Δscore|",
            "decisions differ (max margin to threshold)",
            "ok",
        ):
            table.add_column(col)
        for precision, p in result.parity.items():
            table.add_row(
                result.files[precision].name,
                f"{p['file_bytes']:,}",
                str(p["n"]),
                f"{p['max_abs_diff']:.2e}",
                f"{p['mean_abs_diff']:.2e}",
                _flips(p),
                "yes" if p["ok"] else "NO",
            )
        console.print(table)
        typer.echo(str(result.bundle))

    friendly_errors(go)
