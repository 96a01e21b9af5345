"""Students: small, fast models with the scikit-learn contract (fit, predict_proba, save, load)."""

from distilsec.students.base import SoftTargets
from distilsec.students.char_cnn import CharCNNStudent
from distilsec.students.hashed_linear import HashedLinearStudent
from distilsec.students.html_inspector import HTMLInspectorStudent
from distilsec.students.tfidf_linear import TfidfLinearStudent

__all__ = ["CharCNNStudent", "HashedLinearStudent", "HTMLInspectorStudent", "SoftTargets", "TfidfLinearStudent"]
