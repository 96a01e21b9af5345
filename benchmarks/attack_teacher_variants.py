"""Can the ATT&CK teacher be made stronger cheaply? Its members' weights, and a kNN retrieval member, one run.

    python benchmarks/attack_teacher_variants.py runs/attack

Reuses the run's fitted teacher (an SVM beside a frozen-MiniLM softmax head, geometric mean): scores validation
and test with each member, recombines them with other weights, and adds a k-nearest-neighbour vote over the
frozen MiniLM embeddings of the training sentences (technique retrieval). Top-1 over techniques, procedures only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from distilsec.bundle import load_model
from distilsec.config import load_config
from distilsec.pipeline.attack import _options
from distilsec.tasks.attack import prepare_attack_data
from distilsec.teachers.embedding_linear import embed_texts


def _geo(probas: list[np.ndarray], weights: list[float]) -> np.ndarray:
    z = sum(w * np.log(np.clip(p, 1e-12, 1.0)) for w, p in zip(weights, probas, strict=True))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _knn(sim: np.ndarray, y: np.ndarray, n_classes: int, k: int, temp: float = 0.05) -> np.ndarray:
    idx = np.argpartition(-sim, k, axis=1)[:, :k]
    out = np.zeros((len(sim), n_classes))
    for r in range(len(sim)):
        s = sim[r, idx[r]]
        np.add.at(out[r], y[idx[r]], np.exp((s - s.max()) / temp))
    return 0.9 * out / out.sum(axis=1, keepdims=True) + 0.1 / n_classes


def main(run: Path) -> None:
    cfg = load_config(run / "config.yaml")
    data = prepare_attack_data(_options(cfg.attack, cfg.run.seed), None)
    ens = load_model(run / "attack-model-teacher").classifier
    classes = list(ens.classes_)
    none = classes.index("none")
    parts = {"val": data.val, "test": data.test}

    def top1(p: np.ndarray, name: str) -> float:
        gold = np.array([str(e.label) for e in parts[name]])
        pos = gold != "none"
        q = p[pos].copy()
        q[:, none] = -1
        return round(float(np.mean(np.array(classes)[q.argmax(axis=1)] == gold[pos])), 4)

    members = {n: ens.member_probas([e.text for e in part]) for n, part in parts.items()}
    print("| variant | val top-1 | test top-1 |\n|---|---:|---:|")
    for w in (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0):
        row = [top1(_geo(list(members[n]), [w, 1 - w]), n) for n in parts]
        print(f"| SVM weight {w} (1 - w on the MiniLM head) | {row[0]} | {row[1]} |")
    e_train = embed_texts([e.text for e in data.train], "minilm", 128)
    y_train = np.array([classes.index(str(e.label)) for e in data.train])
    knn = {}
    for n, part in parts.items():
        knn[n] = _knn(embed_texts([e.text for e in part], "minilm", 128) @ e_train.T, y_train, len(classes), k=20)
    print(f"| kNN (k = 20) alone | {top1(knn['val'], 'val')} | {top1(knn['test'], 'test')} |")
    for wk in (0.25, 0.4):
        row = [top1(_geo([*members[n], knn[n]], [(1 - wk) / 2, (1 - wk) / 2, wk]), n) for n in parts]
        print(f"| teacher + kNN at weight {wk} | {row[0]} | {row[1]} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/attack"))
