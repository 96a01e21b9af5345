"""The encoder teacher beyond the shared contract (tests/test_contract.py): prior correction, column order."""

from __future__ import annotations

from distilsec.bundle import load_model
from distilsec.teachers.encoder import EncoderTeacher


def _tiny(tiny_bert, **kw) -> EncoderTeacher:
    return EncoderTeacher(model=str(tiny_bert), max_length=32, random_state=0, device="cpu", **kw)


def test_teacher_prior_correction_moves_probabilities(tiny_bert, tiny_texts):
    texts, y, _ = tiny_texts
    y_imb = ["malicious" if i < 10 else "benign" for i in range(len(y))]
    t = _tiny(tiny_bert, max_train_samples=20).fit(texts, y_imb)
    assert t.fit_prior_ == [0.5, 0.5]
    corrected = t.predict_proba(texts[:20])[:, 1]
    t.prior_correction = False
    raw = t.predict_proba(texts[:20])[:, 1]
    assert (corrected < raw).all()  # the real prior has far fewer attacks than the balanced sample


def test_logit_columns_follow_the_classes_argument_through_save_and_load(tiny_bert, tiny_texts, tmp_path):
    """The network's output j is class ``classes_[j]`` (its id2label), also after a round trip.

    The contract suite cannot tell the columns apart by what a tiny random BERT learns, so this checks the
    mapping the encoder writes into its own config.
    """
    texts, y, _ = tiny_texts
    t = _tiny(tiny_bert, max_train_samples=8).fit(texts, y, classes=["malicious", "benign"])
    assert t.classes_ == ["malicious", "benign"]
    assert t.model_.config.id2label == {0: "malicious", 1: "benign"}
    loaded = load_model(t.save(tmp_path / "enc"))
    assert loaded.classes_ == ["malicious", "benign"]
    assert {int(k): v for k, v in loaded.model_.config.id2label.items()} == {0: "malicious", 1: "benign"}
