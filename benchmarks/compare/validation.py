"""Validation splits carved from training data, and how candidates are scored on them.

Every tuning in the benchmarks (``benchmarks.compare.tuning`` for the sampler benchmark,
``benchmarks.m2m_classifier`` for the classifier benchmark) chooses hyper-parameters
on the training part only: each class is divided at random into a *fit* part and a
*validation* part (:func:`carve_validation`), candidates are trained on the fit part and
scored on the validation part by balanced accuracy, and ties, frequent on small
validation sets, are broken by the balanced log-loss (:func:`balanced_log_loss`,
:func:`ranking_key`; the lab rounds the bACC first, ``benchmarks.ranking``). The test
split is never used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

__all__ = ["balanced_log_loss", "carve_validation", "ranking_key"]


def carve_validation(
    y: ArrayLike, fraction: float, random_state: int | np.random.RandomState | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class random split of training indices into a fit part and a validation part.

    Each class in turn (in sorted label order) is permuted by ``random_state`` and its
    first ``floor(fraction * n)`` samples go to validation, at most ``n - 1``: every
    class keeps at least one sample in the fit part, and a class with fewer than
    ``1 / fraction`` samples stays entirely in it.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels.
    fraction : float
        Share of each class sent to validation, in [0, 1].
    random_state : int, RandomState or None, default=None
        An int seeds a new ``numpy.random.RandomState`` (the same permutations for the
        same int); a ``RandomState`` is drawn from and advanced.

    Returns
    -------
    fit_idx, val_idx : ndarray of int
        Sorted indices into ``y``; together they are ``arange(len(y))``.
    """
    y = np.asarray(y)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
    rng = check_random_state(random_state)
    fit, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = min(int(fraction * len(idx)), len(idx) - 1)
        val.append(idx[:n_val])
        fit.append(idx[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))


def balanced_log_loss(
    y: ArrayLike, proba: ArrayLike, classes: ArrayLike | None = None
) -> float:
    """Mean over classes of the mean negative log-probability of the true class.

    The tie-breaker of the searches: balanced accuracy on a small validation set takes
    few distinct values, this one is continuous. Probabilities are clipped at ``1e-12``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels.
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : array-like of shape (n_classes,) or None, default=None
        Sorted labels of the columns; None: the labels are the column indices
        ``0 .. n_classes - 1``.

    Returns
    -------
    float
        Averaged over the classes present in ``y``, each with equal weight.
    """
    y = np.asarray(y)
    proba = np.asarray(proba)
    pos = y if classes is None else np.searchsorted(np.asarray(classes), y)
    nll = -np.log(np.clip(proba[np.arange(len(y)), pos], 1e-12, None))
    return float(np.mean([nll[y == c].mean() for c in np.unique(y)]))


def ranking_key(row: dict[str, Any]) -> tuple[float, float]:
    """Sort key of a scored candidate: higher validation bACC, then lower log-loss.

    ``max(rows, key=ranking_key)`` is the first of the best rows.

    Parameters
    ----------
    row : dict
        Holds ``val_bacc`` and ``val_log_loss`` (means over the carvings).

    Returns
    -------
    tuple of float
        Larger is better.
    """
    return (row["val_bacc"], -row["val_log_loss"])
