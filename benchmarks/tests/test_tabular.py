"""Tests of benchmarks.tabular: benchmarks.compare on the shared tabular sets."""

from __future__ import annotations

import json

import pytest

from benchmarks.datasets import DATA_DIR_ENV, has_data_dir
from benchmarks.tabular import main


@pytest.mark.skipif(
    not has_data_dir("tabular/satimage.csv"),
    reason=f"shared tabular data not found (set {DATA_DIR_ENV})",
)
def test_long_tailed_tabular_split(tmp_path):
    out = tmp_path / "sat"
    args = ["--dataset", "satimage", "--imbalance-ratio", "10", "--test-per-class", "50"]
    args += ["--methods", "erm,m2m", "--seed-list", "3", "--epochs", "1", "--no-figures"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["command"].startswith("python -m benchmarks.tabular --dataset satimage ")
    split = doc["splits"][0]
    assert set(split["test_counts"].values()) == {50}
    # satimage classes: 1533, 1508, 1358, 707, 703, 626 samples; 50 of each held out, the
    # largest pool (1483) is n_max and class k keeps int(1483 * 0.1 ** (k / 5))
    expected = [int(1483 * 0.1 ** (k / 5)) for k in range(6)]
    assert sorted(split["train_counts"].values(), reverse=True) == expected
    assert [split["train_counts"][str(c)] for c in (1, 7, 3, 5, 2, 4)] == expected
    assert doc["dataset"]["standardized"] is True
    assert all(r["status"] == "ok" for r in doc["rows"])
