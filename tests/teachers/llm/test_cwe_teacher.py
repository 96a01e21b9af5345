"""The LLM CWE teacher: classifier top-k re-ranked as a multiple-choice question, with a fake LLM."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np
import pytest

from distilsec.errors import BundleError, ConfigError, DataError
from distilsec.teachers.labelling import CallResult
from distilsec.teachers.ledger import TeacherLedger
from distilsec.teachers.llm.backend import make_answer
from distilsec.teachers.llm.cwe_rerank import (
    CweRerankTeacher,
    combine,
    cwe_mcq_messages,
    llm_distribution,
)

CLASSES = ["CWE-20", "CWE-22", "CWE-78", "CWE-79", "CWE-89", "CWE-787"]
NAMES = {
    "CWE-20": "Improper Input Validation",
    "CWE-22": "Path Traversal",
    "CWE-78": "OS Command Injection",
    "CWE-79": "Cross-site Scripting",
    "CWE-89": "SQL Injection",
    "CWE-787": "Out-of-bounds Write",
}
#: description keyword -> the CWE the fake LLM recognises
KEYWORDS = {"sql": "CWE-89", "script": "CWE-79", "traversal": "CWE-22", "shell": "CWE-78", "overflow": "CWE-787"}
_OPTION = re.compile(r"^([A-H])\. (CWE-\d+)", re.M)


class FakeCweLLM:
    """Prefers the option whose CWE matches a keyword of the description (else a mild bias for A)."""

    model_id = "fake:cwe"

    def __init__(self, exact: bool = True) -> None:
        self.calls: list[str] = []
        if not exact:  # a backend with only the generic label call
            self.letter_logprobs = None  # type: ignore[assignment]

    def _lps(self, content: str, letters: Sequence[str]) -> list[float | None]:
        self.calls.append(content)
        desc = content.split("\n\n")[0].lower().removeprefix("cve description:")
        want = next((c for k, c in KEYWORDS.items() if k in desc), None)
        opts = dict((letter, cwe) for letter, cwe in _OPTION.findall(content))
        z = np.array([3.0 if opts.get(x) == want else (0.5 if x == "A" else 0.0) for x in letters])
        lse = np.log(np.exp(z).sum())
        return [float(v - lse - 0.1) for v in z]

    def letter_logprobs(self, messages: list[dict[str, str]], letters: Sequence[str]) -> list[float | None]:
        return self._lps(messages[-1]["content"], letters)

    def label(self, messages: list[dict[str, str]], label_words: Sequence[str]) -> CallResult:
        return CallResult(make_answer(self._lps(messages[-1]["content"], label_words), "", "logprobs"))

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(len(m["content"].split()) for m in messages)


def _data(n: int = 40, seed: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """Descriptions with a keyword; a classifier that puts the right CWE 2nd-4th half of the time."""
    rng = np.random.default_rng(seed)
    keys = list(KEYWORDS)
    texts, labels, proba = [], [], []
    for i in range(n):
        k = keys[i % len(keys)]
        label = KEYWORDS[k]
        texts.append(f"Item {i}: a {k} flaw in product {i} lets attackers do things.")
        labels.append(label)
        z = rng.normal(0, 0.3, len(CLASSES))
        z[CLASSES.index(label)] += 1.0 if i % 2 else 2.5  # odd rows: the label is often not the top-1
        if i % 2:
            z[CLASSES.index("CWE-20")] += 2.0
        p = np.exp(z) / np.exp(z).sum()
        proba.append(p)
    return texts, labels, np.array(proba)


def test_prompt_lists_options_with_letters_and_names() -> None:
    msgs = cwe_mcq_messages("word " * 300, [("CWE-79", "Cross-site Scripting"), ("CWE-89", "")], max_chars=50)
    user = msgs[-1]["content"]
    assert msgs[0]["role"] == "system"
    assert "A. CWE-79: Cross-site Scripting\nB. CWE-89\n" in user
    assert user.split("\n\n")[0].endswith("...") and len(user.split("\n\n")[0]) < 80
    assert user.rstrip().endswith("Reply with the letter of the correct option only.")
    with pytest.raises(ConfigError):
        cwe_mcq_messages("x", [("CWE-79", "")])


def test_candidates_are_the_top_k_in_cwe_number_order() -> None:
    t = CweRerankTeacher(None, NAMES, classes=CLASSES, k=3)
    p = np.array([[0.05, 0.1, 0.05, 0.3, 0.2, 0.3]])
    cand = t.candidates(p)
    assert [CLASSES[j] for j in cand[0]] == ["CWE-79", "CWE-89", "CWE-787"]
    with pytest.raises(ConfigError):
        CweRerankTeacher(None, NAMES, classes=CLASSES, k=9).candidates(p)


def test_combine_is_a_distribution_and_neutral_outside_the_candidates() -> None:
    base = np.array([[0.4, 0.3, 0.1, 0.1, 0.05, 0.05]])
    cand = np.array([[0, 1]])
    q = np.array([[0.1, 0.9]])
    out = combine(base, cand, q, 1.0)
    assert out.sum() == pytest.approx(1.0)
    assert out[0, 1] > out[0, 0]  # the LLM flipped the top-2
    assert out[0, 2] / out[0, 4] == pytest.approx(base[0, 2] / base[0, 4])  # tail keeps the classifier's shape
    np.testing.assert_allclose(combine(base, cand, q, 0.0), base)
    np.testing.assert_allclose(combine(base, cand, np.array([[0.5, 0.5]]), 2.0), base)  # uniform LLM = no opinion


def test_llm_distribution_temperature_and_missing_letters() -> None:
    lp = np.array([[-0.1, -2.0, np.nan]])
    q1, q5 = llm_distribution(lp, 1.0), llm_distribution(lp, 5.0)
    assert q1.sum() == pytest.approx(1.0) and q1[0, 2] < 1e-12
    assert q5[0, 0] < q1[0, 0]  # a higher temperature flattens


def test_fit_picks_a_positive_weight_when_the_llm_helps(tmp_path) -> None:
    texts, labels, proba = _data()
    led = TeacherLedger(tmp_path / "l.sqlite")
    t = CweRerankTeacher(None, NAMES, classes=CLASSES, k=4, backend=FakeCweLLM(), ledger=led, progress=False)
    t.fit(texts, labels, base_proba=proba)
    y = np.array([CLASSES.index(v) for v in labels])
    assert t.weight_ > 0
    assert t.fit_report_["label_in_candidates"] == 1.0
    comb = t.predict_proba(texts, base_proba=proba)
    assert comb.shape == proba.shape
    np.testing.assert_allclose(comb.sum(axis=1), 1.0)
    assert np.mean(comb.argmax(1) == y) > np.mean(proba.argmax(1) == y)
    assert t.predict(texts[:2], base_proba=proba[:2]) == labels[:2]


def test_every_call_goes_through_the_ledger(tmp_path) -> None:
    texts, labels, proba = _data(10)
    path = tmp_path / "l.sqlite"
    llm = FakeCweLLM()
    t = CweRerankTeacher(None, NAMES, classes=CLASSES, k=3, backend=llm, ledger=TeacherLedger(path), progress=False)
    t.fit(texts, labels, base_proba=proba)
    assert t.calls == len(llm.calls) == 10
    t.predict_proba(texts, base_proba=proba)  # same prompts: answered from the ledger
    assert len(llm.calls) == 10 and t.calls == 10
    # a fresh process (new teacher, new backend object) reads the stored answers
    llm2 = FakeCweLLM()
    t2 = CweRerankTeacher(None, NAMES, classes=CLASSES, k=3, backend=llm2, ledger=TeacherLedger(path), progress=False)
    t2.fit(texts, labels, base_proba=proba)
    assert llm2.calls == []
    assert TeacherLedger(path).count("fake:cwe", t2.template_id) == 10
    assert TeacherLedger(path).cost("fake:cwe")["prompt_tokens"] > 0  # the fake counts tokens
    # another k is another template: new calls
    t3 = CweRerankTeacher(None, NAMES, classes=CLASSES, k=4, backend=llm2, ledger=TeacherLedger(path), progress=False)
    t3.fit(texts, labels, base_proba=proba)
    assert len(llm2.calls) == 10


def test_generic_label_backend_gives_the_same_answers() -> None:
    texts, labels, proba = _data(12)
    a = CweRerankTeacher(None, NAMES, classes=CLASSES, k=3, backend=FakeCweLLM(), progress=False)
    b = CweRerankTeacher(None, NAMES, classes=CLASSES, k=3, backend=FakeCweLLM(exact=False), progress=False)
    cand = a.candidates(proba)
    np.testing.assert_allclose(a.letter_logprobs(texts, cand), b.letter_logprobs(texts, cand), atol=1e-5)


class _Base:
    classes_ = CLASSES

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.proba[: len(texts)]


def test_save_load_round_trip_json_only(tmp_path) -> None:
    texts, labels, proba = _data(20)
    base = _Base(proba)
    t = CweRerankTeacher(base, NAMES, k=3, backend=FakeCweLLM(), progress=False).fit(texts, labels)
    before = t.predict_proba(texts)
    t.save(tmp_path / "m")
    assert [f.name for f in (tmp_path / "m").iterdir()] == ["cwe_rerank.json"]
    state = json.loads((tmp_path / "m" / "cwe_rerank.json").read_text())
    assert state["weight_"] == t.weight_ and state["classes"] == CLASSES
    t2 = CweRerankTeacher.load(tmp_path / "m", base=base, names=NAMES).connect(FakeCweLLM())
    np.testing.assert_allclose(t2.predict_proba(texts), before)

    class Other(_Base):
        classes_ = CLASSES[::-1]

    with pytest.raises(BundleError):
        CweRerankTeacher.load(tmp_path / "m", base=Other(proba))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cwe_rerank.json").write_text("{")
    with pytest.raises(BundleError):
        CweRerankTeacher.load(tmp_path / "bad")


def test_errors_are_one_line() -> None:
    texts, labels, proba = _data(4)
    t = CweRerankTeacher(None, NAMES, classes=CLASSES, k=3, backend=FakeCweLLM(), progress=False)
    with pytest.raises(ConfigError, match="not fitted"):
        t.predict_proba(texts, base_proba=proba)
    with pytest.raises(DataError, match="shape"):
        t.fit(texts, labels, base_proba=proba[:, :3])
    with pytest.raises(DataError, match="not among"):
        t.fit(texts, ["CWE-1"] * 4, base_proba=proba)
    with pytest.raises(ConfigError, match="base classifier"):
        t.fit(texts, labels)
    with pytest.raises(ConfigError, match="no LLM backend"):
        CweRerankTeacher(None, NAMES, classes=CLASSES, k=3, progress=False).fit(texts, labels, base_proba=proba)
