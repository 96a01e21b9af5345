"""The real 0.5B model through llama.cpp: three tiny MCQs (both scorings) and one streamed open-book answer.

Needs the optional extra ``llm`` (llama-cpp-python) and the Qwen2.5-Coder-0.5B chunk packages; skips with a
message saying what is missing. About 10 s on 2 CPU cores. It checks the plumbing (letters parsed, pieces
streamed), not the accuracy of a 0.5B model.
"""

from __future__ import annotations

import importlib.util

import pytest

from distilsec.errors import ConfigError
from tests.evaluation.test_cti_mcq import write_mcq
from tests.teachers.llm.assistant.fakes import PASSAGES

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def backend():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the optional extra 'llm' (llama-cpp-python) is not installed")
    from distilsec.teachers.llm.gguf_assemble import resolve_gguf

    try:
        resolve_gguf("qwen2.5-coder-0.5b")
    except ConfigError as exc:
        pytest.skip(f"Qwen2.5-Coder-0.5B chunk packages are not installed: {exc}")
    from distilsec.teachers.llm.assistant.model import load_backend

    b = load_backend("qwen2.5-coder-0.5b", n_ctx=2048, n_threads=2)
    yield b
    b.close()


@pytest.mark.parametrize("scoring", ["generate", "logprob"])
def test_three_mcqs_get_a_letter_each(backend, tmp_path, scoring):
    from distilsec.evaluation.cti_mcq import evaluate_mcq, read_mcq

    items, _, _ = read_mcq(write_mcq(tmp_path / "m.tsv"))
    m = evaluate_mcq(items, backend, scoring=scoring)
    assert m["n"] == 3 and 0.0 <= m["accuracy"] <= 1.0
    assert m["parse_failures"] <= 1, m["parse_failure_examples"]  # the prompt asks for one letter
    assert m["seconds_per_question"] < 30


def test_open_book_answer_streams_pieces(backend):
    from distilsec.data.knowledge.retrieval import BM25Index
    from distilsec.teachers.llm.assistant.answer import AnswerStream, answer

    stream = answer("Which mitigation applies to T1548?", backend, BM25Index.build(PASSAGES), k=2, stream=True,
                    max_tokens=48)  # fmt: skip
    assert isinstance(stream, AnswerStream)
    pieces = list(stream)
    res = stream.result()
    assert len(pieces) > 1 and res.text.strip() and res.passages[0].id == "T1548"
    assert set(res.cited) <= {p.id for p in res.passages}


def test_public_calls_of_the_in_process_backend(backend):
    import numpy as np

    msgs = [{"role": "user", "content": "Which letter comes first in the alphabet? A, B, C or D. Reply with it."}]
    lp = backend.next_token_logprobs(msgs)
    assert lp.shape == (backend.llm.n_vocab(),) and np.exp(lp).sum() == pytest.approx(1.0, abs=1e-3)
    letters = backend.letter_logprobs(msgs, ["A", "B", "C", "D"])
    assert all(v is not None and v <= 0 for v in letters)
    pieces = list(backend.stream(msgs, max_tokens=4))
    assert pieces and "".join(pieces).strip()
    again = backend.letter_logprobs(msgs, ["A", "B", "C", "D"])  # after a completion the context starts afresh
    # the same choice; the values move by a few hundredths (KV-cache cells are reused in another order)
    assert int(np.argmax(again)) == int(np.argmax(letters)) and again == pytest.approx(letters, abs=0.1)
