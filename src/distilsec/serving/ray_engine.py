"""``--engine ray``: the ``score`` job (and the teacher-labelling job, ``proba=True``) on Ray Data.

The same code does the work as on one machine, only partitioned: every input file is read by a Ray
task and parsed by :func:`distilsec.data.readers.events.iter_records` (same formats, same skipped/flagged rows),
records are scored in batches by a pool of actors that each load the bundle once
(:class:`~distilsec.serving.model.ScoringModel`, same runtime selection), and the driver streams the results
back *in input order* into the same JSONL/CSV/Parquet writer with global row numbers. So the output of
``--engine ray`` is identical to the local engine's, which a test checks.

On a cluster, pass ``address`` (e.g. ``ray://head:10001``, or ``auto`` on a cluster node); inputs must be
paths every node can read (shared storage or ``s3://`` / ``gs://`` URIs) and distilsec and the bundle
folder must be on every node (installed, or shipped with a Ray ``runtime_env``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from distilsec.data.readers.events import ScoreStats, detect_format, iter_records, open_records, text_fields
from distilsec.errors import DataError, DistilsecError
from distilsec.serving.model import ScoringModel
from distilsec.serving.sinks import make_rows, open_sink

__all__ = ["score_with_ray", "init_ray", "require_ray"]

_MAGIC = {
    ".gz": (b"\x1f\x8b", gzip.decompress),
    ".xz": (b"\xfd7zXZ\x00", lzma.decompress),
    ".bz2": (b"BZh", bz2.decompress),
}


def require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise DistilsecError("--engine ray needs the 'ray' extra: pip install 'distilsec[ray]'") from None
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None, object_store_mb: int = 1024) -> None:
    """Connect to a cluster (``address``) or start a local Ray with ``num_cpus`` CPUs (all when None)."""
    ray = require_ray()
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            object_store_memory=object_store_mb * 2**20,
            log_to_driver=False,
        )


def _decompress(path: str, data: bytes) -> bytes:
    """Ray decompresses .gz/.bz2 by extension already; this covers .xz and files it left as they were."""
    for suffix, (magic, fn) in _MAGIC.items():
        if path.lower().endswith(suffix) and data.startswith(magic):
            return fn(data)
    return data


class _ParseFile:
    """One input file (bytes) -> one row per record, parsed exactly as the local engine parses it.

    The file's counters (rows, truncated lines, error reasons) ride on its last row, so the driver can
    add them up into the same :class:`ScoreStats` the local engine reports.
    """

    def __init__(self, input_format: str, fields: tuple[str, ...], id_field: str) -> None:
        self.input_format = input_format
        self.fields = fields
        self.id_field = id_field

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        path = str(row["path"])
        data = _decompress(path, bytes(row["bytes"]))
        stats = ScoreStats()
        fmt = self.input_format
        if fmt == "auto":
            fmt = detect_format(path, data[:4096].split(b"\n", 1)[0].decode("utf-8", "replace"))
        # ensure_ascii: lone surrogates from "\ud800" escapes would not survive an Arrow string column
        records = iter_records(io.BytesIO(data), fmt, stats, fields=self.fields, id_field=self.id_field)
        items = [json.dumps(item) for item in records]
        summary = json.dumps({"n_rows": stats.n_rows, "n_truncated": stats.n_truncated, "errors": stats.errors})
        if not items:
            return [{"item": "", "file_stats": summary}]
        rows = [{"item": it, "file_stats": ""} for it in items]
        rows[-1]["file_stats"] = summary
        return rows


class _ScoreBatch:
    """Ray actor: loads the bundle once, scores batches of parsed records into output-row JSON."""

    def __init__(self, bundle_dir: str, runtime: str, proba: bool) -> None:
        self.model = ScoringModel(bundle_dir, runtime=runtime, threads=1)
        self.proba = proba

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keep = [i for i, it in enumerate(batch["item"]) if it]
        items = [tuple(json.loads(batch["item"][i])) for i in keep]
        texts = [t for _, t in items if t is not None]
        empty = (np.zeros(0), [], np.zeros((0, len(self.model.classes))))
        result = self.model.score_batch(texts) if texts else empty
        rows = make_rows(items, result, 0, self.model.classes if self.proba else None)  # type: ignore[arg-type]
        out = np.full(len(batch["item"]), "", dtype=object)
        for i, r in zip(keep, rows, strict=True):
            del r["row"]
            out[i] = json.dumps(r)
        return {"out": out, "file_stats": batch["file_stats"]}


def _expand(source: str) -> list[str]:
    if "://" in source:
        return [source]
    p = Path(source)
    if not p.exists():
        raise DistilsecError(f"file not found: {p}")
    if p.is_dir():  # a partitioned input: its files in name order, rows numbered across them
        files = sorted(str(f) for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DistilsecError(f"no input files in {p}")
        return files
    return [str(p)]


def _check_named_fields_apply(paths: list[str], input_format: str) -> None:
    """Refuse --text-column/--id-column for an input read as plain lines, as the local engine does.

    Checked on the driver, before Ray starts: an error raised inside a Ray task reaches the user wrapped
    in Ray's traceback. Remote URIs are not opened here; their format is settled by their name or forced.
    """
    for path in paths:
        fmt = input_format
        if fmt == "auto" and "://" not in path:
            stream, fmt = open_records(path, input_format)
            stream.close()
        if fmt == "lines":
            raise DataError(
                f"--text-column/--id-column name fields, but {path} is read as plain text lines (one event per "
                "line): pass --input-format csv, tsv or jsonl"
            )


def score_with_ray(
    bundle_dir: str | Path,
    source: str,
    out: IO[Any],
    *,
    runtime: str = "auto",
    input_format: str = "auto",
    output_format: str = "jsonl",
    batch_size: int = 2048,
    proba: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    concurrency: int | None = None,
    on_batch: Callable[[int], Any] | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
) -> ScoreStats:
    """Score ``source`` (a file, a folder of files, or a URI Ray can read) on Ray Data; see the module doc.

    Output rows and ``ScoreStats`` are the same as :func:`distilsec.serving.scoring.score_stream` gives on the
    same input, with the same text and id fields (``text_column``/``id_column``, else the bundle's own).
    ``concurrency`` is the number of scoring actors (default: the cluster's CPUs).
    """
    from distilsec.serving.runtime import resolve_runtime

    if source == "-":
        raise DistilsecError("--engine ray reads files (every node must reach them), not stdin")
    paths = _expand(source)
    ray = require_ray()
    concrete = resolve_runtime(bundle_dir, runtime)  # decided once, on the driver: every actor runs the same
    scorer = ScoringModel(bundle_dir, runtime=concrete, threads=1)
    classes = scorer.classes
    fields = text_fields(text_column, scorer.text_column)
    id_field = id_column or scorer.id_column or "id"
    if text_column or id_column:
        _check_named_fields_apply(paths, input_format)
    init_ray(address, num_cpus)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    cpus = float(ray.cluster_resources().get("CPU", 1))
    n_actors = concurrency or max(1, int(cpus))
    # Reading/parsing tasks need CPU too: actors that reserved every CPU would starve them (a deadlock
    # on a 1-CPU Ray), so actors and tasks ask for a share that leaves room for one task beside the pool.
    share = min(1.0, cpus / (n_actors + 1))
    ds = ray.data.read_binary_files(paths, include_paths=True, num_cpus=share)
    ds = ds.flat_map(_ParseFile(input_format, fields, id_field), num_cpus=share)
    ds = ds.map_batches(
        _ScoreBatch,
        fn_constructor_args=(str(Path(bundle_dir).resolve()), concrete, proba),
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=n_actors),
        num_cpus=share,
    )
    stats = ScoreStats()
    sink = open_sink(output_format, out, classes if proba else None)
    row_no = 0
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
        rows = []
        for rec_json, file_stats in zip(batch["out"], batch["file_stats"], strict=True):
            if file_stats:
                fs = json.loads(file_stats)
                stats.n_rows += fs["n_rows"]
                stats.n_truncated += fs["n_truncated"]
                for reason, k in fs["errors"].items():
                    stats.n_errors += k
                    stats.errors[reason] = stats.errors.get(reason, 0) + k
            if not rec_json:
                continue
            rec = {"row": row_no, **json.loads(rec_json)}
            row_no += 1
            if rec.get("score") is not None:
                stats.n_scored += 1
            rows.append(rec)
        if rows:
            sink.write(rows)
            if on_batch is not None:
                on_batch(len(rows))
    sink.close()
    return stats
