"""Model bundles on disk: safetensors/ONNX weights + JSON, never anything that runs code when loaded.

A bundle folder holds ``manifest.json`` (type, params, classes, threshold, metrics, data fingerprint)
and weights. :func:`load_model` refuses a folder that contains pickle-based files, because unpickling
a model file from an untrusted source executes arbitrary code.

A bundle is input from outside like any data file: it may be truncated in transit or edited by hand.
So the manifest is checked against a schema when it is read (:func:`read_manifest`: known keys only,
types, ranges), the model's params against the registered class's constructor (:func:`load_model`),
and the weights against the shapes those params imply (:func:`load_weights`, :func:`load_module_weights`).
Every failure is one :class:`~distilsec.errors.BundleError` line naming the file, the key and the fix,
never a torch or safetensors traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from distilsec.errors import RESTORE_BUNDLE, BundleError, DistilsecError

__all__ = [
    "MANIFEST",
    "WEIGHTS",
    "write_manifest",
    "read_manifest",
    "check_no_pickle",
    "load_model",
    "resolve_bundle",
    "with_extra",
    "RUN_TYPE",
    "RUN_TYPES",
    "update_manifest",
    "validate_params",
    "load_weights",
    "check_weight_shapes",
    "load_module_weights",
    "read_terms",
]

MANIFEST = "manifest.json"
#: The weights file of every safetensors-based bundle.
WEIGHTS = "model.safetensors"
#: File types that are pickles (or may contain one): never loaded.
UNSAFE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".ckpt", ".npy", ".npz"}
#: The fix for a manifest or weights file that no longer matches what ``save`` wrote.
RESTORE = RESTORE_BUNDLE

#: ``type`` of a run folder's manifest (a CVE run) that names, under ``shipped``, the bundle it ships:
#: wherever a model is asked for, the run folder stands for that bundle.
RUN_TYPE = "cve_run"
#: Every run-folder pointer type (a CVE run, an ATT&CK run): each names its shipped bundle under ``shipped``.
RUN_TYPES = (RUN_TYPE, "attack_run")

#: Keys a type cannot load without (beyond ``type``); a type not listed needs ``params`` and ``classes``
#: when it is built from its manifest (:class:`~distilsec.students.base.ClassifierMixin`), nothing otherwise.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "cvss_linear.v1": ("params", "values"),
    "encoder.v1": ("params", "classes", "fit_prior", "target_prior"),
    "llm.v1": ("params", "classes", "shots", "calibrator"),
    "cve_model.v1": (),
    "attack_model.v1": (),
}


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> None:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The bundle's manifest, parsed and checked against the schema (BundleError naming the key otherwise)."""
    p = Path(path)
    f = p / MANIFEST
    if not p.is_dir():
        raise BundleError(f"model bundle folder not found: {p}")
    if not f.is_file():
        raise BundleError(f"{p} is not a model bundle: {MANIFEST} is missing")
    try:
        manifest = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{f} is not valid JSON ({exc}): {RESTORE}") from None
    return validate_manifest(manifest, f)


def with_extra(manifest: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """A model's own manifest entries plus the ``extra`` ones its ``save(path, extra=...)`` was given.

    ``extra`` carries what the run knows and the model does not (threshold, positive/negative, preprocess,
    metrics...), so ``save`` writes the complete manifest in one go; it wins over the model's own entries.
    A key no manifest may hold is refused here, where the code that passed it is on the stack, rather
    than when the bundle is loaded later (the schema refuses unknown keys).
    """
    if not extra:
        return manifest
    from distilsec.bundle_schema import Manifest

    unknown = sorted(set(extra) - set(Manifest.model_fields))
    if unknown:
        raise BundleError(f"save(extra=...) got {unknown}, which are not manifest.json keys; known: "
                          f"{', '.join(sorted(Manifest.model_fields))}")  # fmt: skip
    return {**manifest, **extra}


def update_manifest(path: str | Path, **entries: Any) -> dict[str, Any]:
    """Add entries to an existing bundle's manifest (``distilsec export`` records its ONNX files this way).

    A model being saved takes its run's entries through ``save(path, extra=...)`` instead, so that its
    manifest is complete when ``save`` returns.
    """
    manifest = read_manifest(path)
    manifest.update(entries)
    write_manifest(path, manifest)
    return manifest


def check_no_pickle(path: str | Path) -> None:
    """Raise BundleError if the bundle folder holds any file type that can carry a pickle."""
    for f in Path(path).rglob("*"):
        if f.is_file() and f.suffix.lower() in UNSAFE_SUFFIXES:
            raise BundleError(
                f"refusing to load {path}: {f.name} may be a pickle, and loading a pickle executes code. "
                "distilsec bundles hold only safetensors/ONNX weights and JSON."
            )


# ---- params against the registered class ------------------------------------------------------------


def validate_manifest(manifest: Any, where: str | Path) -> dict[str, Any]:
    """Check a parsed manifest against the schema (:mod:`distilsec.bundle_schema`); return it unchanged."""
    from distilsec.bundle_schema import validate_manifest as check

    return check(manifest, where)


def validate_params(factory: Callable[..., Any], params: Mapping[str, Any], where: str | Path) -> None:
    """Refuse params the factory's ``__init__`` does not take or whose value does not fit its type hint.

    Missing params are fine: they take the constructor's default, which is how bundles written before a
    parameter existed keep loading.
    """
    from distilsec.bundle_schema import validate_params as check

    check(factory, params, where)


def _check_required(factory: Any, manifest: dict[str, Any], where: Path) -> None:
    kind = manifest["type"]
    if kind in REQUIRED_KEYS:
        required = REQUIRED_KEYS[kind]
    else:
        required = ("params", "classes") if hasattr(factory, "_from_manifest") else ()
    missing = [k for k in required if manifest.get(k) is None]
    if missing:
        raise BundleError(f"{where}: a {kind} manifest needs {missing} but has none: {RESTORE}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:240] + "...") if len(text) > 240 else (text or type(exc).__name__)


def resolve_bundle(path: str | Path) -> Path:
    """The bundle folder ``path`` stands for: itself, or the bundle a run folder's manifest ships.

    A CVE run folder holds a manifest of type :data:`RUN_TYPE` naming its shipped bundle; the name must be
    a folder inside the run (no ``/``, no ``..``), so a hand-edited pointer cannot reach elsewhere.
    """
    p = Path(path).expanduser()
    manifest = read_manifest(p)
    return _shipped(p, manifest) if manifest["type"] in RUN_TYPES else p


def _shipped(run: Path, manifest: dict[str, Any]) -> Path:
    shipped = manifest.get("shipped")
    if not isinstance(shipped, str) or not shipped or "/" in shipped or "\\" in shipped or shipped.startswith("."):
        raise BundleError(f"{run / MANIFEST}: 'shipped' must name a bundle folder inside the run ({RESTORE})")
    return run / shipped


def load_model(path: str | Path) -> Any:
    """Load any student or teacher bundle by the ``type`` recorded in its manifest.

    The one loader every command goes through (score, serve, export, cve, bench, ensembles' members, CVE
    models' parts); a CVE run folder stands for the bundle it ships (:func:`resolve_bundle`). Only the
    module the ``type`` names is imported (:mod:`distilsec.registry`). Checks: manifest schema, no
    pickles, params against the class, then the class's own ``load``; a failure inside that ``load`` (a
    file damaged in a way no check above foresaw) is still reported as one BundleError naming the bundle,
    never as the framework's traceback.
    """
    from distilsec.registry import get_factory

    p = Path(path).expanduser()
    manifest = read_manifest(p)
    if manifest["type"] in RUN_TYPES:
        p = _shipped(p, manifest)
        manifest = read_manifest(p)
    where = p / MANIFEST
    check_no_pickle(p)
    try:
        factory = get_factory(manifest["type"])
    except DistilsecError as exc:
        raise BundleError(f"{where}: {exc}") from None
    _check_required(factory, manifest, where)
    if isinstance(manifest.get("params"), dict):
        validate_params(factory, manifest["params"], where)
    try:
        return factory.load(p)
    except DistilsecError:
        raise
    except ImportError as exc:
        raise DistilsecError(f"loading {p} ({manifest['type']}) needs {exc.name or exc}: install it") from None
    except Exception as exc:  # noqa: BLE001 - see the docstring: a damaged bundle is one line, not a traceback
        raise BundleError(
            f"{p}: the {manifest['type']} bundle does not load ({type(exc).__name__}: {_one_line(exc)}): {RESTORE}"
        ) from None


# ---- weights ------------------------------------------------------------------------------------------


def load_weights(bundle: str | Path, framework: str = "numpy", name: str = WEIGHTS) -> dict[str, Any]:
    """Every tensor of a bundle's safetensors file; a missing, truncated or corrupt file is a BundleError.

    ``framework`` is safetensors' own: ``"numpy"`` or ``"pt"`` (torch tensors).
    """
    from safetensors import SafetensorError, safe_open

    f = Path(bundle) / name
    if not f.is_file():
        raise BundleError(f"{f} is missing: the bundle is incomplete; copy the whole bundle folder again or retrain")
    try:
        with safe_open(str(f), framework=framework) as sf:
            return {k: sf.get_tensor(k) for k in sf.keys()}  # noqa: SIM118 - safe_open has keys(), no iteration
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise BundleError(
            f"{f} is not a readable safetensors file ({_one_line(exc)}): it is truncated or corrupt; {RESTORE}"
        ) from None


def check_weight_shapes(
    file: str | Path, tensors: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]], source: str
) -> None:
    """Every expected tensor present with its expected shape, and nothing else.

    ``source`` names what the expected shapes come from (e.g. "params n_filters, kernel_sizes... and
    classes"), so the message says which side to look at: an edited manifest and wrong weights look the same.
    """
    missing = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    if missing or extra:
        what = (f"lacks tensors {missing[:3]}" if missing else "") + (
            f"{' and ' if missing else ''}has unexpected tensors {extra[:3]}" if extra else ""
        )
        raise BundleError(f"{file} {what} for the model its manifest.json describes: {RESTORE}")
    for key, shape in expected.items():
        got = tuple(int(d) for d in tensors[key].shape)
        if got != tuple(shape):
            raise BundleError(
                f"{file}: tensor {key!r} has shape {got}, but manifest.json's {source} need {tuple(shape)}: "
                f"the manifest does not match the weights; {RESTORE}"
            )


def load_module_weights(module: Any, bundle: str | Path, source: str = "params and classes") -> None:
    """Load a torch module's ``state_dict`` from the bundle's safetensors file, shapes checked first."""
    tensors = load_weights(bundle, framework="pt")
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_weight_shapes(Path(bundle) / WEIGHTS, tensors, expected, source)
    module.load_state_dict(tensors)


def read_terms(path: str | Path) -> list[str]:
    """A vocabulary file (TF-IDF bundles): a JSON list of distinct strings, in column order."""
    p = Path(path)
    try:
        terms = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{p} is missing: the bundle is incomplete; copy the whole bundle folder again") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{p} is not a readable JSON list of terms ({_one_line(exc)}): {RESTORE}") from None
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms) or len(set(terms)) != len(terms):
        raise BundleError(f"{p} must be a JSON list of distinct strings: {RESTORE}")
    return terms
