"""Evaluation metrics for class-imbalanced classification, as reported by M2m.

The M2m paper (Kim, Jeong & Shin, CVPR 2020) evaluates on balanced test sets. Every metric
that scikit-learn or imbalanced-learn already has is computed by them; this module only adds
the label handling and the metrics of the paper:

* accuracy: :func:`sklearn.metrics.accuracy_score`;
* **balanced accuracy** (bACC, mean of the per-class recalls):
  :func:`sklearn.metrics.balanced_accuracy_score`;
* per-class recall (:func:`per_class_recall`): :func:`sklearn.metrics.recall_score` with
  ``average=None`` and ``labels=`` the classes of ``y_true``;
* **geometric mean score** (GM, :func:`geometric_mean`):
  :func:`imblearn.metrics.geometric_mean_score` (``average="multiclass"``, ``labels=`` the
  classes of ``y_true``, optional ``correction``);
* **Major / Minor** accuracy (Section 3.4, :func:`major_minor_accuracy`): written here, the
  mean of :func:`per_class_recall` over the "majority" classes (the fewest most frequent
  *training* classes that hold more than half of the training samples,
  :func:`major_minor_split`) and over the remaining "minority" classes;
* **cumulative number of false positives** (Figure 5, :func:`cumulative_false_positives`):
  written here, the cumulative sum, from the most to the least frequent training class
  (:func:`class_frequency_order`), of the column sums minus the diagonal of
  :func:`sklearn.metrics.confusion_matrix`.

All functions take plain label arrays (integers or strings). The set of classes of a
bACC / GM computation is the set of classes present in ``y_true``, as in
:func:`sklearn.metrics.balanced_accuracy_score`: a label that is only predicted adds no
recall term (its predictions still count as mistakes of the true classes).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from imblearn.metrics import geometric_mean_score
from numpy.typing import ArrayLike
from sklearn.metrics import (
    accuracy_score,
    recall_score,
)

from .._torch_utils import to_builtin

__all__ = [
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
    """Recall (sensitivity) of each class, by :func:`sklearn.metrics.recall_score`.

    A thin wrapper of ``recall_score(average=None, labels=..., zero_division=nan)`` that
    adds the label handling of the paper: the classes default to those of ``y_true`` (a
    label that is only predicted gets no recall term), and a listed class without any true
    sample gets ``nan`` instead of sklearn's 0 and warning.

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
    if labs.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    recall = recall_score(t, p, labels=labs, average=None, zero_division=np.nan)
    return np.asarray(recall, dtype=np.float64)


def geometric_mean(y_true: ArrayLike, y_pred: ArrayLike, *, correction: float = 0.0) -> float:
    """Geometric mean of the per-class recalls (GM in the M2m paper).

    A thin wrapper of :func:`imblearn.metrics.geometric_mean_score` (``average="multiclass"``)
    with ``labels`` set to the classes present in ``y_true``: ``(prod_k recall_k) ** (1/K)``
    over those ``K`` classes. (imblearn's default classes also include the labels that are
    only predicted, each adding a zero recall; here they add no term, as for the bACC.)

    With the default ``correction=0`` GM is 0 as soon as one class has zero recall. A
    positive ``correction`` (imblearn's parameter) replaces every zero recall by that value,
    so that GM still ranks methods on data sets where some class is never recognised.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    correction : float, default=0.0
        Value substituted for a zero recall (e.g. ``0.001``).

    Returns
    -------
    score : float

    Examples
    --------
    >>> round(geometric_mean([0, 0, 1, 1], [0, 1, 1, 1]), 6)  # sqrt(1/2 * 1)
    0.707107
    >>> geometric_mean([0, 0, 1, 1], [0, 0, 0, 0])  # class 1 has zero recall
    0.0
    >>> round(geometric_mean([0, 0, 1, 1], [0, 0, 0, 0], correction=0.01), 6)  # sqrt(1 * .01)
    0.1
    """
    t, p = _check_pair(y_true, y_pred)
    score = geometric_mean_score(
        t, p, labels=np.unique(t), average="multiclass", correction=correction
    )
    return float(score)


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
    ``k``: the sum of column ``k`` of :func:`sklearn.metrics.confusion_matrix` minus its
    diagonal entry. The result is ``cumsum(FP)`` over ``class_order``, which should list the
    classes from the most to the least frequent *training* class (see
    :func:`class_frequency_order`). Its last value is the total number of mistakes (the
    off-diagonal sum of the confusion matrix); a classifier whose mistakes are spread evenly
    gives a straight line.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    class_order : sequence of labels
        Every predicted label must be listed (so that all mistakes are counted); labels
        must be unique. A true label that is not listed still counts as a mistake of the
        class it is predicted as.

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
    # false positives of class c: predicted c, true label another (listed or not); counted
    # directly rather than through sklearn's confusion_matrix, which warns on one class
    fp = np.array([np.sum((p == c) & (t != c)) for c in order], dtype=np.int64)
    return np.cumsum(fp).astype(np.int64)


def imbalance_report(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_train: ArrayLike | Mapping[Hashable, int],
    *,
    gm_correction: float = 0.0,
) -> dict[str, Any]:
    """All of this module's metrics in one JSON-serialisable dictionary.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    y_train : array-like of shape (n_train,) or mapping
        Training labels (or ``label -> count``): they define the majority / minority groups
        and the class order of the cumulative false positives.
    gm_correction : float, default=0.0
        ``correction`` of :func:`geometric_mean` for ``"gmean"``: the value that replaces a
        zero recall (0 keeps the paper's GM, which is 0 when any class has zero recall).

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
    # sklearn's balanced_accuracy_score is the mean recall of the classes of y_true (it
    # drops, with a warning, the classes that are only predicted): the same number
    bacc = float(np.mean(recall))
    major, minor = major_minor_split(y_train)
    major_acc, minor_acc = _group_recall(t, p, major), _group_recall(t, p, minor)
    order = class_frequency_order(y_train)
    extra = np.setdiff1d(np.union1d(t, p), order)
    if extra.shape[0]:
        order = np.concatenate([order.astype(object), extra.astype(object)])
    cum_fp = cumulative_false_positives(t, p, order)
    return {
        "accuracy": float(accuracy_score(t, p)),
        "balanced_accuracy": float(bacc),
        "gmean": geometric_mean(t, p, correction=gm_correction),
        "major_acc": major_acc,
        "minor_acc": minor_acc,
        "major_classes": [to_builtin(v) for v in major],
        "minor_classes": [to_builtin(v) for v in minor],
        "per_class_recall": {str(to_builtin(lab)): float(r) for lab, r in zip(labels, recall)},
        "class_order": [to_builtin(v) for v in order],
        "cumulative_false_positives": [int(v) for v in cum_fp],
    }
