"""The documentation site builds with warnings as errors, documents every public name,
and its gallery ran (figures included). About a minute on two cores."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import m2m_sampler

pytest.importorskip("sphinx", reason="the docs build needs Sphinx: pip install -e '.[docs]'")
for _name in ("numpydoc", "sphinx_gallery", "myst_parser", "matplotlib"):
    pytest.importorskip(_name, reason=f"the docs build needs {_name}: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _public_names() -> list[str]:
    """Every name a user can reach: ``m2m_sampler.__all__`` and each public module's."""
    names = [f"m2m_sampler.{n}" for n in m2m_sampler.__all__ if n != "__version__"]
    for mod in pkgutil.walk_packages(m2m_sampler.__path__, "m2m_sampler."):
        if any(part.startswith("_") for part in mod.name.split(".")):
            continue
        module = importlib.import_module(mod.name)
        names.append(module.__name__)
        names += [f"{module.__name__}.{n}" for n in module.__all__]
    return names


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs_html")
    doctrees = tmp_path_factory.mktemp("docs_doctrees")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(doctrees),
            str(DOCS),
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    return out


def test_every_public_name_has_a_page_or_an_entry(html):
    missing = []
    pages = {p.stem for p in (html / "generated").glob("*.html")}
    for name in _public_names():
        if name in pages:
            continue
        # Constants are documented on their module's page (autodata).
        module, _, attr = name.rpartition(".")
        page = html / "generated" / f"{module}.html"
        if not (page.is_file() and f'id="{name}"' in page.read_text()):
            missing.append(name)
    assert not missing, missing


def test_user_guide_pages_and_their_included_readme_sections(html):
    for page, needle in [
        ("index.html", "Where each step of the paper lives"),
        ("getting_started.html", "M2M_DATA_DIR"),
        ("over_sampler.html", "Fitted attributes"),
        ("classifier.html", "NetClassifier and the speed options"),
        ("choosing_parameters.html", "from the class-size gaps"),
        ("long_tail_toolkit.html", "LDAMLoss"),
        ("benchmarks.html", "M2MOverSampler against classic re-balancing"),
        ("reproduction.html", "CIFAR-LT-10"),
        ("changes.html", "Unreleased"),
    ]:
        text = (html / page).read_text()
        assert needle in text, (page, needle)


def test_gallery_ran_and_shows_the_figures(html):
    gallery = html / "auto_examples"
    for name, n_figures in [
        ("plot_translations_digits", 2),
        ("plot_per_class_recall", 1),
        ("plot_m2m_classifier_history", 2),
    ]:
        text = (gallery / f"{name}.html").read_text()
        images = re.findall(rf'src="\.\./_images/sphx_glr_{name}_(\d+)\.png"', text)
        assert len(set(images)) == n_figures, (name, images)
        assert "Out:" in text or "sphx-glr-script-out" in text  # printed output kept
    assert (html / "_images" / "sphx_glr_plot_translations_digits_001.png").stat().st_size > 5000
    # cifar_lt.py is shown, not run (it needs the CIFAR-10 files).
    assert "sphx-glr-script-out" not in (gallery / "cifar_lt.html").read_text()
