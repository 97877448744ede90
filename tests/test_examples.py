"""The examples run (in their --quick mode) and print what they promise."""

import runpy
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_docstring_title(name):
    text = (EXAMPLES / name).read_text()
    assert text.startswith('"""') and "Run with" in text
