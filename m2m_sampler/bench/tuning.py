"""Tune M2MOverSampler's hyper-parameters on validation splits carved from training data.

The test split of the benchmark is never used. For one benchmark split
(:meth:`~m2m_sampler.bench.data.BenchData.split`), the training part is divided, per
class, into a *fit* part and a *validation* part
(:func:`~m2m_sampler.bench.validation.carve_validation`; carving ``r`` is seeded with
``1000 + r``). ``g`` (the ERM network of the benchmark) is trained on the fit part; every
candidate M2m pipeline is then trained on the fit part and scored by balanced accuracy
on the validation part, and the scores are averaged over the carvings
(:func:`make_folds`, :func:`score_m2m`).

To stay cheap the grid is searched in two stages (:func:`tune_m2m`; the paper's
candidates for beta, lambda and gamma; step sizes for standardised features / pixels in
[0, 1]):

1. ``f = None``: every (beta, gamma, step_size) of :data:`BETAS` x :data:`GAMMAS` x
   :data:`STEPS` (18 candidates);
2. ``f = g`` (a snapshot of g in the ``lam * f_k0`` term of Eq. 2): lambda in
   :data:`LAMS` at the best (beta, gamma, step_size) of stage 1 (3 candidates).

ERM and RandomOverSampler are scored on the same validation parts for reference (M2m with
every translation rejected is RandomOverSampler). Candidates are ranked by mean validation
bACC, ties broken by the lower mean balanced log-loss
(:func:`~m2m_sampler.bench.validation.ranking_key`); stage 2 wins only if it ranks
strictly higher. :func:`bench_args` gives the ``m2m-bench`` options of the chosen values,
:func:`tuning_markdown` the table of every candidate. ``benchmarks.tune_m2m`` is the
command line.

``m2m-bench --tune`` (on by default for a CSV file) uses the same carving, scoring and
ranking for *every* method at once, with small grids so that it costs about as much as
the benchmark itself (:func:`tune_methods`): the neighbours of SMOTE, ADASYN and
BorderlineSMOTE, the power of the re-weighting, and M2m's beta, gamma and step size
(:data:`METHOD_GRIDS`, :func:`m2m_candidates`; ``g`` is the ERM network of the fit part);
one carving of the first seed's training part, the chosen values then serve every seed
(:func:`tuned_settings`, :func:`chosen_table`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from .data import BenchData, Split
from .methods import M2mParams, MethodContext, TrainParams, build_pipeline
from .validation import balanced_log_loss, carve_validation, ranking_key

__all__ = [
    "BETAS",
    "GAMMAS",
    "LAMS",
    "METHOD_GRIDS",
    "M2M_BETAS",
    "M2M_GAMMAS",
    "M2M_STEP_FACTORS",
    "STEPS",
    "MethodTuning",
    "TuningResult",
    "ValidationFold",
    "bench_args",
    "m2m_candidates",
    "make_folds",
    "score_m2m",
    "tune_m2m",
    "tune_methods",
    "tuned_settings",
    "tuning_doc",
    "tuning_markdown",
    "tuning_tag",
]

#: Stage-1 grid: beta, gamma and step size (with ``f = None``).
BETAS = (0.9, 0.99, 0.999)
GAMMAS = (0.9, 0.99)
STEPS = (0.1, 0.5, 1.0)
#: Stage-2 grid: lambda (with ``f = g``), at the best stage-1 values.
LAMS = (0.01, 0.1, 0.5)

#: Carving ``r`` is seeded with ``CARVING_SEED + r``.
CARVING_SEED = 1000


@dataclass
class ValidationFold:
    """One carving: the fit and validation parts, and the networks fitted on it.

    Attributes
    ----------
    context : MethodContext
        Built for the fit part (its class counts, seed ``r``), with ``g`` = the ERM
        network fitted on the fit part.
    X_fit, y_fit, X_val, y_val : ndarray
    reference : dict
        Validation bACC of ``"erm"`` and ``"ros"``.
    """

    context: MethodContext
    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    reference: dict[str, float] = field(default_factory=dict)


def make_folds(
    data: BenchData,
    split: Split,
    repeats: int,
    val_fraction: float,
    train: TrainParams,
    progress: Callable[[str], None] | None = None,
) -> list[ValidationFold]:
    """Carve ``repeats`` validation parts from ``split``'s training part; fit ERM and ROS.

    Parameters
    ----------
    data : BenchData
    split : Split
        The benchmark split tuned on (its test part is not used).
    repeats : int
        Number of carvings (carving ``r`` is seeded with ``1000 + r``).
    val_fraction : float
        Share of each class sent to validation.
    train : TrainParams
    progress : callable or None
        Receives one line per carving.

    Returns
    -------
    list of ValidationFold
    """
    folds = []
    for r in range(repeats):
        fit_idx, val_idx = carve_validation(split.y_train, val_fraction, CARVING_SEED + r)
        X_fit, y_fit = split.X_train[fit_idx], split.y_train[fit_idx]
        X_val, y_val = split.X_train[val_idx], split.y_train[val_idx]
        ctx = MethodContext.for_training_set(data, y_fit, r, train)
        fold = ValidationFold(ctx, X_fit, y_fit, X_val, y_val)
        for key in ("erm", "ros"):
            pipe = build_pipeline(key, ctx).fit(X_fit, y_fit)
            fold.reference[key] = balanced_accuracy_score(y_val, pipe.predict(X_val))
            if key == "erm":
                ctx.g = pipe.named_steps["net"]
        folds.append(fold)
        if progress:
            progress(
                f"repeat {r}: fit {len(y_fit)}, validation {len(y_val)}; ERM "
                f"{fold.reference['erm']:.4f}, ROS {fold.reference['ros']:.4f}"
            )
    return folds


def score_m2m(
    params: M2mParams,
    folds: list[ValidationFold],
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit the M2m pipeline with ``params`` on every fold; score it on the validation parts.

    Parameters
    ----------
    params : M2mParams
    folds : list of ValidationFold
    progress : callable or None
        Receives one line.

    Returns
    -------
    dict
        ``params``' fields, ``val_bacc`` (mean over folds), ``val_bacc_folds``,
        ``val_log_loss`` (mean balanced log-loss) and ``acceptance_rate`` (mean share of
        translations accepted).
    """
    scores, losses, acc = [], [], []
    for fold in folds:
        classes = fold.context.classes
        pipe = build_pipeline("m2m", replace(fold.context, m2m=params))
        pipe.fit(fold.X_fit, fold.y_fit)
        proba = pipe.predict_proba(fold.X_val)
        scores.append(balanced_accuracy_score(fold.y_val, classes[proba.argmax(axis=1)]))
        losses.append(balanced_log_loss(fold.y_val, proba, classes))
        st = pipe.named_steps["sampler"].class_stats_.values()
        n_new = sum(s["n_new"] for s in st)
        acc.append(sum(s["n_accepted"] for s in st) / n_new if n_new else float("nan"))
    row = {**vars(params), "val_bacc": float(np.mean(scores)), "val_bacc_folds": scores}
    row["val_log_loss"] = float(np.mean(losses))
    row["acceptance_rate"] = float(np.nanmean(acc))
    if progress:
        progress(
            f"  beta {params.beta:<6} gamma {params.gamma:<5} step {params.step_size:<4} "
            f"f {params.f:<4} lam {params.lam:<5} -> val bACC {row['val_bacc']:.4f}, "
            f"log-loss {row['val_log_loss']:.4f}, accepted {100 * row['acceptance_rate']:.1f}%"
        )
    return row


@dataclass
class TuningResult:
    """What :func:`tune_m2m` found.

    Attributes
    ----------
    stage1, stage2 : list of dict
        Every candidate's row (see :func:`score_m2m`), in grid order.
    best : dict
        The chosen row.
    reference : dict
        Mean validation bACC of ``"erm"`` and ``"ros"`` over the folds.
    n_fit, n_val : list of int
        Sizes of the fit and validation parts of each fold.
    """

    stage1: list[dict[str, Any]]
    stage2: list[dict[str, Any]]
    best: dict[str, Any]
    reference: dict[str, float]
    n_fit: list[int]
    n_val: list[int]

    @property
    def bench_args(self) -> str:
        """The ``m2m-bench`` options of the chosen values (see :func:`bench_args`)."""
        return bench_args(self.best)


def tune_m2m(
    data: BenchData,
    split_seed: int = 0,
    repeats: int = 2,
    val_fraction: float = 0.25,
    epochs: int = TrainParams.epochs,
    n_steps: int = M2mParams.n_steps,
    progress: Callable[[str], None] | None = None,
) -> TuningResult:
    """Two-stage search of M2m's hyper-parameters on carvings of one benchmark split.

    Parameters
    ----------
    data : BenchData
    split_seed : int, default=0
        The benchmark split tuned on (the same rule as ``python -m m2m_sampler.bench``).
    repeats : int, default=2
        Random validation carvings.
    val_fraction : float, default=0.25
    epochs : int
        Training epochs of every network (on the CPU).
    n_steps : int
        M2m's steps per translation.
    progress : callable or None
        Receives one line per carving and per candidate.

    Returns
    -------
    TuningResult
    """
    split = data.split(split_seed)
    train = TrainParams(epochs=epochs, device="cpu")
    folds = make_folds(data, split, repeats, val_fraction, train, progress)
    stage1 = [
        M2mParams(beta=b, gamma=g, step_size=s, n_steps=n_steps, f="none", lam=0.0)
        for b, g, s in itertools.product(BETAS, GAMMAS, STEPS)
    ]
    rows = [score_m2m(p, folds, progress) for p in stage1]
    best1 = max(rows, key=ranking_key)
    stage2 = [
        M2mParams(
            beta=best1["beta"],
            gamma=best1["gamma"],
            step_size=best1["step_size"],
            n_steps=n_steps,
            f="g",
            lam=lam,
        )
        for lam in LAMS
    ]
    rows2 = [score_m2m(p, folds, progress) for p in stage2]
    best2 = max(rows2, key=ranking_key)
    best = best2 if ranking_key(best2) > ranking_key(best1) else best1
    reference = {k: float(np.mean([f.reference[k] for f in folds])) for k in ("erm", "ros")}
    return TuningResult(
        stage1=rows,
        stage2=rows2,
        best=best,
        reference=reference,
        n_fit=[len(f.y_fit) for f in folds],
        n_val=[len(f.y_val) for f in folds],
    )


def bench_args(best: dict[str, Any]) -> str:
    """The ``m2m-bench`` options of a chosen row (``--lam`` the default when ``f`` is none).

    Parameters
    ----------
    best : dict
        A row of :func:`score_m2m`.

    Returns
    -------
    str
    """
    lam = best["lam"] if best["f"] == "g" else M2mParams.lam
    return (
        f"--beta {best['beta']:g} --gamma {best['gamma']:g} --step-size {best['step_size']:g} "
        f"--n-steps {best['n_steps']} --m2m-f {best['f']} --lam {lam:g}"
    )


def tuning_tag(dataset: str, imbalance_ratio: float | None, min_class_count: int = 0) -> str:
    """File stem of a tuning's results: data set, ``_r<ratio>``, ``_min<count>``.

    Parameters
    ----------
    dataset : str
        A data set name or the path of a CSV file (its stem is used).
    imbalance_ratio : float or None
    min_class_count : int, default=0

    Returns
    -------
    str
    """
    name = Path(dataset).stem if dataset.endswith(".csv") else dataset
    tag = name if imbalance_ratio is None else f"{name}_r{imbalance_ratio:g}"
    return tag + (f"_min{min_class_count}" if min_class_count else "")


def tuning_markdown(tag: str, doc: dict[str, Any]) -> str:
    """The Markdown report of a tuning document (as ``benchmarks.tune_m2m`` writes it).

    Parameters
    ----------
    tag : str
    doc : dict
        Holds ``command``, ``wall_time_s``, ``dataset``, ``repeats``, ``val_fraction``,
        ``split_seed``, ``n_fit``, ``n_val``, ``epochs``, ``reference_val_bacc``,
        ``bench_args``, ``stage1`` and ``stage2``.

    Returns
    -------
    str
    """
    ref = doc["reference_val_bacc"]
    lines = [
        f"# M2m tuning: {tag}",
        "",
        f"Command: `{doc['command']}` ({doc['wall_time_s']:.0f} s)",
        "",
        f"Data: {doc['dataset']}",
        "",
        f"Validation: {doc['repeats']} random per-class carvings of {doc['val_fraction']:g} "
        f"of the training part of split seed {doc['split_seed']} (fit sizes {doc['n_fit']}, "
        f"validation sizes {doc['n_val']}); {doc['epochs']} epochs. Reference validation "
        f"bACC: ERM {100 * ref['erm']:.1f}, ROS {100 * ref['ros']:.1f}.",
        "",
        f"Chosen: `{doc['bench_args']}`",
        "",
        "| stage | beta | gamma | step | f | lam | val bACC (%) | val log-loss | accepted (%) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for stage, rs in (("1", doc["stage1"]), ("2", doc["stage2"])):
        for r in sorted(rs, key=ranking_key, reverse=True):
            lam_txt = f"{r['lam']:g}" if r["f"] == "g" else "-"
            lines.append(
                f"| {stage} | {r['beta']:g} | {r['gamma']:g} | {r['step_size']:g} | {r['f']} | "
                f"{lam_txt} | {100 * r['val_bacc']:.2f} | {r['val_log_loss']:.4f} | "
                f"{100 * r['acceptance_rate']:.1f} |"
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# --tune: every method's few hyper-parameters, on one validation carving
# --------------------------------------------------------------------------------------

#: Candidates of each method's hyper-parameters (:data:`~.methods.METHOD_PARAMS`) for
#: ``m2m-bench --tune``, the default first (it wins ties). ERM and RandomOverSampler
#: have none.
METHOD_GRIDS: dict[str, list[dict[str, Any]]] = {
    "smote": [{"k_neighbors": k} for k in (5, 3, 10)],
    "adasyn": [{"n_neighbors": k} for k in (5, 3, 10)],
    "borderline-smote": [{"k_neighbors": k} for k in (5, 3, 10)],
    "reweight": [{"power": p} for p in (1.0, 0.5)],
}
#: M2m's candidates for ``--tune``: beta x gamma x (step size ``s``, ``10 s``) with ``s``
#: the ``--step-size`` given (the others, ``n_steps``, ``f`` and ``lam``, as given).
M2M_BETAS = (0.99, 0.9)
M2M_GAMMAS = (0.99, 0.9)
M2M_STEP_FACTORS = (1.0, 10.0)


def m2m_candidates(m2m: M2mParams) -> list[M2mParams]:
    """M2m's ``--tune`` candidates around ``m2m`` (see :data:`M2M_BETAS`).

    Parameters
    ----------
    m2m : M2mParams
        Gives ``step_size`` (the base of the step grid), ``n_steps``, ``f`` and ``lam``.

    Returns
    -------
    list of M2mParams
        ``len(M2M_BETAS) * len(M2M_GAMMAS) * len(M2M_STEP_FACTORS)`` candidates.
    """
    return [
        replace(m2m, beta=b, gamma=g, step_size=m2m.step_size * f)
        for b, g, f in itertools.product(M2M_BETAS, M2M_GAMMAS, M2M_STEP_FACTORS)
    ]


@dataclass
class MethodTuning:
    """What ``--tune`` chose for one method.

    Attributes
    ----------
    method : str
    chosen : dict
        The chosen hyper-parameters (empty for a method without any).
    candidates : list of dict
        Each candidate's ``params``, ``status`` (``"ok"`` / ``"n/a"``), ``val_bacc``,
        ``val_log_loss`` and, for M2m, ``acceptance_rate``.
    """

    method: str
    chosen: dict[str, Any]
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any] | None:
        """The chosen candidate's row (None without candidates)."""
        ok = [c for c in self.candidates if c["status"] == "ok"]
        return max(ok, key=ranking_key) if ok else None


def _m2m_fields(p: M2mParams) -> dict[str, Any]:
    return {"beta": p.beta, "gamma": p.gamma, "step_size": p.step_size}


def _acceptance(pipe: Any) -> float | None:
    st = pipe.named_steps["sampler"].class_stats_.values()
    n_new = sum(s["n_new"] for s in st)
    return sum(s["n_accepted"] for s in st) / n_new if n_new else None


def tune_methods(
    data: BenchData,
    split: Split,
    methods: list[str],
    train: TrainParams,
    m2m: M2mParams,
    val_fraction: float = 0.25,
    progress: Callable[[str], None] | None = None,
) -> dict[str, MethodTuning]:
    """Choose every method's hyper-parameters on a validation part of ``split``'s training data.

    One per-class carving of ``val_fraction`` of the training part (seeded with
    :data:`CARVING_SEED`); the test part is never used. Each candidate of
    :data:`METHOD_GRIDS` (and, for M2m, :func:`m2m_candidates`, with ``g`` the ERM network
    fitted on the fit part) is trained on the fit part with ``train`` and the seed of
    ``split``, and scored on the validation part; the best by validation bACC, ties broken
    by the lower balanced log-loss, then by grid order (defaults first), is chosen.
    Candidates that cannot run (e.g. too few neighbours) are recorded as ``"n/a"``;
    neighbour counts are capped at ``n_min - 1`` as in the benchmark, and candidates that
    the cap makes equal are fitted once. M2m's low-acceptance warnings are silenced here
    (the accepted share is in the rows).

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
        Receives one line per candidate.

    Returns
    -------
    dict
        Method key -> :class:`MethodTuning`, for every key of ``methods``. Apply them with
        ``params`` (``{key: t.chosen}``) and, for M2m, ``replace(m2m, **chosen)``.
    """
    import warnings

    from ..exceptions import LowAcceptanceWarning
    from .methods import NotApplicable

    fit_idx, val_idx = carve_validation(split.y_train, val_fraction, CARVING_SEED)
    X_fit, y_fit = split.X_train[fit_idx], split.y_train[fit_idx]
    X_val, y_val = split.X_train[val_idx], split.y_train[val_idx]
    ctx = MethodContext.for_training_set(data, y_fit, split.seed, train, m2m)
    classes = ctx.classes

    def score(key: str, c: MethodContext, params: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"params": params}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LowAcceptanceWarning)
                pipe = build_pipeline(key, c).fit(X_fit, y_fit)
        except (NotApplicable, ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            row.update(status="n/a", reason=reason)
            if progress:
                progress(f"  tune {key:<16} {params}: n/a ({reason})")
            return row
        proba = pipe.predict_proba(X_val)
        row.update(
            status="ok",
            val_bacc=float(balanced_accuracy_score(y_val, classes[proba.argmax(axis=1)])),
            val_log_loss=balanced_log_loss(y_val, proba, classes),
            pipe=pipe,
        )
        if key == "m2m":
            row["acceptance_rate"] = _acceptance(pipe)
        if progress:
            acc = row.get("acceptance_rate")
            extra = "" if acc is None else f", accepted {100 * acc:.1f}%"
            progress(
                f"  tune {key:<16} {params}: val bACC {100 * row['val_bacc']:.1f}, "
                f"log-loss {row['val_log_loss']:.3f}{extra}"
            )
        return row

    out: dict[str, MethodTuning] = {}
    if "erm" in methods or "m2m" in methods:
        erm = score("erm", ctx, {})
        if erm["status"] == "ok":
            ctx.g = erm["pipe"].named_steps["net"]
        if "erm" in methods:
            out["erm"] = MethodTuning("erm", {}, [erm])
    for key in methods:
        if key == "erm":
            continue
        if key == "m2m":
            cands = m2m_candidates(m2m)
            rows = [
                score(key, replace(ctx, m2m=p), _m2m_fields(p))
                if ctx.g is not None
                else {"params": _m2m_fields(p), "status": "n/a", "reason": "no g"}
                for p in cands
            ]
        elif key in METHOD_GRIDS:
            rows, seen = [], {}
            for params in METHOD_GRIDS[key]:
                effective = {
                    k: (min(v, ctx.n_min - 1) if "neighbors" in k and ctx.n_min >= 2 else v)
                    for k, v in params.items()
                }
                frozen = tuple(sorted(effective.items()))
                if frozen in seen:
                    rows.append({**seen[frozen], "params": params, "duplicate_of": effective})
                    continue
                row = score(key, replace(ctx, params={key: params}), params)
                seen[frozen] = row
                rows.append(row)
        else:
            out[key] = MethodTuning(key, {})
            continue
        for r in rows:
            r.pop("pipe", None)
        t = MethodTuning(key, {}, rows)
        best = t.best
        t.chosen = dict(best["params"]) if best is not None else {}
        out[key] = t
    if "erm" in out:
        for r in out["erm"].candidates:
            r.pop("pipe", None)
    return {k: out[k] for k in methods}


def tuned_settings(
    tunings: dict[str, MethodTuning], m2m: M2mParams
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
    params = {k: t.chosen for k, t in tunings.items() if k in METHOD_GRIDS and t.chosen}
    if "m2m" in tunings and tunings["m2m"].chosen:
        m2m = replace(m2m, **tunings["m2m"].chosen)
    return params, m2m


def tuning_doc(tunings: dict[str, MethodTuning]) -> dict[str, dict[str, Any]]:
    """:func:`tune_methods`' result as JSON-ready data (``results.json``'s ``tuning``).

    Parameters
    ----------
    tunings : dict

    Returns
    -------
    dict
        Method key -> ``chosen`` and ``candidates``.
    """
    return {k: {"chosen": t.chosen, "candidates": t.candidates} for k, t in tunings.items()}


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def chosen_table(tuning: dict[str, dict[str, Any]], summary: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the values ``--tune`` chose, and M2m's accepted share.

    Parameters
    ----------
    tuning : dict
        :func:`tuning_doc`'s output.
    summary : dict
        The run's summary (method -> ``label``, ``acceptance_rate_mean``).

    Returns
    -------
    str
        One row per method: the chosen values (``-``: none to tune), the chosen
        candidate's validation bACC, the number of candidates, and for M2m the share of
        accepted translations on validation and in the run (mean over seeds).
    """
    lines = [
        "| method | chosen on validation | val bACC (%) | candidates | accepted (%) val / run |",
        "|---|---|---:|---:|---:|",
    ]
    for key, t in tuning.items():
        ok = [c for c in t["candidates"] if c["status"] == "ok"]
        best = max(ok, key=ranking_key) if ok else None
        val = f"{100 * best['val_bacc']:.1f}" if best else ("n/a" if t["candidates"] else "-")
        acc = "-"
        if key == "m2m":
            run = summary.get(key, {}).get("acceptance_rate_mean")
            v = best.get("acceptance_rate") if best else None
            acc = (
                f"{'n/a' if v is None else f'{100 * v:.1f}'} / "
                f"{'n/a' if run is None else f'{100 * run:.1f}'}"
            )
        label = summary.get(key, {}).get("label", key)
        lines.append(
            f"| {label} | {_fmt_params(t['chosen']) or '-'} | {val} | {len(t['candidates'])} "
            f"| {acc} |"
        )
    return "\n".join(lines)
