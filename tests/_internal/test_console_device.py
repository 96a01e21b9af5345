"""The one console / progress / logging set-up, and the one thread / seed set-up."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from distilsec._internal.console import attach_run_log, console, progress
from distilsec._internal.device import limit_threads, seed_everything, set_threads


@pytest.mark.parametrize("kind", ["bar", "rate", "events", "spinner"])
def test_every_progress_kind_draws_on_stderr_never_stdout(kind, capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: treat the (captured) stream as a terminal
    with progress(kind, transient=False) as bar:  # transient kinds erase what they drew
        task = bar.add_task("step", total=3, rate="")
        bar.advance(task, 3)
    out, err = capsys.readouterr()
    assert out == "" and "step" in err


def test_progress_is_silent_when_disabled(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    with progress("rate", disable=True) as bar:
        bar.advance(bar.add_task("step", total=1, rate=""), 1)
    assert capsys.readouterr() == ("", "")


def test_unknown_progress_kind_is_refused():
    with pytest.raises(ValueError, match="unknown progress kind"):
        progress("gauge")  # type: ignore[arg-type]


def test_the_old_progress_helpers_use_the_one_console():
    from distilsec.cli._common import console as cli_console
    from distilsec.cli.score import events_progress
    from distilsec.students._torch_training import progress_bar
    from distilsec.teachers.labelling import rate_progress

    assert cli_console is console and console.stderr
    for bar in (progress_bar(), rate_progress(disable=False), events_progress("x")):
        assert bar.console is console


def test_attach_run_log_writes_distilsec_records_to_log_txt(tmp_path):
    handler = attach_run_log(tmp_path)
    try:
        logging.getLogger("distilsec.test").info("fitting %s", "char_cnn")
    finally:
        logging.getLogger("distilsec").removeHandler(handler)
        handler.close()
    line = (tmp_path / "log.txt").read_text().strip()
    assert line.endswith("INFO distilsec.test: fitting char_cnn")


def test_seed_everything_makes_the_global_generators_repeat():
    import torch

    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first


def test_set_threads_zero_keeps_the_default_and_limit_threads_restores():
    import torch

    before = torch.get_num_threads()
    set_threads(0)
    assert torch.get_num_threads() == before
    with limit_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
