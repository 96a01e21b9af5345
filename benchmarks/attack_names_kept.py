"""What the taggers lose when a report keeps actor and tool names (training replaces them by generic words).

    python benchmarks/attack_names_kept.py runs/attack

Builds the run's data twice, with ``names: generic`` (as trained) and ``names: keep`` (as in a real report), and
scores the run's taggers on the test sentences whose record is the same in both (a record's id follows its text).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from distilsec.bundle import load_model
from distilsec.config import load_config
from distilsec.evaluation.attack_evaluate import evaluate_attack
from distilsec.pipeline.attack import _options
from distilsec.tasks.attack import prepare_attack_data


def main(run: Path) -> None:
    cfg = load_config(run / "config.yaml")
    options = _options(cfg.attack, cfg.run.seed)
    generic = prepare_attack_data(options, None).test
    kept = prepare_attack_data(replace(options, names="keep"), None).test
    common = {e.id for e in generic} & {e.id for e in kept}
    generic = [e for e in generic if e.id in common]
    kept = [e for e in kept if e.id in common]
    print(f"{len(common)} test sentences in both\n")
    print("| bundle | top-1, generic names | top-1, names kept |\n|---|---:|---:|")
    for bundle in ("attack-model", "attack-model-teacher", "attack-model-baseline"):
        model = load_model(run / bundle)
        a, b = (evaluate_attack(model, part)["sentences"]["top1"] for part in (generic, kept))
        print(f"| {bundle} | {a} | {b} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/attack"))
