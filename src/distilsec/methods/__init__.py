"""Methods: how a teacher's knowledge becomes a student's targets (distillation, pseudo-labelling,
budget-aware labelling, noise experiment, synthetic data)."""

from distilsec.methods.active_label import budget_label
from distilsec.methods.distill import distill
from distilsec.methods.noise import flip_labels
from distilsec.methods.pseudo_label import pseudo_label
from distilsec.methods.synthesize import synthesize

__all__ = ["distill", "flip_labels", "pseudo_label", "budget_label", "synthesize"]
