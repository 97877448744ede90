"""Scores of a trained network: the full test set, the authors' split, the selected epoch.

Metrics are computed twice: on the full balanced 10,000-image test set (``test``) and on
the authors' split (``test900``: the first 100 test images of each class are validation,
the other 900 per class are test), with
:func:`m2m_sampler.longtail.metrics.imbalance_report`. Under ``--select-epoch`` the 900-per-class
split is also scored with the weights of the validation-selected epoch
(:func:`selected_metrics`).
"""

from __future__ import annotations

import numpy as np

from benchmarks.cifar_lt.selection import state_copy
from benchmarks.timing import Stopwatch
from m2m_sampler.longtail.metrics import imbalance_report

__all__ = ["evaluate", "selected_metrics", "test_metrics", "timed_evaluate"]

#: The reported entries of :func:`m2m_sampler.longtail.metrics.imbalance_report`.
REPORTED = ("balanced_accuracy", "gmean", "major_acc", "minor_acc", "accuracy",
            "per_class_recall")


def test_metrics(data: dict, y_pred: np.ndarray, idx: np.ndarray | None = None) -> dict:
    """The reported metrics of ``y_pred`` against the test labels (``idx``: a subset).

    Parameters
    ----------
    data : dict
        Holds ``y_test`` and ``y`` (training labels: they define major and minor classes).
    y_pred : ndarray
        Predictions for the test images (or for those of ``idx``).
    idx : ndarray or None
        Indices of a subset of the test set.

    Returns
    -------
    dict
    """
    y_true = data["y_test"] if idx is None else data["y_test"][idx]
    rep = imbalance_report(y_true, y_pred, data["y"])
    return {k: rep[k] for k in REPORTED}


def selected_metrics(net, data: dict) -> dict | None:
    """The 900-per-class test metrics at the validation-selected epoch (if tracked).

    Parameters
    ----------
    net : M2MClassifier
        Fitted, with a ``"select"`` callback
        (:class:`~benchmarks.cifar_lt.selection.ValidationSelection`).
    data : dict
        Holds ``X_test``, ``y_test``, ``y`` and ``test900``.

    Returns
    -------
    dict or None
        None without selection. Else ``epoch``, ``valid_bacc``, ``from_epoch``
        (1-based), ``test900`` and ``valid_bacc_by_epoch``. The net's final weights are
        restored afterwards.
    """
    try:
        sel = dict(net.callbacks_)["select"]
    except KeyError:
        return None
    if sel.best_state_ is None:
        return None
    current = state_copy(net.module_)
    net.module_.load_state_dict(sel.best_state_)
    try:
        idx = data["test900"]
        y_pred = net.predict(data["X_test"][idx])
    finally:
        net.module_.load_state_dict(current)
    scored = {str(row["epoch"]): row["valid_bacc"] for row in net.history
              if "valid_bacc" in row}
    return {"epoch": sel.best_epoch_, "valid_bacc": sel.best_score_,
            "from_epoch": sel.from_epoch + 1, "test900": test_metrics(data, y_pred, idx),
            "valid_bacc_by_epoch": scored}


def evaluate(net, data: dict) -> dict:
    """Final-epoch metrics, plus those at the validation-selected epoch if tracked.

    Parameters
    ----------
    net : M2MClassifier
    data : dict

    Returns
    -------
    dict
        ``test``, ``test900`` and, under selection, ``selected``.
    """
    y_pred = net.predict(data["X_test"])
    idx = data["test900"]
    out = {"test": test_metrics(data, y_pred),
           "test900": test_metrics(data, y_pred[idx], idx)}
    selected = selected_metrics(net, data)
    if selected is not None:
        out["selected"] = selected
    return out


def timed_evaluate(net, data: dict) -> tuple[dict, float]:
    """:func:`evaluate`, and the seconds it took."""
    with Stopwatch() as watch:
        metrics = evaluate(net, data)
    return metrics, watch.seconds
