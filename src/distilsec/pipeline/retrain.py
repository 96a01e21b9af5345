"""``distilsec retrain RUN_DIR``: the run again, with its analyst ledger, compared with the run itself.

The retrained run is a full run folder (``RUN_DIR/retrain-<k>`` unless ``--out``): the same config, data,
seed and hence the same splits, with the analyst's labels applied (:mod:`distilsec.pipeline.corrections`),
the teacher reused unless ``review.retrain_teacher`` says otherwise, and a report section comparing every
model before and after on the same test set. Its ``review/ledger.jsonl`` continues the original ledger,
so the next review of the new run starts from every decision made so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilsec.data.review_items import LEDGER_NAME, REVIEW_DIR
from distilsec.errors import DataError
from distilsec.pipeline.review import check_run_folder, load_run_config

__all__ = ["retrain", "next_retrain_folder"]


def next_retrain_folder(run: Path) -> Path:
    """``run/retrain-<k>`` with the first unused ``k``."""
    k = 1
    while (run / f"retrain-{k}").exists():
        k += 1
    return run / f"retrain-{k}"


def retrain(
    run_dir: str | Path,
    *,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    retrain_teacher: bool | None = None,
    ledger: str | Path | None = None,
    overwrite: bool = False,
) -> Any:
    """Retrain the run with its analyst labels (``ledger``: default the run's ``review/ledger.jsonl``).

    ``retrain_teacher`` overrides the config's ``review.retrain_teacher``. Returns the new run's
    :class:`~distilsec.pipeline.run.RunResult`.
    """
    from distilsec.config import ReviewSection
    from distilsec.pipeline.run import run_experiment

    run = check_run_folder(run_dir)
    config = load_run_config(run)  # first: a CVE or ATT&CK run is one clear line, whatever its ledger
    ledger_path = Path(ledger) if ledger else run / REVIEW_DIR / LEDGER_NAME
    if not ledger_path.is_file():
        raise DataError(
            f"{ledger_path} does not exist: label items with `distilsec review {run}` (or review-import) first"
        )
    if retrain_teacher is not None:
        section = (config.review or ReviewSection()).model_copy(update={"retrain_teacher": retrain_teacher})
        config = config.model_copy(update={"review": section})
    target = Path(out) if out else next_retrain_folder(run)
    return run_experiment(config, out=target, data_dir=data_dir, overwrite=overwrite, labels=ledger_path, baseline=run)
