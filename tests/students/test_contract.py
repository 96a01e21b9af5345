"""One contract test over every student and teacher (the scikit-learn ``check_estimator`` idea)."""

from __future__ import annotations

import numpy as np
import pytest

from distilsec.bundle import load_model
from distilsec.errors import DataError, NotFittedError
from distilsec.students import CharCNNStudent, HashedLinearStudent, HTMLInspectorStudent, SoftTargets
from distilsec.teachers import EncoderTeacher


def _factories(tiny_bert):
    return {
        "char_cnn": lambda seed=0: CharCNNStudent(
            max_len=64, embedding_dim=8, n_filters=8, hidden_dims=(16,), epochs=2, random_state=seed, device="cpu"
        ),
        "hashed_linear": lambda seed=0: HashedLinearStudent(n_features=2**12, epochs=2, random_state=seed),
        "hashed_linear_word": lambda seed=0: HashedLinearStudent(
            n_features=2**12, analyzer="word", ngram_range=(1, 2), epochs=2, random_state=seed
        ),
        "html_inspector": lambda seed=0: HTMLInspectorStudent(
            n_features=64, n_chunks=4, hidden_dim=8, epochs=3, batch_size=16, random_state=seed, device="cpu"
        ),
        "encoder": lambda seed=0: EncoderTeacher(
            model=str(tiny_bert),
            max_length=32,
            epochs=1,
            batch_size=16,
            max_train_samples=None,
            random_state=seed,
            device="cpu",
        ),
    }


@pytest.fixture(params=["char_cnn", "hashed_linear", "hashed_linear_word", "html_inspector", "encoder"])
def factory(request, tiny_bert):
    return _factories(tiny_bert)[request.param]


def test_fit_returns_self_and_proba_contract(factory, tiny_texts):
    texts, y, _ = tiny_texts
    model = factory()
    assert model.fit(texts, y) is model
    proba = model.predict_proba(texts[:10])
    assert proba.shape == (10, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert not np.isnan(proba).any()
    assert list(model.classes_) == ["benign", "malicious"]
    assert set(model.predict(texts[:10])) <= {"benign", "malicious"}


def test_predict_before_fit_raises(factory):
    with pytest.raises(NotFittedError):
        factory().predict_proba(["ls"])


def test_same_seed_same_model(factory, tiny_texts):
    texts, y, _ = tiny_texts
    a = factory(seed=3).fit(texts, y).predict_proba(texts[:8])
    b = factory(seed=3).fit(texts, y).predict_proba(texts[:8])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_save_load_identical(factory, tiny_texts, tmp_path):
    texts, y, _ = tiny_texts
    model = factory().fit(texts, y)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.predict_proba(texts[:8]), model.predict_proba(texts[:8]), atol=1e-6)
    assert not list((tmp_path / "m").glob("*.bin")) and not list((tmp_path / "m").glob("*.pkl"))


def test_get_params_round_trip(factory):
    model = factory()
    params = model.get_params()
    clone = type(model)(**params)
    assert clone.get_params() == params


def test_unknown_label_in_classes_is_an_error(factory, tiny_texts):
    texts, y, _ = tiny_texts
    with pytest.raises(DataError, match="unknown labels"):
        factory().fit(texts, y, classes=["benign"])


def test_odd_inputs_do_not_crash(factory, tiny_texts):
    texts, y, _ = tiny_texts
    model = factory().fit(texts, y)
    odd = ["", "\x00\x01\xff", "A" * 200_000, "\ud800 lone surrogate", "日本語 コマンド"]
    proba = model.predict_proba(odd)
    assert proba.shape == (len(odd), 2) and np.isfinite(proba).all()


def test_every_registered_student_is_in_the_contract_test(tiny_bert):
    """A new ``*.v1`` student must be added to ``_factories`` (teachers and CVE models have their own tests)."""
    from distilsec.registry import get_factory, registered

    covered = {type(f()).registry_name for f in _factories(tiny_bert).values()}
    students = {n for n in registered() if get_factory(n).__module__.startswith("distilsec.students.")}
    assert students - {"tfidf_linear.v1"} <= covered


@pytest.mark.parametrize("cls", [CharCNNStudent, HashedLinearStudent, HTMLInspectorStudent])
def test_students_follow_soft_targets(cls, tiny_texts):
    """With alpha=1 the student learns the teacher's distribution, even against the hard labels."""
    texts, y, _ = tiny_texts
    inverted = ["benign" if v == "malicious" else "malicious" for v in y]
    teacher = np.array([[0.02, 0.98] if v == "malicious" else [0.98, 0.02] for v in y])
    kw = {"epochs": 10, "batch_size": 16}
    if cls is CharCNNStudent:
        kw.update(max_len=64, embedding_dim=8, n_filters=8, hidden_dims=(16,), device="cpu")
    elif cls is HTMLInspectorStudent:
        kw.update(n_features=256, n_chunks=4, hidden_dim=16, epochs=20, lr=1e-2, device="cpu")
    else:
        kw.update(n_features=2**12)
    model = cls(**kw).fit(texts, inverted, soft_targets=SoftTargets(teacher, temperature=1.0, alpha=1.0))
    pred = model.predict(texts)
    assert np.mean(pred == np.array(y)) > 0.9


def test_teacher_prior_correction_moves_probabilities(tiny_bert, tiny_texts):
    texts, y, _ = tiny_texts
    y_imb = ["malicious" if i < 10 else "benign" for i in range(len(y))]
    t = EncoderTeacher(model=str(tiny_bert), max_length=32, max_train_samples=20, random_state=0, device="cpu")
    t.fit(texts, y_imb)
    assert t.fit_prior_ == [0.5, 0.5]
    corrected = t.predict_proba(texts[:20])[:, 1]
    t.prior_correction = False
    raw = t.predict_proba(texts[:20])[:, 1]
    assert (corrected < raw).all()  # the real prior has far fewer attacks than the balanced sample
