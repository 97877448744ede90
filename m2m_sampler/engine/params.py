"""The translation parameters, declared once for both front ends.

``beta``, ``lam``, ``gamma``, ``step_size``, ``n_steps``, ``noise``, ``clip`` and
``amp_dtype`` mean the same in :class:`~m2m_sampler.M2MOverSampler` and
:class:`~m2m_sampler.M2MClassifier`. This module holds, once:

* :class:`TranslationParams` -- the parameters as one value with their defaults (the
  front ends' ``__init__`` defaults are its fields' defaults), built in ``fit`` by
  :meth:`TranslationParams.from_estimator` and handed to the engine
  (:func:`~m2m_sampler.engine.generation.generate`,
  :func:`~m2m_sampler.engine.generation.generate_batches`,
  :func:`~m2m_sampler.engine.sharding.generate_sharded`);
* :data:`TRANSLATION_PARAMETER_CONSTRAINTS` -- scikit-learn style constraints; the
  sampler merges them into its ``_parameter_constraints``, the classifier checks them
  with :func:`validate_translation_params`. Both raise scikit-learn's
  ``InvalidParameterError`` (a ``ValueError``) with the same message;
* :data:`TRANSLATION_PARAMETER_DOCS` -- the numpydoc text of each parameter, substituted
  into both docstrings with imbalanced-learn's ``Substitution`` (``{beta}`` etc. in the
  docstring; literal braces there are written ``{{`` and ``}}``);
* :func:`check_step_size` -- the data-relative bound on ``step_size`` that both front
  ends check in ``fit`` (:data:`MAX_TRAVEL_PER_DIAGONAL`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._compat import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "DEFAULT_TRANSLATION_PARAMS",
    "MAX_TRAVEL_PER_DIAGONAL",
    "TRANSLATION_PARAMETER_CONSTRAINTS",
    "TRANSLATION_PARAMETER_DOCS",
    "TranslationParams",
    "check_step_size",
    "validate_translation_params",
]


@dataclass(frozen=True)
class TranslationParams:
    """The translation parameters of both front ends as one value; the defaults, once.

    :class:`~m2m_sampler.M2MOverSampler` and :class:`~m2m_sampler.M2MClassifier` take
    these defaults in ``__init__``; in ``fit`` they build the value the engine runs with
    by :meth:`from_estimator`, with what ``fit`` resolves from the data (the ``clip``
    box) in place of the parameter. The meaning of every field is in
    :data:`TRANSLATION_PARAMETER_DOCS`.

    Attributes
    ----------
    beta, lam, gamma, step_size, n_steps, noise, clip, amp_dtype
        As in the front ends. ``clip`` is the parameter (``None``, ``'minmax'``,
        ``(low, high)``) in a value made from the defaults or an estimator as it is, and
        the resolved box ``(low, high)`` (scalars or tensors, see
        :func:`~m2m_sampler.engine.translation.resolve_clip`) in the value ``fit`` gives
        the engine.

    Examples
    --------
    >>> from m2m_sampler.engine.params import TranslationParams
    >>> TranslationParams().gamma
    0.9
    >>> TranslationParams.of(None, gamma=0.5).gamma
    0.5
    """

    beta: float = 0.999
    lam: float = 0.5
    gamma: float = 0.9
    step_size: float = 0.1
    n_steps: int = 10
    noise: float = 0.5
    clip: Any = None
    amp_dtype: torch.dtype | None = None

    @classmethod
    def from_estimator(cls, estimator: Any, **resolved: Any) -> TranslationParams:
        """The translation parameters of a front end, with values resolved in ``fit``.

        Parameters
        ----------
        estimator : object
            Holds every field as an attribute (its constructor parameters).
        **resolved
            Fields that ``fit`` resolved from the data (e.g. ``clip`` as a box): they
            replace the estimator's parameter of that name.

        Returns
        -------
        TranslationParams
        """
        _check_names(resolved, f"{cls.__name__}.from_estimator")
        values = {name: getattr(estimator, name) for name in _FIELDS}
        return cls(**{**values, **resolved})

    @classmethod
    def of(cls, params: TranslationParams | None, **overrides: Any) -> TranslationParams:
        """``params`` (the defaults when None) with some fields replaced.

        What the engine entry points do with their ``params`` and keyword arguments.

        Raises
        ------
        TypeError
            If a keyword is not a field.
        """
        _check_names(overrides, "the engine call")
        base = cls() if params is None else params
        return dataclasses.replace(base, **overrides) if overrides else base


_FIELDS = tuple(f.name for f in dataclasses.fields(TranslationParams))

#: The defaults, as one :class:`TranslationParams` (what the front ends' ``__init__`` and
#: :func:`~m2m_sampler.engine.translation.translate` take their defaults from).
DEFAULT_TRANSLATION_PARAMS = TranslationParams()


def _check_names(values: dict[str, Any], caller: str) -> None:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise TypeError(
            f"{caller} got unexpected translation parameter(s) {unknown}; the translation "
            f"parameters are {list(_FIELDS)}."
        )


#: ``step_size * n_steps`` (the farthest a translation can move a sample) may be at most
#: this many times the diagonal of the bounding box of the ``X`` given to ``fit``.
MAX_TRAVEL_PER_DIAGONAL = 100.0

#: Constraints of every translation parameter (scikit-learn's ``_parameter_constraints``).
TRANSLATION_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "beta": [Interval(numbers.Real, 0, 1, closed="both")],
    "lam": [Interval(numbers.Real, 0, None, closed="left")],
    "gamma": [Interval(numbers.Real, 0, 1, closed="both")],
    "step_size": [Interval(numbers.Real, 0, None, closed="neither")],
    "n_steps": [Interval(numbers.Integral, 1, None, closed="left")],
    "noise": [Interval(numbers.Real, 0, None, closed="left")],
    "clip": [None, StrOptions({"minmax"}), tuple, list],
    "amp_dtype": [None, Options(torch.dtype, {torch.bfloat16, torch.float16})],
}

_DOCS = {
    "beta": """beta : float in [0, 1], default=0.999
        Reliability of ``g`` for small source classes (Eq. 3 and 5). A translation from
        class ``k0`` to class ``k`` is kept with probability ``1 - beta^(N_k0 - N_k)``,
        which is also the weight of ``k0`` as a source class; only strictly larger
        classes are sources. Choose it from the class-size gaps of your data:
        ``1 - beta^gap`` is about ``gap * (1 - beta)`` for small gaps, 63% at
        ``gap = 1 / (1 - beta)`` (1000 for 0.999) and 99% at ``4.6 / (1 - beta)``.
        0.999 suits gaps in the thousands (CIFAR-LT); 0.9-0.99 suits gaps of tens of
        samples. ``beta = 1`` rejects every translation.""",
    "lam": """lam : float >= 0, default=0.5
        ``lambda`` of Eq. (2): the weight of ``f``'s raw logit of the source class, which
        keeps the translated sample away from what ``f`` sees as the source class.
        ``0`` (or no ``f``) drops the term (the paper's ``lambda = 0`` ablation).""",
    "gamma": """gamma : float in [0, 1], default=0.9
        Minimum probability ``g`` must give the target class at ``x*`` for the
        translation to be accepted. This follows the authors' code; the paper's text
        writes the same rule as a loss threshold, ``CE(g(x*), k) <= -log(gamma)``
        (0.105 for 0.9; see :func:`~m2m_sampler.gamma_from_loss_threshold`).""",
    "step_size": """step_size : float > 0, default=0.1
        ``eta``: the L2 length of every step, over all input values of a sample, in the
        units the models consume. 0.1 suits images in [0, 1] (the paper) and
        standardised tabular data; the paper used 1.0 for bag-of-words Reuters. As a
        rule, ``step_size * n_steps`` should be a small fraction of the typical distance
        between samples. ``fit`` refuses a ``step_size * n_steps`` larger than 100 times
        the diagonal of the bounding box of ``X`` (the L2 norm of the per-feature ranges):
        such steps are in the wrong units and would only produce samples far outside the
        data.""",
    "n_steps": """n_steps : int >= 1, default=10
        ``T``: number of normalised gradient steps.""",
    "noise": """noise : float >= 0, default=0.5
        L2 norm of the random start ``x0 + delta`` (Algorithm 1 line 7), relative to
        ``step_size``.""",
    "clip": """clip : None, 'minmax' or (low, high), default=None
        Box the translated inputs are clamped to after the random start and after every
        step: ``None`` for unbounded inputs, ``(0, 1)`` for images in pixel space,
        ``(low, high)`` with arrays of one value per input value for per-feature bounds,
        or ``'minmax'`` for the per-feature range of the ``X`` given to ``fit``. ``None``
        as one bound leaves that side open; a NaN bound is an error. The box is in the
        units of ``X``: ``fit`` warns (``ClipRangeWarning``) when over half of the rows of
        ``X`` lie outside it.""",
    "amp_dtype": """amp_dtype : torch.bfloat16, torch.float16 or None, default=None
        Mixed precision (:func:`torch.autocast`) for the translation's forward and
        backward passes through ``g`` and ``f``; the iterate, the step and the
        ``gamma`` test stay in float32. float16 has no loss scaling, so tiny input
        gradients may underflow (prefer bfloat16). ``None``: full precision.""",
}

#: numpydoc text of every translation parameter, keyed by parameter name.
TRANSLATION_PARAMETER_DOCS: dict[str, str] = dict(_DOCS)


def validate_translation_params(estimator: Any) -> None:
    """Check the translation parameters of ``estimator`` against their constraints.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        The same error and message as :class:`~m2m_sampler.M2MOverSampler`'s own
        validation, naming ``type(estimator).__name__``.
    """
    params = {name: getattr(estimator, name) for name in TRANSLATION_PARAMETER_CONSTRAINTS}
    validate_parameter_constraints(
        TRANSLATION_PARAMETER_CONSTRAINTS, params, caller_name=type(estimator).__name__
    )


def check_step_size(estimator: Any, X: Any) -> None:
    """Refuse steps that would carry samples far outside the data (in ``fit``).

    ``step_size * n_steps``, the farthest a translation can move a sample in L2, must be
    at most :data:`MAX_TRAVEL_PER_DIAGONAL` times the diagonal of the bounding box of
    ``X`` (the L2 norm over all input values of ``max - min``). Data with no spread, and
    ``X`` that is not an array or tensor, are not checked.

    Raises
    ------
    ValueError
        Saying how far the steps reach in units of the data and what to choose instead.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach()
        if not X.is_floating_point() or not len(X):
            return
        flat = X.reshape(len(X), -1).double()
        diagonal = float((flat.amax(0) - flat.amin(0)).norm())
    elif isinstance(X, np.ndarray) and X.dtype.kind in "fiu" and len(X):
        flat = X.reshape(len(X), -1)
        diagonal = float(np.linalg.norm(flat.max(0).astype(np.float64) - flat.min(0)))
    else:
        return
    travel = float(estimator.step_size) * int(estimator.n_steps)
    if not math.isfinite(diagonal) or diagonal <= 0:
        return
    if travel > MAX_TRAVEL_PER_DIAGONAL * diagonal:
        raise ValueError(
            f"step_size={estimator.step_size!r} with n_steps={estimator.n_steps} moves a "
            f"sample up to {travel:.3g} (L2), {travel / diagonal:.3g} times the diagonal of "
            f"the data's bounding box ({diagonal:.3g}); {type(estimator).__name__} accepts "
            f"at most {MAX_TRAVEL_PER_DIAGONAL:g} times. step_size is in the units of X: "
            "make step_size * n_steps a small fraction of the distance between samples "
            "(e.g. step_size=0.1 for pixels in [0, 1], 0.5-1.0 for standardised features)."
        )
