"""Model bundles on disk: safetensors/ONNX weights + JSON, never anything that runs code when loaded.

A bundle folder holds ``manifest.json`` (type, params, classes, threshold, metrics, data fingerprint)
and weights. :func:`load_model` refuses a folder that contains pickle-based files, because unpickling
a model file from an untrusted source executes arbitrary code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distilsec.errors import BundleError

__all__ = ["MANIFEST", "write_manifest", "read_manifest", "check_no_pickle", "load_model", "update_manifest"]

MANIFEST = "manifest.json"
#: File types that are pickles (or may contain one): never loaded.
UNSAFE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".ckpt", ".npy", ".npz"}


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> None:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")


def read_manifest(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    f = p / MANIFEST
    if not p.is_dir():
        raise BundleError(f"model bundle folder not found: {p}")
    if not f.is_file():
        raise BundleError(f"{p} is not a model bundle: {MANIFEST} is missing")
    try:
        manifest = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{f} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or "type" not in manifest:
        raise BundleError(f"{f} has no 'type' entry; is it a distilsec bundle?")
    return manifest


def update_manifest(path: str | Path, **entries: Any) -> dict[str, Any]:
    """Add entries (threshold, metrics, fingerprint...) to an existing bundle's manifest."""
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


def load_model(path: str | Path) -> Any:
    """Load any student or teacher bundle by the ``type`` recorded in its manifest."""
    from distilsec.registry import get_factory

    manifest = read_manifest(path)
    check_no_pickle(path)
    cls = get_factory(manifest["type"])
    return cls.load(path)
