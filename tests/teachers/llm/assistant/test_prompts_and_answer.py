"""The assistant's prompts, citations and (streamed) answers, with a scripted backend."""

from __future__ import annotations

import pytest

from distilsec.data.knowledge.retrieval import BM25Index
from distilsec.errors import DataError
from distilsec.teachers.llm.assistant.answer import Answer, AnswerStream, answer, extract_citations
from distilsec.teachers.llm.assistant.prompts import (
    MCQ_INSTRUCTION,
    SYSTEM_CLOSED,
    format_passages,
    mcq_messages,
    mcq_prompt,
    question_messages,
)
from tests.teachers.llm.assistant.fakes import PASSAGES, ScriptedBackend


def test_closed_book_prompt_has_no_passages_and_open_book_quotes_them_under_their_ids():
    closed = question_messages("What is T1548?")
    assert closed[0]["content"] == SYSTEM_CLOSED and closed[1] == {"role": "user", "content": "What is T1548?"}
    opened = question_messages("What is T1548?", PASSAGES[:2])
    system = opened[0]["content"]
    assert "[T1548] Abuse Elevation Control Mechanism" in system and "[T1548.002] Bypass" in system
    assert "cite" in system.lower()


def test_passages_are_cut_at_a_word_boundary():
    text = format_passages(PASSAGES[:1], max_chars=40)
    body = text.splitlines()[1]
    assert body.endswith(" ...") and len(body) <= 44


def test_mcq_prompt_uses_the_benchmark_prompt_when_given_else_cti_bench_instruction():
    assert mcq_prompt("q?", ["a", "b", "c", "d"], prompt="  The file's own prompt  ") == "The file's own prompt"
    built = mcq_prompt("Which technique dumps LSASS?", ["T1003", "T1548", "T1059", "T1110"])
    assert built.startswith(MCQ_INSTRUCTION)
    assert "A) T1003\nB) T1548\nC) T1059\nD) T1110" in built
    with pytest.raises(ValueError):
        mcq_prompt("q", ["a", "b"])
    open_book = mcq_messages("q?", ["a", "b", "c", "d"], passages=PASSAGES[:1])
    assert len(open_book) == 1 and open_book[0]["content"].index("[T1548]") < open_book[0]["content"].index("q?")


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Use [M1026] to limit it [T1548].", ["M1026", "T1548"]),
        ("See [T1548, M1026] and [M1026] again.", ["T1548", "M1026"]),
        ("Made up [T9999] and [CWE-1] are not given.", []),
        ("lower case [t1548.002] counts", ["T1548.002"]),
        ("no brackets T1548 is not a citation", []),
        ("[**CWE-79**] markdown inside", ["CWE-79"]),
        ("[1] numeric footnotes are ignored", []),
    ],
)
def test_only_given_passages_count_as_citations(text, ids):
    assert extract_citations(text, PASSAGES) == ids


def test_an_entity_citation_maps_to_a_part_passage():
    from distilsec.data.knowledge.passage import Passage

    part = Passage("T1548#mitigations", "T1548", "technique", "Mitigations of T1548", "x", "attack")
    assert extract_citations("see [T1548]", [part]) == ["T1548#mitigations"]


def test_open_book_answer_retrieves_quotes_and_keeps_only_real_citations():
    backend = ScriptedBackend("Limit admin accounts [M1026]; T1548 is about elevation [T1548] [T4242].")
    index = BM25Index.build(PASSAGES)
    res = answer("Which mitigations apply to T1548?", backend, index, k=3)
    assert isinstance(res, Answer)
    assert res.passages[0].id == "T1548" and len(res.passages) == 3
    assert res.cited == ["M1026", "T1548"] or res.cited == ["T1548"]  # M1026 only if retrieved
    assert all(c in {p.id for p in res.passages} for c in res.cited)
    assert "[T1548] Abuse Elevation" in backend.calls[0][0]["content"]


def test_closed_book_answer_cites_nothing():
    backend = ScriptedBackend("It is [T1548].")
    res = answer("What is T1548?", backend)
    assert isinstance(res, Answer) and res.cited == [] and res.passages == []
    assert backend.calls[0][0]["content"] == SYSTEM_CLOSED


def test_streaming_yields_pieces_as_they_come_then_the_whole_answer():
    backend = ScriptedBackend("Bypass UAC [T1548.002].", chunk=3)
    seen: list[str] = []
    stream = answer("uac bypass?", backend, BM25Index.build(PASSAGES), k=2, stream=True, on_token=seen.append)
    assert isinstance(stream, AnswerStream)
    pieces = list(stream)
    assert len(pieces) > 3 and pieces == seen and "".join(pieces) == "Bypass UAC [T1548.002]."
    res = stream.result()
    assert res.text == "Bypass UAC [T1548.002]." and res.cited == ["T1548.002"]


def test_a_backend_without_streaming_answers_in_one_piece():
    class OneShot:  # an endpoint backend: generate only
        def __init__(self) -> None:
            self.inner = ScriptedBackend("plain answer [CWE-79]")

        def generate(self, messages, **kw):
            return self.inner.generate(messages, **kw)

    stream = answer("what is CWE-79?", OneShot(), BM25Index.build(PASSAGES), k=1, stream=True)
    assert isinstance(stream, AnswerStream)
    assert list(stream) == ["plain answer [CWE-79]"] and stream.result().cited == ["CWE-79"]


def test_empty_question_is_a_data_error():
    with pytest.raises(DataError):
        answer("  ", ScriptedBackend())


def test_focused_passages_quote_the_best_window_and_head_stays_the_default():
    from distilsec.data.knowledge.passage import Passage

    p = Passage(
        "T9999", "T9999", "technique", "Example Technique",
        "Example Technique. Tactics: Execution. Filler words that say nothing useful at all here. "
        "More filler text to pad the passage out. Adversaries read LSASS memory for hashes.",
        "attack:test",
    )  # fmt: skip
    head = format_passages([p], max_chars=60)
    assert head.splitlines()[1].startswith("Example Technique. Tactics")
    focused = format_passages([p], max_chars=60, query="reads LSASS memory", excerpt="focused")
    assert "LSASS" in focused.splitlines()[1] and "Filler" not in focused
    # a text that opens with its title does not repeat it under the header
    short = format_passages([p], max_chars=60, query="execution tactics", excerpt="focused")
    assert short.splitlines()[1].startswith("Tactics: Execution")
    assert format_passages([p], max_chars=60, excerpt="focused") == head  # no query: the head
    with pytest.raises(ValueError):
        format_passages([p], excerpt="middle")
    opened = question_messages("Who reads LSASS memory?", [p], max_chars=60, excerpt="focused")
    assert "LSASS" in opened[0]["content"]


def test_free_answer_can_quote_focused_windows():
    from distilsec.data.knowledge.passage import Passage

    text = "Opening words about elevation. " + "Filler sentence number one here. " * 6 + "It reads LSASS memory."
    index = BM25Index.build([Passage("T9999", "T9999", "technique", "Example", text, "attack:test")])
    backend = ScriptedBackend("It reads LSASS [T9999].")
    answer("Which technique reads LSASS memory?", backend, index, k=1, max_chars=60)
    assert "LSASS" not in backend.calls[-1][0]["content"]  # head
    answer("Which technique reads LSASS memory?", backend, index, k=1, max_chars=60, excerpt="focused")
    assert "It reads LSASS memory." in backend.calls[-1][0]["content"]
