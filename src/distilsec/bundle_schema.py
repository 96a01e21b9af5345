"""The schema of ``manifest.json``, checked by :func:`distilsec.bundle.read_manifest` and ``load_model``.

A module of its own so that importing :mod:`distilsec.bundle` stays cheap: pydantic and the schema are
built when the first manifest is read, not when a command starts.
"""

from __future__ import annotations

import inspect
import json
import math
import typing
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from distilsec.errors import RESTORE_BUNDLE as RESTORE
from distilsec.errors import BundleError

__all__ = ["Manifest", "validate_manifest", "validate_params"]

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
#: ``choose_threshold`` returns the float just above 1.0 when nothing in validation may be flagged.
Threshold = Annotated[float, Field(ge=0.0, le=math.nextafter(1.0, math.inf))]


def _ordered_range(v: list[int]) -> list[int]:
    if v[0] > v[1]:
        raise ValueError(f"the range must be [low, high] with low <= high, got {v}")
    return v


def _unique(v: list[str]) -> list[str]:
    if len(set(v)) != len(v):
        raise ValueError("class names must be distinct")
    return v


def _known_preprocessor(v: str) -> str:
    from distilsec.data.preprocess import PREPROCESSORS

    if v not in PREPROCESSORS:
        raise ValueError(f"unknown preprocessor; known: {sorted(PREPROCESSORS)}")
    return v


class Manifest(BaseModel):
    """Every key a distilsec version writes into ``manifest.json``; any other key is refused.

    A key nobody reads is not harmless: a hand edit with a typo (``treshold``) would be ignored and the
    model would run with the old value. Type-specific keys (teachers, CVE models) are listed here too;
    the keys each registered type *requires* are checked by :func:`load_model`.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    type: NonEmptyStr
    params: dict[str, Any] | None = None
    classes: Annotated[list[str], Field(min_length=1), AfterValidator(_unique)] | None = None
    distilsec_version: str | None = None
    n_parameters: NonNegativeInt | None = None
    # written by `distilsec run` (and `distilsec score` reads them)
    threshold: Threshold | None = None
    target_fpr: Probability | None = None
    positive: NonEmptyStr | None = None
    negative: NonEmptyStr | None = None
    preprocess: Annotated[str, AfterValidator(_known_preprocessor)] | None = None
    max_text_chars: PositiveInt | None = None
    text_column: NonEmptyStr | None = None
    id_column: NonEmptyStr | None = None
    role: str | None = None
    task: str | None = None
    data_fingerprint: str | None = None
    metrics: dict[str, Any] | None = None
    #: training examples whose label each source decided (analyst / teacher / original; see MODEL_CARD.md)
    label_sources: dict[str, NonNegativeInt] | None = None
    # written by `distilsec export`
    onnx: dict[str, Any] | None = None
    # teachers: encoder.v1, ensemble.v1, llm.v1
    fit_prior: list[Probability] | None = None
    target_prior: list[Probability] | None = None
    n_members: PositiveInt | None = None
    weights_: list[Annotated[float, Field(ge=0.0)]] | None = None  # ensemble.v1: members' weights in use
    shots: list[list[str]] | None = None
    calibrator: dict[str, Any] | None = None
    model_sha256: str | None = None
    fit_report: dict[str, Any] | None = None
    # CVE models: cve_model.v1, cvss_linear.v1, the cve_run folder
    top_k: PositiveInt | None = None
    backoff_threshold: Probability | None = None
    has_cvss: bool | None = None
    values: dict[str, list[str]] | None = None
    metrics_from: str | None = None
    trained_on: str | None = None
    cwe_model: str | None = None
    config_hash: str | None = None
    shipped: str | None = None
    # ATT&CK taggers: attack_model.v1 (threshold: the default; thresholds: per technique), the attack_run folder
    thresholds: dict[str, Threshold] | None = None
    backoff_ratio: Probability | None = None


#: Ranges of parameters by name: a name means the same thing in every registered model. These hold on
#: every path, the ONNX runtime's included (it reads ``max_len``, ``n_features``, ``ngram_range``... without
#: importing the model's class); types are also checked against the class's own type hints on load.
_POSITIVE_INT = [
    *("max_len", "embedding_dim", "n_filters", "n_features", "max_chars", "n_chunks", "hidden_dim", "max_bytes"),
    *("max_features", "min_df", "max_length", "epochs", "batch_size", "max_shot_chars", "max_input_chars"),
    *("n_ctx", "n_threads", "max_train_samples", "n_buckets", "dim"),
]
_PARAM_RULES: dict[str, Any] = {
    **{name: PositiveInt | None for name in _POSITIVE_INT},
    **{name: NonNegativeInt | None for name in ("n_shots", "n_calibration", "max_calls")},
    "kernel_sizes": Annotated[list[PositiveInt], Field(min_length=1)],
    "hidden_dims": list[PositiveInt],
    "ngram_range": Annotated[list[PositiveInt], Field(min_length=2, max_length=2), AfterValidator(_ordered_range)],
    "dropout": Annotated[float, Field(ge=0.0, lt=1.0)],
    "warmup_ratio": Probability,
    "lr": Annotated[float, Field(gt=0.0)],
    "C": Annotated[float, Field(gt=0.0)],
    "proba_scale": Annotated[float, Field(gt=0.0)],
    "weight_decay": Annotated[float, Field(ge=0.0)],
    "pooling": Literal["max", "sum"],
    "analyzer": Literal["char", "char_wb", "word"],
    "loss": Literal["svm", "softmax"],
    "decode": Literal["median", "argmax"],
    "combine": Literal["mean_logprob", "mean_proba"],
}


@cache
def _adapter(rule: Any) -> TypeAdapter[Any]:
    return TypeAdapter(rule, config=ConfigDict(strict=True, allow_inf_nan=False))


def _describe(errors: list[Any], prefix: str = "") -> str:
    """pydantic errors as one line: ``key: what is wrong (got value)``; at most three of them."""
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(x) for x in (*([prefix] if prefix else []), *err["loc"]))
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {loc!r}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        parts.append(f"{loc}: {msg}" + (f" (got {json.dumps(got, default=str)[:60]})" if got is not None else ""))
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def validate_manifest(manifest: Any, where: str | Path) -> dict[str, Any]:
    """Check a parsed manifest against :class:`Manifest` and the parameter ranges; return it unchanged."""
    if not isinstance(manifest, dict) or "type" not in manifest:
        raise BundleError(f"{where} has no 'type' entry; is it a distilsec bundle? ({RESTORE})")
    try:
        Manifest.model_validate(manifest)
    except ValidationError as exc:
        errors = exc.errors()
        hint = RESTORE
        if any(e["type"] == "extra_forbidden" for e in errors):
            from distilsec import __version__

            written = manifest.get("distilsec_version")
            newer = f"; it was written by distilsec {written}, this is {__version__}" if written != __version__ else ""
            hint = f"remove the key{newer} (or {RESTORE})"
        raise BundleError(f"{where}: {_describe(errors)}: {hint}") from None
    errors = []
    for name, value in (manifest.get("params") or {}).items():
        if name in _PARAM_RULES:
            try:
                _adapter(_PARAM_RULES[name]).validate_python(value)
            except ValidationError as exc:
                errors += [{**e, "loc": ("params", name, *e["loc"])} for e in exc.errors()]
    if errors:
        raise BundleError(f"{where}: {_describe(errors)}: {RESTORE}")
    return manifest


def _hint_adapter(hint: Any) -> TypeAdapter[Any] | None:
    try:
        return _adapter(hint)
    except Exception:  # noqa: BLE001 - a hint pydantic cannot build a schema for is not checked
        return None


def validate_params(factory: Callable[..., Any], params: Mapping[str, Any], where: str | Path) -> None:
    """See :func:`distilsec.bundle.validate_params`."""
    init = factory.__init__ if isinstance(factory, type) else factory
    sig = inspect.signature(init)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [n for n, p in sig.parameters.items() if n != "self" and p.kind in kinds]
    name = getattr(factory, "registry_name", getattr(factory, "__name__", "model"))
    takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    unknown = sorted(set(params) - set(accepted))
    if unknown and not takes_any:
        raise BundleError(
            f"{where}: params {unknown} are not parameters of {name} (it takes {', '.join(accepted)}): "
            f"remove them or {RESTORE}"
        )
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - unresolvable annotations: names are still checked above
        hints = {}
    errors = []
    for key, value in params.items():
        adapter = _hint_adapter(hints[key]) if key in hints else None
        if adapter is None:
            continue
        try:  # JSON semantics: a JSON array fits a tuple/Sequence hint, an integer fits a float
            adapter.validate_json(json.dumps(value))
        except ValidationError as exc:
            errors += [{**e, "loc": ("params", key, *e["loc"])} for e in exc.errors()]
    if errors:
        raise BundleError(f"{where}: {_describe(errors)} for {name}: {RESTORE}")
