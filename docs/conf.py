"""Sphinx configuration of the m2m-sampler documentation.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The example gallery is built from ``examples/``: the ``plot_*.py`` scripts (and the two
small digits examples) run at build time on the CPU; ``cifar_lt.py`` is shown, not run
(it needs the CIFAR-10 files). No network access is needed (no intersphinx).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import m2m_sampler  # noqa: E402

project = "m2m-sampler"
author = "m2m-sampler developers"
copyright = "2026, m2m-sampler developers"  # noqa: A001
version = release = m2m_sampler.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "gen_modules", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "**/*.codeobj.json"]

# -- API reference ---------------------------------------------------------------------
import sphinx.ext.autosummary as _autosummary  # noqa: E402

# "Eq. (2)" and "Fig. 6" do not end the one-line summaries of the API tables.
_autosummary.WELL_KNOWN_ABBREVIATIONS += (" Eq.", "(Eq.", " Fig.", "(Fig.")
autosummary_generate = True
autosummary_imported_members = True  # m2m_sampler re-exports its main classes
autosummary_ignore_module_all = False  # document what __all__ lists, nothing else
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
numpydoc_show_class_members = False  # autosummary lists them; no duplicate tables
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False



def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document a class's own functions only: not scikit-learn's generated
    ``set_*_request`` methods nor torch functions kept as class attributes."""
    module = getattr(obj, "__module__", None)
    if callable(obj) and module and not module.startswith("m2m_sampler"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)


# -- Markdown (the README and the existing pages) --------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
# The README's sections are included in the user guide as they are: they start at
# level 3 under a page title of level 1.
suppress_warnings = ["myst.header"]

# -- Example gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Executed at build time (CPU, seconds each); cifar_lt.py is shown only.
    "filename_pattern": r"/(plot_\w+|pipeline_m2m_vs_smote|images_input_shape)\.py$",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("m2m_sampler",),
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"m2m-sampler {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "M2m over-sampling for scikit-learn, imbalanced-learn and skorch",
    "page_width": "1180px",
    "sidebar_width": "250px",
    "fixed_sidebar": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
