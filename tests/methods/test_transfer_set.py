"""The distillation transfer set: perturbed texts the teacher labels, learnt from the soft labels alone."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from distilsec.methods import distill
from distilsec.methods.transfer_set import pieces, transfer_texts
from distilsec.students import HashedLinearStudent
from distilsec.students._torch_training import distillation_loss
from distilsec.students.base import SoftTargets
from tests.conftest import make_texts


def test_pieces_join_back_exactly_and_cut_at_separators():
    text = "powershell -nop  -c iex(x) | http://a.b/c?d=1&e=2"
    assert "".join(pieces(text)) == text
    assert pieces("cmd /c whoami") == ["cmd ", "/", "c ", "whoami"]
    assert pieces("") == []


def test_transfer_texts_are_deterministic_perturbations_of_the_inputs():
    texts = ["cmd /c whoami /all", "ls -la /tmp", "powershell -nop -w hidden -enc ZQB", "echo hi there"]
    out = transfer_texts(texts, 3, seed=0)
    assert len(out) == 12
    assert out == transfer_texts(texts, 3, seed=0)
    assert out != transfer_texts(texts, 3, seed=1)
    vocabulary = {w for t in texts for w in re.split(r"[\s/]+", t) if w}
    for text in out:  # every word comes from some input: nothing is invented, cut inside a token or glued
        assert {w for w in re.split(r"[\s/]+", text) if w} <= vocabulary
    assert sum(t not in texts for t in out) >= 6  # most copies differ from every input
    assert transfer_texts(texts, 0) == []
    assert transfer_texts(["", "a b"], 1, seed=0)[0] == ""
    with pytest.raises(ValueError):
        transfer_texts(texts, -1)


def test_per_row_alpha_mixes_the_two_losses_row_by_row():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3]])
    y, soft = torch.tensor([0, 1]), torch.tensor([[0.1, 0.9], [0.9, 0.1]])
    ce = distillation_loss(logits[:1], y[:1], soft[:1], 2.0, 0.0)
    kl = distillation_loss(logits[1:], y[1:], soft[1:], 2.0, 1.0)
    mixed = distillation_loss(logits, y, soft, 2.0, torch.tensor([0.0, 1.0]))
    assert float(mixed) == pytest.approx((float(ce) + float(kl)) / 2, rel=1e-6)
    assert SoftTargets(np.zeros((3, 2)), alpha=0.3).row_alpha().tolist() == pytest.approx([0.3] * 3)


class _Recorder(HashedLinearStudent):
    def fit(self, texts, y, *, soft_targets=None, sample_weight=None, classes=None):  # noqa: ANN001, ANN201
        self.seen_ = (list(texts), list(y), soft_targets, sample_weight)
        return super().fit(texts, y, soft_targets=soft_targets, sample_weight=sample_weight, classes=classes)


def test_distill_learns_transfer_rows_from_the_teacher_alone(fake_teacher):
    texts, y, _ = make_texts(60, seed=1)
    extra = transfer_texts(texts, 2, seed=0)
    student = _Recorder(n_features=2**10, epochs=1)
    distill(fake_teacher, student, texts, y, alpha=0.4, transfer=(extra, fake_teacher.predict_proba(extra)))
    seen_texts, seen_y, soft, weight = student.seen_
    assert seen_texts == list(texts) + extra and weight is None
    assert soft.row_alpha().tolist() == pytest.approx([0.4] * 60 + [1.0] * 120)
    argmax = [fake_teacher.classes_[i] for i in fake_teacher.predict_proba(extra).argmax(1)]
    assert seen_y[60:] == argmax  # their hard label (weight 0) is the teacher's own answer
    plain = _Recorder(n_features=2**10, epochs=1)
    distill(fake_teacher, plain, texts, y, alpha=0.4)
    assert plain.seen_[2].alpha == 0.4 and len(plain.seen_[0]) == 60
