"""Packaging: licence and metadata, py.typed, changelog, the sdist's content, the bench
without matplotlib, and no shared-data lookup in the package."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import m2m_sampler
import m2m_sampler.datasets as ds

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    return toml.loads((ROOT / "pyproject.toml").read_text())


def test_license_file_and_spdx_metadata(pyproject):
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    project = pyproject["project"]
    assert project["license"] == "MIT"  # an SPDX expression (PEP 639)
    assert project["license-files"] == ["LICENSE"]
    # PEP 639: no licence classifier next to an SPDX expression.
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    assert "Typing :: Typed" in project["classifiers"]
    assert project["urls"]


def test_py_typed_is_package_data(pyproject):
    assert (Path(m2m_sampler.__file__).parent / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["m2m_sampler"]


def test_development_status_agrees_with_the_version(pyproject):
    version = m2m_sampler.__version__
    status = [c for c in pyproject["project"]["classifiers"]
              if c.startswith("Development Status :: ")]
    assert len(status) == 1
    level = int(status[0].split(" :: ")[1].split(" - ")[0])
    if re.search(r"(dev|a|b|rc)\d*$", version) or version.startswith("0."):
        assert level <= 3, f"{status[0]} for version {version}"  # not Beta or higher
    assert status == ["Development Status :: 3 - Alpha"]


def test_accelerate_extra_for_the_distributed_classes(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    assert extras["accelerate"] == ["accelerate>=0.26"]
    text = (ROOT / "docs" / "multi_gpu.md").read_text()
    assert 'pip install "m2m-sampler[accelerate]"' in text


def test_changelog_has_an_unreleased_section():
    text = (ROOT / "CHANGES.md").read_text()
    assert "keepachangelog.com" in text
    assert "## [Unreleased]" in text
    unreleased = text.split("## [Unreleased]", 1)[1]
    assert "### Added" in unreleased and "- " in unreleased


def _imported_top_level_modules() -> set[str]:
    names = set()
    for path in Path(m2m_sampler.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_is_declared(pyproject):
    """What the package imports is a declared dependency (or an optional extra, imported
    lazily), so ``pip install m2m-sampler`` is enough."""
    declared = {"numpy", "scipy", "sklearn", "imblearn", "skorch", "torch", "tqdm"}
    optional = {"matplotlib", "pandas", "accelerate"}  # extras; imported inside functions
    requirement_names = {
        r.split(">")[0].split("<")[0].split("=")[0].strip().lower()
        for r in pyproject["project"]["dependencies"]
    }
    assert requirement_names == {
        "numpy",
        "scipy",
        "scikit-learn",
        "imbalanced-learn",
        "skorch",
        "torch",
        "tqdm",
    }
    third_party = {
        m
        for m in _imported_top_level_modules() - set(sys.stdlib_module_names)
        if m not in ("m2m_sampler", "__future__")
    }
    assert "sklearn_compat" not in third_party
    assert third_party <= declared | optional, third_party - declared - optional


@pytest.mark.skipif(
    importlib.util.find_spec("build") is None, reason="needs 'build' (pip install build)"
)
def test_sdist_leaves_tests_out_and_wheel_ships_py_typed(tmp_path):
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("building without isolation needs setuptools >= 77 (PEP 639 licence)")
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.egg-info", "_build", "auto_examples", "gen_modules", "build", "dist"
    )
    for name in (
        "pyproject.toml",
        "setup.cfg",
        "README.md",
        "LICENSE",
        "CHANGES.md",
        "MANIFEST.in",
    ):
        shutil.copy(ROOT / name, src / name if src.exists() else _mkdir(src) / name)
    for folder in ("m2m_sampler", "tests"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "CHANGES.md", "README.md", "m2m_sampler/py.typed"} <= names
    assert "m2m_sampler/plotting.py" in names
    assert not [n for n in names if n.startswith("tests")]  # no half test suite
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as whl:
        wnames = whl.namelist()
        meta = whl.read(next(n for n in wnames if n.endswith(".dist-info/METADATA"))).decode()
    assert "m2m_sampler/py.typed" in wnames
    assert any(n.endswith("licenses/LICENSE") for n in wnames)
    assert "License-Expression: MIT" in meta
    assert "Provides-Extra: plot" in meta and "Provides-Extra: docs" in meta


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_bench_without_matplotlib_says_so_first_and_still_writes_results(
    tmp_path, monkeypatch, capsys
):
    from benchmarks.compare.__main__ import main

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "out"
    args = ["--methods", "erm", "--seed-list", "0", "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert "matplotlib is not installed" in err[0] and "m2m-sampler[plot]" in err[0]
    assert err[1].startswith("benchmarks.compare: digits-lt")  # before the computation starts
    assert (out / "results.json").is_file() and (out / "results.md").is_file()
    assert not list(out.glob("*.png"))


def test_the_library_does_not_read_the_shared_data_folder():
    """The project's shared data (CIFAR-LT, UCI tables, text) are the lab's
    (``benchmarks.datasets``): no module of the package looks for them."""
    for path in Path(m2m_sampler.__file__).parent.rglob("*.py"):
        text = path.read_text()
        assert "M2M_DATA_DIR" not in text and "shared/data" not in text, path
    assert not hasattr(ds, "get_data_dir") and not hasattr(ds, "load_tabular")
