"""benchmarks.cifar_lt_precision: float32 against bf16 on a GPU run's cached networks."""

import importlib
import json
from pathlib import Path

import pytest
import torch

from benchmarks.datasets import has_data_dir
from m2m_sampler.longtail.models import ResNet32

HAS_CIFAR = has_data_dir("cifar10_lt_train_r100.npz", "cifar10_test.npz")


def _main():
    return importlib.import_module("benchmarks.cifar_lt_precision").main


def _cache(folder: Path) -> Path:
    """A cache laid out as the reproduction writes it, with untrained networks."""
    torch.manual_seed(0)
    folder.mkdir()
    torch.save(ResNet32(num_classes=10).state_dict(), folder / "g-0123456789ab.pt")
    (folder / "g-0123456789ab.json").write_text(
        json.dumps({"metrics": {"test": {"balanced_accuracy": 0.5}}}))
    trunk = folder / "trunk-ce-0123456789ab"
    trunk.mkdir()
    torch.save(ResNet32(num_classes=10).state_dict(), trunk / "params.pt")
    return folder


def test_a_cache_without_the_networks_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="expected one g-"):
        _main()(["--cache", f"run={tmp_path}"])


@pytest.mark.skipif(not HAS_CIFAR, reason="CIFAR-10 files not found in the shared data dir")
def test_study_on_a_cache_writes_both_comparisons(tmp_path):
    threads = torch.get_num_threads()
    try:
        _main()(["--cache", f"seedX={_cache(tmp_path / 'cache')}", "--n-batches", "1",
                 "--batch-size", "32", "--test-subset", "100", "--threads", "1",
                 "--out", str(tmp_path / "out")])
    finally:
        torch.set_num_threads(threads)
    report = json.loads((tmp_path / "out" / "cifar_lt_precision.json").read_text())
    run = report["runs"]["seedX"]
    assert run["networks"]["g_gpu_test_bacc"] == 0.5
    for net in ("g", "f (epoch 160)"):
        e = run["evaluation"][net]
        assert 0 <= e["bacc_float32"] <= 1 and 0 <= e["bacc_bf16"] <= 1
        assert 0 <= e["share_predictions_differ"] <= 1
    t = run["translation"]
    assert t["entries"] == 32 and 0 < t["translated"] <= t["targets"] <= 32
    for key in ("share_passing_gamma_float32", "share_passing_gamma_bf16",
                "share_decisions_agree", "share_bf16_accepted_but_rejected_by_fp32_g"):
        assert 0 <= t[key] <= 1
    assert t["mean_l2_moved_fp32"] > 0 and t["mean_l2_between_fp32_and_bf16_x_star"] >= 0
    text = (tmp_path / "out" / "cifar_lt_precision.md").read_text()
    assert "| seedX | g |" in text and text.count("| seedX |") == 3  # 2 networks, 1 run
    assert report["meta"]["test_images"] == 100
