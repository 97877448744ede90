"""``benchmarks.compare --tune``: every method's few hyper-parameters, chosen on validation data.

The test split of the benchmark is never used. The training part of the first seed's
split is divided, per class, into a *fit* part and a *validation* part
(:func:`~benchmarks.compare.validation.carve_validation`, seeded with
:data:`CARVING_SEED`), which scikit-learn sees as a
:class:`~sklearn.model_selection.PredefinedSplit`. Each method's candidates (the
:class:`~sklearn.model_selection.ParameterGrid` of :data:`METHOD_GRIDS`, and of
:func:`m2m_grid` for M2m, whose ``g`` is the ERM network of the fit part) are fitted on
the fit part and scored on the validation part by the lab's one tuning loop
(:func:`benchmarks.search.search`, :func:`~sklearn.model_selection.cross_validate`):
balanced accuracy and the class-balanced log-loss
(:func:`~benchmarks.compare.validation.balanced_log_loss`).
The best by balanced accuracy, ties broken by the lower log-loss, then by grid order
(defaults first), is chosen (:func:`~benchmarks.compare.validation.ranking_key`); the
chosen values then serve every seed (:func:`tuned_settings`, :func:`chosen_table`).
``benchmarks.tune_m2m`` (the lab's search of M2m's values for the committed results),
Table 2 and the M2MClassifier study score their candidates with the same loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.model_selection import ParameterGrid, PredefinedSplit

from benchmarks.compare.data import BenchData, Split
from benchmarks.compare.methods import (
    M2mParams,
    MethodContext,
    TrainParams,
    build_pipeline,
)
from benchmarks.compare.validation import carve_validation, ranking_key
from benchmarks.search import search
from m2m_sampler.exceptions import LowAcceptanceWarning

__all__ = [
    "CARVING_SEED",
    "METHOD_GRIDS",
    "chosen_table",
    "m2m_grid",
    "tune_methods",
    "tuned_settings",
]

#: The validation part is carved with this seed (carving ``r`` of the lab's tuning:
#: ``CARVING_SEED + r``).
CARVING_SEED = 1000

#: Parameter grids of each method's hyper-parameters (:data:`~.methods.METHOD_PARAMS`),
#: the default first (it wins ties). ERM and RandomOverSampler have none.
METHOD_GRIDS: dict[str, dict[str, list[Any]]] = {
    "smote": {"k_neighbors": [5, 3, 10]},
    "adasyn": {"n_neighbors": [5, 3, 10]},
    "borderline-smote": {"k_neighbors": [5, 3, 10]},
    "reweight": {"power": [1.0, 0.5]},
}


def m2m_grid(m2m: M2mParams) -> dict[str, list[float]]:
    """M2m's parameter grid around ``m2m``: beta x gamma in (0.99, 0.9), step x (1, 10).

    Parameters
    ----------
    m2m : M2mParams
        Gives ``step_size``, the base of the step grid (the other values stay as given).

    Returns
    -------
    dict
        ``beta``, ``gamma`` and ``step_size``: 8 candidates, in
        :class:`~sklearn.model_selection.ParameterGrid` order (0.99 and the given step
        first).
    """
    return {
        "beta": [0.99, 0.9],
        "gamma": [0.99, 0.9],
        "step_size": [m2m.step_size * f for f in (1.0, 10.0)],
    }


def _effective(params: dict[str, Any], n_min: int) -> tuple:
    """The values a candidate runs with: neighbour counts capped at ``n_min - 1``."""
    return tuple(
        (k, min(v, n_min - 1) if "neighbors" in k and n_min >= 2 else v)
        for k, v in sorted(params.items())
    )


def tune_methods(
    data: BenchData,
    split: Split,
    methods: list[str],
    train: TrainParams,
    m2m: M2mParams,
    val_fraction: float = 0.25,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Choose every method's hyper-parameters on a validation part of ``split``'s training data.

    One per-class carving of ``val_fraction`` of the training part (seeded with
    :data:`CARVING_SEED`) as a ``PredefinedSplit``; every candidate is trained with
    ``train`` and the seed of ``split`` (:func:`~benchmarks.search.search`). Candidates
    that the neighbour cap (``n_min - 1``, as in the benchmark) makes equal are fitted
    once. M2m's low-acceptance warnings are silenced here (the accepted share is in the rows).

    Parameters
    ----------
    data : BenchData
    split : Split
        The benchmark split whose training part is carved.
    methods : list of str
    train : TrainParams
    m2m : M2mParams
        The base of M2m's candidates.
    val_fraction : float, default=0.25
    progress : callable or None
        Receives one line per method.

    Returns
    -------
    dict
        Method key -> ``chosen`` (the chosen values, empty for a method without any) and
        ``candidates`` (each candidate's ``params`` and :func:`~benchmarks.search.search`
        row), for every key of ``methods`` (JSON-ready: ``results.json``'s ``tuning``).
    """
    fit_idx, val_idx = carve_validation(split.y_train, val_fraction, CARVING_SEED)
    test_fold = np.full(len(split.y_train), -1)
    test_fold[val_idx] = 0
    cv, X, y = PredefinedSplit(test_fold), split.X_train, split.y_train
    ctx = MethodContext.for_training_set(data, y[fit_idx], split.seed, train, m2m)

    def build(key: str) -> Callable[[Any], Any]:
        if key == "m2m":
            return lambda p: build_pipeline(key, replace(ctx, m2m=replace(m2m, **p)))
        return lambda params: build_pipeline(key, replace(ctx, params={key: params}))

    out: dict[str, dict[str, Any]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        if "erm" in methods or "m2m" in methods:  # M2m's g: the ERM network of the fit part
            (erm,) = search(build("erm"), [{}], X, y, cv, return_estimator=True)
            pipe = erm.pop("estimator").pipeline_
            ctx.g = None if pipe is None else pipe.named_steps["net"]
        for key in methods:
            grid = m2m_grid(m2m) if key == "m2m" else METHOD_GRIDS.get(key, [])
            cands = list(ParameterGrid(grid))
            if key == "erm":
                cands, rows = [{}], [erm]
            else:  # the neighbour cap may make candidates equal: fit those once
                first: dict[tuple, dict[str, Any]] = {}
                for c in cands:
                    first.setdefault(_effective(c, ctx.n_min), c)
                scored = dict(zip(first, search(build(key), list(first.values()), X, y, cv)))
                rows = [scored[_effective(c, ctx.n_min)] for c in cands]
            rows = [{"params": p, **r} for p, r in zip(cands, rows)]
            ok = [r for r in rows if r["status"] == "ok"]
            chosen = dict(max(ok, key=ranking_key)["params"]) if ok else {}
            out[key] = {"chosen": chosen, "candidates": rows}
            if progress and rows:
                progress(f"  tune {key:<16} {len(rows)} candidate(s): chose {chosen or '-'}")
    return out


def tuned_settings(
    tunings: dict[str, dict[str, Any]], m2m: M2mParams
) -> tuple[dict[str, dict[str, Any]], M2mParams]:
    """The ``params`` of :class:`~.methods.MethodContext` and the M2m values chosen.

    Parameters
    ----------
    tunings : dict
        :func:`tune_methods`' result.
    m2m : M2mParams
        Used for what was not tuned.

    Returns
    -------
    params : dict
        Method key -> chosen hyper-parameters (methods of :data:`METHOD_GRIDS`).
    m2m : M2mParams
    """
    params = {k: t["chosen"] for k, t in tunings.items() if k in METHOD_GRIDS and t["chosen"]}
    if tunings.get("m2m", {}).get("chosen"):
        m2m = replace(m2m, **tunings["m2m"]["chosen"])
    return params, m2m


def chosen_table(tuning: dict[str, dict[str, Any]], summary: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the values ``--tune`` chose, and M2m's accepted share.

    Parameters
    ----------
    tuning : dict
        :func:`tune_methods`' result.
    summary : dict
        The run's summary (method -> ``label``, ``acceptance_rate_mean``).

    Returns
    -------
    str
        One row per method: the chosen values (``-``: none to tune), the chosen
        candidate's validation bACC, the number of candidates, and for M2m the share of
        accepted translations on validation and in the run (mean over seeds).
    """
    from benchmarks.compare.report import pipe_table

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}"

    rows = []
    for key, t in tuning.items():
        ok = [c for c in t["candidates"] if c["status"] == "ok"]
        best = max(ok, key=ranking_key) if ok else None
        val = pct(best["val_bacc"]) if best else ("n/a" if t["candidates"] else "-")
        acc = "-"
        if key == "m2m":
            run = summary.get(key, {}).get("acceptance_rate_mean")
            acc = f"{pct(best.get('acceptance_rate') if best else None)} / {pct(run)}"
        chosen = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["chosen"].items()
        )
        label = summary.get(key, {}).get("label", key)
        rows.append([label, chosen or "-", val, len(t["candidates"]), acc])
    header = ["method", "chosen on validation", "val bACC (%)", "candidates"]
    return "\n".join(pipe_table([*header, "accepted (%) val / run"], rows, align="llrrr"))
