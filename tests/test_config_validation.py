"""The whole config is checked before any data is read (issue 11, items 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from distilsec.cli.app import app
from distilsec.cli.init import TASKS, config_template
from distilsec.config import load_config, validate_config
from distilsec.errors import ConfigError
from distilsec.pipeline.sweeps.semisup_config import load_semisup_config
from distilsec.pipeline.sweeps.synth_config import load_synth_config

ROOT = Path(__file__).resolve().parents[1]


def _minimal(**extra: object) -> dict:
    cfg = {
        "data": {"task": "table", "path": "events.csv"},
        "teacher": {"type": "hashed_linear.v1", "n_features": 1024},
        "students": {"student": {"type": "char_cnn.v1", "n_filters": 8, "epochs": 2}},
    }
    for dotted, value in extra.items():
        node = cfg
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return cfg


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("students__student__epochs", "two", "students.student.epochs: Input should be a valid integer"),
        ("students__student__foo", 1, "students.student.foo: char_cnn.v1 has no parameter 'foo'"),
        ("students__student__epochs", 0, "students.student.epochs: must be at least 1"),
        ("students__student__lr", -0.1, "students.student.lr: must not be negative"),
        ("students__student__kernel_sizes", [0, 3], "students.student.kernel_sizes: must be at least 1"),
        ("teacher__type", "nope.v1", "teacher.type: unknown model type 'nope.v1'"),
        ("data__max_text_chars", -5, "data.max_text_chars: Input should be greater than 0"),
        ("data__max_text_chars", 0, "data.max_text_chars"),
        ("split__val_fraction", 0, "split.val_fraction"),
        ("split__by", "time", "time_cutoff is not set"),
        ("evaluation__target_fpr", 2, "evaluation.target_fpr"),
        ("noise__student", "nobody", "noise.student: 'nobody' is not a student"),
    ],
)
def test_config_mistakes_are_one_error_naming_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid config") as err:
        validate_config(_minimal(**{key: value}))
    assert message in str(err.value)


def test_ensemble_members_are_checked_against_their_own_factory() -> None:
    cfg = _minimal(teacher={"type": "ensemble.v1", "members": [{"type": "hashed_linear.v1", "epochz": 2}]})
    with pytest.raises(ConfigError, match="teacher.members.0.epochz: hashed_linear.v1 has no parameter"):
        validate_config(cfg)
    cfg = _minimal(teacher={"type": "ensemble.v1", "members": [{"type": "hashed_linear.v1", "weight": 0}]})
    with pytest.raises(ConfigError, match="teacher.members.0.weight: must be a positive number"):
        validate_config(cfg)


def test_table_task_needs_a_path_and_time_split_needs_a_time_column() -> None:
    cfg = _minimal()
    del cfg["data"]["path"]
    with pytest.raises(ConfigError, match="data.path"):
        validate_config(cfg)
    with pytest.raises(ConfigError, match="data.time_column"):
        validate_config(_minimal(split={"by": "time", "time_cutoff": "2024-01-01"}))


def test_bad_time_cutoff_is_a_config_error_not_a_traceback() -> None:
    with pytest.raises(ConfigError, match="ISO date"):
        load_config(ROOT / "configs" / "cve-cwe.yaml", {"split.time_cutoff": "2023-13-01"})


def test_numeric_params_typed_as_floats_or_text_are_coerced() -> None:
    cfg = validate_config(_minimal(students__student__epochs=2.0))
    assert cfg.students["student"].params["epochs"] == 2 and isinstance(cfg.students["student"].params["epochs"], int)


def test_numbers_name_labels_in_overrides(tmp_path: Path) -> None:
    """`--evaluation.positive 1` used to be rejected because YAML makes `1` an int."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_minimal(data={"task": "table", "path": "x.csv", "label_map": {1: "malicious"}})))
    cfg = load_config(path, {"evaluation.positive": "1", "evaluation.negative": "false"})
    assert (cfg.evaluation.positive, cfg.evaluation.negative) == ("1", "false")
    assert cfg.data.label_map == {"1": "malicious"}
    assert {"positive", "negative"} <= cfg.evaluation.model_fields_set


def test_cli_epochs_two_fails_before_reading_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import distilsec.tasks.prepare

    def must_not_read(*_: object, **__: object) -> None:
        raise AssertionError("data was read before the config was validated")

    monkeypatch.setattr(distilsec.tasks.prepare, "load_examples", must_not_read)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_minimal()))
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "--students.student.epochs", "two"])
    assert res.exit_code == 2, res.output
    assert "students.student.epochs" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_validates(name: str) -> None:
    path = ROOT / "configs" / name
    loader = load_semisup_config if "semisup" in name else load_synth_config if "synth" in name else load_config
    loader(path)


@pytest.mark.parametrize("task", TASKS)
def test_init_writes_a_valid_commented_config(task: str, tmp_path: Path) -> None:
    out = tmp_path / f"{task}.yaml"
    res = CliRunner().invoke(app, ["init", "--task", task, "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "#" in text and text == config_template(task, out.name)
    assert load_config(out).data.task == task
    again = CliRunner().invoke(app, ["init", "--task", task, "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


def test_init_unknown_task_is_one_clear_error() -> None:
    res = CliRunner().invoke(app, ["init", "--task", "dns"])
    assert res.exit_code == 2 and "table, cmdline, url, html" in res.output


def test_readme_bring_your_own_data_config_is_complete() -> None:
    """The README's snippet used to fail with 'teacher: Field required; students: Field required'."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Bring your own data") :]
    snippet = section[section.index("```yaml") + len("```yaml") : section.index("```", section.index("```yaml") + 7)]
    cfg = validate_config(yaml.safe_load(snippet))
    assert cfg.data.task == "table" and cfg.students
    assert load_config(ROOT / "configs" / "table-example.yaml").data.task == "table"


def test_attack_unlabelled_takes_one_path_or_a_list():
    from distilsec.config import AttackSection

    assert AttackSection(unlabelled="reports/").unlabelled == ["reports/"]
    assert AttackSection(unlabelled=["a", "b"]).unlabelled == ["a", "b"]
    with pytest.raises(ValueError):
        AttackSection(unlabelled_share=1.0)
