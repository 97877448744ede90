"""The lab's one tuning loop: candidates x validation splits -> scores -> one choice.

Table 2 (:func:`benchmarks.table2.tune`) and the M2MClassifier study
(:func:`benchmarks.m2m_classifier.tune`) choose their hyper-parameters through
:func:`grid_search`: every candidate of every searched kind is trained on the fit part of
every validation split (:func:`carve`, :func:`~benchmarks.compare.validation.carve_validation`
of the training data) and scored on its validation part by balanced accuracy and
balanced log-loss (:func:`~benchmarks.compare.validation.balanced_log_loss`); the scores are
averaged over the splits, and the candidate first by
:func:`~benchmarks.compare.validation.ranking_key` (bACC rounded to 6 decimals, ties: the
lower log-loss) is chosen (:func:`~benchmarks.compare.validation.best_candidate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from benchmarks.compare.validation import balanced_log_loss, carve_validation
from benchmarks.ranking import best_candidate

__all__ = ["Split", "carve", "grid_search"]


@dataclass(frozen=True)
class Split:
    """A validation split of the training data.

    Attributes
    ----------
    X_fit, y_fit : ndarray
        The fit part.
    X_val, y_val : ndarray
        The validation part.
    seed : int
        The carving's seed (also the seed of what is trained on it).
    """

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    seed: int


def carve(X: np.ndarray, y: np.ndarray, val_fraction: float, seed: int) -> Split:
    """``val_fraction`` of every class of ``(X, y)`` as validation (at least one sample
    of each class left in the fit part).

    Parameters
    ----------
    X, y : ndarray
    val_fraction : float
    seed : int

    Returns
    -------
    Split
    """
    fit_idx, val_idx = carve_validation(y, val_fraction, seed)
    return Split(X[fit_idx], y[fit_idx], X[val_idx], y[val_idx], seed)


def grid_search(
    grids: Mapping[str, Sequence[dict[str, Any]]],
    splits: Sequence[Split],
    fit: Callable[[str, dict[str, Any], Split, Any], tuple[Any, dict[str, float]]],
    *,
    prepare: Callable[[Split], Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Score every candidate of every grid on every split; choose one per grid.

    Parameters
    ----------
    grids : mapping of str to list of dict
        Kind (e.g. ``"m2m"``) -> its candidates (hyper-parameter name -> value).
    splits : sequence of Split
    fit : callable
        ``fit(kind, candidate, split, state) -> (net, extra)``: a fitted classifier
        (``predict_proba``, ``classes_``) and further numbers to average over the splits
        (e.g. M2m's acceptance).
    prepare : callable or None
        ``prepare(split) -> state``, called once per split before its candidates (e.g. to
        train ``g`` on the fit part); None: ``state`` is None.
    log : callable or None
        Gets one line per candidate and split.

    Returns
    -------
    tables : dict of str to list of dict
        Per kind, one row per candidate: its values, ``val_bacc`` and ``val_log_loss``
        (means over the splits), the means of ``extra`` and ``cpu_s`` (process time of
        fitting and scoring, summed over the splits).
    chosen : dict of str to dict
        Per kind, the chosen candidate's values.
    """
    runs: dict[str, list[list[dict[str, float]]]] = {k: [[] for _ in g] for k, g in grids.items()}
    for split in splits:
        state = None if prepare is None else prepare(split)
        for kind, grid in grids.items():
            for i, cand in enumerate(grid):
                t0 = time.process_time()
                net, extra = fit(kind, cand, split, state)
                proba = net.predict_proba(split.X_val)
                pred = np.asarray(net.classes_)[proba.argmax(1)]
                entry = {"val_bacc": float(balanced_accuracy_score(split.y_val, pred)),
                         "val_log_loss": balanced_log_loss(split.y_val, proba), **extra,
                         "cpu_s": time.process_time() - t0}  # fmt: skip
                runs[kind][i].append(entry)
                if log is not None:
                    more = "".join(f" {k} {v:.2f}" for k, v in extra.items())
                    log(f"  [tune #{split.seed}] {kind} {cand}: val bACC "
                        f"{100 * entry['val_bacc']:.1f} log-loss {entry['val_log_loss']:.3f}"
                        + more)  # fmt: skip
    tables: dict[str, list[dict[str, Any]]] = {}
    chosen: dict[str, dict[str, Any]] = {}
    for kind, grid in grids.items():
        table = []
        for cand, entries in zip(grid, runs[kind]):
            row = {**cand}
            for key in entries[0]:
                values = [e[key] for e in entries]
                row[key] = float(np.sum(values) if key == "cpu_s" else np.mean(values))
            table.append(row)
        tables[kind] = table
        top = best_candidate(table, decimals=6)
        chosen[kind] = {k: top[k] for k in grid[0]}
    return tables, chosen
