"""Shared CLI plumbing: override parsing, logging set-up and clean error exits."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from distilsec._internal.console import console, setup_logging
from distilsec.errors import DistilsecError

__all__ = ["console", "parse_overrides", "friendly_errors", "setup_logging", "stdout_to_stderr"]

T = TypeVar("T")


def parse_overrides(args: list[str]) -> dict[str, str]:
    """``--section.key value`` / ``--section.key=value`` pairs, as in spaCy's CLI."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or "." not in arg:
            raise DistilsecError(f"unexpected argument {arg!r}; overrides look like --section.key value")
        key = arg[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise DistilsecError(f"override {arg} has no value")
            value = args[i + 1]
            i += 2
        out[key] = value
    return out


def friendly_errors(fn: Callable[[], T]) -> T:
    """Run ``fn``; a distilsec error becomes one red line and exit code 2, not a traceback."""
    try:
        return fn()
    except DistilsecError as exc:
        from rich.markup import escape

        # one line whatever the terminal width (no wrapping); the message is text, not rich markup
        console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)


def noop(*_: Any) -> None:
    return None


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to standard output meanwhile (libraries' prints and progress bars, C code
    writing to file descriptor 1) to standard error, so that stdout holds only what the command returns."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test runner's buffer)
        fd = None
    saved = os.dup(fd) if fd is not None else None
    try:
        if fd is not None:
            sys.stderr.flush()
            os.dup2(sys.stderr.fileno(), fd)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None and fd is not None:
            os.dup2(saved, fd)
            os.close(saved)
