"""The examples run (in their --quick mode) and print what they promise."""

import runpy
import sys
from pathlib import Path

import pytest

from benchmarks.datasets import has_data_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_pipeline_example(capsys, monkeypatch):
    out = _run("pipeline_m2m_vs_smote.py", capsys, monkeypatch)
    for name in ("ERM", "SMOTE", "M2m"):
        assert f"{name}" in out and "balanced accuracy" in out
    assert "translations accepted per class" in out


def test_image_example(capsys, monkeypatch):
    out = _run("images_input_shape.py", capsys, monkeypatch)
    assert "class counts after M2m: [128 128 128 128 128 128 128 128 128 128]" in out


@pytest.mark.skipif(not has_data_dir("cifar10_lt_train_r100.npz", "cifar10_test.npz"),
                    reason="CIFAR-10 files not found in the shared data dir")
def test_cifar_lt_example(capsys, monkeypatch, tmp_path):
    out = _run("cifar_lt.py", capsys, monkeypatch)
    for name in ("ERM (g)", "DRS", "M2m"):
        assert f"{name}" in out and "balanced accuracy" in out
    assert "M2m's last epoch:" in out and "translated" in out
    # with the reproduction's options it hands over to python -m benchmarks.cifar_lt
    monkeypatch.setattr(sys, "argv", ["cifar_lt.py", "--smoke", "--only", "report",
                                      "--cache-dir", str(tmp_path), "--method", "drs"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(EXAMPLES / "cifar_lt.py"), run_name="__main__")
    assert exit_.value.code == 0
    assert "not in the cache (not trained): trunk-ce, drs" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_docstring_title(name):
    text = (EXAMPLES / name).read_text()
    assert text.startswith('"""') and "Run with" in text


@pytest.mark.parametrize(
    "name, needle",
    [
        ("plot_translations_digits.py", "class counts after:  [128, 128, 128, 128, 128"),
        ("plot_per_class_recall.py", "M2m    recall of the 3 smallest classes"),
        ("plot_m2m_classifier_history.py", "balanced accuracy on the test set"),
    ],
)
def test_gallery_examples_run(name, needle, capsys, monkeypatch):
    """The gallery's plot_* scripts (also run by the docs build) run headless."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = _run(name, capsys, monkeypatch)
    assert needle in out
    assert plt.get_fignums()  # they drew something
    plt.close("all")
