"""Methods: how a teacher's knowledge becomes a student's targets (distillation, noise experiment)."""

from distilsec.methods.distill import distill
from distilsec.methods.noise import flip_labels

__all__ = ["distill", "flip_labels"]
