"""``MODEL_CARD.md`` of an ATT&CK tagger bundle: what it tags, what taught it, how well, where it fails.

The binary tasks' card (:mod:`distilsec.evaluation.model_card`) speaks of one threshold and a false-positive
rate; a technique tagger is judged on other figures (top-1 over ~700 techniques, parent back-off, per-technique
thresholds, false tags on sentences that describe no technique), so it gets its own card with the same
headings. The card travels with the bundle: a tagger copied to an analyst's laptop still says that it learnt
from ATT&CK's edited procedure examples, not from raw reports, and how it did on sources it never saw.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from distilsec import __version__
from distilsec.config import Config
from distilsec.evaluation.report import markdown_table

__all__ = ["attack_model_card"]


def attack_model_card(
    name: str,
    *,
    role: str,
    config: Config,
    result: Mapping[str, Any],
    data_report: Mapping[str, Any],
    audit: Mapping[str, Any] | None,
    distilled: bool = False,
    pool: Mapping[str, Any] | None = None,
) -> str:
    """The card of the tagger bundle ``name`` (``role``: teacher / student / baseline ...; ``result``: its
    entry in the run's metrics, with ``test``, ``decisions`` and ``n_parameters``; ``pool``: what the teacher
    kept of the unlabelled pool, for a student that learnt from it)."""
    test, dec = result.get("test") or {}, result.get("decisions") or {}
    s = test.get("sentences") or {}
    neg = test.get("negatives") or {}
    passages = (test.get("passages") or {}).get("exact") or {}
    rec = data_report.get("records") or {}
    split = data_report.get("split") or {}
    procs = data_report.get("procedures") or {}
    negs = data_report.get("negatives") or {}
    extras = data_report.get("training_extras") or {}
    section = config.attack
    soft = distilled and config.method.alpha > 0.0
    lines = [
        f"# Model card: {name}",
        "",
        f"ATT&CK technique tagger (`attack_model.v1` around a `{role}`), {int(result.get('n_parameters') or 0):,} "
        f"parameters; written by distilsec {__version__} on {dt.date.today().isoformat()} for the run "
        f"`{config.run.name}` (config hash in the run's metrics.json).",
        "",
        "## Intended use",
        "",
        "Tags the sentences of English threat reports with MITRE ATT&CK techniques and sub-techniques "
        "(`distilsec attack REPORT`): per sentence its best technique and those above their thresholds, per "
        "report the set of techniques with evidence sentences, optionally as an ATT&CK Navigator layer. It "
        "answers the parent technique when the sub-technique is uncertain. Use it to draft a mapping that an "
        "analyst checks, not as the mapping itself.",
        "",
        "Out of scope: languages other than English, non-Enterprise matrices unless the run read them, and "
        "techniques added to ATT&CK after the release it read.",
        "",
        "## Data and splits",
        "",
        f"ATT&CK {', '.join((section.domains if section else []) or ['enterprise'])}: {procs.get('records', 'n/a')} "
        f"procedure examples over {procs.get('techniques', 'n/a')} techniques, plus technique descriptions "
        f"({extras.get('technique-description', 0)}) and CAPEC patterns linked to techniques "
        f"({extras.get('capec', 0)}); "
        f"{negs.get('kept', 0)} negative sentences (no technique) from group, software, campaign, mitigation and "
        "data-component prose, report boilerplate and headings. Actor and tool names are replaced by generic words "
        "(`The group`, `The malware`), citations removed.",
        "",
        f"Split by source ({split.get('unit', 'group / software / campaign')}): no source and no cited report on two "
        "sides; sentences that mention a source of an earlier split, share a citation or repeat a text are purged.",
        "",
        markdown_table(
            [
                {
                    "split": k,
                    "records": rec.get(k),
                    "sources": (split.get("units") or {}).get(k),
                    "purged": (split.get("purged_total") or {}).get(k, 0),
                    "negatives": data_report.get(f"{k}_negatives"),
                }
                for k in ("train", "val", "test")
            ]
        ),
        "",
        "## Label sources",
        "",
        "Procedure examples and technique descriptions carry MITRE's technique; CAPEC patterns carry their "
        "linked technique; negatives carry `none`. "
        + (
            f"This student's targets mix the teacher's soft labels (temperature {config.method.temperature}) with "
            f"those labels (alpha = {config.method.alpha})."
            if soft
            else "This model learnt from those labels only."
        )
        + (
            f" It also learnt from {pool.get('kept', 0):,} unlabelled sentences the teacher labelled with a top "
            f"probability of at least {pool.get('threshold')} (of a pool of {pool.get('pool', 0):,}), on the "
            "teacher's soft labels."
            if pool
            else ""
        ),
        "",
        "## Metrics (held-out sources)",
        "",
        markdown_table(
            [
                {
                    "sentences": s.get("n"),
                    "top-1": s.get("top1"),
                    "top-3": s.get("top3"),
                    "parent top-1": s.get("parent_top1"),
                    "macro-F1": s.get("macro_f1"),
                    "passage micro-F1": passages.get("micro_f1"),
                    "passage macro-F1": passages.get("macro_f1"),
                    "false tags / 1k negatives": neg.get("false_tags_per_1000"),
                }
            ]
        ),
        "",
        f"Decisions chosen on validation: parent back-off ratio {dec.get('backoff_ratio')}, global threshold "
        f"{dec.get('threshold')}, {dec.get('per_technique_thresholds', 0)} per-technique thresholds. Sentences per "
        f"second on one thread: {result.get('sentences_per_s_1thread') or 'n/a'}.",
        "",
        "## Shortcut audit",
        "",
        _audit_line(audit),
        "",
        "## Limits",
        "",
        "- ATT&CK's procedure examples are short, edited summaries; sentences of raw reports are longer and vaguer, "
        "so expect lower figures on them than above. Re-measure on reports your team has mapped "
        "(`distilsec bench cti-ate`).",
        "- Techniques with few or no procedure examples were learnt from their description only; they are "
        "rarely predicted.",
        "- A sentence is tagged on its own: context from neighbouring sentences is not used.",
        "- Sentences are cut at the tagger's maximum length; very long inputs are split into sentences first.",
    ]
    return "\n".join(lines) + "\n"


def _audit_line(audit: Mapping[str, Any] | None) -> str:
    if not audit:
        return "Not run."
    src, rnd = audit.get("source_split") or {}, audit.get("random_row_split") or {}
    return (
        f"{audit.get('predictor', 'the source name alone')}: top-1 {src.get('top1')} on the source split "
        f"(majority class {src.get('majority_top1')}), {rnd.get('top1')} on a random row split; names appear in "
        f"{audit.get('name_in_text_rate')} of the training texts after replacement. The name tells little about "
        "the technique, so the figures above come from the behaviour described."
    )
