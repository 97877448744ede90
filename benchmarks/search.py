"""The lab's one tuning loop: candidates x validation folds -> scores, by scikit-learn.

Every search of the lab (``benchmarks.compare --tune``, ``benchmarks.tune_m2m``, Table 2's
:func:`benchmarks.table2.tune` and the M2MClassifier study's
:func:`benchmarks.m2m_classifier.tune`) scores its candidates with :func:`search`: each
candidate is a :class:`CandidateEstimator` that
:func:`~sklearn.model_selection.cross_validate` fits on the fit part of every fold of
``cv`` (a :class:`~sklearn.model_selection.PredefinedSplit` of one carving, or a
:class:`Folds` of several carvings of the training data,
:func:`~benchmarks.compare.validation.carve_validation`) and scores on its validation part:
balanced accuracy, the class-balanced log-loss
(:func:`~benchmarks.compare.validation.balanced_log_loss`), M2m's accepted share, and what
the fitted model reports in ``scores_``; the scores are averaged over the folds.

A candidate whose fit needs more than its values (Table 2's shared CE trunk, the study's
``g``: trained once per fold, never per candidate) is a :class:`FoldFit`: its ``fit`` is a
callback that gets the fold's number and the fold's state, prepared once per fold by
:class:`Folds` and cached. :func:`search_grids` searches several kinds of candidates on the
same folds and chooses one per kind (:func:`~benchmarks.ranking.best_candidate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import cross_validate

from benchmarks.compare.methods import NotApplicable
from benchmarks.compare.validation import balanced_log_loss, carve_validation
from benchmarks.ranking import best_candidate
from m2m_sampler.engine.acceptance import acceptance_totals

__all__ = ["CandidateEstimator", "FoldFit", "Folds", "search", "search_grids"]

#: What a candidate may fail with without stopping the search (recorded as ``"n/a"``).
_SKIPPED: tuple[type[Exception], ...] = (NotApplicable, ValueError, RuntimeError)


class CandidateEstimator(ClassifierMixin, BaseEstimator):
    """One candidate's model, as scikit-learn clones and scores it.

    A candidate that cannot run (``NotApplicable`` of ``benchmarks.compare``, or a
    ``ValueError`` / ``RuntimeError`` of its fit, e.g. too few neighbours) is not an
    error: ``error_`` says why, and :func:`search` records it as ``"n/a"``.

    Parameters
    ----------
    build : callable
        ``values -> unfitted model`` (``fit``, ``predict_proba``, ``classes_``). A
        function is not copied by ``clone``, so what it holds (e.g. M2m's fitted ``g``)
        is shared, not copied.
    values : object
        The candidate (e.g. a dict of hyper-parameters).
    """

    def __init__(self, build: Callable[[Any], Any] | None = None, values: Any = None) -> None:
        self.build = build
        self.values = values

    def fit(self, X: Any, y: Any, **fit_params: Any) -> CandidateEstimator:
        """Build and fit the model; record ``error_`` instead of raising.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,)
        **fit_params
            Passed to the model's ``fit`` (e.g. :class:`FoldFit`'s ``sample_index``).

        Returns
        -------
        self
        """
        self.pipeline_, self.error_ = None, None
        try:
            self.pipeline_ = self.build(self.values).fit(X, y, **fit_params)
        except _SKIPPED as exc:
            lines = str(exc).strip().splitlines()
            self.error_ = lines[0] if lines else repr(exc)
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The fitted model's probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self.pipeline_.predict_proba(X)


class Folds:
    """Validation folds of one training set, and a state prepared once per fold.

    A scikit-learn splitter (``split``, ``get_n_splits``): pass it as ``cv``. It is not
    copied (``copy.deepcopy``, hence ``clone``, gives it back): every clone of a
    candidate shares its prepared states.

    Parameters
    ----------
    folds : sequence of (ndarray, ndarray)
        ``(fit_idx, val_idx)`` per fold, indices into the training set.
    prepare : callable or None
        ``prepare(fold, X_fit, y_fit) -> state``, called at the first fit on a fold (e.g.
        to train ``g`` on the fit part); None: the state is None.
    """

    def __init__(
        self,
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        prepare: Callable[[int, Any, Any], Any] | None = None,
    ) -> None:
        self.folds = [(np.asarray(a), np.asarray(b)) for a, b in folds]
        self.prepare = prepare
        self._states: dict[int, Any] = {}

    def __deepcopy__(self, memo: dict) -> Folds:
        return self

    @classmethod
    def carved(
        cls, y: Any, fraction: float, seeds: Sequence[int], prepare: Callable | None = None
    ) -> Folds:
        """One fold per seed: :func:`~benchmarks.compare.validation.carve_validation`.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
        fraction : float
        seeds : sequence of int
        prepare : callable or None

        Returns
        -------
        Folds
        """
        return cls([carve_validation(y, fraction, s) for s in seeds], prepare)

    def split(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[tuple]:
        """The folds' ``(fit_idx, val_idx)``, in order."""
        yield from self.folds

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds."""
        return len(self.folds)

    def fold(self, sample_index: np.ndarray) -> int:
        """The fold whose fit part is ``sample_index``."""
        for i, (fit_idx, _) in enumerate(self.folds):
            if np.array_equal(fit_idx, sample_index):
                return i
        raise ValueError("sample_index is no fold's fit part")

    def state(self, fold: int, X: Any, y: Any) -> Any:
        """The fold's prepared state (prepared at the first call, then cached)."""
        if fold not in self._states:
            self._states[fold] = None if self.prepare is None else self.prepare(fold, X, y)
        return self._states[fold]


class FoldFit(ClassifierMixin, BaseEstimator):
    """A candidate whose fit is a callback that knows the fold and its prepared state.

    Parameters
    ----------
    fit_fold : callable
        ``fit_fold(values, X_fit, y_fit, fold, state) -> (model, extra)``: a fitted
        classifier (``predict_proba``, ``classes_``) and further numbers to average over
        the folds (e.g. M2m's acceptance).
    folds : Folds
        The ``cv`` of the search (shared, not copied, by ``clone``).
    values : object
        The candidate.
    """

    def __init__(
        self, fit_fold: Callable | None = None, folds: Folds | None = None, values: Any = None
    ) -> None:
        self.fit_fold = fit_fold
        self.folds = folds
        self.values = values

    def fit(self, X: Any, y: Any, sample_index: np.ndarray | None = None) -> FoldFit:
        """Fit on the fold whose fit part is ``sample_index``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,)
        sample_index : ndarray of int
            The rows of the training set in ``X`` (:func:`search` passes them).

        Returns
        -------
        self
        """
        t0 = time.process_time()
        fold = self.folds.fold(sample_index)
        state = self.folds.state(fold, X, y)
        self.model_, extra = self.fit_fold(self.values, X, y, fold, state)
        self.classes_ = np.asarray(self.model_.classes_)
        self.scores_ = {**extra, "cpu_s": time.process_time() - t0}
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The fitted model's probabilities."""
        return self.model_.predict_proba(X)


def _scores(est: CandidateEstimator, X: Any, y: Any) -> dict[str, float]:
    """Validation bACC, balanced log-loss, M2m's accepted share (NaN: none), ``scores_``."""
    nan = float("nan")
    model = est.pipeline_
    extra = dict(getattr(model, "scores_", {}))
    if est.error_ is not None:
        return {"bacc": nan, "log_loss": nan, "accepted": nan, **extra}
    classes = model.classes_
    proba = est.predict_proba(X)
    inner = getattr(model, "model_", model)  # a FoldFit's pipeline
    sampler = getattr(inner, "named_steps", {}).get("sampler")
    accepted = nan
    if hasattr(sampler, "class_stats_"):  # the library's rule: accepted / planned
        tot = acceptance_totals(sampler.class_stats_.values())
        accepted = tot["accepted"] / tot["planned"] if tot["planned"] else nan
    return {
        "bacc": float(balanced_accuracy_score(y, classes[proba.argmax(axis=1)])),
        "log_loss": balanced_log_loss(y, proba, classes),
        "accepted": accepted,
        **extra,
    }


def search(
    build: Callable[[Any], Any],
    candidates: Sequence[Any],
    X: Any,
    y: Any,
    cv: Any,
    return_estimator: bool = False,
    fit_params: dict[str, Any] | None = None,
    per_fold: bool = False,
) -> list[dict[str, Any]]:
    """Fit and score every candidate by :func:`~sklearn.model_selection.cross_validate`.

    Parameters
    ----------
    build : callable
        ``candidate -> unfitted model`` (see :class:`CandidateEstimator`).
    candidates : sequence
    X, y : array-like
        The training data ``cv`` splits (fit and validation parts).
    cv : cross-validation splitter
        A :class:`~sklearn.model_selection.PredefinedSplit` of one carving, or
        :class:`Folds`.
    return_estimator : bool, default=False
        Keep the fitted :class:`CandidateEstimator` of the first fold in ``"estimator"``.
    fit_params : dict or None
        Passed to every fit (sample-aligned arrays cut to the fold's fit part).
    per_fold : bool, default=False
        Add ``val_bacc_folds`` and ``val_log_loss_folds`` (the scores of every fold).

    Returns
    -------
    list of dict
        One row per candidate, in order: ``status`` (``"ok"`` / ``"n/a"``, with
        ``reason``), ``val_bacc`` and ``val_log_loss`` (means over the folds), for M2m
        with planned translations ``acceptance_rate`` (the share accepted, mean over the
        folds) and the means of the model's ``scores_`` (their ``cpu_s``: the sum).
    """
    rows = []
    for values in candidates:
        res = cross_validate(
            CandidateEstimator(build, values),
            X,
            y,
            cv=cv,
            scoring=_scores,
            return_estimator=True,
            params=fit_params,
        )
        est = res["estimator"][0]
        row: dict[str, Any] = {"status": "n/a", "reason": est.error_}
        if est.error_ is None:
            row = {
                "status": "ok",
                "val_bacc": float(np.mean(res["test_bacc"])),
                "val_log_loss": float(np.mean(res["test_log_loss"])),
            }
            if not np.isnan(res["test_accepted"]).all():
                row["acceptance_rate"] = float(np.nanmean(res["test_accepted"]))
            for key in getattr(est.pipeline_, "scores_", {}):
                v = res[f"test_{key}"]
                row[key] = float(np.sum(v) if key.startswith("cpu_s") else np.mean(v))
            if per_fold:
                row["val_bacc_folds"] = [float(v) for v in res["test_bacc"]]
                row["val_log_loss_folds"] = [float(v) for v in res["test_log_loss"]]
        if return_estimator:
            row["estimator"] = est
        rows.append(row)
    return rows


def search_grids(
    grids: Mapping[str, Sequence[dict[str, Any]]],
    X: Any,
    y: Any,
    folds: Folds,
    fit_fold: Callable[..., tuple[Any, dict[str, float]]],
    *,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """:func:`search` of every grid's :class:`FoldFit` candidates; choose one per grid.

    Parameters
    ----------
    grids : mapping of str to list of dict
        Kind (e.g. ``"m2m"``) -> its candidates (hyper-parameter name -> value).
    X, y : array-like
        The training data.
    folds : Folds
        The validation folds (their states are shared by every kind).
    fit_fold : callable
        ``fit_fold(kind, values, X_fit, y_fit, fold, state) -> (model, extra)``.
    log : callable or None
        Gets one line per candidate and fold.

    Returns
    -------
    tables : dict of str to list of dict
        Per kind, one row per candidate: its values, ``val_bacc`` and ``val_log_loss``
        (means over the folds), the means of ``extra`` and ``cpu_s`` (process time of
        fitting, summed over the folds).
    chosen : dict of str to dict
        Per kind, the chosen candidate's values (:func:`~benchmarks.ranking.best_candidate`,
        bACC rounded to 6 decimals).
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    chosen: dict[str, dict[str, Any]] = {}
    index = {"sample_index": np.arange(len(y))}
    for kind, grid in grids.items():
        build = partial(FoldFit, partial(fit_fold, kind), folds)
        rows = search(build, grid, X, y, folds, fit_params=index, per_fold=True)
        table = []
        for cand, row in zip(grid, rows):
            if row["status"] != "ok":
                raise RuntimeError(f"{kind} {cand}: {row['reason']}")
            bacc, loss = row.pop("val_bacc_folds"), row.pop("val_log_loss_folds")
            del row["status"]
            table.append({**cand, **row})
            for i, (b, ll) in enumerate(zip(bacc, loss)):
                if log is not None:
                    log(f"  [tune fold {i}] {kind} {cand}: val bACC {100 * b:.1f} "
                        f"log-loss {ll:.3f}")  # fmt: skip
        tables[kind] = table
        top = best_candidate(table, decimals=6)
        chosen[kind] = {k: top[k] for k in grid[0]}
    return tables, chosen
