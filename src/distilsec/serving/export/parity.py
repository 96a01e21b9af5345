"""Parity of an exported model with the model it came from: bounded score differences.

Both sides are scored through :class:`~distilsec.serving.model.ScoringModel` (preprocessing, class columns,
stored threshold), i.e. exactly what ``distilsec score`` would output with each runtime.

Parity is judged on the scores. Two float implementations of the same model differ by rounding (~1e-7),
so a text whose score sits on the threshold can land on either side of it in one runtime and not the
other: such a *boundary flip* is reported (how many, and how close to the threshold they were) but is
not a failure, as long as every score difference is within the tolerance. A graph that really disagrees
with the model shows up as a score difference above the tolerance, flips or not.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from distilsec.errors import DistilsecError

__all__ = ["check_parity", "run_validation_texts", "MAX_FLIPS_LISTED"]

#: Boundary flips listed one by one in the parity report (all are counted).
MAX_FLIPS_LISTED = 20

log = logging.getLogger("distilsec.serving.export")


def check_parity(
    reference: Any, candidate: Any, texts: list[str], *, tolerance: float | None, batch_size: int = 2048
) -> dict[str, Any]:
    """Compare two ScoringModels on ``texts``.

    Parameters
    ----------
    tolerance : largest allowed |score difference|; None (the int8 copy, approximate by design) means
        only decisions are compared.

    Returns
    -------
    dict with ``n``, ``max_abs_diff`` and ``mean_abs_diff`` of the malicious score, ``max_abs_diff_proba``
    over every class column, ``n_decisions_differ`` (labels at the stored threshold), ``boundary_flips``
    (up to :data:`MAX_FLIPS_LISTED` of the texts whose decision differs: index, both scores and the reference
    score's margin to the threshold), ``max_flip_margin``, ``threshold``, ``tolerance`` and ``ok``: with a
    tolerance, ``max_abs_diff <= tolerance`` (a flip within it is rounding at the threshold, see the module
    docstring); without one, no decision differs.
    """
    if not texts:
        raise DistilsecError("parity check needs at least one validation text")
    diffs, pdiffs, flips = [], [], []
    threshold = 0.5 if reference.threshold is None else float(reference.threshold)
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        s_ref, l_ref, p_ref = reference.score_batch(chunk)
        s_new, l_new, p_new = candidate.score_batch(chunk)
        s_ref, s_new = np.asarray(s_ref, dtype=np.float64), np.asarray(s_new, dtype=np.float64)
        diffs.append(np.abs(s_ref - s_new))
        pdiffs.append(np.abs(np.asarray(p_ref, dtype=np.float64) - np.asarray(p_new, dtype=np.float64)).max(axis=1))
        for i, (a, b) in enumerate(zip(l_ref, l_new, strict=True)):
            if a != b:
                flips.append(
                    {
                        "index": start + i,
                        "score": float(s_ref[i]),
                        "candidate_score": float(s_new[i]),
                        "margin": abs(float(s_ref[i]) - threshold),
                    }
                )
    d = np.concatenate(diffs)
    max_diff = float(d.max())
    flips.sort(key=lambda f: -f["margin"])  # the least explainable first
    max_pdiff = float(np.concatenate(pdiffs).max())
    # every class column, not only the score: a graph that swapped two bad classes keeps the score
    ok = max(max_diff, max_pdiff) <= tolerance if tolerance is not None else not flips
    return {
        "runtime": candidate.runtime,
        "reference_runtime": reference.runtime,
        "n": len(texts),
        "max_abs_diff": max_diff,
        "mean_abs_diff": float(d.mean()),
        "max_abs_diff_proba": max_pdiff,
        "n_decisions_differ": len(flips),
        "boundary_flips": flips[:MAX_FLIPS_LISTED],
        "max_flip_margin": flips[0]["margin"] if flips else None,
        "threshold": reference.threshold,
        "tolerance": tolerance,
        "ok": bool(ok),
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
    from distilsec.tasks.prepare import prepare_data

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
