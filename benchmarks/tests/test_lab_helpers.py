"""benchmarks.compare's shared helpers: validation carving, ranking, tuning output, timers."""

from __future__ import annotations

import binascii
import time

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from benchmarks.compare.validation import balanced_log_loss, carve_validation, ranking_key
from benchmarks.ranking import best_candidate
from benchmarks.seeding import phase_seed
from benchmarks.timing import Stopwatch, synchronize
from benchmarks.tune_m2m import bench_args, tuning_tag


def test_carving_sends_floor_fraction_of_each_class_and_keeps_one_to_fit():
    y = np.repeat([0, 1, 2, 3], [10, 7, 3, 1])
    fit, val = carve_validation(y, 0.25, 0)
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.arange(len(y)))
    assert [int(np.sum(y[val] == c)) for c in range(4)] == [2, 1, 0, 0]
    _, val_all = carve_validation(y, 1.0, 0)  # never a whole class
    assert [int(np.sum(y[val_all] == c)) for c in range(4)] == [9, 6, 2, 0]
    # an int seeds a fresh RandomState: the same carving as that RandomState gives
    again = carve_validation(y, 0.25, np.random.RandomState(0))
    assert all(np.array_equal(a, b) for a, b in zip((fit, val), again))
    with pytest.raises(ValueError, match="fraction"):
        carve_validation(y, 1.5, 0)


def test_balanced_log_loss_is_sklearn_log_loss_with_class_balanced_weights():
    rng = np.random.RandomState(0)
    y = np.repeat([3, 5, 9], [20, 5, 2])
    proba = rng.dirichlet(np.ones(3), size=len(y))
    weights = 1.0 / np.bincount(np.searchsorted([3, 5, 9], y))[np.searchsorted([3, 5, 9], y)]
    expected = log_loss(y, proba, labels=[3, 5, 9], sample_weight=weights)
    assert balanced_log_loss(y, proba, classes=np.array([3, 5, 9])) == pytest.approx(expected)
    # without classes, the labels are the column indices
    y0 = np.searchsorted([3, 5, 9], y)
    assert balanced_log_loss(y0, proba) == pytest.approx(expected)


def test_ranking_prefers_bacc_then_lower_log_loss_and_the_first_of_ties():
    rows = [
        {"id": 0, "val_bacc": 0.8, "val_log_loss": 0.5},
        {"id": 1, "val_bacc": 0.9, "val_log_loss": 0.7},
        {"id": 2, "val_bacc": 0.9, "val_log_loss": 0.6},
        {"id": 3, "val_bacc": 0.9 + 1e-12, "val_log_loss": 0.9},
        {"id": 4, "val_bacc": 0.9, "val_log_loss": 0.6},
    ]
    assert best_candidate(rows)["id"] == 3  # the round-off difference decides
    assert best_candidate(rows, decimals=6)["id"] == 2  # it ties: log-loss, then the first
    assert ranking_key(rows[0]) == (0.8, -0.5)


def test_bench_args_and_tag_name_the_chosen_values():
    best = {"beta": 0.99, "gamma": 0.9, "step_size": 0.5, "n_steps": 10, "f": "none",
            "lam": 0.0}
    assert bench_args(best) == ("--beta 0.99 --gamma 0.9 --step-size 0.5 --n-steps 10 "
                                "--m2m-f none --lam 0.1")  # lam unused: the default
    assert bench_args({**best, "f": "g", "lam": 0.5}).endswith("--m2m-f g --lam 0.5")
    assert tuning_tag("digits-lt", None) == "digits-lt"
    assert tuning_tag("data/my.csv", 100.0, 5) == "my_r100_min5"


def test_phase_seeds_are_crc32_of_the_name_offset_by_the_run_seed():
    assert phase_seed(0, "g") == binascii.crc32(b"g")
    assert phase_seed(3, "trunk-ce") == (3 * 1_000_003 + binascii.crc32(b"trunk-ce")) % 2**31
    assert len({phase_seed(s, n) for s in range(3) for n in ("g", "drs", "m2m")}) == 9


def test_stopwatch_times_its_block_and_records_unix_stamps():
    synchronize("cpu")  # no-op off CUDA
    synchronize(None)
    with Stopwatch("cpu") as watch:
        time.sleep(0.02)
        inside = watch.seconds
    assert 0.0 <= inside <= watch.seconds
    assert 0.015 <= watch.seconds < 1.0
    assert watch.end_unix - watch.start_unix == pytest.approx(watch.seconds, abs=0.01)
    assert np.isnan(Stopwatch().seconds)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_stopwatch_waits_for_cuda_work():
    x = torch.randn(2048, 2048, device="cuda")
    with Stopwatch("cuda") as watch:
        for _ in range(20):
            x = x @ x
            x = x / x.norm()
    assert watch.seconds > 0


def test_m2m_classifier_benchmark_quick_run_writes_every_method(tmp_path):
    """benchmarks.m2m_classifier --quick on digits-LT: one seed, every method, tables."""
    import json

    from benchmarks.m2m_classifier import METHODS, main

    threads = torch.get_num_threads()
    try:
        main(["--quick", "--datasets", "digits-lt", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)
    result = json.loads((tmp_path / "m2m_classifier_quick.json").read_text())
    assert [r["method"] for r in result["runs"]] == METHODS
    tuning = result["datasets"]["digits-lt"]["tuning"]
    assert tuning["chosen"]["ldam_s"] == 5.0 and len(tuning["m2m"]) == 1  # the quick grids
    for row in result["runs"]:
        assert 0 <= row["bacc"] <= 1 and row["fit_s"] > 0
    assert "| M2m |" in (tmp_path / "m2m_classifier_quick.md").read_text()


def test_throughput_measures_training_and_translation_rates():
    from benchmarks.throughput import train_throughput, translate_throughput
    from m2m_sampler.longtail.models import MLP

    torch.manual_seed(0)
    model = MLP(8, 3, hidden=(16,))
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    assert train_throughput(model, x, y, batch=8, steps=2) > 0
    model.eval()
    assert translate_throughput(model, None, x, 3, batch=16, n_steps=2) > 0
    assert translate_throughput(model, model, x, 3, batch=16, n_steps=2) > 0


def test_summary_renders_the_committed_results_as_committed():
    from pathlib import Path

    from benchmarks.summary import summary_markdown

    root = Path(__file__).resolve().parents[1] / "results"
    assert summary_markdown([], root) + "\n" == (root / "summary.md").read_text()
