"""The teacher-call ledger and the labelling job: caching, cost estimates, budgets, kill and resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from distilsec.errors import DataError
from distilsec.teachers.labelling import CallResult, estimate_cost, run_labelling
from distilsec.teachers.ledger import TeacherLedger, input_key

REPO = Path(__file__).resolve().parents[2]


def _echo_teacher(counter: list[str]):
    def call(batch: list[str]) -> list[CallResult]:
        counter.extend(batch)
        return [CallResult({"len": len(t)}, prompt_tokens=len(t), seconds=0.5) for t in batch]

    return call


def test_put_get_and_keys_are_per_model_and_template(tmp_path):
    led = TeacherLedger(tmp_path / "l.sqlite")
    led.put("m1", "t1", "git status", {"x": 1}, prompt_tokens=3, seconds=0.25)
    assert led.get_many("m1", "t1", ["git status", "ls"])["git status"].answer == {"x": 1}
    assert led.get_many("m2", "t1", ["git status"]) == {}  # another model: not shared
    assert led.get_many("m1", "t2", ["git status"]) == {}  # another template: not shared
    assert led.count() == 1 and led.cost("m1")["seconds"] == pytest.approx(0.25)
    led.close()
    # reopened from disk, answers are still there
    with TeacherLedger(tmp_path / "l.sqlite") as again:
        assert again.get_many("m1", "t1", ["git status"])["git status"].prompt_tokens == 3


def test_surrogates_and_many_keys(tmp_path):
    led = TeacherLedger(tmp_path / "l.sqlite")
    texts = [f"cmd {i} \udcff" for i in range(1200)]  # > SQLite's bound-parameter chunk of 500
    led.put_many("m", "t", [(t, {"i": i}, 0, 0, 0.0) for i, t in enumerate(texts)])
    got = led.get_many("m", "t", texts)
    assert len(got) == 1200 and got[texts[777]].answer == {"i": 777}
    assert input_key("a") != input_key("b")


def test_rerun_costs_nothing_and_duplicates_are_asked_once(tmp_path):
    led = TeacherLedger(tmp_path / "l.sqlite")
    asked: list[str] = []
    texts = ["a", "bb", "a", "ccc"]
    run = run_labelling(texts, _echo_teacher(asked), led, "m", "t", progress=False)
    assert asked == ["a", "bb", "ccc"] and run.calls == 3
    assert [a["len"] for a in run.answers] == [1, 2, 1, 3]
    again = run_labelling(texts + ["dddd"], _echo_teacher(asked), led, "m", "t", progress=False)
    assert asked[3:] == ["dddd"] and again.calls == 1 and again.cached == 3


def test_cost_estimate_uses_measured_history_and_max_calls_refuses(tmp_path):
    led = TeacherLedger(tmp_path / "l.sqlite")
    run_labelling(["a", "b"], _echo_teacher([]), led, "m", "t", progress=False)
    est = estimate_cost(["a", "x", "y", "z"], led, "m", "t", tokens_per_call=lambda t: 10)
    assert (est.calls, est.n_cached, est.prompt_tokens, est.basis) == (3, 1, 30, "ledger")
    assert est.seconds == pytest.approx(1.5)  # 3 calls x 0.5 s measured
    assert "3 teacher calls" in est.describe()
    with pytest.raises(DataError, match="max_calls"):
        run_labelling(["p", "q", "r"], _echo_teacher([]), led, "m", "t", max_calls=2, progress=False)


def test_batched_teacher_stores_each_row(tmp_path):
    led = TeacherLedger(tmp_path / "l.sqlite")
    asked: list[str] = []
    run = run_labelling([str(i) for i in range(10)], _echo_teacher(asked), led, "m", "t", batch_size=4, progress=False)
    assert run.calls == 10 and led.count("m", "t") == 10
    assert led.cost("m", "t")["seconds"] == pytest.approx(5.0)


def test_not_a_database(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="not a usable teacher ledger"):
        TeacherLedger(bad)


_JOB = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {repo!r})
    from distilsec.teachers.llm.teacher import LLMTeacher
    from tests.teachers.llm.fakes import FakeLLMBackend

    teacher = LLMTeacher.load({bundle!r})
    teacher.ledger = {ledger!r}
    teacher.progress = False
    teacher.connect(FakeLLMBackend(log_path={log!r}, delay=0.01))
    texts = [line.rstrip("\\n") for line in open({inputs!r}, encoding="utf-8")]
    teacher.predict(texts)
    """
)


def test_issue_3_killed_labelling_job_resumes_without_repeats_or_losses(tmp_path, tiny_texts):
    """SIGKILL a labelling job part-way; the re-run repeats no stored call and loses no label."""
    from distilsec.teachers.llm.teacher import LLMTeacher
    from tests.teachers.llm.fakes import FakeLLMBackend

    texts, labels, _ = tiny_texts
    teacher = LLMTeacher(calibration="none", ledger=None, progress=False).connect(FakeLLMBackend())
    teacher.fit(texts, labels)
    bundle = teacher.save(tmp_path / "teacher")
    pool = [f"{t} --job {i}" for i, t in enumerate(texts * 2)]  # 240 distinct inputs
    (tmp_path / "inputs.txt").write_text("\n".join(pool) + "\n", encoding="utf-8")
    ledger_path, log_path = tmp_path / "ledger.sqlite", tmp_path / "calls.log"
    script = _JOB.format(
        repo=str(REPO),
        bundle=str(bundle),
        ledger=str(ledger_path),
        log=str(log_path),
        inputs=str(tmp_path / "inputs.txt"),
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    stored_at_kill = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger_path.exists():
            try:
                with sqlite3.connect(ledger_path, timeout=5) as db:
                    stored_at_kill = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            except sqlite3.OperationalError:
                stored_at_kill = 0
            if stored_at_kill >= 60:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the job finished before it could be killed; slow the fake down"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    first_calls = log_path.read_text(encoding="utf-8").splitlines()
    with TeacherLedger(ledger_path) as led:
        stored = {key for key, _ in led.iter_answers(*teacher.signature.rsplit("/", 1))}
    assert len(stored) >= 60
    # every call that completed was stored, except at most the one in flight when the kill came
    assert len(first_calls) - len(stored) in (0, 1)

    # resume (in this process: the ledger on disk is all that carries over)
    log_path.rename(tmp_path / "calls-first.log")
    resumed_teacher = LLMTeacher.load(bundle)
    resumed_teacher.ledger, resumed_teacher.progress = str(ledger_path), False
    resumed_teacher.connect(FakeLLMBackend(log_path=log_path))
    resumed = resumed_teacher.predict(pool).tolist()
    assert resumed_teacher.last_run_.cached == len(stored)
    second_calls = log_path.read_text(encoding="utf-8").splitlines()
    first_set = set(first_calls[: len(stored)])
    assert not first_set & set(second_calls), "a stored answer was asked again"
    assert len(second_calls) == len(set(second_calls)) == len(pool) - len(stored)
    resumed_teacher.close()

    reference = teacher.predict(pool).tolist()  # same fake, uninterrupted, no ledger
    assert resumed == reference  # zero lost labels, same answers
