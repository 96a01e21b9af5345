"""The configured teacher outside ``distilsec run``: views honoured, an ensemble's weights chosen on validation."""

from __future__ import annotations

import pytest

from distilsec.config import Config
from distilsec.pipeline.teacher_fit import fit_configured_teacher
from distilsec.teachers.viewed import ViewedModel
from tests.conftest import make_texts


def _config(weights: str) -> Config:
    member = {"type": "hashed_linear.v1", "n_features": 1024, "epochs": 2}
    return Config.model_validate(
        {
            "data": {"task": "cmdline"},
            "teacher": {
                "type": "ensemble.v1",
                "weights": weights,
                "members": [member | {"view": "decoded.v1"}, member | {"ngram_range": [1, 2]}],
            },
            "students": {"student": member},
        }
    )


def test_views_and_validation_weights_apply_as_in_a_run():
    x, y, _ = make_texts(160, seed=1)
    xv, yv, _ = make_texts(80, seed=2)
    teacher = fit_configured_teacher(_config("validation"), x, y, ["benign", "malicious"], val=(xv, yv))
    assert isinstance(teacher.members_[0], ViewedModel) and teacher.members_[0].view == "decoded.v1"
    assert sum(teacher.weights_) == pytest.approx(1.0) and len(teacher.weights_) == 2
    config_weighted = fit_configured_teacher(_config("config"), x, y, ["benign", "malicious"], val=(xv, yv))
    assert config_weighted.weights_ == [0.5, 0.5]  # nothing chosen unless asked
