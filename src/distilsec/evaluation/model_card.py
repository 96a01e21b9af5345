"""``MODEL_CARD.md``: what a bundle is for, what it learnt from, how well it does, where it fails.

The convention users know from the Hugging Face ecosystem (Mitchell et al., "Model Cards for Model
Reporting", 2019), written into every bundle a run saves, so the card travels with the model: a bundle
copied to a SOC's scoring host still says which labels taught it (analyst / teacher / original, with
counts), at which operating point its figures hold and what the shortcut audit found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from distilsec import __version__
from distilsec.config import Config
from distilsec.evaluation.metrics import fpr_key
from distilsec.evaluation.report import markdown_table

__all__ = ["model_card", "MODEL_CARD"]

MODEL_CARD = "MODEL_CARD.md"

#: what each task's model reads, in the words a SOC team uses
_INPUTS = {
    "cmdline": "process command lines (EDR / Sysmon process-creation events)",
    "url": "URLs (proxy, DNS or mail-gateway logs)",
    "html": "web pages (HTML), e.g. pages behind links in mail",
    "table": "the text column of your own events",
}


def _f(v: Any, spec: str = ".4f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and v != v) else format(v, spec)


def model_card(
    name: str,
    *,
    config: Config,
    manifest: Mapping[str, Any],
    metrics: Mapping[str, Any],
    data_report: Mapping[str, Any],
    label_sources: Mapping[str, int] | None = None,
    corrections: Mapping[str, Any] | None = None,
) -> str:
    """The card of bundle ``name`` as Markdown (``metrics``: its test metrics at its operating point)."""
    ev = config.evaluation
    task = config.data.task
    inputs = _INPUTS.get(task, f"texts of the {task} task")
    if task == "table":
        inputs = f"the `{config.data.text_column}` column of your own events"
    thr = metrics.get("threshold")
    lines = [
        f"# Model card: {name}",
        "",
        f"`{manifest.get('type')}` ({manifest.get('role') or metrics.get('role') or 'model'}), "
        f"{int(manifest.get('n_parameters') or metrics.get('params') or 0):,} parameters; written by distilsec "
        f"{__version__} on {dt.date.today().isoformat()} for the run `{config.run.name}` "
        f"(config hash in the run's metrics.json; data fingerprint `{str(manifest.get('data_fingerprint'))[:16]}`).",
        "",
        "## Intended use",
        "",
        f"Scores {inputs}: the probability that one is `{ev.positive}` rather than `{ev.negative}`. "
        f"It flags an event when its score is at least {_f(thr)}, the threshold chosen on validation data "
        f"for a false-positive rate of {ev.target_fpr:g}. Use it to rank and triage events for an analyst, "
        "and as one signal among others; not as the only control that blocks or clears an event.",
        "",
        "Out of scope: inputs of another kind than it was trained on, languages or platforms absent from the "
        "data below, and adversaries who know the model (see Limits).",
        "",
        "## Data and splits",
        "",
        *_data_lines(config, data_report),
        "",
        "## Label sources",
        "",
        *_label_lines(label_sources, corrections, config),
        "",
        "## Metrics at the operating point (held-out test groups)",
        "",
        *_metric_lines(metrics, ev.target_fpr),
        "",
        "## Shortcut audit",
        "",
        *_shortcut_lines(data_report),
        "",
        "## Limits",
        "",
        *_limit_lines(config, data_report, metrics),
        "",
    ]
    return "\n".join(lines)


def _data_lines(config: Config, rep: Mapping[str, Any]) -> list[str]:
    rows = []
    for k, v in (rep.get("split") or {}).items():
        by_label = {f"n_{lab}": c for lab, c in (v.get("by_label") or {}).items()}
        rows.append({"split": k, "n": v.get("n"), "groups": v.get("n_groups"), **by_label})
    cur = rep.get("curation") or {}
    sources = (rep.get("split") or {}).get("train", {}).get("by_source") or {}
    return [
        f"Task `{config.data.task}`; {rep.get('read', 'n/a')} examples read; after curation {cur.get('n_out', 'n/a')} "
        f"(exact duplicates removed {cur.get('exact_duplicates_removed', 'n/a')}, label conflicts "
        f"{cur.get('label_conflicts', 'n/a')}, near-duplicates removed {cur.get('near_duplicates_removed', 'n/a')}).",
        f"Split by {config.split.by}: no group (binary, technique, domain...) lies in two splits, so test "
        "measures generalisation to unseen groups.",
        "",
        markdown_table(rows),
        "",
        "Training sources: " + (", ".join(f"{s} ({n})" for s, n in sorted(sources.items())) or "n/a") + ".",
    ]


def _label_lines(sources: Mapping[str, int] | None, corrections: Mapping[str, Any] | None, config: Config) -> list[str]:
    if not sources:
        return ["Not recorded."]
    out = [
        markdown_table([{"source": k, "training examples": v} for k, v in sources.items()]),
        "",
        "Precedence: analyst > teacher > original. `teacher`: the example's target mixes the teacher's soft "
        f"label with the original label (alpha = {config.method.alpha}); `analyst`: an analyst decided the "
        "label in review (it replaces both).",
    ]
    if config.method.transfer_copies:
        out += [
            "",
            f"Transfer set: {config.method.transfer_copies} perturbed copies of every training text "
            "(`transfer_set.v1`), labelled by the teacher alone and learnt from its soft labels (not counted above).",
        ]
    if corrections:
        out += [
            "",
            f"Analyst ledger: {corrections.get('decisions', 0)} decisions ({corrections.get('test_corrections', 0)} "
            "on test labels: reported apart in the run's report, never merged into the test set).",
        ]
    return out


def _metric_lines(m: Mapping[str, Any], target_fpr: float) -> list[str]:
    row = {
        "threshold": m.get("threshold"),
        "TPR at threshold": m.get("tpr_at_threshold"),
        "FPR at threshold": m.get("fpr_at_threshold"),
        "TP": m.get("tp"),
        "FP": m.get("fp"),
        "TN": m.get("tn"),
        "FN": m.get("fn"),
        "macro-F1": m.get("macro_f1"),
        "ROC AUC": m.get("auc"),
    }
    if fpr_key(target_fpr) in m:  # the metrics measure TPR at a fixed list of FPRs
        row[f"TPR @ FPR {target_fpr:g}"] = m[fpr_key(target_fpr)]
    note = ""
    if m.get("fpr_below_resolution"):
        fprs = ", ".join(f"{f:g}" for f in m["fpr_below_resolution"])
        note = (
            f"TPR at FPR {fprs}: below the test set's resolution (1/{m.get('n_negative')} negatives): "
            "measured at zero observed false positives."
        )
    return [markdown_table([row]), "", f"Test: {m.get('n', 'n/a')} examples. {note}".strip()]


def _shortcut_lines(rep: Mapping[str, Any]) -> list[str]:
    audit = rep.get("shortcut_audit")
    if not audit:
        return ["Not run for this task (curation.shortcut_audit off, or no benign class)."]
    from distilsec.data.shortcut import format_shortcut_markdown

    return [format_shortcut_markdown(audit)]


def _limit_lines(config: Config, rep: Mapping[str, Any], m: Mapping[str, Any]) -> list[str]:
    out = [
        "- The figures hold for the data above: events from other tools, platforms or time periods may score "
        "differently; re-measure on your own labelled events before relying on the threshold.",
        "- Public attack corpora over-represent documented techniques; novel tradecraft is under-represented.",
        "- An adversary who can query the model can search for evasions; treat the score as one signal.",
        f"- Inputs are cut to {config.data.max_text_chars} characters before scoring.",
    ]
    out += [f"- Data warning: {w}" for w in rep.get("warnings", []) or []]
    if m.get("fpr_below_resolution"):
        out.append("- The test set is too small to measure the target false-positive rate directly.")
    return out
