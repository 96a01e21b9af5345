"""``benchmarks/cti_assistant.py --sweep``: the setting syntax and one in-process sweep with a scripted backend."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from distilsec.data.knowledge.passage import Passage
from distilsec.data.knowledge.retrieval import BM25Index
from tests.teachers.llm.assistant.fakes import ScriptedBackend

SCRIPT = Path(__file__).resolve().parents[4] / "benchmarks" / "cti_assistant.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("cti_assistant_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sweep_settings_keep_k_chars_and_may_name_the_excerpt_and_order(bench):
    assert bench._setting("0") == (0, 0, "head", frozenset())
    assert bench._setting("4:400") == (4, 400, "head", frozenset())
    assert bench._setting("2:200:focused") == (2, 200, "focused", frozenset())
    assert bench._setting("2:200:focused:main+compact") == (2, 200, "focused", {"main", "compact"})
    for bad in ("2:200:middle", "2:200:head:first", "2:200:head:main+fast"):
        with pytest.raises(SystemExit):
            bench._setting(bad)


def test_sweep_rows_quote_head_or_focused_windows(bench, monkeypatch, tmp_path):
    import distilsec.teachers.llm.assistant.model as model
    from distilsec.data.readers.cti_mcq import McqItem, write_mcq_tsv

    text = "Opening words about elevation. " + "Filler sentence number one here. " * 6 + "It reads LSASS memory."
    index = BM25Index.build([Passage("T9999", "T9999", "technique", "Example", text, "attack:test")])
    backend = ScriptedBackend(lambda msgs: "A" if "LSASS memory" in msgs[-1]["content"].split("---")[0] else "B")
    monkeypatch.setattr(model, "load_backend", lambda *a, **k: backend)
    monkeypatch.setattr(model, "load_index", lambda *a, **k: index)
    item = McqItem("Which technique reads LSASS memory?", ("Example", "b", "c", "d"), "A")
    f = tmp_path / "q.tsv"
    write_mcq_tsv(f, [item])
    rows = bench.sweep(f, "fake", ["1:60", "1:60:focused"], "plain", 1)
    assert [r["accuracy"] for r in rows] == [0.0, 1.0]
    assert [r["excerpt"] for r in rows] == ["head", "focused"] and rows[1]["answers"] == ["A"]
