"""The one console, logging set-up and progress display of every command.

Everything a person watches (progress, warnings, the one-line errors) goes to stderr through :data:`console`,
so that results written to stdout (``distilsec score`` JSONL, ``config show``) stay clean for a pipe. One
console also lets rich keep a live progress display and log lines from drawing over each other.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["console", "setup_logging", "attach_run_log", "progress", "ProgressKind"]

#: The console of every message meant for a person: stderr, never mixed with results on stdout.
console = Console(stderr=True)

#: ``bar``: steps of known count with a rate field and ETA (training epochs);
#: ``rate``: calls done, rate, elapsed time and ETA (labelling, long teacher stages);
#: ``events``: a stream of unknown length, events done and events/s (scoring);
#: ``spinner``: a step with no count, only elapsed time (reading, de-duplicating).
ProgressKind = Literal["bar", "rate", "events", "spinner"]

#: The format of a run's ``log.txt``: time and logger name, since it is read after the fact.
RUN_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """Log through :data:`console` (INFO with ``verbose``, else WARNING) and quiet the model libraries."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Quiet transformers through the variables it reads when imported: importing it here would cost
    # every command (``score`` on an ONNX bundle included) seconds of torch start-up.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # what transformers' disable_progress_bar sets
    if "transformers" in sys.modules:  # already imported: the variables came too late for it
        transformers = sys.modules["transformers"]
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()


def attach_run_log(run_dir: str | Path) -> logging.Handler:
    """Write every ``distilsec.*`` log record of INFO and above to ``<run_dir>/log.txt`` (a fresh file).

    The caller removes the returned handler when the run ends (``logging.getLogger("distilsec")
    .removeHandler(h); h.close()``), so that a second run in the same process logs to its own folder.
    """
    handler = logging.FileHandler(Path(run_dir) / "log.txt", mode="w")
    handler.setFormatter(logging.Formatter(RUN_LOG_FORMAT))
    root = logging.getLogger("distilsec")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


class _EventRateColumn(ProgressColumn):
    """``12,345 events  6,789 events/s``: what a stream of unknown length can show."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed else 0.0
        return Text(f"{task.completed:,.0f} events  {rate:,.0f} events/s", style="cyan")


def _columns(kind: ProgressKind) -> tuple[ProgressColumn | str, ...]:
    """The columns of each kind (a task of ``bar`` and ``rate`` needs a ``rate`` field: ``add_task(..., rate="")``)."""
    if kind == "bar":
        return (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
    if kind == "rate":
        return (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
    if kind == "events":
        return (SpinnerColumn(), TextColumn("[bold]{task.description}"), _EventRateColumn(), TimeElapsedColumn())
    if kind == "spinner":
        return (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    raise ValueError(f"unknown progress kind {kind!r}; one of bar, rate, events, spinner")


#: whether a finished display is erased (True) or left on screen: a scoring summary stays, steps vanish
_TRANSIENT: dict[str, bool] = {"bar": True, "rate": True, "events": False, "spinner": True}


def progress(kind: ProgressKind = "bar", *, transient: bool | None = None, disable: bool = False) -> Progress:
    """A rich progress display of one ``kind`` on :data:`console` (stderr; silent when it is not a terminal).

    Use it as a context manager: ``with progress("rate") as bar: task = bar.add_task(desc, total=n, rate="")``.
    ``transient`` (default: per kind, see :data:`_TRANSIENT`) erases the display when done; ``disable`` hides it.
    """
    return Progress(
        *_columns(kind),
        console=console,
        transient=_TRANSIENT[kind] if transient is None else transient,
        disable=disable,
    )
