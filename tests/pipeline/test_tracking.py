"""``run.tracking: mlflow``: params, metrics and artefacts logged (a fake mlflow); a missing one fails first."""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from distilsec.config import config_hash, dump_config, validate_config
from distilsec.errors import ConfigError
from distilsec.pipeline.run import run_experiment
from distilsec.pipeline.tracking import check_tracking, log_run
from tests.review_run import tiny_config, write_table


class FakeMlflow(types.ModuleType):
    """Records every call the way the tracking module makes them."""

    def __init__(self) -> None:
        super().__init__("mlflow")
        self.calls: dict[str, list] = {}

    def _log(self, name: str, *args: object, **kwargs: object) -> None:
        self.calls.setdefault(name, []).append((args, kwargs))

    def set_tracking_uri(self, uri: str) -> None:
        self._log("set_tracking_uri", uri)

    def set_experiment(self, name: str) -> None:
        self._log("set_experiment", name)

    @contextmanager
    def start_run(self, run_name: str):  # noqa: ANN201
        self._log("start_run", run_name)
        yield types.SimpleNamespace(info=types.SimpleNamespace(run_id="run-123"))

    def set_tags(self, tags: dict) -> None:
        self._log("set_tags", tags)

    def log_params(self, params: dict) -> None:
        self._log("log_params", params)

    def log_metrics(self, metrics: dict) -> None:
        self._log("log_metrics", metrics)

    def log_artifact(self, path: str, artifact_path: str | None = None) -> None:
        self._log("log_artifact", path, artifact_path)

    def log_artifacts(self, path: str, artifact_path: str | None = None) -> None:
        self._log("log_artifacts", path, artifact_path)


def test_a_run_with_tracking_logs_params_metrics_and_artefacts(tmp_path, monkeypatch):
    fake = FakeMlflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    table = write_table(tmp_path / "events.csv", n=120)
    cfg = validate_config(tiny_config(table, run={"name": "tracked", "device": "cpu", "tracking": "mlflow"}))
    result = run_experiment(cfg, out=tmp_path / "run")
    assert fake.calls["set_tracking_uri"][0][0][0] == (tmp_path / "mlruns").resolve().as_uri()
    params = fake.calls["log_params"][0][0][0]
    assert params["teacher.type"] == "hashed_linear.v1" and params["run.tracking"] == "mlflow"
    metrics = fake.calls["log_metrics"][0][0][0]
    assert metrics["student.macro_f1"] == result.metrics["models"]["student"]["macro_f1"]
    logged = {Path(a[0][0]).name for a in fake.calls["log_artifact"]}
    assert {"report.md", "metrics.json", "config.yaml"} <= logged
    bundles = {a[0][1] for a in fake.calls["log_artifacts"]}
    assert {"bundles/student", "bundles/teacher", "plots"} <= bundles
    assert fake.calls["set_tags"][0][0][0]["config_hash"] == config_hash(cfg)


def test_a_missing_mlflow_is_a_config_error_before_any_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    cfg = validate_config(tiny_config(tmp_path / "none.csv", run={"tracking": "mlflow"}))
    with pytest.raises(ConfigError, match=r"run.tracking: mlflow needs the mlflow package.*distilsec\[tracking\]"):
        check_tracking(cfg)
    with pytest.raises(ConfigError, match="mlflow"):
        run_experiment(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_tracking_off_logs_nothing_and_leaves_config_yaml_unchanged(tmp_path):
    cfg = validate_config(tiny_config(tmp_path / "x.csv"))
    assert log_run(tmp_path, cfg, {}, {}) is None
    assert "tracking" not in yaml.safe_load(dump_config(cfg))["run"]
