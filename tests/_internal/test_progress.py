"""Long teacher stages report progress: a bar on stderr in a terminal, log lines with counts and seconds always."""

from __future__ import annotations

import logging

import pytest

from distilsec.teachers import EncoderTeacher, EnsembleTeacher
from distilsec.teachers.labelling import stage_progress


def test_stage_progress_logs_start_and_end_with_counts_and_seconds(caplog):
    with caplog.at_level(logging.INFO, logger="distilsec"), stage_progress("scoring the curated set", 10) as stage:
        stage.advance(4)
        stage.advance(6, note="loss 0.1")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "scoring the curated set: started (10 texts)"
    assert lines[1].startswith("scoring the curated set: done, 10 of 10 texts in ") and "texts/s" in lines[1]


def test_stage_progress_logs_a_stopped_stage(caplog):
    with (
        caplog.at_level(logging.INFO, logger="distilsec"),
        pytest.raises(RuntimeError),
        stage_progress("fine-tuning", 8) as stage,
    ):
        stage.advance(3)
        raise RuntimeError("boom")
    assert "fine-tuning: stopped, 3 of 8 texts" in caplog.records[-1].getMessage()


def test_progress_is_silent_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    with stage_progress("scoring", 3) as stage:
        stage.advance(3)
    assert capsys.readouterr() == ("", "")


def test_progress_bar_goes_to_stderr_never_stdout(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: treat the (captured) stream as a terminal
    with stage_progress("scoring", 3) as stage:
        stage.advance(3)
    out, err = capsys.readouterr()
    assert out == "" and err != ""


def test_encoder_fine_tuning_and_scoring_log_each_stage_with_counts(tiny_bert, tiny_texts, caplog):
    x, y, _ = tiny_texts
    teacher = EncoderTeacher(str(tiny_bert), max_length=16, epochs=2, batch_size=8, max_train_samples=None)
    with caplog.at_level(logging.INFO, logger="distilsec"):
        teacher.fit(x, y)
        teacher.predict_proba(x)
    lines = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("encoder fine-tuning (") and "started" in m for m in lines)
    epochs = [m for m in lines if m.startswith("encoder fine-tuning epoch")]
    assert len(epochs) == 2 and all("mean loss" in m and "samples/s" in m for m in epochs)
    assert any(m.startswith("encoder scoring (") and f"done, {len(x):,} of {len(x):,} texts" in m for m in lines)


def test_ensemble_logs_every_member_fit_and_scoring(tiny_texts, caplog):
    x, y, _ = tiny_texts
    teacher = EnsembleTeacher(
        members=[
            {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 1},
            {"type": "hashed_linear.v1", "n_features": 2**11, "epochs": 1},
        ]
    )
    with caplog.at_level(logging.INFO, logger="distilsec"):
        teacher.fit(x, y)
        teacher.predict_proba(x)
    lines = [r.getMessage() for r in caplog.records]
    for i in (1, 2):
        for what in ("fit", "scoring"):
            desc = f"ensemble member {i}/2 (hashed_linear.v1): {what}"
            assert f"{desc}: started ({len(x):,} texts)" in lines
            assert any(m.startswith(f"{desc}: done, {len(x):,} of {len(x):,} texts in ") for m in lines)
