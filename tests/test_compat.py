"""m2m_sampler._compat: the only importer of private names of scikit-learn,
imbalanced-learn and skorch; every such import is guarded, and each fallback behaves like
the name it stands in for."""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import skorch.utils
import torch
from imblearn.utils._docstring import Substitution as ImblearnSubstitution  # the original

import m2m_sampler
import m2m_sampler._compat as compat
import m2m_sampler.net
from m2m_sampler.longtail.losses import FocalLoss
from m2m_sampler.longtail.models import MLP
from m2m_sampler.net import NetClassifier

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(m2m_sampler.__file__).parent
COMPAT = PACKAGE / "_compat.py"
FOREIGN = ("sklearn", "imblearn", "skorch")


def _private_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, name)`` of every private name of FOREIGN that ``path`` imports or reaches
    through an attribute chain (``sklearn.utils._x``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] in FOREIGN:
                private = [a.name for a in node.names if a.name.startswith("_")]
                if any(p.startswith("_") for p in parts) or private:
                    found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in FOREIGN and any(p.startswith("_") for p in parts):
                    found.append((node.lineno, alias.name))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in FOREIGN:
                found.append((node.lineno, ".".join([value.id, *reversed(chain)])))
    return found


def test_private_names_of_the_ecosystem_are_imported_in_compat_only():
    """The package (and the lab, the tools, the examples, the tests) reach the private
    names of scikit-learn, imbalanced-learn and skorch through ``m2m_sampler._compat``
    only; this test compares the fallbacks with the originals, so it imports them too."""
    offenders = {}
    for folder in ("m2m_sampler", "benchmarks", "tools", "examples", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in (COMPAT, Path(__file__)):
                continue
            if found := _private_imports(path):
                offenders[str(path.relative_to(ROOT))] = found
    assert not offenders, offenders
    assert _private_imports(COMPAT)  # the scan does see them where they are


def test_every_private_import_in_compat_is_guarded():
    """Each private import of ``_compat`` sits in a ``try`` that handles ImportError."""
    tree = ast.parse(COMPAT.read_text())
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
        ):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    imports = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] in FOREIGN
    ]
    assert len(imports) == 3
    assert all(id(n) in guarded for n in imports)
    # and the docstring names each of them
    for n in imports:
        assert n.module in compat.__doc__ or f"{n.module}.{n.names[0].name}" in compat.__doc__


def _compat_copy(monkeypatch, *, blocked=(), removed=()):
    """A fresh copy of ``_compat`` run with the modules ``blocked`` absent and the
    ``(module, name)`` pairs ``removed`` deleted, as a release without them would be."""
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)
    for module, name in removed:
        monkeypatch.delattr(sys.modules[module], name)
    spec = importlib.util.spec_from_file_location("m2m_compat_copy", COMPAT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_copy_of_compat_uses_the_originals_when_they_exist(monkeypatch):
    copy = _compat_copy(monkeypatch)
    assert copy.Substitution is ImblearnSubstitution
    assert copy._skorch_identity is skorch.utils._identity
    assert copy.Interval is compat.Interval


# ----------------------------------------------------------------------------- Substitution


def _documented(decorator):
    @decorator
    class A:
        """Takes {beta} and {{literal}}."""

    return A


def test_substitution_fallback_is_taken_without_imblearns_and_behaves_the_same(monkeypatch):
    copy = _compat_copy(monkeypatch, blocked=["imblearn.utils._docstring"])
    assert copy.Substitution is copy._Substitution
    for make in (ImblearnSubstitution, copy.Substitution):
        assert _documented(make(beta="beta : float")).__doc__ == (
            "Takes beta : float and {literal}."
        )
        bare = make(beta="x")(type("Bare", (), {}))  # no docstring (python -OO)
        assert bare.__doc__ is None
        with pytest.raises(AssertionError, match="Only positional or keyword"):
            make("a", beta="b")
        # imbalanced-learn's accepts positional texts but cannot apply them: the same
        with pytest.raises(TypeError, match="must be a mapping"):
            make("p")(type("P", (), {"__doc__": "<{0}>"}))


# ----------------------------------------------------------------------------- skorch _identity


def test_identity_fallback_is_taken_without_skorchs_and_tells_the_same(monkeypatch):
    identity = skorch.utils._identity
    softmax = functools.partial(torch.softmax, dim=-1)
    nonlinearities = [identity, softmax, skorch.utils._make_2d_probs, torch.sigmoid]
    expected = [compat.is_identity_nonlinearity(f) for f in nonlinearities]
    assert expected == [True, False, False, False]
    copy = _compat_copy(monkeypatch, removed=[("skorch.utils", "_identity")])
    assert copy._skorch_identity is None
    assert [copy.is_identity_nonlinearity(f) for f in nonlinearities] == expected
    assert copy.is_identity_nonlinearity(lambda x: x)
    assert not copy.is_identity_nonlinearity(lambda x, y: x)  # a failing call is not it


def test_net_probabilities_are_the_same_with_the_identity_fallback(monkeypatch):
    """A loss skorch does not know (FocalLoss): skorch infers the identity, and
    NetClassifier applies the softmax -- the same with the fallback's test."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    net = NetClassifier(MLP, module__n_features=4, module__n_classes=3, module__hidden=(8,),
                        criterion=FocalLoss, max_epochs=2, batch_size=20, verbose=0)
    torch.manual_seed(0)
    net.fit(X, y)
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (proba >= 0).all()
    copy = _compat_copy(monkeypatch, removed=[("skorch.utils", "_identity")])
    monkeypatch.setattr(m2m_sampler.net, "is_identity_nonlinearity",
                        copy.is_identity_nonlinearity)
    np.testing.assert_array_equal(net.predict_proba(X), proba)


# ----------------------------------------------------------------------------- param validation


def test_without_sklearns_parameter_validation_the_import_error_says_what_to_install(
    monkeypatch,
):
    with pytest.raises(ImportError) as info:
        _compat_copy(monkeypatch, blocked=["sklearn.utils._param_validation"])
    msg = str(info.value)
    assert "sklearn.utils._param_validation" in msg and "Interval" in msg
    assert f"tested with scikit-learn {compat.TESTED_SKLEARN}" in msg
    assert "pip install 'scikit-learn>=1.6,<1.10'" in msg


def test_the_parameter_validation_names_are_scikit_learns():
    """The sampler's constraints must be scikit-learn's own classes (imbalanced-learn's
    ``BaseOverSampler._parameter_constraints`` are checked by scikit-learn)."""
    from sklearn.utils import _param_validation as pv  # noqa: F401  (the original, once)

    for name in ("Interval", "Options", "StrOptions", "InvalidParameterError",
                 "validate_parameter_constraints"):
        assert getattr(compat, name) is getattr(pv, name)
    with pytest.raises(compat.InvalidParameterError, match="'beta' parameter"):
        m2m_sampler.M2MOverSampler(beta=2.0).fit_resample(np.zeros((4, 2)), [0, 0, 0, 1])


def test_scikit_learn_is_not_capped():
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    deps = toml.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (sklearn,) = [d for d in deps if d.startswith("scikit-learn")]
    assert sklearn == "scikit-learn>=1.6"  # every private name is guarded in _compat
