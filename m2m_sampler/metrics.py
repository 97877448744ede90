"""Evaluation metrics for class-imbalanced classification, as reported by M2m.

The M2m paper (Kim, Jeong & Shin, CVPR 2020) evaluates on balanced test sets with

* the **balanced accuracy** (bACC): arithmetic mean of the per-class recalls;
* the **geometric mean score** (GM): geometric mean of the per-class recalls;
* **Major / Minor** accuracy (Section 3.4): bACC restricted to the "majority" classes (the
  fewest most frequent *training* classes that hold more than half of the training samples)
  and to the remaining "minority" classes;
* the **cumulative number of false positives** (Figure 5), summed over the classes from the
  most to the least frequent training class.

All functions take plain label arrays (numbers or strings). The set of classes of a
bACC / GM computation is the set of classes present in ``y_true``, as in
:func:`sklearn.metrics.balanced_accuracy_score`: a label that is only predicted adds no
recall term (its predictions still count as mistakes of the true classes).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "balanced_accuracy",
    "class_frequency_order",
    "cumulative_false_positives",
    "geometric_mean",
    "imbalance_report",
    "major_minor_accuracy",
    "major_minor_split",
    "per_class_recall",
]


def _as_label_array(y: ArrayLike, name: str) -> np.ndarray:
    """Return ``y`` as a 1-D numpy array of labels, with a clear error otherwise."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels; got shape {arr.shape}.")
    return arr


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = _as_label_array(y_true, "y_true")
    p = _as_label_array(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(
            f"y_true and y_pred have different lengths ({t.shape[0]} and {p.shape[0]})."
        )
    if t.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty.")
    return t, p


def _to_builtin(value: Any) -> Any:
    """Convert a numpy scalar (label, count, score) to the matching Python builtin."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def class_frequency_order(y: ArrayLike | Mapping[Hashable, int]) -> np.ndarray:
    """Labels ordered from the most to the least frequent class.

    Ties are broken by the sorted label order, so the result is deterministic.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or mapping
        Training labels, or a mapping ``label -> number of samples``.

    Returns
    -------
    labels : ndarray of shape (n_classes,)
        The class labels, most frequent first.

    Examples
    --------
    >>> class_frequency_order(["b", "a", "b", "c", "c"]).tolist()
    ['b', 'c', 'a']
    """
    labels, counts = _labels_and_counts(y)
    order = np.lexsort((np.arange(len(labels)), -counts))
    return labels[order]


def _labels_and_counts(
    y: ArrayLike | Mapping[Hashable, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted labels and their counts, from labels or from a ``label -> count`` mapping."""
    if isinstance(y, Mapping):
        if len(y) == 0:
            raise ValueError("The class-count mapping is empty.")
        keys = list(y.keys())
        labels = np.asarray(keys)
        counts = np.asarray([y[k] for k in keys])
        if not np.issubdtype(counts.dtype, np.number) or np.any(counts < 0):
            raise ValueError("Class counts must be non-negative numbers.")
        order = np.argsort(labels, kind="stable")
        return labels[order], counts[order].astype(np.int64)
    arr = _as_label_array(y, "y")
    if arr.shape[0] == 0:
        raise ValueError("The training labels are empty.")
    labels, counts = np.unique(arr, return_counts=True)
    return labels, counts.astype(np.int64)


def per_class_recall(
    y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None
) -> np.ndarray:
    """Recall (sensitivity) of each class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like, default=None
        The classes to report, in this order. By default the sorted classes present in
        ``y_true``. A listed class without any true sample gets ``nan`` (its recall is
        undefined).

    Returns
    -------
    recall : ndarray of shape (n_labels,)
        ``recall[i]`` is the fraction of the samples of class ``labels[i]`` predicted as
        that class.

    Examples
    --------
    >>> per_class_recall([0, 0, 1, 1, 1], [0, 1, 1, 1, 0]).tolist()
    [0.5, 0.6666666666666666]
    """
    t, p = _check_pair(y_true, y_pred)
    labs = np.unique(t) if labels is None else _as_label_array(labels, "labels")
    recall = np.empty(labs.shape[0], dtype=np.float64)
    for i, lab in enumerate(labs):
        mask = t == lab
        n = int(mask.sum())
        recall[i] = np.nan if n == 0 else float(np.sum(p[mask] == lab)) / n
    return recall


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Balanced accuracy: the mean of the per-class recalls (bACC in the M2m paper).

    Equal to :func:`sklearn.metrics.balanced_accuracy_score` (``adjusted=False``); the
    classes are those present in ``y_true``. On a balanced test set it equals the plain
    accuracy.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.

    Returns
    -------
    score : float

    Examples
    --------
    >>> balanced_accuracy([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])  # (1/2 + 2/3) / 2
    0.5833333333333333
    """
    return float(np.mean(per_class_recall(y_true, y_pred)))


def geometric_mean(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Geometric mean of the per-class recalls (GM in the M2m paper).

    This is the multi-class value of :func:`imblearn.metrics.geometric_mean_score` with its
    default ``average="multiclass"`` (and ``correction=0``): ``(prod_k recall_k) ** (1/K)``
    over the ``K`` classes present in ``y_true``. It is 0 as soon as one class has zero
    recall. (Unlike imblearn, a label that is predicted but absent from ``y_true`` does not
    add a zero-recall term.)

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.

    Returns
    -------
    score : float

    Examples
    --------
    >>> round(geometric_mean([0, 0, 1, 1], [0, 1, 1, 1]), 6)  # sqrt(1/2 * 1)
    0.707107
    """
    recall = per_class_recall(y_true, y_pred)
    if np.any(recall == 0):
        return 0.0
    return float(np.exp(np.mean(np.log(recall))))


def major_minor_split(
    y_train: ArrayLike | Mapping[Hashable, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Split the classes into "majority" and "minority" classes (M2m, Section 3.4).

    The majority classes are the ``k`` most frequent training classes, where ``k`` is the
    smallest number whose summed counts exceed 50% of all training samples; the minority
    classes are the rest. Ties in frequency are broken by the sorted label order.

    Parameters
    ----------
    y_train : array-like of shape (n_samples,) or mapping
        Training labels, or a mapping ``label -> number of training samples``.

    Returns
    -------
    major, minor : ndarray
        The majority and minority labels, each from the most to the least frequent.

    Examples
    --------
    CIFAR-LT-10 with imbalance ratio 100 has 2 majority and 8 minority classes
    (5000 + 2997 > 12406 / 2), as in Table 4 of the paper:

    >>> counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> major, minor = major_minor_split(dict(enumerate(counts)))
    >>> major.tolist(), minor.tolist()
    ([0, 1], [2, 3, 4, 5, 6, 7, 8, 9])
    """
    labels, counts = _labels_and_counts(y_train)
    order = np.lexsort((np.arange(len(labels)), -counts))
    labels, counts = labels[order], counts[order]
    total = counts.sum()
    if total <= 0:
        raise ValueError("The class counts sum to zero.")
    k = int(np.argmax(np.cumsum(counts) * 2 > total)) + 1
    return labels[:k], labels[k:]


def _group_recall(t: np.ndarray, p: np.ndarray, group: np.ndarray) -> float:
    present = group[np.isin(group, t)]
    if present.shape[0] == 0:
        return float("nan")
    return float(np.mean(per_class_recall(t, p, labels=present)))


def major_minor_accuracy(
    y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike | Mapping[Hashable, int]
) -> tuple[float, float]:
    """Balanced accuracy over the majority and over the minority classes.

    The groups come from :func:`major_minor_split` applied to the *training* labels. Each
    value is the mean per-class recall (the balanced accuracy) within its group, which is
    what the paper's "Major" / "Minor" columns report on its balanced test sets. Classes of a
    group that have no test sample are left out of that group's mean; a group with no test
    class at all (e.g. the minority group of a one-class problem) gives ``nan``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    y_train : array-like of shape (n_train,) or mapping
        Training labels, or a mapping ``label -> number of training samples``.

    Returns
    -------
    major_acc, minor_acc : float

    Examples
    --------
    >>> y_train = [0] * 6 + [1] * 3 + [2] * 1          # majority: {0}; minority: {1, 2}
    >>> major_minor_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 0, 0], y_train)
    (1.0, 0.25)
    """
    t, p = _check_pair(y_true, y_pred)
    major, minor = major_minor_split(y_train)
    return _group_recall(t, p, major), _group_recall(t, p, minor)


def cumulative_false_positives(
    y_true: ArrayLike, y_pred: ArrayLike, class_order: Sequence[Hashable] | ArrayLike
) -> np.ndarray:
    """Cumulative number of false positives over the classes (Figure 5 of M2m).

    ``FP_k`` is the number of test samples predicted as class ``k`` whose true class is not
    ``k``. The result is ``cumsum(FP)`` over ``class_order``, which should list the classes
    from the most to the least frequent *training* class (see :func:`class_frequency_order`).
    Its last value is the total number of mistakes (the off-diagonal sum of the confusion
    matrix); a classifier whose mistakes are spread evenly gives a straight line.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    class_order : sequence of labels
        Every predicted label must be listed (so that all mistakes are counted); labels
        must be unique.

    Returns
    -------
    cum_fp : ndarray of int64, shape (len(class_order),)

    Examples
    --------
    >>> cumulative_false_positives([0, 0, 1, 2, 2], [0, 1, 0, 0, 2], [0, 1, 2]).tolist()
    [2, 3, 3]
    """
    t, p = _check_pair(y_true, y_pred)
    order = _as_label_array(class_order, "class_order")
    if np.unique(order).shape[0] != order.shape[0]:
        raise ValueError("class_order contains duplicate labels.")
    missing = np.setdiff1d(np.unique(p), order)
    if missing.shape[0]:
        raise ValueError(
            f"Predicted labels {missing.tolist()} are not in class_order; list every class "
            "(e.g. class_frequency_order(y_train)) so that all mistakes are counted."
        )
    wrong = p != t
    fp = np.array([int(np.sum(wrong & (p == lab))) for lab in order], dtype=np.int64)
    return np.cumsum(fp)


def imbalance_report(
    y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike | Mapping[Hashable, int]
) -> dict[str, Any]:
    """All of this module's metrics in one JSON-serialisable dictionary.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    y_train : array-like of shape (n_train,) or mapping
        Training labels (or ``label -> count``): they define the majority / minority groups
        and the class order of the cumulative false positives.

    Returns
    -------
    report : dict
        Keys: ``"accuracy"``, ``"balanced_accuracy"``, ``"gmean"``, ``"major_acc"``,
        ``"minor_acc"`` (floats; ``nan`` for an empty group), ``"major_classes"``,
        ``"minor_classes"`` (lists of labels), ``"per_class_recall"`` (dict ``str(label) ->
        recall`` over the classes present in ``y_true``), ``"class_order"`` (training
        classes, most frequent first, followed by any other test or predicted label in
        sorted order) and ``"cumulative_false_positives"`` (list of ints along
        ``class_order``). Labels and numbers are Python builtins, so ``json.dumps`` works
        (``nan`` is written as ``NaN``).

    Examples
    --------
    >>> rep = imbalance_report([0, 0, 1, 1], [0, 1, 1, 1], y_train=[0, 0, 0, 1])
    >>> rep["balanced_accuracy"], rep["per_class_recall"]
    (0.75, {'0': 0.5, '1': 1.0})
    """
    t, p = _check_pair(y_true, y_pred)
    labels = np.unique(t)
    recall = per_class_recall(t, p, labels=labels)
    major, minor = major_minor_split(y_train)
    major_acc, minor_acc = _group_recall(t, p, major), _group_recall(t, p, minor)
    order = class_frequency_order(y_train)
    extra = np.setdiff1d(np.union1d(t, p), order)
    if extra.shape[0]:
        order = np.concatenate([order.astype(object), extra.astype(object)])
    cum_fp = cumulative_false_positives(t, p, order)
    gmean = 0.0 if np.any(recall == 0) else float(np.exp(np.mean(np.log(recall))))
    return {
        "accuracy": float(np.mean(t == p)),
        "balanced_accuracy": float(np.mean(recall)),
        "gmean": gmean,
        "major_acc": major_acc,
        "minor_acc": minor_acc,
        "major_classes": [_to_builtin(v) for v in major],
        "minor_classes": [_to_builtin(v) for v in minor],
        "per_class_recall": {str(_to_builtin(lab)): float(r) for lab, r in zip(labels, recall)},
        "class_order": [_to_builtin(v) for v in order],
        "cumulative_false_positives": [int(v) for v in cum_fp],
    }
