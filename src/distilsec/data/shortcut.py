"""Shortcut audit: how well does the *format* of a text (not its content) predict the label?

Security datasets are assembled from sources that each carry one label, and each source writes
its records in its own format: tldr uses ``{{placeholders}}``, Atomic Red Team ``#{inputs}``,
LOLBAS ``{PATH}``; ISCX URLs have a scheme, OpenDNS rows are bare domains. A model can learn the
format and look excellent on a random or group split while knowing nothing about attacks.

:func:`shortcut_audit` trains a shallow decision tree on *format-only* features (placeholder
syntax, line count, length bucket, path-separator style, scheme / path / query presence, case,
escapes: no words, no tokens) and reports its test ROC AUC, once on the raw texts and once on the
normalised texts. AUC near 0.5 after normalisation means the format no longer gives the label away;
above 0.9 the model can cheat. It also reports how well ``source`` alone and ``platform`` alone
predict the label, which says how much any text feature correlated with source could leak.

Tasks whose sides come from different *kinds* of documents can pass ``cues``: named single content
cues (for HTML, :data:`HTML_CUES`: a password field, a form posting to ``.php``) whose test AUC alone
says how far a model gets without learning anything else.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from distilsec.data.example import Example
from distilsec.errors import DataError

__all__ = [
    "shortcut_audit",
    "format_shortcut_markdown",
    "format_features",
    "FORMAT_FEATURES",
    "SYNTAX_FEATURES",
    "HTML_CUES",
]

_UPPER_BRACE = re.compile(r"\{[A-Z][A-Z0-9_]*(?::[^}\s]*)?\}")
_ANGLE_UPPER = re.compile(r"<[A-Z][A-Z0-9_]{2,}>")
_DRIVE = re.compile(r"\b[A-Za-z]:\\")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_ANY_HTTP = re.compile(r"https?://", re.IGNORECASE)
_QUERY = re.compile(r"\?[^\s]*=")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_HTML_ESC = re.compile(r"&(?:amp|quot|lt|gt|#\d+);")


def _has_path_after_host(t: str) -> float:
    s = _SCHEME.sub("", t.strip(), count=1)
    i = s.find("/")
    return float(0 <= i < len(s) - 1 and " " not in s[:i])


#: (name, function of the text) for every format feature; all are bounded numbers.
FORMAT_FEATURES: list[tuple[str, Callable[[str], float]]] = [
    ("has_double_brace", lambda t: float("{{" in t)),
    ("has_hash_brace", lambda t: float("#{" in t)),
    ("has_upper_brace_token", lambda t: float(bool(_UPPER_BRACE.search(t)))),
    ("has_angle_upper_token", lambda t: float(bool(_ANGLE_UPPER.search(t)))),
    ("has_path_to", lambda t: float("path/to" in t or "path\\to" in t)),
    ("has_ellipsis", lambda t: float("..." in t or "\u2026" in t)),
    ("n_newlines", lambda t: float(min(t.count("\n"), 20))),
    ("length_bucket", lambda t: float(min(int(math.log2(len(t) + 1)), 16))),
    ("has_backslash", lambda t: float("\\" in t)),
    ("has_drive_letter", lambda t: float(bool(_DRIVE.search(t)))),
    ("starts_with_scheme", lambda t: float(bool(_SCHEME.match(t.strip())))),
    ("has_http_scheme", lambda t: float(bool(_ANY_HTTP.search(t)))),
    ("starts_with_www", lambda t: float(t.strip().lower().startswith("www."))),
    ("has_path_after_host", _has_path_after_host),
    ("has_query", lambda t: float(bool(_QUERY.search(t)))),
    ("has_percent_escape", lambda t: float(bool(_PCT.search(t)))),
    ("has_html_escape", lambda t: float(bool(_HTML_ESC.search(t)))),
    ("ends_with_slash", lambda t: float(t.rstrip().endswith("/"))),
    ("n_dots", lambda t: float(min(t.count("."), 10))),
    ("starts_upper", lambda t: float(t[:1].isupper())),
    ("upper_share_decile", lambda t: float(round(10 * sum(c.isupper() for c in t) / max(1, len(t))))),
    ("outer_whitespace", lambda t: float(t != t.strip())),
    ("has_tab", lambda t: float("\t" in t)),
    ("has_double_space", lambda t: float("  " in t)),
    ("has_non_ascii", lambda t: float(not t.isascii())),
]


#: features that describe placeholder / escape / scheme *syntax*, the part normalisation targets; the
#: rest (newlines, length, case, dots) also reflects what sources write about (scripts vs one-liners).
SYNTAX_FEATURES = frozenset(
    {
        "has_double_brace",
        "has_hash_brace",
        "has_upper_brace_token",
        "has_angle_upper_token",
        "has_path_to",
        "has_ellipsis",
        "starts_with_scheme",
        "starts_with_www",
        "has_html_escape",
        "ends_with_slash",
        "outer_whitespace",
        "has_tab",
        "has_double_space",
    }
)


_PASSWORD_INPUT = re.compile(r"<input\b[^>]*\btype\s*=\s*[\"']?password", re.IGNORECASE)
_FORM_PHP = re.compile(r"<form\b[^>]*\baction\s*=\s*[\"']?[^\"'\s>]*\.php\b", re.IGNORECASE)
_SAVED_FROM = re.compile(r"<!--\s*saved from url", re.IGNORECASE)

#: Single content cues of HTML pages that separate the shared data's phishing kits from its articles
#: (see the HTML data README): each is audited alone, as the predictor a lazy model would learn.
HTML_CUES: dict[str, Callable[[str], float]] = {
    "password_input": lambda t: float(bool(_PASSWORD_INPUT.search(t))),
    "form_action_php": lambda t: float(bool(_FORM_PHP.search(t))),
    "saved_from_comment": lambda t: float(bool(_SAVED_FROM.search(t))),
}


def format_features(texts: Sequence[str]) -> np.ndarray:
    """The format-only feature matrix, shape ``(len(texts), len(FORMAT_FEATURES))``."""
    return np.array([[f(t) for _, f in FORMAT_FEATURES] for t in texts], dtype=np.float64).reshape(
        len(texts), len(FORMAT_FEATURES)
    )


def _binary_labels(
    train: Sequence[Example], test: Sequence[Example], positive: str | None
) -> tuple[np.ndarray, np.ndarray, str]:
    labels = sorted({str(ex.label) for ex in (*train, *test) if ex.label is not None})
    if positive is None:
        if "benign" in labels:
            positive = "non-benign"
        elif len(labels) == 2:
            positive = labels[1]
        else:
            raise DataError(f"shortcut audit needs 'benign' among the labels or exactly two labels, got {labels}")

    def y(part: Sequence[Example]) -> np.ndarray:
        if positive == "non-benign":
            return np.array([ex.label != "benign" for ex in part], dtype=int)
        return np.array([ex.label == positive for ex in part], dtype=int)

    return y(train), y(test), positive


def _scores(y_test: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

    pred = (p >= 0.5).astype(int)
    auc = float(roc_auc_score(y_test, p)) if len(set(y_test.tolist())) == 2 else None
    return {
        "auc": None if auc is None else round(auc, 4),
        "accuracy": round(float(accuracy_score(y_test, pred)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(y_test, pred)), 4) if auc is not None else None,
    }


def _format_model(
    train_texts: Sequence[str], y_train: np.ndarray, test_texts: Sequence[str], y_test: np.ndarray, seed: int
) -> dict[str, Any]:
    from sklearn.tree import DecisionTreeClassifier

    x_tr, x_te = format_features(train_texts), format_features(test_texts)
    if len(set(y_train.tolist())) < 2:
        p = np.full(len(test_texts), float(y_train.mean()) if len(y_train) else 0.5)
        return {**_scores(y_test, p), "note": "train has one class only"}

    def fit_predict(cols: list[int]) -> tuple[np.ndarray, Any]:
        tree = DecisionTreeClassifier(max_depth=4, min_samples_leaf=10, random_state=seed)
        tree.fit(x_tr[:, cols], y_train)
        return tree.predict_proba(x_te[:, cols])[:, list(tree.classes_).index(1)], tree

    names = [n for n, _ in FORMAT_FEATURES]
    p, tree = fit_predict(list(range(len(names))))
    imp = sorted(zip(tree.feature_importances_, names, strict=True), reverse=True)
    p_syntax, _ = fit_predict([i for i, n in enumerate(names) if n in SYNTAX_FEATURES])
    return {
        **_scores(y_test, p),
        "syntax_only_auc": _scores(y_test, p_syntax)["auc"],
        "top_features": [n for v, n in imp[:5] if v > 0],
    }


def _category_model(
    train_cats: Sequence[str], y_train: np.ndarray, test_cats: Sequence[str], y_test: np.ndarray
) -> dict[str, Any]:
    """Predict with the (smoothed) positive rate of the example's category in train."""
    prior = float(y_train.mean()) if len(y_train) else 0.5
    pos: Counter[str] = Counter()
    tot: Counter[str] = Counter()
    for c, y in zip(train_cats, y_train.tolist(), strict=True):
        tot[c] += 1
        pos[c] += y
    p = np.array([(pos[c] + prior) / (tot[c] + 1.0) for c in test_cats])
    unseen = sum(1 for c in test_cats if c not in tot)
    return {**_scores(y_test, p), "n_categories": len(tot), "test_unseen": unseen}


def shortcut_audit(
    train_raw: Sequence[Example],
    test_raw: Sequence[Example],
    train_norm: Sequence[Example] | None = None,
    test_norm: Sequence[Example] | None = None,
    *,
    text_fn: Callable[[str], str] | None = None,
    positive: str | None = None,
    random_state: int = 0,
    cues: dict[str, Callable[[str], float]] | None = None,
) -> dict[str, Any]:
    """Test AUC of format-only models (raw vs normalised texts) and of source / platform alone.

    Parameters
    ----------
    train_raw, test_raw : the split's examples with their *raw* (upstream) texts.
    train_norm, test_norm : the same examples with normalised texts (same order and labels).
        When omitted and ``text_fn`` is given, they are ``text_fn`` applied to the raw texts; when
        both are omitted only the raw audit is made.
    text_fn : the normaliser (e.g. :func:`~distilsec.data.placeholders.normalise_placeholders`).
    positive : the positive class; default: every label other than ``"benign"`` (so URL labels
        phishing / malware / spam count as positive), or the second of exactly two labels.
    random_state : seed of the decision tree.
    cues : named content cues (text -> number), each audited alone on the raw texts (e.g. :data:`HTML_CUES`).

    Returns
    -------
    dict
        JSON-ready: ``n_train``, ``n_test``, ``positive``, ``test_positive_rate``, ``features``,
        ``format_raw`` and ``format_normalised`` (``auc``, ``accuracy``, ``balanced_accuracy``,
        ``top_features``), ``source_only``, ``platform_only`` (``auc``, ...), and ``cues`` (name ->
        ``auc``, ..., ``test_rate_positive``, ``test_rate_negative``) when given. An AUC is ``None``
        when test holds one class only.

    Notes
    -----
    Why: a high raw AUC proves the dataset has a format shortcut; the normalised AUC says whether
    normalisation removed it. ``source_only`` is usually near 1 by construction (labels are given
    per source), which is exactly why source-identifying formats are dangerous.
    """
    if not train_raw or not test_raw:
        raise DataError("shortcut audit needs non-empty train and test sets")
    if train_norm is None and test_norm is None and text_fn is not None:
        train_norm = [ex.with_text(text_fn(ex.text)) for ex in train_raw]
        test_norm = [ex.with_text(text_fn(ex.text)) for ex in test_raw]
    if (train_norm is None) != (test_norm is None):
        raise DataError("pass both train_norm and test_norm, or neither")
    if train_norm is not None and (len(train_norm) != len(train_raw) or len(test_norm or ()) != len(test_raw)):
        raise DataError("normalised and raw sets must hold the same examples in the same order")
    y_tr, y_te, pos = _binary_labels(train_raw, test_raw, positive)
    out: dict[str, Any] = {
        "n_train": len(train_raw),
        "n_test": len(test_raw),
        "positive": pos,
        "test_positive_rate": round(float(y_te.mean()), 4),
        "model": "DecisionTreeClassifier(max_depth=4, min_samples_leaf=10) on format-only features",
        "features": [n for n, _ in FORMAT_FEATURES],
        "format_raw": _format_model(
            [ex.text for ex in train_raw], y_tr, [ex.text for ex in test_raw], y_te, random_state
        ),
    }
    if train_norm is not None and test_norm is not None:
        out["format_normalised"] = _format_model(
            [ex.text for ex in train_norm], y_tr, [ex.text for ex in test_norm], y_te, random_state
        )
    out["source_only"] = _category_model([ex.source for ex in train_raw], y_tr, [ex.source for ex in test_raw], y_te)
    out["platform_only"] = _category_model(
        [ex.platform for ex in train_raw], y_tr, [ex.platform for ex in test_raw], y_te
    )
    if cues:
        out["cues"] = {}
        for name, fn in cues.items():
            v_tr = [str(fn(ex.text)) for ex in train_raw]
            v_te = [fn(ex.text) for ex in test_raw]
            res = _category_model(v_tr, y_tr, [str(v) for v in v_te], y_te)
            on = np.array([v > 0 for v in v_te])
            res["test_rate_positive"] = round(float(on[y_te == 1].mean()), 4) if (y_te == 1).any() else None
            res["test_rate_negative"] = round(float(on[y_te == 0].mean()), 4) if (y_te == 0).any() else None
            out["cues"][name] = res
    return out


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _verdict(auc: float | None) -> str:
    if auc is None:
        return "the test set holds one class only, so no AUC can be computed."
    if auc > 0.9:
        return (
            f"format alone separates the classes (AUC {auc:.3f} > 0.9): a model can cheat on this data; "
            "report per-source results and do not trust the aggregate."
        )
    if auc > 0.7:
        return f"format still carries part of the label (AUC {auc:.3f}); read per-source results with care."
    return f"format carries little of the label (AUC {auc:.3f}; 0.5 = none)."


def format_shortcut_markdown(audit: dict[str, Any]) -> str:
    """A small Markdown table of :func:`shortcut_audit` plus a one-line interpretation.

    The interpretation uses the normalised-text AUC when present (that is what models train on),
    else the raw one. AUC near 0.5 is good; above 0.9 the model can cheat.
    """
    rows = [("format only, raw text", audit.get("format_raw"))]
    if "format_normalised" in audit:
        rows.append(("format only, normalised text", audit["format_normalised"]))
    rows += [("source only", audit.get("source_only")), ("platform only", audit.get("platform_only"))]
    rows += [(f"cue `{name}` only", r) for name, r in audit.get("cues", {}).items()]
    lines = [
        "| predictor | test ROC AUC | accuracy | AUC, syntax features only | top features |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in rows:
        if not r:
            continue
        top = ", ".join(r.get("top_features", [])) or "-"
        if r.get("test_rate_positive") is not None and r.get("test_rate_negative") is not None:
            top = f"present in {r['test_rate_positive']:.0%} of positives, {r['test_rate_negative']:.0%} of negatives"
        syn = _fmt(r["syntax_only_auc"]) if "syntax_only_auc" in r else "-"
        lines.append(f"| {name} | {_fmt(r.get('auc'))} | {_fmt(r.get('accuracy'))} | {syn} | {top} |")
    main = audit.get("format_normalised") or audit.get("format_raw") or {}
    which = "normalised" if "format_normalised" in audit else "raw"
    lines += [
        "",
        f"Positive class `{audit.get('positive')}`; {audit.get('n_train')} train / "
        f"{audit.get('n_test')} test examples ({audit.get('test_positive_rate', 0):.1%} positive in test).",
        f"Interpretation ({which} text): {_verdict(main.get('auc'))}",
    ]
    scored = [(r["auc"], name) for name, r in audit.get("cues", {}).items() if r.get("auc") is not None]
    if scored:
        auc, name = max(scored)
        lines.append(
            f"Strongest single content cue: `{name}` (test AUC {auc:.3f})"
            + (
                ": a model can get far on this cue alone; per-source results matter more than the aggregate."
                if auc > 0.8
                else "."
            )
        )
    return "\n".join(lines)
