"""`distilsec bench cti-ate`: a CTI-Bench ATE-format TSV built here, scored by a tiny tagger."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from distilsec.cli.app import app

HEADER = "URL\tDescription\tPrompt\tGT\n"
ROWS = [
    (
        "https://attack.mitre.org/software/S1",
        "The actor used powershell to run encoded commands. The implant communicates with its c2 server over http.",
        "p",
        "T1071, T1059",
    ),
    (
        "https://attack.mitre.org/software/S2",
        "Victims received spearphishing emails with malicious attachments.",
        "p",
        "T1566",
    ),
    ("https://attack.mitre.org/software/S3", "We thank our colleagues for their review.", "p", "T1005"),
    ("https://attack.mitre.org/software/S4", "", "p", "T1001"),  # no description: skipped, counted
]


def _tsv(tmp_path, rows=ROWS):
    f = tmp_path / "ate.tsv"
    f.write_text(HEADER + "".join("\t".join(r) + "\n" for r in rows))
    return f


def test_bench_cti_ate_prints_figures_and_micro_f1_last(tiny_attack_bundle, tmp_path):
    res = CliRunner().invoke(app, ["bench", "cti-ate", str(_tsv(tmp_path)), "--model", str(tiny_attack_bundle)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    # parent level (the GT names no sub-technique): T1059.001 -> T1059 and T1566.001 -> T1566 are hits;
    # TP 3, FP 0, FN 1 (T1005, which the tagger does not know)
    assert lines[-1] == "micro-F1: 0.857"
    assert "level: parent (auto: the GT names no sub-technique)" in lines
    assert "exact-set match: 0.667" in lines and "macro-F1: 0.750" in lines
    assert lines[0].startswith("rows: 3 of 4 (1 skipped)")
    assert "T1005" in res.stderr and "no_description" in res.stderr


def test_exact_level_counts_subtechnique_answers_as_misses_and_json_has_every_metric(tiny_attack_bundle, tmp_path):
    args = ["bench", "cti-ate", str(_tsv(tmp_path)), "--model", str(tiny_attack_bundle), "--level", "exact", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    text = res.stdout
    metrics = json.loads(text[text.index("{") :])
    assert metrics["level"] == "exact" and metrics["true_positives"] == 1  # only T1071 matches exactly
    assert metrics["rows"] == 3 and metrics["rows_read"] == 4 and metrics["skipped"] == {"no_description": 1}
    assert "micro-F1: " in text.splitlines()[text.splitlines().index("{") - 1]


def test_bad_level_file_or_model_is_one_line(tiny_attack_bundle, tmp_path):
    f = _tsv(tmp_path)
    res = CliRunner().invoke(app, ["bench", "cti-ate", str(f), "--model", str(tiny_attack_bundle), "--level", "x"])
    assert res.exit_code == 2 and "--level must be one of auto, exact, parent" in res.stderr
    bad = tmp_path / "bad.tsv"
    bad.write_text("URL\tText\n1\t2\n")
    res = CliRunner().invoke(app, ["bench", "cti-ate", str(bad), "--model", str(tiny_attack_bundle)])
    assert res.exit_code == 2 and "Description" in res.stderr and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["bench", "cti-ate", str(f), "--model", str(tiny_attack_bundle / "classifier")])
    assert res.exit_code == 2 and "needs an ATT&CK tagger" in res.stderr
