"""How negative sentences shift the ATT&CK figures: two runs' taggers scored on the *same* sentences.

A run without negatives splits differently (negatives are split with their sources), so its own table is not
comparable with the default run's. This scores every tagger of both runs on the default run's test split, minus
every record the no-negatives run trained or validated on::

    distilsec run configs/attack-techniques.yaml --out runs/attack --overwrite
    distilsec run configs/attack-techniques.yaml --out runs/attack-noneg --overwrite --attack.negatives false
    python benchmarks/attack_negatives_shift.py runs/attack runs/attack-noneg
"""

from __future__ import annotations

import sys
from pathlib import Path

from distilsec.bundle import load_model
from distilsec.config import load_config
from distilsec.evaluation.attack_evaluate import evaluate_attack
from distilsec.pipeline.attack import _options
from distilsec.tasks.attack import prepare_attack_data

BUNDLES = ("attack-model-baseline", "attack-model-teacher", "attack-model", "attack-model-student-hard")


def main(with_negatives: Path, without: Path) -> None:
    cfg = load_config(with_negatives / "config.yaml")
    data = prepare_attack_data(_options(cfg.attack, cfg.run.seed), None)
    seen = {i for name in ("train.txt", "val.txt") for i in (without / "splits" / name).read_text().split()}
    test = [e for e in data.test if e.id not in seen]
    n_neg = sum(e.label == "none" for e in test)
    print(f"same sentences: {len(test)} of {len(data.test)} ({len(test) - n_neg} procedures, {n_neg} negatives)")
    print("| bundle | false tags / 1k negatives: with / without | top-1: with / without |\n|---|---:|---:|")
    for bundle in BUNDLES:
        a, b = (evaluate_attack(load_model(run / bundle), test) for run in (with_negatives, without))
        print(
            f"| {bundle} | {a['negatives']['false_tags_per_1000']} / {b['negatives']['false_tags_per_1000']} "
            f"| {a['sentences']['top1']:.3f} / {b['sentences']['top1']:.3f} |"
        )


if __name__ == "__main__":
    args = sys.argv[1:] or ["runs/attack", "runs/attack-noneg"]
    main(Path(args[0]), Path(args[1]))
