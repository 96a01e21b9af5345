"""Optional experiment tracking: ``run.tracking: mlflow`` logs every run's params, metrics and artefacts.

Why optional and lazy: MLflow is a large dependency most users of a local CLI do not need, so it is the
``tracking`` extra and imported only when a config asks for it, and checked *before* training (a missing
package must not cost a whole run). The default store is a local file store, ``mlruns/`` beside the run
folder (``mlflow ui --backend-store-uri <that folder>`` shows it); ``run.tracking_uri`` points elsewhere.
What is logged: the resolved config flattened as params, every model's scalar metrics as
``<model>.<metric>``, tags (distilsec version, config hash, run folder), and as artefacts the report,
metrics, config, plots, and each bundle (whole when at most :data:`MAX_BUNDLE_BYTES`, else its manifest
and model card).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from distilsec.config import Config, config_hash
from distilsec.errors import ConfigError

__all__ = ["check_tracking", "log_run", "MAX_BUNDLE_BYTES"]

log = logging.getLogger("distilsec.pipeline.tracking")

MAX_BUNDLE_BYTES = 64 << 20
#: MLflow's limit on a param value (longer values are cut, with a marker)
_MAX_PARAM_CHARS = 500


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError(
            "run.tracking: mlflow needs the mlflow package: pip install 'distilsec[tracking]' "
            "(or remove run.tracking from the config)"
        ) from None
    return mlflow


def check_tracking(config: Config) -> None:
    """Fail before any training when the config asks for a tracker that is not installed."""
    if config.run.tracking == "mlflow":
        _mlflow()


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}{i}."))
    else:
        text = str(obj)
        out[prefix[:-1]] = text if len(text) <= _MAX_PARAM_CHARS else text[: _MAX_PARAM_CHARS - 3] + "..."
    return out


def _scalar_metrics(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    out = {}
    for model, m in results.items():
        for k, v in m.items():
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                out[f"{model}.{k}"] = float(v)
    return out


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def log_run(run_dir: Path, config: Config, metrics: dict[str, Any], bundles: dict[str, Path]) -> str | None:
    """Log the finished run to MLflow when ``run.tracking`` is ``mlflow``; returns the MLflow run id."""
    if config.run.tracking != "mlflow":
        return None
    from distilsec import __version__

    mlflow = _mlflow()
    uri = config.run.tracking_uri or (run_dir.resolve().parent / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(f"distilsec-{config.data.task}")
    params = _flatten(config.model_dump(mode="json"))
    with mlflow.start_run(run_name=f"{config.run.name}:{run_dir.name}") as active:
        tags = {"distilsec.version": __version__, "config_hash": config_hash(config), "run_dir": str(run_dir.resolve())}
        mlflow.set_tags(tags)
        mlflow.log_params(params)
        mlflow.log_metrics(_scalar_metrics(metrics.get("models", {})))
        for name in ("report.md", "metrics.json", "config.yaml", "env.json"):
            if (run_dir / name).is_file():
                mlflow.log_artifact(str(run_dir / name))
        if (run_dir / "plots").is_dir():
            mlflow.log_artifacts(str(run_dir / "plots"), artifact_path="plots")
        for name, bundle in bundles.items():
            if _size(bundle) <= MAX_BUNDLE_BYTES:
                mlflow.log_artifacts(str(bundle), artifact_path=f"bundles/{name}")
                continue
            log.info("MLflow: bundle %s is over %d MiB: its manifest and model card only", name, MAX_BUNDLE_BYTES >> 20)
            for f in ("manifest.json", "MODEL_CARD.md"):
                if (bundle / f).is_file():
                    mlflow.log_artifact(str(bundle / f), artifact_path=f"bundles/{name}")
        run_id = active.info.run_id
    log.info("MLflow: run %s logged to %s", run_id, uri)
    return str(run_id)
