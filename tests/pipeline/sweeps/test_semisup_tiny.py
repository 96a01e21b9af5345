"""Figure 2 and budget-aware labelling end to end on a tiny table, with fast linear models."""

from __future__ import annotations

import csv
import json

import pytest

from distilsec.errors import ConfigError
from distilsec.pipeline.sweeps.semisup_config import SemisupConfig, load_semisup_config
from tests.conftest import make_texts


def _table(path, n=700):
    texts, labels, groups = make_texts(n, seed=3)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "group"])
        for i, (t, lab, g) in enumerate(zip(texts, labels, groups, strict=True)):
            w.writerow([f"{t} --opt{i % 13} /path/{i % 17}", lab, f"{g}-{i % 11}"])
    return path


def _config(tmp_path, **semisup) -> SemisupConfig:
    linear = {"type": "hashed_linear.v1", "n_features": 4096, "epochs": 3}
    return SemisupConfig.model_validate(
        {
            "run": {"name": "tiny-semisup", "seed": 0},
            "data": {"task": "table", "path": str(_table(tmp_path / "t.csv")), "group_column": "group"},
            "curation": {"near_dup_threshold": 0.99, "shortcut_audit": False},
            "split": {"val_fraction": 0.2, "test_fraction": 0.2},
            "teacher": {**linear, "epochs": 5},
            "students": {"linear": linear, "linear2": {**linear, "ngram_range": [2, 3]}},
            "evaluation": {"throughput_sample": 0},
            "semisup": {
                "labelled": 120,
                "budget": 200,
                "shares": [0.0, 0.5, 1.0],
                "ledger": str(tmp_path / "ledger.sqlite"),
                **semisup,
            },
        }
    )


def test_figure2_tiny(tmp_path):
    from distilsec.pipeline.sweeps.figure2 import run_figure2

    cfg = _config(tmp_path, pseudo_label_threshold=0.6)
    res = run_figure2(cfg, out=tmp_path / "fig2")
    for f in ("metrics.json", "report.md", "figure2.png", "teacher/manifest.json"):
        assert (tmp_path / "fig2" / f).is_file()
    rows = res["students"]
    # per student: hard at 3 shares, soft at 2 (share 0 has no teacher rows), truth-only at 50%
    assert len(rows) == 2 * (3 + 2 + 1)
    full = [r for r in rows if r["share"] == 1.0 and r["targets"] == "hard"]
    assert all(r["n_teacher_labelled"] == r["n_train"] for r in full)
    half = [r for r in rows if r["targets"] == "truth-only"]
    assert all(r["n_teacher_labelled"] == 0 and r["n_train"] < full[0]["n_train"] for r in half)
    assert all(0.0 <= r["macro_f1"] <= 1.0 for r in rows)
    assert res["teacher"]["pool_calls"] == res["data"]["semisup_split"]["pool"]["n"]
    pl = res["pseudo_label"][0]
    assert pl["rounds"][0]["pool"] == res["teacher"]["pool_calls"] and pl["rounds"][0]["kept"] > 0
    saved = json.loads((tmp_path / "fig2" / "metrics.json").read_text())
    assert saved["students"] == json.loads(json.dumps(rows, default=str))
    # a second run, reusing the saved teacher, reads every teacher answer from the ledger
    cfg.semisup.teacher_bundle = str(tmp_path / "fig2" / "teacher")
    again = run_figure2(cfg, out=tmp_path / "fig2b")
    assert again["teacher"]["pool_calls"] == 0 and again["teacher"]["signature"] == res["teacher"]["signature"]


def test_budget_experiment_tiny(tmp_path):
    from distilsec.pipeline.sweeps.budget import run_budget

    cfg = _config(tmp_path, budget_labelling={"fractions": [0.1, 0.3], "rounds": 2, "student": "linear"})
    res = run_budget(cfg, out=tmp_path / "budget")
    arms = {(r["strategy"], r["fraction"]) for r in res["arms"]}
    assert ("full", 1.0) in arms and ("uncertainty", 0.1) in arms and ("random", 0.3) in arms
    full = next(r for r in res["arms"] if r["strategy"] == "full")
    for r in res["arms"]:
        assert r["teacher_calls"] <= full["teacher_calls"]
        if r["strategy"] != "full":
            assert r["teacher_calls"] == round(r["fraction"] * full["teacher_calls"])
    assert (tmp_path / "budget" / "report.md").is_file()


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "data: {task: url}\nteacher: {type: encoder.v1}\nstudents: {s: {type: hashed_linear.v1}}\n"
        "semisup: {shares: [1.5]}\n"
    )
    with pytest.raises(ConfigError, match="semisup.shares"):
        load_semisup_config(bad)
    bad.write_text(
        "data: {task: url}\nteacher: {type: encoder.v1}\nstudents: {s: {type: hashed_linear.v1}}\n"
        "semisup: {labeled: 3}\n"
    )
    with pytest.raises(ConfigError, match="labeled"):
        load_semisup_config(bad)


@pytest.mark.parametrize("name", ["url-semisup.yaml", "url-categories-semisup.yaml"])
def test_shipped_semisup_configs_validate(name):
    from pathlib import Path

    from distilsec.registry import get_factory

    cfg = load_semisup_config(Path(__file__).resolve().parents[3] / "configs" / name)
    for spec in [cfg.teacher, *cfg.students.values()]:
        get_factory(spec.type)(**spec.params)


def _ut1(tmp_path, n=150):
    import lzma

    import numpy as np

    rng = np.random.default_rng(0)
    words = {"gambling": ["casino", "poker", "bet"], "shopping": ["shop", "store", "buy"], "press": ["news", "daily"]}
    lines = ["domain\tcategory"]
    for cat, ws in words.items():
        for i in range(n):
            lines.append(f"{ws[i % len(ws)]}{rng.integers(10**6)}.{['com', 'fr', 'net'][i % 3]}\t{cat}")
    lines += ["both-casino-shop.com\tgambling", "both-casino-shop.com\tshopping", "broken line", "x.com\tadult"]
    root = tmp_path / "data"
    (root / "url").mkdir(parents=True)
    with lzma.open(root / "url" / "ut1_domain_categories.tsv.xz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return root


def test_read_ut1_categories(tmp_path):
    from distilsec.data.skips import SkipCounter
    from distilsec.pipeline.sweeps.semisup_data import read_ut1_categories

    root = _ut1(tmp_path, n=5)
    skips = SkipCounter()
    rows = list(read_ut1_categories(root / "url" / "ut1_domain_categories.tsv.xz", ["gambling", "press"], skips=skips))
    assert {r.label for r in rows} == {"gambling", "press"} and len(rows) == 11
    assert skips.counts["malformed_row"] == 1 and all(r.group for r in rows)


def test_figure2_website_categories_tiny(tmp_path):
    from distilsec.pipeline.sweeps.figure2 import run_figure2

    root = _ut1(tmp_path)
    cfg = _config(tmp_path, dataset="ut1_categories", categories=["gambling", "shopping", "press"], per_class=150)
    cfg.data.data_dir = str(root)
    cfg.semisup.labelled, cfg.semisup.budget, cfg.semisup.shares = 90, 150, [0.0, 1.0]
    res = run_figure2(cfg, out=tmp_path / "cat")
    assert res["classes"] == ["gambling", "press", "shopping"]
    assert all(r["auc_ovr_macro"] is not None and r["tpr_at_fpr_0.001"] is None for r in res["students"])
    cur = res["data"]["curation"]
    assert cur["label_conflicts"] == 1 and cur["label_conflict_records_removed"] == 2  # the two-category domain


def test_carve_keeps_groups_whole_even_with_two_labels():
    from distilsec.data.example import Example
    from distilsec.pipeline.sweeps.semisup_data import carve_by_group

    exs = [Example(text=f"{g}-{i}", label="a" if i % 2 else "b", group=f"g{g}") for g in range(40) for i in range(3)]
    chosen, rest = carve_by_group(exs, 30, random_state=0)
    assert {e.group for e in chosen}.isdisjoint({e.group for e in rest})
    assert len(chosen) + len(rest) == len(exs) and 24 <= len(chosen) <= 36


def test_cap_per_group_keeps_groups_whole_and_small():
    from distilsec.data.example import Example
    from distilsec.pipeline.sweeps.semisup_data import cap_per_group

    exs = [Example(text=f"t{i}", label="a", group=f"g{i % 3}" if i < 30 else f"solo{i}") for i in range(40)]
    capped = cap_per_group(exs, 4, random_state=0)
    sizes = {}
    for ex in capped:
        sizes[ex.group] = sizes.get(ex.group, 0) + 1
    assert sizes == {"g0": 4, "g1": 4, "g2": 4, **{f"solo{i}": 1 for i in range(30, 40)}}
    assert [ex.id for ex in capped] == [ex.id for ex in exs if ex in capped]  # input order kept
    assert [ex.id for ex in cap_per_group(exs, 4, random_state=0)] == [ex.id for ex in capped]
    assert cap_per_group(exs, 100, random_state=0) == exs


def test_max_per_group_in_the_experiment(tmp_path):
    from distilsec.pipeline.sweeps.semisup_data import prepare_semisup_data

    cfg = _config(tmp_path, max_per_group=2)
    data = prepare_semisup_data(cfg)
    for part in (data.labelled, data.pool, data.val, data.test):
        sizes = {}
        for ex in part:
            sizes[ex.group] = sizes.get(ex.group, 0) + 1
        assert max(sizes.values()) <= 2
    assert data.report["max_per_group"]["cap"] == 2
    assert data.report["largest_groups"]["test"]["top5_share"] <= 1.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "data: {task: url}\nteacher: {type: encoder.v1}\nstudents: {s: {type: hashed_linear.v1}}\n"
        "semisup: {max_per_group: 0}\n"
    )
    with pytest.raises(ConfigError, match="max_per_group"):
        load_semisup_config(bad)
