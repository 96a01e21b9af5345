"""The analyst loop: ``review`` (web page), ``retrain``, ``review-export`` / ``review-import``, ``review-log``."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Annotated

import typer

from distilsec.cli._common import console, friendly_errors, setup_logging, stdout_to_stderr

__all__ = ["review", "retrain", "review_export", "review_import", "review_log"]

RunDir = Annotated[Path, typer.Argument(help="A run folder written by `distilsec run`.", show_default=False)]
DataDir = Annotated[Path | None, typer.Option(help="The run's data root (default $DISTILSEC_DATA or ../shared/data).")]
Analyst = Annotated[
    str | None, typer.Option(help="Name recorded with each decision (default $DISTILSEC_ANALYST or the login name).")
]


def review(
    run_dir: RunDir,
    port: Annotated[int, typer.Option(help="TCP port (1-65535).")] = 8000,
    host: Annotated[
        str, typer.Option(help="Address to bind: 127.0.0.1 = this machine only; any other needs a token.")
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="DISTILSEC_REVIEW_TOKEN", help="Access token (made up and printed when --host is not local)."
        ),
    ] = None,
    analyst: Analyst = None,
    data_dir: DataDir = None,
    queue_size: Annotated[int, typer.Option(help="Most items in the ranked queue.")] = 1000,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute the queue even if the cache is current.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Review the items worth an analyst's minute in a local web page; decisions go to RUN_DIR/review/ledger.jsonl.

    The queue ranks teacher/student disagreements, doubtful original labels, unsure teacher labels, scores
    near the operating threshold, curation's label conflicts and the last evaluation's errors. It is computed
    once (minutes on large data) and cached in RUN_DIR/review/. Keys: 1-9 / m / b label, s skip, n note,
    u undo, j / k next / previous, ? help.
    """
    setup_logging(verbose)

    def go() -> None:
        from distilsec.data.label_ledger import check_analyst_name
        from distilsec.errors import DistilsecError
        from distilsec.pipeline.review import build_review_cache, check_run_folder
        from distilsec.serving.api.server import check_address, url
        from distilsec.serving.review.app import ReviewSettings, create_review_app, default_analyst
        from distilsec.serving.review.security import is_loopback

        run = check_run_folder(run_dir)
        check_address(host, port)  # a port in use costs a second, not the queue's minutes
        if queue_size < 1:
            raise DistilsecError(f"--queue-size {queue_size}: use 1 or more")
        who = check_analyst_name(analyst or default_analyst())
        the_token = token
        if the_token is None and not is_loopback(host):
            the_token = secrets.token_urlsafe(24)
        cache = build_review_cache(run, data_dir=data_dir, queue_size=queue_size, rebuild=rebuild)
        settings = ReviewSettings(run_dir=run, analyst=who, host=host, port=port, token=the_token)
        app = create_review_app(settings)
        shown = socket.gethostname() if host in ("0.0.0.0", "::") else host  # an address others can open
        link = url(shown, port) + (f"/?token={the_token}" if the_token else "/")
        console.print(
            f"review page: {link}  ({len(cache.queue)} items queued; analyst {who}; "
            f"ledger {cache.ledger_path}); Ctrl+C stops it",
            soft_wrap=True,
        )
        _serve(app, host, port, verbose)

    friendly_errors(go)


def _serve(app: object, host: str, port: int, verbose: bool) -> None:
    import functools

    import uvicorn

    from distilsec.serving.api.server import HeaderDeadlineProtocol

    protocol = functools.partial(HeaderDeadlineProtocol, header_timeout_s=10.0)
    uvicorn.run(app, host=host, port=port, log_level="info" if verbose else "warning", http=protocol)  # type: ignore[arg-type]


def retrain(
    run_dir: RunDir,
    out: Annotated[Path | None, typer.Option(help="New run folder (default RUN_DIR/retrain-<k>).")] = None,
    data_dir: DataDir = None,
    ledger: Annotated[
        Path | None, typer.Option(help="Label ledger to apply (default RUN_DIR/review/ledger.jsonl).")
    ] = None,
    teacher: Annotated[
        bool | None,
        typer.Option(
            "--teacher/--no-teacher", help="Refit the teacher too (default: the config's review.retrain_teacher)."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier run in --out.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Retrain RUN_DIR with its analyst labels and compare before/after on the same test set.

    Analyst labels outrank teacher labels outrank original labels (train and val); corrected test labels
    are reported apart, never merged. The new run folder's report.md has an "Analyst corrections" section;
    standard output holds only its path.
    """
    setup_logging(verbose)

    def go() -> None:
        from distilsec.pipeline.retrain import retrain as run_retrain

        with stdout_to_stderr():
            result = run_retrain(
                run_dir, out=out, data_dir=data_dir, retrain_teacher=teacher, ledger=ledger, overwrite=overwrite
            )
        typer.echo(str(result.run_dir))

    friendly_errors(go)


def review_export(
    run_dir: RunDir,
    to: Annotated[str, typer.Option("--format", help="label-studio or argilla.")] = "label-studio",
    out: Annotated[
        Path | None, typer.Option(help="Folder to write into (default RUN_DIR/review/export-<format>).")
    ] = None,
    items: Annotated[str, typer.Option(help="queue (ranked), all, or decided.")] = "queue",
    data_dir: DataDir = None,
) -> None:
    """Export the review queue for Label Studio (tasks.json, label_config.xml) or Argilla (Parquet, JSONL, settings)."""
    setup_logging(False)

    def go() -> None:
        from distilsec.data.exchange import export_queue
        from distilsec.pipeline.review import build_review_cache

        cache = build_review_cache(run_dir, data_dir=data_dir)
        folder = out or cache.folder / f"export-{to}"
        for f in export_queue(cache, to, folder, items=items):
            typer.echo(str(f))

    friendly_errors(go)


def review_import(
    run_dir: RunDir,
    files: Annotated[
        list[Path], typer.Argument(help="Label Studio JSON/JSON_MIN exports or Argilla Parquet/JSONL files.")
    ],
    to: Annotated[str, typer.Option("--format", help="auto, label-studio or argilla.")] = "auto",
    analyst: Analyst = None,
) -> None:
    """Append the decisions of labelled Label Studio / Argilla files to RUN_DIR/review/ledger.jsonl."""
    setup_logging(False)

    def go() -> None:
        from distilsec.data.exchange import import_file
        from distilsec.data.label_ledger import LabelLedger
        from distilsec.data.review_items import REVIEW_DIR, read_review_cache
        from distilsec.pipeline.review import check_run_folder
        from distilsec.serving.review.app import default_analyst

        cache = read_review_cache(check_run_folder(run_dir) / REVIEW_DIR)
        ledger = LabelLedger(cache.ledger_path, original=cache.original_labels())
        ledger.state()  # a damaged ledger is reported before anything is appended
        for f in files:
            result = import_file(f, cache, ledger, fmt=to, who=analyst or default_analyst())
            console.print(result.summary(), soft_wrap=True)

    friendly_errors(go)


def review_log(
    run_dir: RunDir,
    last: Annotated[int, typer.Option(help="Show the latest N lines (0 = all).")] = 20,
) -> None:
    """Check RUN_DIR's label ledger (hash chain) and print its latest lines as JSON lines."""
    setup_logging(False)

    def go() -> None:
        import json
        from dataclasses import asdict

        from distilsec.data.label_ledger import LabelLedger
        from distilsec.data.review_items import LEDGER_NAME, REVIEW_DIR
        from distilsec.pipeline.review import check_run_folder

        path = check_run_folder(run_dir) / REVIEW_DIR / LEDGER_NAME
        if not path.is_file():  # nothing to check: a run nobody reviewed yet is not an error
            console.print(f"{path}: no decisions yet (the first decision in `distilsec review` creates it)")
            return
        state = LabelLedger(path).state()
        for e in state.entries[-last if last else 0 :]:
            typer.echo(json.dumps(asdict(e), ensure_ascii=True))
        console.print(f"{path}: {len(state.entries)} lines, chain intact; {len(state.decisions)} current decisions")

    friendly_errors(go)
