"""``distilsec export``: a trained student to ONNX (+ optional int8), checked for parity before it ships.

The ONNX files are written beside the safetensors weights (or into a separate, ONNX-only bundle with
``out``), and the manifest gains an ``onnx`` entry with the parity figures. A float32 export whose
scores or class probabilities differ from the original's by more than ``tolerance`` is an error: it is
not written into the manifest, so ``runtime="auto"`` never picks up a graph that disagrees with the
trained model. A decision that flips only because a score sits on the threshold (within float rounding)
is reported with its margin, not refused (see :mod:`distilsec.serving.export.parity`). The int8 copy is
approximate by design: its figures are reported, and it is used only when asked for.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilsec.bundle import MANIFEST, read_manifest, update_manifest
from distilsec.errors import BundleError, DistilsecError
from distilsec.serving.export.graphs import OPSET, char_cnn_graph, hashed_linear_graph
from distilsec.serving.export.parity import check_parity
from distilsec.serving.export.quantize import DEFAULT_INT8_OPS, quantize_int8
from distilsec.serving.runtime.onnx_model import ONNX_FILES, SUPPORTED

__all__ = ["export_onnx", "ExportResult"]

log = logging.getLogger("distilsec.serving.export")


@dataclass
class ExportResult:
    """What was written and how well it agrees with the original model."""

    bundle: Path
    files: dict[str, Path]
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)
    validation_source: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.parity.get("fp32", {}).get("ok", False))


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise DistilsecError("export needs the 'onnx' extra: pip install 'distilsec[onnx]'") from None


def export_onnx(
    bundle_dir: str | Path,
    *,
    validation_texts: Sequence[str],
    out: str | Path | None = None,
    int8: bool = False,
    int8_ops: Sequence[str] = DEFAULT_INT8_OPS,
    tolerance: float = 1e-4,
    validation_source: str = "given texts",
) -> ExportResult:
    """Export a student bundle to ONNX and check it against the original on ``validation_texts``.

    Parameters
    ----------
    bundle_dir : a trained student bundle (``char_cnn.v1`` or ``hashed_linear.v1``).
    validation_texts : raw texts (as ``distilsec score`` would read them) for the parity check.
    out : write an ONNX-only bundle (manifest + .onnx, no torch needed) there instead of into ``bundle_dir``.
    int8 : also write ``model.int8.onnx`` (dynamic quantisation of ``int8_ops``).
    tolerance : largest allowed |score difference| (and |class probability difference|) of the float32 graph.

    Raises
    ------
    BundleError : unsupported model type, or a float32 graph whose scores differ by more than ``tolerance``.
    """
    from distilsec.bundle import load_model

    src = Path(bundle_dir)
    kind = _check_request(src, tolerance)
    texts = [t for t in validation_texts if isinstance(t, str)]
    model = load_model(src)
    dst = _prepare_destination(src, Path(out) if out is not None else src)
    files = _write_graphs(model, kind, dst, int8=int8, int8_ops=int8_ops)
    result = _check_parity(src, dst, files, texts, tolerance=tolerance, validation_source=validation_source)
    if not result.ok:
        _discard(result, tolerance)
    _warn_threshold_flips(result.parity["fp32"], tolerance)
    update_manifest(
        dst,
        onnx={
            "files": {k: v.name for k, v in files.items()},
            "input": SUPPORTED[kind],
            "opset": OPSET,
            "int8_ops": list(int8_ops) if int8 else None,
            "parity": result.parity,
        },
    )
    return result


def check_exportable(bundle_dir: str | Path) -> str:
    """The model type of ``bundle_dir`` (a run folder stands for its shipped bundle) if ONNX export supports it.

    Called before the validation texts are read, so that an ATT&CK tagger or a CVE model (whose features are
    computed in Python) is one clear line at once, not after a minute of rebuilding a split.
    """
    from distilsec.bundle import resolve_bundle

    src = resolve_bundle(bundle_dir)
    kind = read_manifest(src)["type"]
    if kind not in SUPPORTED:
        raise BundleError(
            f"{src} holds a {kind!r} model; ONNX export supports {sorted(SUPPORTED)} "
            "(score, serve and tag it with distilsec as it is)"
        )
    return kind


def _check_request(src: Path, tolerance: float) -> str:
    """The bundle's model type, once the tolerance, the 'onnx' extra and the type are known to be usable."""
    if not 0.0 <= tolerance < float("inf"):
        raise DistilsecError(f"the parity tolerance must be a number >= 0, not {tolerance}")
    _require_onnx()
    kind = read_manifest(src)["type"]
    if kind not in SUPPORTED:
        raise BundleError(f"{src} holds a {kind!r} model; ONNX export supports {sorted(SUPPORTED)}")
    return kind


def _prepare_destination(src: Path, dst: Path) -> Path:
    """``dst`` with the source's manifest and no ONNX graph or manifest entry from an earlier export."""
    if dst.resolve() != src.resolve():
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / MANIFEST, dst / MANIFEST)
    for name in ONNX_FILES.values():  # a stale graph must never survive a failed export
        (dst / name).unlink(missing_ok=True)
    update_manifest(dst, onnx=None)
    return dst


def _write_graphs(model: Any, kind: str, dst: Path, *, int8: bool, int8_ops: Sequence[str]) -> dict[str, Path]:
    """Write the float32 graph (through a temporary name, so no half-written graph is ever found) and the int8 copy."""
    fp32 = dst / ONNX_FILES["fp32"]
    tmp = dst / "model.onnx.tmp"
    if kind == "char_cnn.v1":
        char_cnn_graph(model, tmp)
    else:
        hashed_linear_graph(model, tmp)
    tmp.replace(fp32)
    files = {"fp32": fp32}
    if int8:
        files["int8"] = dst / ONNX_FILES["int8"]
        quantize_int8(fp32, files["int8"], int8_ops)
    return files


def _check_parity(
    src: Path, dst: Path, files: dict[str, Path], texts: list[str], *, tolerance: float, validation_source: str
) -> ExportResult:
    """Score ``texts`` with the original and with each graph; the figures go to ``parity.json`` whatever they are."""
    from distilsec.serving.model import ScoringModel

    reference = ScoringModel(src, runtime="native")
    result = ExportResult(dst, files, validation_source=validation_source)
    for precision in files:
        runtime = "onnx" if precision == "fp32" else "onnx-int8"
        # int8 is approximate by design: only its decisions are held to the original's
        tol = tolerance if precision == "fp32" else None
        result.parity[precision] = check_parity(reference, ScoringModel(dst, runtime=runtime), texts, tolerance=tol)
        result.parity[precision]["file_bytes"] = files[precision].stat().st_size
    report = {"validation": validation_source, **result.parity}
    (dst / "parity.json").write_text(json.dumps(report, indent=2) + "\n")
    return result


def _discard(result: ExportResult, tolerance: float) -> None:
    """Delete the graphs of a failed parity check and raise: ``runtime="auto"`` must never find them."""
    result.files["fp32"].unlink(missing_ok=True)
    result.files.get("int8", Path("/nonexistent")).unlink(missing_ok=True)
    p = result.parity["fp32"]
    raise BundleError(
        f"ONNX parity check failed on {p['n']} texts: max |score diff| {p['max_abs_diff']:.3g}, "
        f"max |class probability diff| {p['max_abs_diff_proba']:.3g} (tolerance {tolerance:g}), "
        f"{p['n_decisions_differ']} decisions differ; nothing was exported (details in {result.bundle / 'parity.json'})"
    )


def _warn_threshold_flips(p: dict[str, Any], tolerance: float) -> None:
    """Say so when decisions flip only because scores sit on the threshold: float rounding, not a failure."""
    if p["n_decisions_differ"]:
        log.warning(
            "%d of %d validation texts flip decision at the threshold %s (scores within %.2g of it, all score "
            "differences within the tolerance %g): float rounding, not a parity failure",
            p["n_decisions_differ"],
            p["n"],
            p["threshold"],
            p["max_flip_margin"],
            tolerance,
        )
