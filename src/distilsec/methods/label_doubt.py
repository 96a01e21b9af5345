"""Out-of-fold label doubt: how unlikely each original label looks to a model that never saw that example.

Why out-of-fold: the run's teacher and students were trained on the training labels, noisy ones included,
so they partly memorise them and under-report the very errors an analyst should see. A small, fast model
fitted on the other folds (character n-gram TF-IDF + logistic regression) gives each training example an
honest probability of its own label; ``1 - p`` is the doubt the review queue ranks by (confident learning,
Northcutt et al., 2021). Validation, test and other items get the model fitted on all training examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["label_doubt", "text_vectoriser"]


def text_vectoriser(max_features: int = 1 << 18) -> object:
    """The character n-gram TF-IDF both the doubt model and the similar-example search use."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), max_features=max_features, sublinear_tf=True, dtype=np.float32
    )


def label_doubt(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    other_texts: Sequence[str] = (),
    other_labels: Sequence[str | None] = (),
    *,
    folds: int = 5,
    seed: int = 0,
    max_chars: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """``(doubt_train, doubt_other)``: ``1 - P(own label)``, out-of-fold for training texts.

    A label the model never saw in training (or ``None``) gets NaN. With fewer than two classes, or a
    class too small to appear in every fold, the folds shrink to what the smallest class allows.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    cut = [t[:max_chars] for t in train_texts]
    y = np.asarray(train_labels, dtype=object)
    classes, counts = np.unique(y, return_counts=True)
    doubt_train = np.full(len(cut), np.nan)
    doubt_other = np.full(len(other_texts), np.nan)
    if len(classes) < 2:
        return doubt_train, doubt_other

    def fit(idx: np.ndarray) -> tuple[object, object]:
        vec = text_vectoriser()
        x = vec.fit_transform([cut[i] for i in idx])
        model = LogisticRegression(C=4.0, max_iter=300, class_weight="balanced", random_state=seed)
        model.fit(x, y[idx])
        return vec, model

    def doubt(vec: object, model: object, texts: list[str], labels: Sequence[str | None]) -> np.ndarray:
        proba = model.predict_proba(vec.transform(texts))  # type: ignore[attr-defined]
        index = {c: j for j, c in enumerate(model.classes_)}  # type: ignore[attr-defined]
        return np.array([1.0 - proba[i, index[lab]] if lab in index else np.nan for i, lab in enumerate(labels)])

    k = int(min(folds, counts.min()))
    if k >= 2:
        for fit_idx, held in StratifiedKFold(k, shuffle=True, random_state=seed).split(cut, y):
            vec, model = fit(fit_idx)
            doubt_train[held] = doubt(vec, model, [cut[i] for i in held], y[held].tolist())
    if len(other_texts) or k < 2:
        vec, model = fit(np.arange(len(cut)))
        if k < 2:  # too few examples of a class for folds: in-sample, the best available
            doubt_train = doubt(vec, model, cut, y.tolist())
        if len(other_texts):
            doubt_other = doubt(vec, model, [t[:max_chars] for t in other_texts], other_labels)
    return doubt_train, doubt_other
