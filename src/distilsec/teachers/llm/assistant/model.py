"""What ``--model`` names for the assistant (a GGUF file, a shipped alias, a fine-tuned run folder), and the
open-book index of the knowledge data; both loaded only when a command needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilsec.errors import ConfigError

__all__ = ["resolve_model", "is_llm_model", "load_backend", "load_index"]


def _ggufs(folder: Path) -> list[Path]:
    top = sorted(folder.glob("*.gguf"))
    return top or sorted(folder.rglob("*.gguf"))


def is_llm_model(model: str | Path) -> bool:
    """Does ``model`` name an LLM (alias, ``.gguf`` file, folder holding a GGUF) rather than a classifier bundle?"""
    from distilsec.teachers.llm.gguf_assemble import PACKAGED_GGUF

    s = str(model)
    if s in PACKAGED_GGUF:
        return True
    p = Path(s).expanduser()
    if p.is_file():
        return p.suffix.lower() == ".gguf"
    if p.is_dir():
        return not (p / "manifest.json").is_file() and bool(_ggufs(p))
    return s.lower().endswith(".gguf")


def resolve_model(model: str | Path) -> str:
    """The alias or GGUF path llama.cpp should load for ``model``.

    A folder (an SFT run) must hold exactly one ``*.gguf`` (at its top level, else anywhere below);
    anything else is a ConfigError that says what was found.
    """
    from distilsec.teachers.llm.gguf_assemble import PACKAGED_GGUF

    s = str(model)
    if s in PACKAGED_GGUF:
        return s
    p = Path(s).expanduser()
    if p.is_dir():
        found = _ggufs(p)
        if len(found) == 1:
            return str(found[0])
        if (p / "manifest.json").is_file():
            raise ConfigError(f"{p} is a classifier bundle, not an LLM: pass a GGUF file, a run folder or an alias")
        if not found:
            raise ConfigError(f"model folder {p} holds no .gguf file (an SFT run writes one when exported)")
        names = ", ".join(str(f.relative_to(p)) for f in found[:6])
        raise ConfigError(f"model folder {p} holds {len(found)} .gguf files ({names}): pass one file's path")
    if not p.is_file():
        known = ", ".join(sorted(PACKAGED_GGUF))
        raise ConfigError(f"model {s!r} not found: pass a .gguf file, a folder holding one, or an alias ({known})")
    return str(p)


def load_backend(
    model: str | Path, *, n_ctx: int = 4096, n_threads: int | None = None, n_gpu_layers: int | None = None
) -> Any:
    """A llama.cpp backend for ``model`` (seconds: the GGUF is memory-mapped).

    ``n_gpu_layers`` (default ``$DISTILSEC_GPU_LAYERS``, else 0 = CPU only) offloads layers to a GPU when
    llama.cpp was built with one; a CPU-only build ignores it.
    """
    import os

    from distilsec.teachers.llm.llamacpp import LlamaCppBackend

    threads = n_threads or max(1, min(os.cpu_count() or 2, 8))
    if n_gpu_layers is None:
        n_gpu_layers = int(os.environ.get("DISTILSEC_GPU_LAYERS") or 0)
    return LlamaCppBackend(resolve_model(model), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=n_gpu_layers)


def load_index(data_dir: str | Path | None = None) -> Any:
    """The BM25 index of the knowledge passages under ``data_dir``.

    Read from the on-disk cache when the data files are unchanged (well under a second); otherwise the
    passages are read (seconds; the readers' per-record skip warnings are kept quiet here, the loader's own
    report has them) and the index built and cached.
    """
    import logging

    from distilsec.data.paths import resolve_data_dir

    try:
        from distilsec.data.knowledge.load import load_passages
    except ImportError:
        raise ConfigError("open-book needs distilsec.data.knowledge.load (the knowledge passages loader)") from None
    from distilsec.data.knowledge.retrieval import index_for_data

    root = resolve_data_dir(data_dir)
    data_log = logging.getLogger("distilsec.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)
    try:
        return index_for_data(root, load_passages)
    finally:
        data_log.setLevel(level)
