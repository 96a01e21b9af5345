"""One schema, one loader: the experiment sections joined ``Config`` without changing any run's hash or config.yaml.

The hashes below were recorded (issue 12, step 6) with the loaders each shipped config used before: plain
``load_config``, ``load_semisup_config`` for ``*semisup*`` and ``load_synth_config`` for ``*synth*``. A run's
folder name and manifest carry its ``config_hash``; a changed hash would make old and new runs of the same
config look different.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from distilsec.config import SemisupConfig, SynthConfig, config_hash, dump_config, load_config
from distilsec.errors import ConfigError
from distilsec.pipeline.sweeps.semisup_config import load_semisup_config
from distilsec.pipeline.sweeps.synth_config import load_synth_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

RECORDED_HASHES = {
    "attack-techniques.yaml": "0cd12670dd97e8061e7abce8c5a76df90e5ed054ecb8451b7f11b12e0730355c",
    "cmdline-distill.yaml": "1b3ada8df5f98f12aa84d64ec0c5d19eaf30e54e45a08d9dd2e8d74e66a865ec",
    "cmdline-distill-strong.yaml": "980b4a3d1bf7eec75e68e0004535d77e826c6cf730a5312de4853b9c5eedb8c9",  # issue 13
    "cmdline-semisup.yaml": "83eb24c6afb719d97f8348c0772af307447bbdea6534339d53681524407caf55",  # issue 13
    "cmdline-synth.yaml": "35a74ec34a63750b887d4cc8217b6d23a772ab7ef5c399f36dadb0e306ccfc48",  # issue 13 judge
    "cve-cwe.yaml": "62dcf6bb6950d8a8114485b29be1128173326d7af51b953ebf4e373abd7961c4",
    "html-distill.yaml": "6f9d1d4a343b716f561d65a1abbb64b1f4c531b43bf4a5121e4f646546fd8309",
    "html-synth.yaml": "003353da7c90db3172ddc057d6b837de13e7becd8e4abe44381c2d2a26e5394a",
    "table-example.yaml": "083903e369594d7392f415f88dc09ed5742d8e4c02debb68781bf93aff533734",
    "url-categories-semisup.yaml": "0f01b9356b0dd73a7be34da7ea7f5dba9f85ff069da180e8f7d87ae9e6a8d4ec",
    "url-distill.yaml": "417a9b3fcba07c9230b77de6ce3fd86c49c143be4f71aee8070b49c97672e180",  # issue 13
    "url-semisup.yaml": "a65a4cb6d127baa54c32635399d19814a7e25c9f1c00cca748111dc616b8b05c",
}


def _old_loader(name: str):
    return load_semisup_config if "semisup" in name else load_synth_config if "synth" in name else load_config


def test_every_shipped_config_has_a_recorded_hash():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(RECORDED_HASHES)


@pytest.mark.parametrize("name", sorted(RECORDED_HASHES))
def test_config_hash_of_every_shipped_config_is_unchanged_by_the_merged_schema(name):
    assert config_hash(_old_loader(name)(CONFIGS / name)) == RECORDED_HASHES[name]


@pytest.mark.parametrize("name", sorted(RECORDED_HASHES))
def test_the_one_loader_reads_every_shipped_config_as_the_old_loader_did(name):
    old = _old_loader(name)(CONFIGS / name)
    one = load_config(CONFIGS / name)
    assert dump_config(one) == dump_config(old) and config_hash(one) == config_hash(old)


def test_unset_experiment_sections_are_left_out_of_config_yaml_but_cve_null_stays():
    dumped = yaml.safe_load(dump_config(load_config(CONFIGS / "cmdline-distill.yaml")))
    assert "semisup" not in dumped and "synth" not in dumped
    assert "cve" in dumped and dumped["cve"] is None


def test_require_fills_in_the_default_experiment_section():
    semisup = load_config(CONFIGS / "cmdline-distill.yaml", require="semisup")
    synth = load_config(CONFIGS / "cmdline-distill.yaml", require="synth")
    assert isinstance(semisup, SemisupConfig) and semisup.semisup.labelled == 4000
    assert isinstance(synth, SynthConfig) and list(synth.synth.arms) == ["V1", "V2"]
    assert "semisup" in yaml.safe_load(dump_config(semisup))


def test_a_typo_in_an_experiment_section_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text((CONFIGS / "url-semisup.yaml").read_text() + "\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml: invalid config: semisup\.budgett: Extra inputs"):
        load_config(path, {"semisup.budgett": "10"})
