"""The one place that imports private names of scikit-learn, imbalanced-learn and skorch.

A release of one of these packages that moves a private name breaks this file, not the
modules using it; every import below is guarded. The private names still used, why, and
what happens when they disappear:

``sklearn.utils._param_validation``: ``Interval``, ``Options``, ``StrOptions``,
``validate_parameter_constraints``, ``InvalidParameterError``
    scikit-learn's parameter constraints (there since scikit-learn 1.2; no public
    equivalent as of 1.9). :class:`~m2m_sampler.M2MOverSampler` extends imbalanced-learn's
    ``BaseOverSampler._parameter_constraints``, which is made of these classes and checked
    by scikit-learn's ``BaseEstimator._validate_params``, so the sampler's constraints must
    be the same classes; :class:`~m2m_sampler.M2MClassifier` and the speed options check
    theirs with the same function, so that every front end raises the same
    ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) with the same message.
    imbalanced-learn imports this module in all its samplers, so no local stand-in could
    keep the sampler working without it. If a scikit-learn release lacks these names,
    ``import m2m_sampler`` raises an ``ImportError`` that says so and names the versions
    that have them.
``imblearn.utils._docstring.Substitution``
    The decorator that substitutes the shared parameter texts
    (:data:`~m2m_sampler.engine.params.TRANSLATION_PARAMETER_DOCS`) into the front ends'
    docstrings. Without it, :class:`Substitution` is the same ten lines kept here.
``skorch.utils._identity``
    What skorch's ``predict_nonlinearity='auto'`` resolves to when it applies no
    nonlinearity; :func:`is_identity_nonlinearity` compares with it (``NetClassifier``
    then applies a softmax, as scikit-learn's ``predict_proba`` promises). Without it, a
    function is taken for the identity when it returns its argument itself.

Not imported, so not here: the hooks of the base classes that the front ends override or
call through ``super()`` -- imbalanced-learn's ``_fit_resample``, scikit-learn's
``_parameter_constraints``, skorch's ``_validate_params``, ``_get_predict_nonlinearity``,
``_default_callbacks``, ``_set_training``, ``_step_optimizer``, ``_register_attribute`` and
the ``AccelerateMixin`` internals used by :mod:`m2m_sampler.distributed`. They are the
extension points of those classes; the tests of each front end run through them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "Substitution",
    "is_identity_nonlinearity",
    "validate_parameter_constraints",
]

#: The scikit-learn versions this release is tested with.
TESTED_SKLEARN = "1.6 to 1.9"

try:
    from sklearn.utils._param_validation import (
        Interval,
        InvalidParameterError,
        Options,
        StrOptions,
        validate_parameter_constraints,
    )
except ImportError as exc:  # pragma: no cover - a future scikit-learn
    import sklearn

    raise ImportError(
        "m2m-sampler checks its parameters with scikit-learn's constraint classes "
        "(Interval, Options, StrOptions, validate_parameter_constraints and "
        "InvalidParameterError from sklearn.utils._param_validation, present since "
        f"scikit-learn 1.2), which scikit-learn {sklearn.__version__} does not have "
        f"({exc}). This release of m2m-sampler is tested with scikit-learn "
        f"{TESTED_SKLEARN}: install one of those (pip install 'scikit-learn>=1.6,<1.10') "
        "or a newer m2m-sampler."
    ) from exc


class _Substitution:
    """Format a function's or class's docstring with the given texts (``{name}`` fields).

    The same as imbalanced-learn's ``imblearn.utils._docstring.Substitution``: positional
    or keyword arguments (not both), and an object without a docstring (``python -OO``)
    is returned unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise AssertionError("Only positional or keyword args are allowed")
        self.params = args or kwargs

    def __call__(self, obj: Any) -> Any:
        if obj.__doc__:
            obj.__doc__ = obj.__doc__.format(**self.params)
        return obj


try:
    from imblearn.utils._docstring import Substitution
except ImportError:
    Substitution = _Substitution


def _returns_its_argument(fn: Callable) -> bool:
    """Whether ``fn`` gives back the very tensor it is called with (the identity)."""
    probe = torch.zeros(1, 2)
    try:
        return fn(probe) is probe
    except Exception:
        return False


try:
    from skorch.utils import _identity as _skorch_identity
except ImportError:
    _skorch_identity = None


def is_identity_nonlinearity(fn: Callable) -> bool:
    """Whether skorch's ``predict_nonlinearity='auto'`` resolved to the identity.

    ``fn is skorch.utils._identity``; with a skorch that no longer has that name, whether
    ``fn`` returns its argument itself.
    """
    if _skorch_identity is not None:
        return fn is _skorch_identity
    return _returns_its_argument(fn)
