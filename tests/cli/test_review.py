"""The analyst-loop commands: one line and exit 2 for every user mistake; stdout holds only results."""

from __future__ import annotations

import json
import socket

from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.data.label_ledger import LabelLedger
from distilsec.data.review_items import read_review_cache
from tests.review_run import tiny_run_copy

runner = CliRunner()


def _error_line(res) -> str:  # noqa: ANN001
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    return lines[0]


def test_review_refuses_a_folder_that_is_not_a_run(tmp_path):
    assert "is not a distilsec run folder" in _error_line(runner.invoke(app, ["review", str(tmp_path)]))


def test_review_refuses_a_port_in_use_before_building_anything(tmp_path):
    run = tiny_run_copy(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _error_line(runner.invoke(app, ["review", str(run), "--port", str(port)]))
    assert f"port {port} on 127.0.0.1 is already in use" in line


def test_a_tampered_ledger_line_is_one_error_line_in_every_command(tmp_path):
    run = tiny_run_copy(tmp_path)
    cache = read_review_cache(run / "review")
    led = LabelLedger(cache.ledger_path)
    item = cache.queue[0]
    led.append("label", item, who="alice", new="malicious")
    led.append("label", cache.queue[1], who="alice", new="benign")
    res = runner.invoke(app, ["review-log", str(run)])
    assert res.exit_code == 0 and json.loads(res.stdout.splitlines()[0])["item"] == item
    lines = led.path.read_text().splitlines()
    led.path.write_text(lines[0].replace('"new":"malicious"', '"new":"benign"') + "\n" + lines[1] + "\n")
    assert "line 1: the line was changed after it was written" in _error_line(
        runner.invoke(app, ["review-log", str(run)])
    )
    line = _error_line(
        runner.invoke(
            app, ["run", str(run / "config.yaml"), "--out", str(tmp_path / "again"), "--labels", str(led.path)]
        )
    )
    assert "line 1" in line and not (tmp_path / "again").exists()


def test_export_then_import_through_the_cli(tmp_path):
    run = tiny_run_copy(tmp_path)
    res = runner.invoke(app, ["review-export", str(run), "--format", "label-studio", "--out", str(tmp_path / "ls")])
    assert res.exit_code == 0, res.output
    tasks_file = tmp_path / "ls" / "tasks.json"
    assert res.stdout.split() == [str(tasks_file), str(tmp_path / "ls" / "label_config.xml")]
    task = json.loads(tasks_file.read_text())[0]
    result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["malicious"]}}]
    task.update(id=1, annotations=[{"id": 5, "completed_by": 2, "result": result}])
    (tmp_path / "done.json").write_text(json.dumps([task]))
    res = runner.invoke(app, ["review-import", str(run), str(tmp_path / "done.json")])
    assert res.exit_code == 0 and "1 decisions imported" in res.output
    assert LabelLedger(run / "review" / "ledger.jsonl").state().labels() == {task["data"]["item_id"]: "malicious"}
    assert "--format 'csv'" in _error_line(runner.invoke(app, ["review-export", str(run), "--format", "csv"]))


def test_retrain_without_decisions_is_one_line(tmp_path):
    run = tiny_run_copy(tmp_path)
    assert "label items with `distilsec review" in _error_line(runner.invoke(app, ["retrain", str(run)]))


def test_review_log_of_a_run_nobody_reviewed_says_so_and_succeeds(tmp_path):
    run = tiny_run_copy(tmp_path)
    res = runner.invoke(app, ["review-log", str(run)])
    assert res.exit_code == 0 and "no decisions yet" in res.output and not res.stdout.strip().startswith("{")


def test_help_texts_name_the_options():
    for cmd, words in (("review", ["--port", "--host", "--token", "--analyst"]), ("retrain", ["--teacher", "--out"])):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and all(w in res.output for w in words)
