"""Make the fast path the default: every student ``distilsec run`` ships is exported to ONNX right away.

ONNX Runtime scores the char-CNN several times faster than torch and starts in a fraction of a second
(no torch import), and ``runtime: auto`` picks ``model.onnx`` whenever a bundle has one. So a run that
exports its students at the end makes ``distilsec score runs/.../student`` fast without a second step.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["export_fast_path"]


def export_fast_path(bundle_dir: str | Path, validation_texts: Sequence[str], console: Any = None) -> bool:
    """Export ``bundle_dir`` to ``model.onnx`` when its type has a graph; True when it was exported.

    The parity check runs on ``validation_texts`` (the run's validation split), as ``distilsec export``
    does. A bundle that cannot be exported stays a working native bundle: the reason is printed (one
    yellow line with the command to retry), and the run goes on — its models are trained and evaluated,
    and losing them to an exporter problem at the very end would be worse than scoring them slower.
    """
    from distilsec.bundle import read_manifest
    from distilsec.serving.runtime.onnx_model import SUPPORTED

    bundle = Path(bundle_dir)
    if read_manifest(bundle).get("type") not in SUPPORTED:
        return False

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg)

    if any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime")):
        say(f"[yellow]note:[/] {bundle.name} not exported to ONNX (install the 'onnx' extra for faster scoring)")
        return False
    texts = [t for t in validation_texts if isinstance(t, str) and t]
    if not texts:
        say(f"[yellow]note:[/] {bundle.name} not exported to ONNX: no validation texts for the parity check")
        return False
    from distilsec.serving.export import export_onnx

    try:
        result = export_onnx(bundle, validation_texts=texts, validation_source="validation split of the run")
    except Exception as exc:  # noqa: BLE001 - see the docstring: the trained bundle must survive
        say(
            f"[yellow]warning:[/] {bundle.name} was not exported to ONNX ({exc}); it scores with torch. "
            f"Retry with `distilsec export {bundle}`"
        )
        return False
    p = result.parity.get("fp32", {})
    diff = p.get("max_abs_diff", float("nan"))
    say(f"{bundle.name}: exported to ONNX for fast scoring (max |score diff| {diff:.1e} on {p.get('n')} texts)")
    return True
