"""Multiple-choice answering: the strict letter parser, generate vs log-prob scoring, open-book retrieval."""

from __future__ import annotations

import pytest

from distilsec.data.knowledge.retrieval import BM25Index
from distilsec.teachers.llm.assistant.mcq import choose, parse_letter, retrieval_query
from tests.teachers.llm.assistant.fakes import PASSAGES, ScriptedBackend

OPTIONS = ["OS Credential Dumping", "Bypass User Account Control", "SQL Injection", "Phishing"]


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("A", "A"),
        ("B.", "B"),
        ("  C  ", "C"),
        ("**D**", "D"),
        ("(A)", "A"),
        ("[B]", "B"),
        ("`C`", "C"),
        ("Answer: A", "A"),
        ("answer: B", "B"),
        ("The answer is C.", "C"),
        ("The correct answer is: **D**", "D"),
        ("Option B", "B"),
        ("C) SQL Injection", "C"),
        ("B. A technique that bypasses UAC", "B"),
        ("Answer: **B**. Bypass User Account Control", "B"),
        ("D\n\nExplanation: phishing is initial access", "D"),
        # refused: ambiguous or not an answer
        ("", None),
        ("a", None),
        ("answer: d", None),
        ("A technique used to dump credentials", None),
        ("A or B", None),
        ("B, C", None),
        ("Answer: A or B", None),
        ("The answer is", None),
        ("I think it's probably B", None),
        ("E", None),
        ("C) SQL Injection or D) Phishing", None),
        ("Both A and B", None),
    ],
)
def test_strict_letter_parsing(text, letter):
    assert parse_letter(text) == letter


def test_generate_scoring_reads_the_letter_and_counts_a_failure():
    ok = choose(ScriptedBackend("Answer: B"), "Which bypasses UAC?", OPTIONS)
    assert ok.letter == "B" and ok.raw == "Answer: B" and ok.logprobs is None
    bad = choose(ScriptedBackend("It could be A or B"), "Which bypasses UAC?", OPTIONS)
    assert bad.letter is None


def test_the_file_prompt_is_sent_verbatim_closed_book():
    backend = ScriptedBackend("A")
    choose(backend, "q", OPTIONS, prompt="Exactly this prompt.")
    assert backend.calls[0] == [{"role": "user", "content": "Exactly this prompt."}]


def test_logprob_scoring_picks_the_most_likely_letter_and_never_fails_to_parse():
    res = choose(ScriptedBackend(letter_logprobs=(-2.0, -3.0, -0.5, -4.0)), "q", OPTIONS, scoring="logprob")
    assert res.letter == "C" and res.logprobs == [-2.0, -3.0, -0.5, -4.0]
    with pytest.raises(ValueError):
        choose(ScriptedBackend(), "q", OPTIONS, scoring="vote")


def test_open_book_retrieves_with_question_and_options():
    assert "Phishing" in retrieval_query("q", OPTIONS)
    backend = ScriptedBackend("A")
    res = choose(backend, "Which technique reads LSASS memory?", OPTIONS, index=BM25Index.build(PASSAGES), k=2)
    assert res.passages and res.passages[0].id in {"T1003", "T1548.002", "CWE-89"}
    assert "Reference:" in backend.calls[0][0]["content"]  # the compact header is the default
    choose(backend, "Which technique reads LSASS memory?", OPTIONS, index=BM25Index.build(PASSAGES), compact=False)
    assert "Reference passages" in backend.calls[1][0]["content"]


def _bare_llamacpp(pieces, logprobs):
    """A LlamaCppBackend without a model: its vocabulary and next-token log-probs are given."""
    from distilsec.teachers.llm.llamacpp import LlamaCppBackend

    b = object.__new__(LlamaCppBackend)
    b._label_ids, b._pieces, b._cached = {}, list(pieces), []
    b.tokens = lambda messages: [1, 2, 3]
    b._next_token_logprobs = lambda tokens: logprobs
    return b


def test_exact_letter_logprobs_of_the_in_process_backend_ignore_words_that_start_with_a_letter():
    import numpy as np

    from distilsec.teachers.llm.assistant.mcq import letter_logprobs

    pieces = ["Answer", " A", "B", " C", "D", "because", "x"]
    lp = np.full(len(pieces), -10.0)
    lp[0] = -0.1  # "Answer": would count for A under prefix matching
    lp[2] = -1.0  # "B"
    backend = _bare_llamacpp(pieces, lp)
    out = letter_logprobs(backend, [{"role": "user", "content": "q"}])
    assert out[1] == pytest.approx(-1.0) and out[0] == pytest.approx(-10.0)
    assert backend.letter_logprobs([{"role": "user", "content": "q"}], ["A", "E"])[1] is None  # no token spells E
    res = choose(backend, "Which technique reads LSASS memory?", OPTIONS, scoring="logprob")
    assert res.letter == "B" and res.logprobs == out


def test_the_assistant_streams_through_the_public_stream_of_the_in_process_backend():
    from distilsec.teachers.llm.assistant.answer import stream_chat

    class FakeLlama:
        def __init__(self):
            self.kwargs = {}

        def create_chat_completion(self, **kw):
            self.kwargs = kw
            for piece in ("The ", None, "answer"):
                yield {"choices": [{"delta": {"content": piece} if piece else {}}]}

    backend = _bare_llamacpp([], None)
    backend.llm = FakeLlama()
    backend._cached = [1, 2, 3]
    msgs = [{"role": "user", "content": "q"}]
    assert list(stream_chat(backend, msgs, max_tokens=7)) == ["The ", "answer"]
    assert backend._cached == []  # a completion rewrites the context: the next label call starts afresh
    assert backend.llm.kwargs["stream"] is True and backend.llm.kwargs["max_tokens"] == 7


def test_plain_style_ignores_the_file_prompt_and_asks_for_the_letter_last():
    from distilsec.teachers.llm.assistant.prompts import mcq_messages

    msgs = mcq_messages("Which bypasses UAC?", OPTIONS, prompt="the file's prompt", style="plain")
    assert msgs[0]["role"] == "system" and "the file's prompt" not in msgs[1]["content"]
    assert msgs[1]["content"].endswith("Reply with the letter of the correct option only.")
    assert "B. Bypass User Account Control" in msgs[1]["content"]
    opened = mcq_messages("q", OPTIONS, passages=PASSAGES[:1], style="plain")
    assert opened[1]["content"].startswith("Reference passages")
    with pytest.raises(ValueError):
        mcq_messages("q", OPTIONS, style="fancy")
    backend = ScriptedBackend("B")
    assert choose(backend, "q", OPTIONS, style="plain").letter == "B" and backend.calls[0][0]["role"] == "system"


def test_open_book_defaults_and_passage_cut_reach_the_prompt():
    from distilsec.data.knowledge.retrieval import BM25Index
    from distilsec.teachers.llm.assistant.mcq import MCQ_K, MCQ_PASSAGE_CHARS

    index = BM25Index.build(PASSAGES)
    backend = ScriptedBackend("B")
    res = choose(backend, "Which technique reads LSASS memory?", OPTIONS, index=index)
    assert len(res.passages) == MCQ_K and res.retrieval_seconds >= 0.0
    assert MCQ_PASSAGE_CHARS >= 100  # a passage's definition survives the default cut
    choose(
        backend, "Which technique reads LSASS memory?", OPTIONS, index=index, k=1, max_chars=30, excerpt="head",
        compact=False,
    )  # fmt: skip
    body = backend.calls[-1][-1]["content"]
    assert " ..." in body and "LSASS memory." not in body.split("---")[0]  # the passage was cut to 30 chars


def test_focused_excerpt_reaches_the_mcq_prompt():
    from distilsec.data.knowledge.passage import Passage

    text = "Opening words about elevation. " + "Filler sentence number one here. " * 6 + "It reads LSASS memory."
    index = BM25Index.build([Passage("T9999", "T9999", "technique", "Example", text, "attack:test")])
    backend = ScriptedBackend("B")
    choose(
        backend, "Which reads LSASS memory?", OPTIONS, index=index, k=1, max_chars=60, style="plain", excerpt="head",
        compact=False,
    )  # fmt: skip
    assert "LSASS" not in backend.calls[-1][-1]["content"].split("---")[0]  # head: the opening words
    choose(backend, "Which reads LSASS memory?", OPTIONS, index=index, k=1, max_chars=60, excerpt="focused")
    assert "It reads LSASS memory." in backend.calls[-1][-1]["content"].split("---")[0]
    with pytest.raises(ValueError):
        choose(backend, "q", OPTIONS, excerpt="middle")


def test_compact_header_and_main_first_reach_the_prompt():
    from distilsec.data.knowledge.passage import Passage

    parts = [
        Passage("T1234#detection", "T1234", "technique", "Detection of Thing", "detect thing thing thing", "x"),
        Passage("T1234", "T1234", "technique", "Thing", "Tactics: Execution. The thing.", "x"),
    ]
    index = BM25Index.build(parts)
    backend = ScriptedBackend("A")
    q = "Which tactic does T1234 (thing) serve?"
    old = {"main_first": False, "compact": False}  # the defaults before BENCHMARKS.md 13's focused excerpts
    assert choose(backend, q, OPTIONS, index=index, k=1, style="plain", **old).passages[0].id == "T1234#detection"
    assert backend.calls[-1][-1]["content"].startswith("Reference passages (they may help):\n\n[T1234#detection]")
    res = choose(backend, q, OPTIONS, index=index, k=1, style="plain", main_first=True, compact=True)
    assert res.passages[0].id == "T1234"
    body = backend.calls[-1][-1]["content"]
    assert body.startswith("Reference:\n[T1234] Thing\n") and "---" not in body
