"""Distillation: the loss, the target alignment, and the effect the seeds describe under label noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from distilsec.methods import distill, flip_labels
from distilsec.methods.distill import align_proba
from distilsec.students import HashedLinearStudent
from distilsec.students._torch_training import distillation_loss
from tests.conftest import make_texts


def test_loss_alpha_zero_is_cross_entropy():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3]])
    y = torch.tensor([0, 1])
    soft = torch.tensor([[0.1, 0.9], [0.9, 0.1]])
    assert torch.allclose(distillation_loss(logits, y, soft, 2.0, 0.0), F.cross_entropy(logits, y))


def test_loss_alpha_one_is_scaled_kl_and_zero_at_match():
    logits = torch.tensor([[2.0, -1.0]])
    t = 3.0
    soft = torch.softmax(logits / t, dim=1)
    assert float(distillation_loss(logits, torch.tensor([1]), soft, t, 1.0)) == pytest.approx(0.0, abs=1e-6)
    other = torch.tensor([[0.5, 0.5]])
    expected = t**2 * float((other * (other.log() - torch.log_softmax(logits / t, 1))).sum())
    assert float(distillation_loss(logits, torch.tensor([1]), other, t, 1.0)) == pytest.approx(expected, rel=1e-5)


def test_align_proba_reorders_columns():
    p = np.array([[0.2, 0.8]])
    out = align_proba(p, ["malicious", "benign"], ["benign", "malicious", "spam"])
    np.testing.assert_allclose(out, [[0.8, 0.2, 0.0]])


def test_flip_labels_share_and_determinism():
    y = ["benign"] * 80 + ["malicious"] * 20
    noisy = flip_labels(y, 0.25, ["benign", "malicious"], random_state=1)
    assert sum(a != b for a, b in zip(y, noisy, strict=True)) == 25
    assert noisy == flip_labels(y, 0.25, ["benign", "malicious"], random_state=1)
    with pytest.raises(ValueError):
        flip_labels(y, 1.5, ["benign", "malicious"])


def test_distillation_resists_label_noise(fake_teacher):
    """Under 35% flipped labels a student distilled from a clean teacher beats hard-label training."""
    texts, y, _ = make_texts(400, seed=1)
    test_texts, y_test, _ = make_texts(200, seed=2)
    clean_acc = np.mean(fake_teacher.predict_proba(test_texts).argmax(1) == (np.array(y_test) == "malicious"))
    assert clean_acc > 0.95  # the fake teacher is a good teacher on this data
    noisy = flip_labels(y, 0.35, ["benign", "malicious"], random_state=0)
    params = {"n_features": 2**14, "epochs": 15, "random_state": 0}
    hard = HashedLinearStudent(**params).fit(texts, noisy)
    soft = distill(fake_teacher, HashedLinearStudent(**params), texts, noisy, temperature=1.0, alpha=0.9)
    acc_hard = np.mean(hard.predict(test_texts) == np.array(y_test))
    acc_soft = np.mean(soft.predict(test_texts) == np.array(y_test))
    assert acc_soft > acc_hard
    assert acc_soft > 0.9
