"""One contract suite over every registered model (the scikit-learn ``check_estimator`` idea).

Each check is written once and runs over every name in :func:`distilsec.registry.registered`. A model
takes part through a :class:`Case`: tiny hyper-parameters (each fit well under 2 s on a CPU), the kind of
contract it follows, and, per check that does not apply, the reason why. Three kinds:

- ``classifier`` (students, encoder, ensemble, LLM teacher): ``fit(texts, labels)``, ``predict_proba``
  with columns in ``classes_`` order, ``predict``;
- ``multi_output`` (``cvss_linear.v1``): ``fit(texts, vectors)``, one distribution per CVSS base metric
  (columns in ``values_[metric]`` order), ``predict_vectors``;
- ``composite`` (``cve_model.v1``): assembled from fitted parts (not trainable itself), ``predict``
  returns records; it must still store its parameters unchanged, refuse unfitted parts, and round-trip.

The LLM teacher runs on the deterministic fake backend of ``tests/teachers/llm/fakes.py`` with no ledger.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from distilsec.bundle import UNSAFE_SUFFIXES, load_model
from distilsec.data.cvss import METRICS
from distilsec.errors import DataError, NotFittedError
from distilsec.registry import create, registered
from distilsec.students import SoftTargets
from distilsec.teachers.labelling import CallResult
from distilsec.teachers.llm.backend import make_answer
from tests.conftest import make_texts
from tests.tasks.cve_fixtures import FAMILIES, description
from tests.teachers.llm.fakes import FakeLLMBackend

#: Inputs a model meets in the wild: empty, blank, control bytes, very long, a lone surrogate, unicode.
ODD_TEXTS = ["", "   ", "\x00\x01\xff", "A" * 200_000, "\ud800 lone surrogate", "日本語 コマンド ünïcödé 🐍", "\n\t"]


# ---------------------------------------------------------------------------------------------- data
def _cmd_data(n: int = 48, seed: int = 0, names: tuple[str, str] = ("benign", "malicious")) -> tuple[list, list]:
    texts, labels, _ = make_texts(n, seed)
    rename = dict(zip(("benign", "malicious"), names, strict=True))
    return texts, [rename[v] for v in labels]


def _cve_data(n: int = 6, start: int = 0) -> tuple[list[str], list[str], list[str]]:
    texts, cwes, vectors = [], [], []
    for fam, (cwe, _, vector) in enumerate(FAMILIES):
        for i in range(start, start + n):
            texts.append(description(fam, i))
            cwes.append(cwe)
            vectors.append(vector)
    return texts, cwes, vectors


def _cve_index() -> Any:
    from distilsec.students.cwe_hierarchy import CweIndex

    return CweIndex(
        {
            "CWE-89": {"name": "SQL Injection", "abstraction": "Base", "parents": ["CWE-74"]},
            "CWE-79": {"name": "XSS", "abstraction": "Base", "parents": ["CWE-74"]},
            "CWE-787": {"name": "Out-of-bounds Write", "abstraction": "Base", "parents": []},
            "CWE-74": {"name": "Injection", "abstraction": "Class", "parents": []},
        }
    )


# --------------------------------------------------------------------------------------------- kinds
class Classifier:
    """``fit(texts, labels)``; one distribution per text, columns in ``classes_`` order."""

    def data(self, seed: int = 0) -> tuple[list[str], list[str]]:
        return _cmd_data(seed=seed)

    def fit(self, model: Any, data: tuple[list, list], **kw: Any) -> Any:
        return model.fit(data[0], data[1], **kw)

    def distributions(self, model: Any, texts: list[str]) -> list[tuple[np.ndarray, list[str]]]:
        return [(model.predict_proba(texts), list(model.classes_))]

    def outputs(self, model: Any, texts: list[str]) -> Any:
        return model.predict_proba(texts)

    def predict(self, model: Any, texts: Any) -> Any:
        return model.predict_proba(texts)


class MultiOutput(Classifier):
    """``cvss_linear.v1``: targets are CVSS vectors; one distribution per base metric."""

    def data(self, seed: int = 0) -> tuple[list[str], list[str]]:
        texts, _, vectors = _cve_data(start=seed * 10)
        return texts, vectors

    def distributions(self, model: Any, texts: list[str]) -> list[tuple[np.ndarray, list[str]]]:
        proba = model.predict_metric_proba(texts)
        return [(proba[m], list(model.values_[m])) for m in METRICS]

    def outputs(self, model: Any, texts: list[str]) -> Any:
        proba = model.predict_metric_proba(texts)
        return np.hstack([proba[m] for m in METRICS]), model.predict_vectors(texts)

    def predict(self, model: Any, texts: Any) -> Any:
        return model.predict_vectors(texts)


class Composite(Classifier):
    """``cve_model.v1``: built from fitted parts; ``predict`` gives top-k CWE records and CVSS."""

    def data(self, seed: int = 0) -> tuple[list[str], list[str]]:
        texts, cwes, _ = _cve_data(start=seed * 10)
        return texts, cwes

    def distributions(self, model: Any, texts: list[str]) -> list[tuple[np.ndarray, list[str]]]:
        return [(model.cwe_model.predict_proba(texts), list(model.classes_))]

    def outputs(self, model: Any, texts: list[str]) -> Any:
        return model.predict(texts)

    def predict(self, model: Any, texts: Any) -> Any:
        return model.predict(texts)


class AttackComposite(Classifier):
    """``attack_model.v1``: a fitted sentence classifier + technique index; ``tag`` gives technique records."""

    def data(self, seed: int = 0) -> tuple[list[str], list[str]]:
        from tests.conftest import ATTACK_SENTENCES

        texts, y = [], []
        for label, sentences in ATTACK_SENTENCES.items():
            texts += [f"{s} {seed}" for s in sentences]
            y += [label] * len(sentences)
        return texts, y

    def distributions(self, model: Any, texts: list[str]) -> list[tuple[np.ndarray, list[str]]]:
        return [(model.predict_proba(texts), list(model.classes_))]

    def outputs(self, model: Any, texts: list[str]) -> Any:
        return model.tag(texts)

    def predict(self, model: Any, texts: Any) -> Any:
        return model.tag(texts)


CLASSIFIER, MULTI_OUTPUT, COMPOSITE, ATTACK = Classifier(), MultiOutput(), Composite(), AttackComposite()


# --------------------------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One registered model in the suite.

    ``params(ctx, seed)`` gives constructor arguments (non-default where it matters, e.g. tuples);
    ``attach`` readies a constructed or loaded model (the LLM teacher gets its fake backend);
    ``not_applicable`` maps a check name to why it does not apply to this model.
    """

    id: str
    name: str
    kind: Classifier
    params: Callable[[Any, int], dict[str, Any]]
    attach: Callable[[Any], Any] = lambda m: m
    not_applicable: Mapping[str, str] = field(default_factory=dict)


class _WordFakeLLM(FakeLLMBackend):
    """The fake backend, but it answers with the *word* "malicious" wherever it sits among the label words
    (the plain fake treats the last word as the malicious one, as if an LLM read the label order)."""

    def label(self, messages: list[dict[str, str]], label_words: Sequence[str]) -> CallResult:
        words = list(label_words)
        if "malicious" not in words:
            return super().label(messages, words)
        order = [w for w in words if w != "malicious"] + ["malicious"]
        result = super().label(messages, order)
        lps = dict(zip(order, result.answer["logprobs"], strict=True))
        answer = make_answer([lps[w] for w in words], str(result.answer["text"]), "logprobs")
        return CallResult(answer, result.prompt_tokens, result.completion_tokens, result.seconds)


def _llm_attach(model: Any) -> Any:
    return model.connect(_WordFakeLLM())


def _fitted_cve_parts(seed: int) -> tuple[Any, Any]:
    from distilsec.students import TfidfLinearStudent
    from distilsec.students.cvss_linear import CvssLinearModel

    texts, cwes, vectors = _cve_data()
    cwe = TfidfLinearStudent(min_df=1, max_features=500, random_state=seed).fit(texts, cwes)
    return cwe, CvssLinearModel(min_df=1, max_features=500, random_state=seed).fit(texts, vectors)


def _cve_params(_ctx: Any, seed: int) -> dict[str, Any]:
    cwe, cvss = _fitted_cve_parts(seed)
    return {"cwe_model": cwe, "cvss_model": cvss, "index": _cve_index(), "top_k": 2, "training_ids": ["CVE-2"] * 2}


_CVSS_NOT_APPLICABLE = {
    "label_names": "targets are CVSS vectors, not class names (bad vectors: test_bad_targets_are_a_data_error)",
    "classes_order": "one head per CVSS metric, columns in values_[metric] order (test_outputs_are_distributions_...)",
}
_NOT_TRAINABLE = "assembled from fitted parts (tfidf_linear.v1 + cvss_linear.v1, each checked on its own); no fit"
_SMALL_TFIDF = {"min_df": 1, "max_features": 500}


def _attack_params(_ctx: Any, seed: int) -> dict[str, Any]:
    from distilsec.students import TfidfLinearStudent
    from distilsec.students.technique_index import TechniqueIndex
    from tests.conftest import ATTACK_TECHNIQUES

    texts, y = ATTACK.data()
    clf = TfidfLinearStudent(loss="softmax", min_df=1, epochs=5, lr=0.3, random_state=seed).fit(texts, y)
    return {"classifier": clf, "index": TechniqueIndex.from_records(ATTACK_TECHNIQUES), "threshold": 0.4, "top_k": 2}

CASES = [
    Case(
        "char_cnn",
        "char_cnn.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "max_len": 64,
            "embedding_dim": 8,
            "n_filters": 8,
            "hidden_dims": (16,),
            "epochs": 2,
            "random_state": s,
            "device": "cpu",
        },
    ),
    Case("hashed_linear", "hashed_linear.v1", CLASSIFIER, lambda ctx, s: {"n_features": 2**10, "random_state": s}),
    Case(
        "hashed_linear_word",
        "hashed_linear.v1",
        CLASSIFIER,
        lambda ctx, s: {"n_features": 2**10, "analyzer": "word", "ngram_range": (1, 2), "random_state": s},
    ),
    Case(
        "html_inspector",
        "html_inspector.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "n_features": 256,
            "n_chunks": 4,
            "hidden_dim": 16,
            "epochs": 10,  # fewer, and it learns too little on 48 command lines to show its column order
            "lr": 1e-2,
            "batch_size": 16,
            "random_state": s,
            "device": "cpu",
        },
    ),
    Case(
        "tfidf_linear_svm",
        "tfidf_linear.v1",
        CLASSIFIER,
        lambda ctx, s: {**_SMALL_TFIDF, "ngram_range": (1, 2), "loss": "svm", "random_state": s},
    ),
    Case(
        "tfidf_linear_softmax",
        "tfidf_linear.v1",
        CLASSIFIER,
        lambda ctx, s: {**_SMALL_TFIDF, "loss": "softmax", "epochs": 3, "lr": 0.1, "random_state": s},
    ),
    Case(
        "encoder",
        "encoder.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "model": str(ctx.tiny_bert),
            "max_length": 32,
            "epochs": 1,
            "batch_size": 16,
            "max_train_samples": None,
            "random_state": s,
            "device": "cpu",
        },
        not_applicable={
            "classes_order": "a 1-layer random BERT learns nothing in a 2-s fit, so the columns cannot be told apart "
            "by what they learned; tests/teachers/test_encoder.py checks them through the model's id2label",
        },
    ),
    Case(
        "ensemble",
        "ensemble.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "members": [
                {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 2},
                {"type": "tfidf_linear.v1", "weight": 2.0, **_SMALL_TFIDF},
            ],
            "random_state": s,
        },
    ),
    Case(
        "ensemble_mean_proba",
        "ensemble.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "members": [{"type": "hashed_linear.v1", "n_features": 2**10}, {"type": "tfidf_linear.v1", **_SMALL_TFIDF}],
            "combine": "mean_proba",
            "random_state": s,
        },
    ),
    Case(
        "viewed",
        "viewed.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "view": "decoded.v1",
            "model": {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 2},
            "random_state": s,
        },
    ),
    Case(
        "ensemble_weights_validation",
        "ensemble.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "members": [
                {"type": "hashed_linear.v1", "n_features": 2**10, "epochs": 2, "view": "decoded.v1"},
                {"type": "tfidf_linear.v1", **_SMALL_TFIDF},
            ],
            "weights": "validation",
            "random_state": s,
        },
    ),
    Case(
        "llm",
        "llm.v1",
        CLASSIFIER,
        lambda ctx, s: {
            "ledger": None,
            "progress": False,
            "n_shots": 1,
            "n_calibration": 30,
            "label_words": None,
            "random_state": s,
        },
        attach=_llm_attach,
    ),
    Case(
        "cvss_linear_median",
        "cvss_linear.v1",
        MULTI_OUTPUT,
        lambda ctx, s: {**_SMALL_TFIDF, "ngram_range": (1, 2), "random_state": s},
        not_applicable=_CVSS_NOT_APPLICABLE,
    ),
    Case(
        "cvss_linear_argmax",
        "cvss_linear.v1",
        MULTI_OUTPUT,
        lambda ctx, s: {**_SMALL_TFIDF, "decode": "argmax", "random_state": s},
        not_applicable=_CVSS_NOT_APPLICABLE,
    ),
    Case(
        "ngram_embedding",
        "ngram_embedding.v1",
        CLASSIFIER,
        lambda ctx, s: {"n_buckets": 2**10, "dim": 8, "char_ngrams": (2, 3), "epochs": 3, "random_state": s},
    ),
    Case(
        "embedding_linear",
        "embedding_linear.v1",
        CLASSIFIER,
        lambda ctx, s: {"model": str(ctx.tiny_bert), "max_length": 32, "epochs": 3, "random_state": s},
    ),
    Case(
        "attack_model",
        "attack_model.v1",
        ATTACK,
        _attack_params,
        not_applicable={
            "fit": "assembled from a fitted classifier (checked under its own name) and a technique index; no fit",
            "seed": "has no seed of its own: its outputs are its fitted classifier's",
            "refit": "assembled from fitted parts; no fit",
            "label_names": "its classifier's labels (tfidf_linear.v1 checks any label names)",
            "classes_order": "classes_ is its classifier's (tfidf_linear.v1 checks the column order)",
            "bad_targets": "assembled from fitted parts; no fit",
            "get_params": "its parameters are a fitted model and a technique index: it is rebuilt from its bundle, "
            "not from a config (the save/load check covers that)",
        },
    ),
    Case(
        "cve_model",
        "cve_model.v1",
        COMPOSITE,
        _cve_params,
        not_applicable={
            "fit": _NOT_TRAINABLE,
            "seed": "has no seed of its own: its outputs are its fitted parts' (checked under their names)",
            "refit": _NOT_TRAINABLE,
            "label_names": "its CWE part's labels (tfidf_linear.v1 checks any label names)",
            "classes_order": "classes_ is its CWE part's (tfidf_linear.v1 checks the column order)",
            "bad_targets": _NOT_TRAINABLE,
            "get_params": "its parameters are fitted models and a CWE index: it is rebuilt from its bundle, "
            "not from a config (the save/load check covers that)",
        },
    ),
]

#: Registered names that are not in the suite at all, with the reason (none today: keep it that way).
NOT_IN_SUITE: dict[str, str] = {}
#: The checks a case may declare not applicable (``Subject.require`` names).
OPTIONAL_CHECKS = {"fit", "seed", "refit", "label_names", "classes_order", "bad_targets", "get_params"}


class _Ctx:
    """Lazy access to session fixtures a case may need (the tiny BERT is built only for the encoder)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    @property
    def tiny_bert(self) -> Path:
        return self._request.getfixturevalue("tiny_bert")


@dataclass
class Subject:
    """A case bound to this test: builds its models, fits them on the case's data."""

    case: Case
    ctx: _Ctx

    def params(self, seed: int = 0) -> dict[str, Any]:
        return self.case.params(self.ctx, seed)

    def new(self, seed: int = 0, **overrides: Any) -> Any:
        """An unfitted model, through the registry (as a config builds it)."""
        return self.case.attach(create(self.case.name, {**self.params(seed), **overrides}))

    def fitted(self, seed: int = 0, data: Any = None, **kw: Any) -> Any:
        if "fit" in self.case.not_applicable:
            return self.new(seed)
        model = self.new(seed)
        return self.case.kind.fit(model, data or self.case.kind.data(), **kw)

    def require(self, check: str) -> None:
        assert check in OPTIONAL_CHECKS, check
        reason = self.case.not_applicable.get(check)
        if reason:
            pytest.skip(f"{self.case.name}: {reason}")


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def subject(request: pytest.FixtureRequest) -> Subject:
    return Subject(request.param, _Ctx(request))


def _normalised(params: Mapping[str, Any]) -> Any:
    """Parameters as a config or manifest stores them (JSON: tuples become lists)."""
    return json.loads(json.dumps(params))


def _assert_same_outputs(a: Any, b: Any) -> None:
    if isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, atol=1e-6)
    elif isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            _assert_same_outputs(x, y)
    else:
        assert a == b


def _param_names(model: Any) -> list[str]:
    return [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]


# -------------------------------------------------------------------------------------------- checks
def test_every_registered_model_is_in_the_suite() -> None:
    """A newly registered model must get a Case (or a reason in NOT_IN_SUITE)."""
    covered = {c.name for c in CASES} | set(NOT_IN_SUITE)
    assert set(registered()) == covered, f"add a Case for {sorted(set(registered()) - covered)}"


def test_every_exemption_names_a_check_and_says_why() -> None:
    for case in CASES:
        assert set(case.not_applicable) <= OPTIONAL_CHECKS, f"{case.id}: unknown check names"
        assert all(reason.strip() for reason in case.not_applicable.values()), f"{case.id}: an exemption needs a reason"


def test_init_stores_parameters_unchanged_and_nothing_else(subject: Subject) -> None:
    """The sklearn rule: ``__init__`` keeps each argument as given, under its own name, and learns nothing."""
    params = subject.params()
    model = create(subject.case.name, params)  # not attached: exactly what __init__ left
    names = _param_names(model)
    for name, value in params.items():
        assert getattr(model, name) is value, f"__init__ changed {name!r}"
    public = {k for k in vars(model) if not k.startswith("_")}
    assert public == set(names), f"__init__ stores {sorted(public ^ set(names))} beyond its parameters"


def test_get_params_rebuilds_an_equal_unfitted_model(subject: Subject) -> None:
    subject.require("get_params")
    model = subject.new()
    params = model.get_params()
    assert set(params) == set(_param_names(model))
    clone = subject.case.attach(create(subject.case.name, _normalised(params)))  # what a config round trip gives
    assert _normalised(clone.get_params()) == _normalised(params)
    with pytest.raises(NotFittedError):
        subject.case.kind.predict(clone, ["x"])


def test_fit_returns_self_and_learns_only_trailing_underscore_state(subject: Subject) -> None:
    subject.require("fit")
    model = subject.new()
    params, before = _normalised(model.get_params()), set(vars(model))
    assert subject.case.kind.fit(model, subject.case.kind.data()) is model
    learned = {k for k in set(vars(model)) - before if not k.startswith("_")}
    assert all(k.endswith("_") for k in learned), f"fit set public state without a trailing _: {learned}"
    assert _normalised(model.get_params()) == params, "fit changed a parameter"


def test_outputs_are_distributions_with_one_column_per_class(subject: Subject) -> None:
    model = subject.fitted()
    texts = subject.case.kind.data(seed=1)[0][:10]
    for proba, columns in subject.case.kind.distributions(model, texts):
        assert proba.shape == (len(texts), len(columns))
        assert np.isfinite(proba).all() and (proba >= 0).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_predict_is_the_argmax_class_name(subject: Subject) -> None:
    subject.require("classes_order")
    model = subject.fitted()
    texts = subject.case.kind.data(seed=1)[0][:10]
    expected = np.asarray(model.classes_)[model.predict_proba(texts).argmax(axis=1)]
    assert list(model.predict(texts)) == list(expected)


def test_predict_before_fit_raises_not_fitted(subject: Subject) -> None:
    if subject.case.kind is COMPOSITE:  # a composite over unfitted parts
        from distilsec.students import TfidfLinearStudent

        model = create(subject.case.name, {"cwe_model": TfidfLinearStudent(), "cvss_model": None, "index": None})
    elif subject.case.kind is ATTACK:  # a tagger over an unfitted classifier
        from distilsec.students import TfidfLinearStudent
        from distilsec.students.technique_index import TechniqueIndex

        model = create(subject.case.name, {"classifier": TfidfLinearStudent(), "index": TechniqueIndex({})})
    else:
        model = subject.new()
    with pytest.raises(NotFittedError):
        subject.case.kind.predict(model, ["ls"])


def test_save_before_fit_raises_not_fitted(subject: Subject, tmp_path: Path) -> None:
    subject.require("fit")
    with pytest.raises(NotFittedError):
        subject.new().save(tmp_path / "m")
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_same_seed_gives_the_same_model(subject: Subject) -> None:
    subject.require("seed")
    texts = subject.case.kind.data(seed=1)[0][:8]
    a = subject.case.kind.outputs(subject.fitted(seed=3), texts)
    b = subject.case.kind.outputs(subject.fitted(seed=3), texts)
    _assert_same_outputs(a, b)


def test_refit_forgets_the_previous_fit(subject: Subject) -> None:
    """Fitting again equals a fresh fit: nothing learned (or cached) from the first data survives."""
    subject.require("refit")
    kind = subject.case.kind
    first = _cmd_data(seed=5, names=("zz", "yy")) if kind is CLASSIFIER else _cve_data(n=4, start=30)[::2]
    if kind is MULTI_OUTPUT:  # other CVSS values than the second data set's
        first = (first[0], ["CVSS:3.1/AV:P/AC:H/PR:H/UI:N/S:U/C:N/I:N/A:L"] * len(first[0]))
    texts = kind.data(seed=1)[0][:8]
    model = kind.fit(subject.new(), first)
    kind.outputs(model, texts)  # fill any cache the first fit may leave behind
    refit = kind.fit(model, kind.data())
    _assert_same_outputs(kind.outputs(refit, texts), kind.outputs(subject.fitted(), texts))


def test_save_load_round_trip_gives_identical_outputs(subject: Subject, tmp_path: Path) -> None:
    model = subject.fitted()
    texts = [*subject.case.kind.data(seed=1)[0][:6], *ODD_TEXTS]
    returned = model.save(tmp_path / "m")
    assert Path(returned) == tmp_path / "m"
    loaded = subject.case.attach(load_model(tmp_path / "m"))
    assert type(loaded) is type(model)
    _assert_same_outputs(subject.case.kind.outputs(loaded, texts), subject.case.kind.outputs(model, texts))
    if "get_params" not in subject.case.not_applicable:
        assert _normalised(loaded.get_params()) == _normalised(model.get_params())
    unsafe = [f.name for f in (tmp_path / "m").rglob("*") if f.suffix.lower() in UNSAFE_SUFFIXES]
    assert not unsafe, f"bundle holds pickle-capable files {unsafe}"


@pytest.mark.parametrize(
    "names",
    [("benign", "malicious"), ("Évil 🐍", "a harmless one"), ("1", "0")],
    ids=["default", "unicode_spaces", "digits"],
)
def test_any_label_names_are_classes(subject: Subject, names: tuple[str, str]) -> None:
    """Class names are any strings: ``classes_`` is their sorted set and ``predict`` returns them."""
    subject.require("label_names")
    texts, labels = _cmd_data(names=names)
    model = subject.fitted(data=(texts, labels))
    assert list(model.classes_) == sorted(names)
    assert set(model.predict(texts[:10])) <= set(names)


def test_three_classes(subject: Subject) -> None:
    subject.require("label_names")
    texts, labels = _cmd_data()
    labels = ["c" if i % 3 == 0 else v for i, v in enumerate(labels)]
    model = subject.fitted(data=(texts, labels))
    assert list(model.classes_) == ["benign", "c", "malicious"]
    assert model.predict_proba(texts[:5]).shape == (5, 3)


def test_classes_argument_sets_the_column_order(subject: Subject) -> None:
    """``fit(classes=[...])`` fixes ``classes_`` and the columns: the learned model still ranks the right way."""
    subject.require("classes_order")
    texts, labels = subject.case.kind.data()
    model = subject.fitted(classes=["malicious", "benign"])
    assert list(model.classes_) == ["malicious", "benign"]
    proba = model.predict_proba(texts)
    truth = np.array(labels) == "malicious"
    assert proba[truth, 0].mean() > proba[~truth, 0].mean(), "column 0 is not the 'malicious' column"


def test_bad_targets_are_a_data_error(subject: Subject) -> None:
    subject.require("bad_targets")
    texts, targets = subject.case.kind.data()
    with pytest.raises(DataError):
        if subject.case.kind is MULTI_OUTPUT:
            subject.case.kind.fit(subject.new(), (texts, ["CVSS:3.1/AV:X", *targets[1:]]))
        else:
            subject.case.kind.fit(subject.new(), (texts, targets), classes=["benign"])


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # the 0-class layer built before the check
def test_fit_on_no_rows_is_a_data_error(subject: Subject) -> None:
    """An empty training set is the user's data problem: a named error (one CLI line), not a raw ValueError."""
    subject.require("fit")
    with pytest.raises(DataError):
        subject.case.kind.fit(subject.new(), ([], []))


def test_fit_on_texts_without_words_fits_or_is_a_data_error(subject: Subject) -> None:
    """Word models find no vocabulary in texts of 1-character tokens: say so, not scikit-learn's ValueError."""
    subject.require("fit")
    texts, targets = subject.case.kind.data()
    # word models (tfidf_linear, cvss_linear, ensembles of them) refuse with a DataError; char, byte and
    # hashed models learn from these texts: either is the contract, any other exception is not
    with contextlib.suppress(DataError):
        subject.case.kind.fit(subject.new(), (["a b", "", "c", "d e"] * 3, targets[:12]))


def test_odd_texts_are_fitted_and_scored(subject: Subject) -> None:
    texts, targets = subject.case.kind.data()
    data = ([*ODD_TEXTS, *texts], [*targets[: len(ODD_TEXTS)], *targets])
    model = subject.fitted(data=data)
    for proba, _ in subject.case.kind.distributions(model, ODD_TEXTS):
        assert proba.shape[0] == len(ODD_TEXTS) and np.isfinite(proba).all()


def test_an_empty_batch_gives_zero_rows_of_every_column(subject: Subject) -> None:
    """Rows in = rows out, also for zero rows (a batch whose records were all skipped)."""
    model = subject.fitted()
    for proba, columns in subject.case.kind.distributions(model, []):
        assert proba.shape == (0, len(columns))
    assert len(subject.case.kind.predict(model, [])) == 0


def test_a_single_string_is_a_data_error(subject: Subject) -> None:
    """``predict_proba("ls -la")`` would score each character: refuse it with a named error."""
    model = subject.fitted()
    with pytest.raises(DataError):
        subject.case.kind.predict(model, "ls -la")


def test_predict_does_not_change_its_input(subject: Subject) -> None:
    model = subject.fitted()
    texts = [*subject.case.kind.data(seed=1)[0][:4], *ODD_TEXTS]
    copy = list(texts)
    subject.case.kind.predict(model, texts)
    assert texts == copy


# ------------------------------------------------------------------------- distillation (students)
_SOFT_TARGET_STUDENTS = {
    "char_cnn": {"epochs": 10, "batch_size": 16},
    "hashed_linear": {"epochs": 10, "n_features": 2**12},
    "html_inspector": {"epochs": 20},
    "tfidf_linear_softmax": {"epochs": 10},
    "ngram_embedding": {"epochs": 20, "n_buckets": 2**12, "dim": 16},
}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in _SOFT_TARGET_STUDENTS], ids=lambda c: c.id)
def test_students_follow_soft_targets(case: Case, request: pytest.FixtureRequest) -> None:
    """With alpha=1 the student learns the teacher's distribution, even against the hard labels."""
    texts, y = _cmd_data(n=120)
    inverted = ["benign" if v == "malicious" else "malicious" for v in y]
    teacher = np.array([[0.02, 0.98] if v == "malicious" else [0.98, 0.02] for v in y])
    subject = Subject(case, _Ctx(request))
    model = subject.new(**_SOFT_TARGET_STUDENTS[case.id])
    model.fit(texts, inverted, soft_targets=SoftTargets(teacher, temperature=1.0, alpha=1.0))
    assert np.mean(model.predict(texts) == np.array(y)) > 0.9
