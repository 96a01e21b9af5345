"""``MODEL_CARD.md`` of a CVE bundle: CVE description -> CWE (and CVSS), what taught it, how well, its limits.

The same headings as the binary tasks' card (:mod:`distilsec.evaluation.model_card`), with the figures a
vulnerability analyst reads: top-1 / top-3 CWE on CVEs published after the time cutoff, CVSS base-score MAD,
which labels (NVD, CNA, CISA-ADP) taught it, and whether the bundle was refit on records newer than its
evaluation (then its figures are those of the time-split twin).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from distilsec import __version__
from distilsec.config import Config
from distilsec.evaluation.report import markdown_table

__all__ = ["cve_model_card"]


def cve_model_card(name: str, *, config: Config, metrics: Mapping[str, Any], cwe_model: str) -> str:
    """The card of bundle ``name``, whose CWE part is the run's model ``cwe_model`` (``metrics``: the run's)."""
    cve = config.cve
    shipped = metrics.get("shipped") or {}
    data = metrics.get("data") or {}
    cwe = (metrics.get("cwe") or {}).get(cwe_model) or {}
    cvss = (metrics.get("cvss") or {}).get("model") or {}
    split = (data.get("cwe") or {}).get("split") or {}
    is_shipped = name == shipped.get("bundle")
    refit = bool(is_shipped and shipped.get("refit_on_all"))
    with_cvss = name in (shipped.get("bundle"), shipped.get("heldout_bundle"))
    params = shipped.get("n_parameters") if is_shipped else cwe.get("params")
    lines = [
        f"# Model card: {name}",
        "",
        f"CVE description -> CWE{' and CVSS v3.1 vector' if with_cvss and cvss else ''}; CWE part `{cwe_model}` "
        f"({cwe.get('role', 'model')}), {int(params or 0):,} parameters; written by distilsec {__version__} on "
        f"{dt.date.today().isoformat()} for the run `{config.run.name}` "
        f"(config hash {metrics.get('config_hash', 'n/a')}).",
        "",
        "## Intended use",
        "",
        "Suggests the weakness (CWE, top-k with names and parents) of a vulnerability from its description, and "
        "its CVSS base vector, to pre-fill triage for an analyst who confirms them. Not a replacement for the CNA's "
        "or NVD's assessment.",
        "",
        "## Data and splits",
        "",
        f"NVD and CVE JSON 5 records, split by publication time at {config.split.time_cutoff}: train and validation "
        "before it, test after it, so the figures measure CVEs the model never saw from a later period.",
        "",
        markdown_table([{k: split.get(k) for k in ("train", "val", "test", "refit")}]) if split else "n/a",
        "",
        (
            "This bundle was **refit on every record up to the data's end** after evaluation; the figures below "
            f"are those of its time-split twin `{shipped.get('heldout_bundle')}`."
            if refit
            else "The figures below are this model's own, on the test period."
        ),
        "",
        "## Label sources",
        "",
        _label_line(data, cve.label_source_weights if cve else {}),
        "",
        "## Metrics (test period)",
        "",
        markdown_table(
            [
                {
                    "CVEs": cwe.get("n"),
                    "CWE top-1": cwe.get("accuracy"),
                    "CWE top-3": cwe.get("top3_accuracy"),
                    "CWE macro-F1": cwe.get("macro_f1"),
                    **({"CVSS base-score MAD": cvss.get("mad")} if with_cvss and cvss else {}),
                    **({"severity accuracy": cvss.get("severity_accuracy")} if with_cvss and cvss else {}),
                }
            ]
        ),
        "",
        "## Shortcut audit",
        "",
        "Not a group split: the time split is the audit (no CVE of the test period in training); benchmark files "
        "passed with `--decontaminate` are removed from training and checked again on the final training sets "
        "(the run's report, section Data).",
        "",
        "## Limits",
        "",
        "- CWE labels are noisy (NVD vs CNA disagree; categories are mapped to weaknesses): top-1 understates a "
        "useful top-3.",
        "- Rare CWEs (fewer than the run's `cve.min_class_count` records) are never predicted.",
        "- New CVE wording and new weakness kinds drift over time: re-measure on recent CVEs before relying on it.",
    ]
    return "\n".join(lines) + "\n"


def _label_line(data: Mapping[str, Any], weights: Mapping[str, float]) -> str:
    resolution = (data.get("cwe_labels") or {}).get("label_resolution") or {}
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(resolution.items())) or "not recorded"
    weighted = ", ".join(f"{k} x{v:g}" for k, v in sorted(weights.items()))
    return (
        f"CWE labels from the records' problem types, resolved as: {counts}."
        + (f" Sample weights by label source: {weighted}." if weighted else "")
    )
