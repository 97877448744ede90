"""Per-class counts and re-weighting factors for long-tailed training.

All functions return NumPy ``float64`` (weights) or ``int64`` (counts) arrays;
convert them at the use site, e.g. ``torch.as_tensor(w, dtype=torch.float32,
device=logits.device)``. Losses of :mod:`m2m_sampler.longtail.losses` and the callbacks of
:mod:`m2m_sampler.training.callbacks` do that conversion themselves.

Normalisation convention
------------------------
Weights are normalised so that they **sum to the number of classes** ``K``
(``sum_k w_k = K``), as in the reference code of LDAM-DRW (Cao et al., 2019)
and M2m (Kim et al., 2020): ``w / w.sum() * K``. With this convention uniform
weights are all ones. (An alternative convention, ``sum_k w_k n_k = N`` so that
the average *per-sample* weight is one, is not used here.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "class_counts",
    "effective_number",
    "effective_number_weights",
    "inverse_frequency_weights",
]


def class_counts(y: ArrayLike, classes: ArrayLike | int | None = None) -> np.ndarray:
    """Count the samples of each class.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (any hashable dtype NumPy can sort; torch tensors are accepted).
    classes : array-like, int or None, default=None
        Which classes to count, in which order. ``None`` counts the classes present
        in ``y`` in sorted order (``np.unique(y)``). An int ``K`` means
        ``np.arange(K)``, which aligns the counts with the logit index of a network
        trained on integer targets ``0 .. K-1`` (absent classes then get 0).
        Labels of ``y`` not listed in ``classes`` raise a ``ValueError``.

    Returns
    -------
    counts : ndarray of shape (n_classes,), dtype int64
        ``counts[k]`` is the number of samples whose label is ``classes[k]``.

    Examples
    --------
    >>> class_counts([0, 2, 2, 1, 2]).tolist()
    [1, 1, 3]
    >>> class_counts([0, 2, 2], classes=4).tolist()
    [1, 0, 2, 0]
    """
    y_arr = _to_numpy_1d(y, "y")
    if classes is None:
        _, counts = np.unique(y_arr, return_counts=True)
        return counts.astype(np.int64)
    if isinstance(classes, (int, np.integer)):
        if classes < 1:
            raise ValueError(f"classes={classes!r}: an int number of classes must be >= 1.")
        classes_arr = np.arange(int(classes))
    else:
        classes_arr = _to_numpy_1d(classes, "classes")
    uniq, inverse = np.unique(classes_arr, return_inverse=True)
    if len(uniq) != len(classes_arr):
        raise ValueError("classes contains duplicates; give each class once.")
    if y_arr.size == 0:
        return np.zeros(len(classes_arr), dtype=np.int64)
    pos = np.searchsorted(uniq, y_arr)
    pos_clipped = np.minimum(pos, len(uniq) - 1)
    unknown = uniq[pos_clipped] != y_arr
    if np.any(unknown):
        bad = np.unique(y_arr[unknown])[:5]
        raise ValueError(
            f"y contains labels not listed in classes (e.g. {bad.tolist()}); "
            "pass every label of y in `classes`, or classes=None."
        )
    counts_sorted = np.bincount(pos_clipped, minlength=len(uniq))
    return counts_sorted[inverse].astype(np.int64)


def effective_number(counts: ArrayLike, beta: float = 0.9999) -> np.ndarray:
    """Effective number of samples of each class (Cui et al., CVPR 2019).

    ``E_k = (1 - beta**n_k) / (1 - beta)``; ``beta = 1`` gives ``n_k`` (the limit),
    ``beta = 0`` gives 1 for every non-empty class.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Non-negative number of samples per class.
    beta : float, default=0.9999
        Hyper-parameter in ``[0, 1]``.

    Returns
    -------
    effective : ndarray of shape (n_classes,), dtype float64
    """
    n = _check_counts(counts, allow_zero=True)
    beta = _check_beta(beta)
    if beta == 1.0:
        return n.copy()
    # -expm1(n*log(beta)) == 1 - beta**n, accurate for beta close to 1
    if beta == 0.0:
        return (n > 0).astype(np.float64)
    return -np.expm1(n * np.log(beta)) / (1.0 - beta)


def inverse_frequency_weights(counts: ArrayLike, normalize: bool = True) -> np.ndarray:
    """Class weights proportional to ``1 / n_k``.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Positive number of training samples per class.
    normalize : bool, default=True
        Scale the weights so that they sum to the number of classes ``K``
        (the LDAM-DRW / M2m convention). ``False`` returns ``1 / n_k``.

    Returns
    -------
    weights : ndarray of shape (n_classes,), dtype float64

    Examples
    --------
    >>> inverse_frequency_weights([1, 3]).tolist()
    [1.5, 0.5]
    """
    n = _check_counts(counts)
    w = 1.0 / n
    return _normalize(w) if normalize else w


def effective_number_weights(
    counts: ArrayLike, beta: float = 0.9999, normalize: bool = True
) -> np.ndarray:
    """Class-balanced weights from the effective number of samples (Cui et al., 2019).

    ``w_k ∝ (1 - beta) / (1 - beta**n_k)``, normalised to sum to ``K`` as in the
    DRW code of LDAM-DRW (``per_cls_weights / sum * K``). ``beta = 0`` gives uniform
    weights (all ones), ``beta -> 1`` tends to :func:`inverse_frequency_weights`, and
    ``beta = 1`` is defined as exactly that (as in the M2m reference code).

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Positive number of training samples per class.
    beta : float, default=0.9999
        Hyper-parameter in ``[0, 1]`` (LDAM-DRW uses 0.9999).
    normalize : bool, default=True
        Scale so that the weights sum to ``K``; ``False`` returns
        ``(1 - beta) / (1 - beta**n_k)`` (``1 / n_k`` when ``beta = 1``).

    Returns
    -------
    weights : ndarray of shape (n_classes,), dtype float64

    Examples
    --------
    >>> effective_number_weights([10, 10, 10]).tolist()
    [1.0, 1.0, 1.0]
    """
    n = _check_counts(counts)
    w = 1.0 / effective_number(n, beta)
    return _normalize(w) if normalize else w


# ----------------------------------------------------------------------------- helpers


def _to_numpy_1d(a: ArrayLike, name: str) -> np.ndarray:
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch tensor
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape}); pass class labels.")
    return arr


def _check_counts(counts: ArrayLike | Sequence[int], allow_zero: bool = False) -> np.ndarray:
    n = _to_numpy_1d(counts, "counts").astype(np.float64)
    if n.size == 0:
        raise ValueError("counts is empty; give one count per class.")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError(f"counts must be finite and non-negative, got {n.tolist()}.")
    if not allow_zero and np.any(n == 0):
        empty = np.flatnonzero(n == 0).tolist()
        raise ValueError(
            f"classes at positions {empty} have 0 samples, so their weight is undefined; "
            "drop those classes or give explicit counts/weights."
        )
    return n


def _check_beta(beta: float) -> float:
    beta = float(beta)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}.")
    return beta


def _normalize(w: np.ndarray) -> np.ndarray:
    return w / w.sum() * len(w)
