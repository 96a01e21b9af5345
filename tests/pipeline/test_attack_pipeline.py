"""End to end on tiny STIX bundles: `distilsec run` with `data.task: attack` (plain and cross-fitted soft labels),
then `distilsec attack --per-line --json` on the run folder; a config without its `attack:` section."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from distilsec.bundle import load_model, read_manifest
from distilsec.cli.app import app
from distilsec.students.attack_model import AttackModel
from tests.data.readers.attack_fixtures import entity, link, make_data_dir, rel, sid, tiny_objects

#: procedure wordings per technique (STIX number of the technique in ``tiny_objects``): 1 T1059, 2 T1059.001,
#: 3 T1105; each actor uses two of them per technique, rotated, so that wordings recur across sources
PROCEDURES = {
    1: [
        "ran scripts through a command interpreter",
        "used scripting interpreters to execute commands",
        "executed batch and shell scripts on victims",
        "relied on a script interpreter to run its tasks",
    ],
    2: [
        "has run PowerShell scripts with encoded commands",
        "used a PowerShell one-liner to launch its implant",
        "executed powershell -enc to run a hidden script",
        "invoked PowerShell with a hidden window to run commands",
    ],
    3: [
        "downloaded additional tools from its server",
        "can download files onto the victim machine",
        "transferred a second-stage payload to the host",
        "retrieved further malware from a remote server",
    ],
}


def bigger_objects(n_actors: int = 20) -> list[dict[str, Any]]:
    """``tiny_objects`` plus ``n_actors`` groups and malware, each citing its own report, with six procedures:
    enough sources that validation and test both hold procedures of every technique (the tiny bundle alone
    leaves them with negatives only)."""
    objs = tiny_objects()
    for k in range(n_actors):
        kind = "intrusion-set" if k % 2 == 0 else "malware"
        aid = f"G{100 + k:04d}" if kind == "intrusion-set" else f"S{100 + k:04d}"
        name = f"Actor{k}"
        objs.append(entity(kind, 200 + k, aid, name))
        for tech, wordings in PROCEDURES.items():
            for j in range(2):
                text = f"{link(name, aid)} {wordings[(k + j) % len(wordings)]} (seen in intrusion {k}-{j})."
                objs.append(
                    rel(
                        1000 + 10 * k + 2 * tech + j,
                        "uses",
                        sid(kind, 200 + k),
                        sid("attack-pattern", tech),
                        f"{text}(Citation: Report {k})",
                        (f"Report {k}",),
                    )
                )
    return objs


CONFIG: dict[str, Any] = {
    "run": {"name": "attack-tiny", "seed": 0, "device": "cpu"},
    "data": {"task": "attack"},
    "teacher": {
        "type": "ensemble.v1",
        "combine": "mean_logprob",
        "members": [
            {"type": "tfidf_linear.v1", "loss": "svm", "ngram_range": [1, 2], "min_df": 1, "C": 0.5},
            {"type": "hashed_linear.v1", "n_features": 4096, "ngram_range": [2, 4], "epochs": 5},
        ],
    },
    "students": {"student": {"type": "ngram_embedding.v1", "n_buckets": 1024, "dim": 8, "epochs": 3, "batch_size": 32}},
    "method": {"temperature": 2.0, "alpha": 0.5, "hard_label_baseline": True},
    "attack": {
        "val_fraction": 0.2,
        "test_fraction": 0.3,
        "baseline": {"type": "tfidf_linear.v1", "loss": "svm", "min_df": 1},
        "shipped": "student",
        "throughput_sample": 20,
    },
}
MODELS = {"teacher", "student", "student-hard", "baseline"}


def _run(root: Path, config: dict[str, Any], data: Path, name: str):
    cfg = root / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = root / name
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--data-dir", str(data)])
    return res, out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("attack") / "data", bigger_objects())


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory, data_dir) -> Path:
    res, out = _run(tmp_path_factory.mktemp("runs"), CONFIG, data_dir, "run")
    assert res.exit_code == 0, res.output
    return out


def test_run_writes_the_report_metrics_plot_splits_and_bundles(attack_run):
    for name in ("report.md", "metrics.json", "per_tactic_top1.png", "config.yaml"):
        assert (attack_run / name).is_file(), name
    for name in ("train.txt", "val.txt", "test.txt", "data.json", "test-sentences.tsv"):
        assert (attack_run / "splits" / name).is_file(), name
    metrics = json.loads((attack_run / "metrics.json").read_text())
    assert metrics["task"] == "attack" and set(metrics["models"]) == MODELS and metrics["shipped"] == "student"
    for name, m in metrics["models"].items():
        s = m["test"]["sentences"]
        assert s["n"] > 0 and 0.0 <= s["top1"] <= s["top3"] <= 1.0, name
        assert s["top1"] <= s["parent_top1"] and s["per_tactic_top1"], name
        assert m["test"]["negatives"]["n"] > 0 and m["n_parameters"] > 0, name
        assert m["sentences_per_s_1thread"] > 0 and m["val"]["n"] > 0, name
    assert metrics["models"]["student"]["n_parameters"] == 1024 * 8 + 8 * 4 + 4  # 3 techniques and "none"
    assert metrics["models"]["teacher"]["test"]["sentences"]["top1"] >= 0.5  # the wordings recur across sources
    assert "shortcut_audit" in metrics and metrics["timings_s"]["teacher"] >= 0
    report = (attack_run / "report.md").read_text()
    assert "student (shipped)" in report and "per_tactic_top1.png" in report
    test_ids = set((attack_run / "splits" / "test.txt").read_text().split())
    assert test_ids and not test_ids & set((attack_run / "splits" / "train.txt").read_text().split())


def test_the_run_folder_ships_an_attack_model(attack_run):
    manifest = read_manifest(attack_run)
    assert manifest["type"] == "attack_run" and manifest["shipped"] == "attack-model"
    model = load_model(attack_run)  # the run folder stands for its shipped bundle
    assert isinstance(model, AttackModel)
    assert model.classes_ == ["T1059", "T1059.001", "T1105", "none"]
    assert model.index.name("T1059.001") == "PowerShell"
    shipped = read_manifest(attack_run / "attack-model")
    assert shipped["role"] == "student" and shipped["type"] == "attack_model.v1"
    for other in ("teacher", "student-hard", "baseline"):
        assert isinstance(load_model(attack_run / f"attack-model-{other}"), AttackModel)


def test_every_tagger_bundle_carries_a_model_card_with_its_own_figures(attack_run):
    metrics = json.loads((attack_run / "metrics.json").read_text())
    for folder, role in [("attack-model", "student"), ("attack-model-teacher", "teacher")]:
        card = (attack_run / folder / "MODEL_CARD.md").read_text()
        for heading in ("Intended use", "Data and splits", "Label sources", "Metrics", "Shortcut audit", "Limits"):
            assert f"## {heading}" in card
        assert f" {metrics['models'][role]['test']['sentences']['top1']:.4f} |" in card
    assert "soft labels" in (attack_run / "attack-model" / "MODEL_CARD.md").read_text()
    assert "soft labels" not in (attack_run / "attack-model-student-hard" / "MODEL_CARD.md").read_text()


LINES = [
    "The group executed powershell -enc to run a hidden script.",
    "The malware downloaded additional tools from its server.",
    "This report was published by the research team in March.",
]


def _per_line(model: Path, tmp_path: Path) -> list[dict[str, Any]]:
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(LINES) + "\n")
    res = CliRunner().invoke(
        app, ["attack", str(lines), "--model", str(model), "--per-line", "--json", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_attack_per_line_json_on_the_run_folder(attack_run, tmp_path):
    out = _per_line(attack_run, tmp_path)
    assert len(out) == 3
    tags = load_model(attack_run).tag(LINES)  # the run folder answers with its shipped tagger
    for rec, tag in zip(out, tags, strict=True):
        assert set(rec) == {"top", "techniques"} and set(rec["top"]) == {"id", "name", "tactic", "score"}
        assert rec["top"]["id"] == tag["top"]["id"]
        assert [t["id"] for t in rec["techniques"]] == [t["id"] for t in tag["techniques"]]
    # the teacher of the same run knows these wordings: the right techniques, and quiet on the boilerplate
    teacher = _per_line(attack_run / "attack-model-teacher", tmp_path)
    assert [r["top"]["id"] for r in teacher[:2]] == ["T1059.001", "T1105"]
    assert [[t["id"] for t in r["techniques"]] for r in teacher] == [["T1059.001"], ["T1105"], []]
    assert teacher[0]["top"]["name"] == "PowerShell" and teacher[1]["top"]["tactic"] == "command-and-control"


def test_an_attack_config_without_its_section_is_one_config_error_line(tmp_path, data_dir):
    config = {k: v for k, v in copy.deepcopy(CONFIG).items() if k != "attack"}
    res, out = _run(tmp_path, config, data_dir, "no-section")
    assert res.exit_code != 0
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "attack" in lines[0] and "Traceback" not in res.output
    assert not (out / "metrics.json").exists()


def test_split_without_validation_procedures_is_one_data_error_line_not_a_key_error(tmp_path):
    """Regression: the tiny bundle's source split leaves validation with negatives only; the run trained every
    model and then failed writing the report with ``KeyError: 'top1'`` (a traceback)."""
    data = make_data_dir(tmp_path / "data")  # five procedures: too few sources for three parts
    res, out = _run(tmp_path, CONFIG, data, "tiny")
    assert res.exit_code != 0 and not isinstance(res.exception, KeyError)
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "no procedure sentence in val" in lines[0]
    assert not (out / "metrics.json").exists() and not (out / "attack-model").exists()


def test_cross_fitted_soft_labels_also_run(tmp_path, data_dir):
    config = copy.deepcopy(CONFIG)
    config["attack"]["oof_folds"] = 2
    config["method"]["hard_label_baseline"] = False
    config["attack"].pop("baseline")
    res, out = _run(tmp_path, config, data_dir, "oof")
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"teacher", "student"}
    assert metrics["models"]["student"]["test"]["sentences"]["n"] > 0
    log = (out / "log.txt").read_text()
    assert "cross-fitted" in log and "teacher fold 2/2" in log


def test_a_simulated_unlabelled_pool_hides_training_sources_and_adds_a_no_pool_twin(tmp_path, data_dir):
    config = copy.deepcopy(CONFIG)
    config["attack"] |= {"unlabelled_share": 0.5, "pseudo_label_threshold": 0.3}
    res, out = _run(tmp_path, config, data_dir, "pool")
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    pool = metrics["unlabelled"]
    hidden = pool["simulated"]["rows_hidden"]
    assert hidden > 0 and pool["pool"] == hidden and 0 < pool["kept"] <= hidden
    assert pool["pseudo_label_accuracy_kept"] is not None and pool["pseudo_label_accuracy_all"] is not None
    assert len((out / "splits" / "unlabelled.txt").read_text().split()) == hidden
    assert set(metrics["models"]) == MODELS | {"student-no-pool"}
    assert "Unlabelled pool" in (out / "report.md").read_text()
    assert "unlabelled sentences the teacher labelled" in (out / "attack-model" / "MODEL_CARD.md").read_text()
    assert "soft labels" in (out / "attack-model-student-no-pool" / "MODEL_CARD.md").read_text()


def test_an_unlabelled_report_folder_joins_training_minus_copies_of_held_out_sentences(tmp_path, data_dir, attack_run):
    held_out = (attack_run / "splits" / "test-sentences.tsv").read_text().splitlines()[1].split("\t", 1)[1]
    reports = tmp_path / "folder"
    reports.mkdir()
    (reports / "a.md").write_text(
        "# Intrusion notes\n\nThe operators ran PowerShell with an encoded command on each host.\n"
        "They downloaded a second tool from their server.\n\n" + held_out + "\n"
    )
    (reports / "b.txt").write_text("The operators ran PowerShell with an encoded command on each host.\n")
    (reports / "c.html").write_bytes(b"\x00\x01\x02 not a report \x00" * 50)
    config = copy.deepcopy(CONFIG)
    config["attack"]["unlabelled"] = [str(reports)]
    res, out = _run(tmp_path, config, data_dir, "reports")
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "metrics.json").read_text())["unlabelled"]["reports"]
    assert rep["reports"] == 2 and sum(rep["reports_skipped"].values()) == 1
    assert rep["dropped_copying_held_out"] >= 1 and rep["duplicate_sentences"] == 1
    assert rep["sentences"] - rep["duplicate_sentences"] == rep["kept"] + rep["dropped_copying_held_out"]


def test_an_unlabelled_folder_without_reports_is_one_error_line(tmp_path, data_dir):
    (tmp_path / "nothing").mkdir()
    config = copy.deepcopy(CONFIG)
    config["attack"]["unlabelled"] = [str(tmp_path / "nothing")]
    res, _ = _run(tmp_path, config, data_dir, "none")
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert [line for line in res.output.splitlines() if line.startswith("error:")][0].count("attack.unlabelled") == 1
