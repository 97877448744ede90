"""Run every method on every seed, score it and summarise the scores."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from benchmarks.compare.data import BenchData, Split
from benchmarks.compare.methods import (
    METHODS,
    M2mParams,
    MethodContext,
    NotApplicable,
    TrainParams,
    build_pipeline,
)
from m2m_sampler._torch_utils import to_builtin
from m2m_sampler.longtail.metrics import imbalance_report

__all__ = ["BenchResult", "run_benchmark", "summarize"]

#: Scores summarised over seeds (keys of a row), in table order.
SCORES: tuple[str, ...] = ("balanced_accuracy", "gmean", "minor_acc", "major_acc", "fit_time")


@dataclass
class BenchResult:
    """Everything a benchmark run produced.

    Attributes
    ----------
    rows : list of dict
        One per method and seed (see :func:`run_benchmark`).
    splits : list of dict
        One per seed: sizes and class counts of the split.
    classes : list
        Sorted class labels.
    class_order : list
        Classes from the most to the least frequent in training (mean over seeds).
    summary : dict
        Method key -> summary (see :func:`summarize`).
    wall_time : float
        Seconds for the whole run.
    m2m_fit : tuple or None
        ``(pipeline, split)`` of the first seed where M2m ran (for the figures of
        translated samples and accepted translations); not written to JSON.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    splits: list[dict[str, Any]] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)
    class_order: list[Any] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    wall_time: float = 0.0
    m2m_fit: tuple[Any, Split] | None = field(default=None, repr=False)


def _score_row(
    method: str,
    seed: int,
    split: Split,
    classes: np.ndarray,
    y_pred: np.ndarray,
) -> dict[str, Any]:
    rep = imbalance_report(split.y_test, y_pred, split.y_train)
    cm = confusion_matrix(split.y_test, y_pred, labels=classes)
    return {
        "method": method,
        "label": METHODS[method].label,
        "seed": seed,
        "status": "ok",
        "reason": None,
        "accuracy": rep["accuracy"],
        "balanced_accuracy": rep["balanced_accuracy"],
        "gmean": rep["gmean"],
        "major_acc": rep["major_acc"],
        "minor_acc": rep["minor_acc"],
        "major_classes": rep["major_classes"],
        "minor_classes": rep["minor_classes"],
        "per_class_recall": rep["per_class_recall"],
        "confusion_matrix": cm.tolist(),
    }


def _sampler_details(pipe: Any) -> dict[str, Any]:
    """Samples added by the pipeline's sampler and, for M2m, its acceptance statistics."""
    if "sampler" not in pipe.named_steps:
        return {"n_added": 0}
    sampler = pipe.named_steps["sampler"]
    out: dict[str, Any] = {}
    if hasattr(sampler, "class_stats_"):
        stats = {str(k): v for k, v in sampler.class_stats_.items()}
        n_new = sum(s["n_new"] for s in stats.values())
        n_acc = sum(s["n_accepted"] for s in stats.values())
        out.update(
            n_added=int(n_new),
            n_accepted=int(n_acc),
            acceptance_rate=(n_acc / n_new) if n_new else None,
            n_rejected_gamma=int(sum(s["n_rejected_gamma"] for s in stats.values())),
            n_rejected_beta=int(sum(s["n_rejected_beta"] for s in stats.values())),
            class_stats=stats,
            translation_time=float(sampler.translation_time_),
        )
    elif hasattr(sampler, "sampling_strategy_"):
        out["n_added"] = int(sum(sampler.sampling_strategy_.values()))
    return out


def run_benchmark(
    data: BenchData,
    methods: Sequence[str],
    seeds: Sequence[int],
    train: TrainParams,
    m2m: M2mParams,
    progress: Callable[[str], None] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> BenchResult:
    """Fit and score every method on every seed.

    For each seed, the split is made once and shared by all methods. When M2m is asked
    for, the ERM pipeline of the seed is fitted first and its network serves as M2m's
    ``g`` (when ERM is not among ``methods`` it is fitted anyway, for ``g`` only, and not
    reported). A method that cannot run on a split (:class:`NotApplicable`, or a
    ``ValueError`` / ``RuntimeError`` raised while fitting, e.g. ADASYN finding no
    neighbour of another class) gives a row with ``status="n/a"`` and the reason.

    Parameters
    ----------
    data : BenchData
    methods : sequence of str
        Keys of :data:`~benchmarks.compare.methods.METHODS`.
    seeds : sequence of int
    train : TrainParams
    m2m : M2mParams
    progress : callable or None
        Receives one line per method and seed.
    params : dict or None
        Method key -> hyper-parameters (:attr:`MethodContext.params`, e.g. chosen by
        :func:`~benchmarks.compare.tuning.tune_methods`); None: the defaults.

    Returns
    -------
    BenchResult
        ``rows`` hold: ``method``, ``label``, ``seed``, ``status`` (``"ok"`` / ``"n/a"``),
        ``reason``, the scores (``accuracy``, ``balanced_accuracy``, ``gmean``,
        ``major_acc``, ``minor_acc``), ``major_classes``, ``minor_classes``,
        ``per_class_recall`` (str label -> recall), ``confusion_matrix`` (rows: true class,
        columns: predicted class, both in ``classes`` order), ``fit_time`` (seconds of
        ``Pipeline.fit``: sampler + network), ``n_added`` (samples added by the sampler)
        and, for M2m, ``g_fit_time`` (the ERM fit reused as ``g``), ``n_accepted``,
        ``acceptance_rate``, ``n_rejected_gamma``, ``n_rejected_beta``, ``class_stats``
        and ``translation_time``.
    """
    start = time.perf_counter()
    result = BenchResult()
    classes = data.classes
    result.classes = [to_builtin(c) for c in classes]
    order = ["erm"] if any(METHODS[m].needs_g for m in methods) else []
    order += [m for m in methods if m not in order]
    total = len(methods) * len(seeds)
    done = 0
    train_counts_sum = np.zeros(len(classes))
    for seed in seeds:
        split = data.split(seed)
        ctx = MethodContext.for_training_set(data, split.y_train, seed, train, m2m)
        ctx.params = dict(params or {})
        train_counts_sum += ctx.train_counts
        result.splits.append(
            {
                "seed": seed,
                "n_train": len(split.y_train),
                "n_test": len(split.y_test),
                "train_counts": {str(k): v for k, v in split.counts("train").items()},
                "test_counts": {str(k): v for k, v in split.counts("test").items()},
            }
        )
        g_fit_time = None
        for method in order:
            reported = method in methods
            t0 = time.perf_counter()
            try:
                pipe = build_pipeline(method, ctx)
                pipe.fit(split.X_train, split.y_train)
            except (NotApplicable, ValueError, RuntimeError) as exc:
                if not reported:
                    raise
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                if not isinstance(exc, NotApplicable):
                    reason = f"{type(exc).__name__}: {reason}"
                row = {
                    "method": method,
                    "label": METHODS[method].label,
                    "seed": seed,
                    "status": "n/a",
                    "reason": reason,
                }
                result.rows.append(row)
                done += 1
                if progress:
                    progress(
                        f"[{done:>3}/{total}] seed {seed:<3} {METHODS[method].label:<16} "
                        f"n/a: {reason}"
                    )
                continue
            fit_time = time.perf_counter() - t0
            if method == "erm":
                ctx.g = pipe.named_steps["net"]
                g_fit_time = fit_time
            if not reported:
                continue
            row = _score_row(method, seed, split, classes, pipe.predict(split.X_test))
            row["fit_time"] = fit_time
            row.update(_sampler_details(pipe))
            if method == "m2m" and result.m2m_fit is None:
                result.m2m_fit = (pipe, split)
            if METHODS[method].needs_g:
                row["g_fit_time"] = g_fit_time
            result.rows.append(row)
            done += 1
            if progress:
                extra = ""
                if row.get("acceptance_rate") is not None:
                    extra = f"  accepted {row['n_accepted']}/{row['n_added']}"
                progress(
                    f"[{done:>3}/{total}] seed {seed:<3} {METHODS[method].label:<16} "
                    f"bACC {100 * row['balanced_accuracy']:5.1f}  GM {100 * row['gmean']:5.1f}  "
                    f"minor {100 * row['minor_acc']:5.1f}  fit {fit_time:6.2f}s{extra}"
                )
    order_idx = np.lexsort((np.arange(len(classes)), -train_counts_sum))
    result.class_order = [result.classes[i] for i in order_idx]
    result.summary = summarize(result.rows, methods, result.classes, result.class_order)
    result.wall_time = time.perf_counter() - start
    return result


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None, None
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return float(np.mean(vals)), std


def summarize(
    rows: list[dict[str, Any]],
    methods: Sequence[str],
    classes: list[Any],
    class_order: list[Any],
) -> dict[str, dict[str, Any]]:
    """Mean and standard deviation over seeds of each score, per method.

    Parameters
    ----------
    rows : list of dict
        The rows of :func:`run_benchmark`.
    methods : sequence of str
    classes : list
        Sorted labels (the order of the confusion matrices).
    class_order : list
        Labels from the most to the least frequent training class.

    Returns
    -------
    dict
        Method key -> ``label``, ``n_ok``, ``n_na``, ``na_reasons`` (distinct reasons),
        ``<score>_mean`` / ``<score>_std`` for every score in :data:`SCORES` (sample
        standard deviation over seeds, ``ddof=1``; 0 for one seed; None when no seed
        ran), ``per_class_recall`` (str label -> mean recall, in ``class_order``),
        ``cumulative_false_positives`` (mean over seeds of the cumulative number of false
        positives along ``class_order``), and for M2m ``acceptance_rate_mean`` /
        ``_std`` and ``g_fit_time_mean``.
    """
    pos = {c: i for i, c in enumerate(classes)}
    idx = [pos[c] for c in class_order]
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        ok = [r for r in rows if r["method"] == m and r["status"] == "ok"]
        na = [r for r in rows if r["method"] == m and r["status"] != "ok"]
        s: dict[str, Any] = {
            "label": METHODS[m].label,
            "n_ok": len(ok),
            "n_na": len(na),
            "na_reasons": sorted({r["reason"] for r in na}),
        }
        for key in SCORES:
            s[f"{key}_mean"], s[f"{key}_std"] = _mean_std([r[key] for r in ok])
        if ok:
            recalls = np.array(
                [[r["per_class_recall"].get(str(c), np.nan) for c in class_order] for r in ok]
            )
            with np.errstate(invalid="ignore"):
                mean_recall = np.nanmean(recalls, axis=0)
            s["per_class_recall"] = {
                str(c): (None if np.isnan(v) else float(v))
                for c, v in zip(class_order, mean_recall)
            }
            cum = []
            for r in ok:
                cm = np.asarray(r["confusion_matrix"])
                fp = cm.sum(axis=0) - np.diag(cm)
                cum.append(np.cumsum(fp[idx]))
            s["cumulative_false_positives"] = [float(v) for v in np.mean(cum, axis=0)]
        else:
            s["per_class_recall"] = None
            s["cumulative_false_positives"] = None
        if any("acceptance_rate" in r for r in ok):
            s["acceptance_rate_mean"], s["acceptance_rate_std"] = _mean_std(
                [r.get("acceptance_rate") for r in ok]
            )
            s["g_fit_time_mean"], _ = _mean_std([r.get("g_fit_time") for r in ok])
        out[m] = s
    return out


def print_progress(line: str) -> None:
    """Default progress printer: one line on stderr, flushed."""
    print(line, file=sys.stderr, flush=True)
