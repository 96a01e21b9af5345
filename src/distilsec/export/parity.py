"""Parity of an exported model with the model it came from: same decisions, bounded score differences.

Both sides are scored through :class:`~distilsec.scoring.ScoringModel` (preprocessing, class columns,
stored threshold), i.e. exactly what ``distilsec score`` would output with each runtime.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.errors import DistilsecError

__all__ = ["check_parity", "run_validation_texts"]

log = logging.getLogger("distilsec.export")


def check_parity(
    reference: Any, candidate: Any, texts: list[str], *, tolerance: float | None, batch_size: int = 2048
) -> dict[str, Any]:
    """Compare two ScoringModels on ``texts``.

    Returns
    -------
    dict with ``n``, ``max_abs_diff`` and ``mean_abs_diff`` of the malicious score, ``max_abs_diff_proba``
    over every class column, ``n_decisions_differ`` (labels at the stored threshold), ``threshold``,
    ``tolerance`` and ``ok`` (no decision differs and, unless ``tolerance`` is None, ``max_abs_diff <= tolerance``).
    """
    if not texts:
        raise DistilsecError("parity check needs at least one validation text")
    diffs, pdiffs, n_diff = [], [], 0
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        s_ref, l_ref, p_ref = reference.score_batch(chunk)
        s_new, l_new, p_new = candidate.score_batch(chunk)
        diffs.append(np.abs(np.asarray(s_ref, dtype=np.float64) - np.asarray(s_new, dtype=np.float64)))
        pdiffs.append(np.abs(np.asarray(p_ref, dtype=np.float64) - np.asarray(p_new, dtype=np.float64)).max(axis=1))
        n_diff += sum(a != b for a, b in zip(l_ref, l_new, strict=True))
    d = np.concatenate(diffs)
    max_diff = float(d.max())
    return {
        "runtime": candidate.runtime,
        "reference_runtime": reference.runtime,
        "n": len(texts),
        "max_abs_diff": max_diff,
        "mean_abs_diff": float(d.mean()),
        "max_abs_diff_proba": float(np.concatenate(pdiffs).max()),
        "n_decisions_differ": int(n_diff),
        "threshold": reference.threshold,
        "tolerance": tolerance,
        "ok": bool(n_diff == 0 and (tolerance is None or max_diff <= tolerance)),
    }


def run_validation_texts(
    bundle_dir: str | Path, max_n: int, data_dir: str | Path | None = None
) -> tuple[list[str], str]:
    """The validation split of the run a bundle came from (``<run>/config.yaml`` + ``splits/val.txt``).

    The data is read and curated again exactly as the run did; the data fingerprint in the manifest
    tells whether it came out the same (a mismatch is logged and reported, not fatal).
    """
    from distilsec.bundle import read_manifest
    from distilsec.config import load_config
    from distilsec.run import prepare_data

    bundle = Path(bundle_dir)
    run = bundle.resolve().parent
    cfg_path, ids_path = run / "config.yaml", run / "splits" / "val.txt"
    if not (cfg_path.is_file() and ids_path.is_file()):
        raise DistilsecError(
            f"{bundle} is not inside a run folder (no {cfg_path.name} and splits/val.txt beside it): "
            "pass validation texts with --texts FILE"
        )
    data = prepare_data(load_config(cfg_path), data_dir=data_dir)
    wanted = set(ids_path.read_text().split())
    texts = [ex.text for ex in data.val if ex.id in wanted]
    if not texts:
        raise DistilsecError(f"none of the {len(wanted)} validation ids of {run} were found in the data")
    source = f"validation split of {run.name} ({len(texts)} of {len(wanted)} ids found)"
    expected = read_manifest(bundle).get("data_fingerprint")
    if expected and expected != data.fingerprint():
        log.warning("the data read now differs from the data %s was trained on (fingerprint mismatch)", bundle)
        source += "; data fingerprint differs from the bundle's"
    return texts[:max_n], source
