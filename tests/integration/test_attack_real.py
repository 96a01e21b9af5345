"""The ATT&CK data layer on the real bundles in ../shared/data/attack (skipped when absent); ~10-20 s."""

from __future__ import annotations

import time

import pytest

from distilsec.tasks.attack import AttackDataOptions, check_no_leak, prepare_attack_data

pytestmark = pytest.mark.integration


@pytest.fixture
def attack_data_dir(real_data):
    if not (real_data / "attack" / "enterprise-attack.json.gz").is_file():
        pytest.skip(
            f"ATT&CK bundles not found under {real_data / 'attack'}: set DISTILSEC_DATA to a folder holding them"
        )
    return real_data


def test_real_attack_counts_split_and_purge(attack_data_dir):
    t0 = time.perf_counter()
    data = prepare_attack_data(AttackDataOptions(), attack_data_dir)
    seconds = time.perf_counter() - t0
    rep = data.report
    assert rep["read"]["kept"]["procedure"] >= 15_000
    assert rep["procedures"]["techniques"] >= 550
    assert check_no_leak(data) == {
        "units_on_two_sides": 0,
        "citations_on_two_sides": 0,
        "texts_on_two_sides": 0,
        "mentions_of_earlier_units": 0,
    }
    # the clustered dealing keeps the purge small: dealing single units left only ~1,200 test records
    assert len(data.test) >= 1_500
    assert seconds < 30
    print(
        f"\nATT&CK: {rep['records']} records; purged val {rep['split']['purged']['val']}, "
        f"test {rep['split']['purged']['test']}; {seconds:.1f} s"
    )
