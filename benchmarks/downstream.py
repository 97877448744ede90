"""The offline sampler in front of downstream models unlike its ``g`` (issue 15, item 6).

For every data set and every fold of a stratified K-fold cross-validation, each cell is
``Pipeline([StandardScaler(), sampler, model])`` fitted on the training fold and scored by
scikit-learn's ``balanced_accuracy_score`` on the test fold:

* models (:data:`MODELS`): ``LogisticRegression``, ``HistGradientBoostingClassifier``
  and the benchmark's MLP (:class:`~m2m_sampler.longtail.models.MLP` through
  :class:`~benchmarks.compare.methods.SeededNetClassifier`, as ``benchmarks.compare`` trains it);
* samplers: none, ``RandomOverSampler``, ``SMOTE`` (``k_neighbors=min(5, n_min - 1)``)
  and :class:`~m2m_sampler.M2MOverSampler` at the settings of :data:`M2M_SETTINGS` (from
  few to most translations accepted), each with ``g=None`` (the sampler's own MLP) and,
  where the model converts to torch, with ``g`` = the model itself fitted by ERM on the
  same training fold (the LogisticRegression; the MLP network of the "none" row);
  gradient boosting does not convert, so it only gets ``g=None``.

A sampler's output does not depend on the model after it, so each sampler is fitted once
per fold and its resampled rows feed every model: the same numbers as fitting each
pipeline on its own with the same ``random_state`` (``tests/test_downstream_bench.py``
checks one cell against an imbalanced-learn ``Pipeline``). Nothing is tuned: every
parameter is fixed before the run, so no test fold chooses anything.

Writes ``<out>/<name>.json`` (every fold's score, accepted shares, CPU time, command and
machine) and ``<out>/<name>.md`` (one table per data set). Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.downstream --out benchmarks/results/downstream
    OMP_NUM_THREADS=1 python -m benchmarks.downstream --datasets reuters8 --n-splits 2 \
        --mlp-epochs 20 --name reuters8 --out benchmarks/results/downstream
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from benchmarks.compare.methods import MethodContext, TrainParams, make_net
from benchmarks.compare.report import environment, pipe_table, save_json
from benchmarks.datasets import load_tabular
from m2m_sampler.over_sampler import M2MOverSampler

__all__ = [
    "M2M_SETTINGS",
    "MODELS",
    "DownstreamData",
    "load_downstream_data",
    "run_downstream",
    "downstream_markdown",
]

#: M2MOverSampler settings, from the default (few translations accepted) to many.
M2M_SETTINGS: dict[str, dict[str, float]] = {
    "default": {"beta": 0.999, "gamma": 0.9, "step_size": 0.1},
    "beta0.99-step0.3": {"beta": 0.99, "gamma": 0.9, "step_size": 0.3},
    "beta0.9-step0.5": {"beta": 0.9, "gamma": 0.9, "step_size": 0.5},
}

#: Models whose fitted ERM instance can serve as ``g`` (converted exactly to torch).
CONVERTIBLE = ("logreg", "mlp")

#: Labels of the models in tables.
MODELS: dict[str, str] = {
    "logreg": "LogisticRegression",
    "hgb": "HistGradientBoosting",
    "mlp": "MLP (skorch)",
}


@dataclass
class DownstreamData:
    """A data set of the study.

    Attributes
    ----------
    name : str
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    description : str
    test : tuple of ndarray or None
        ``(X_test, y_test)`` of a fixed split (``X, y`` are then its training part, and
        seeds replace the folds); None: cross-validation.
    models : tuple of str or None
        The models run on it (None: every one asked for).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    description: str
    test: tuple[np.ndarray, np.ndarray] | None = None
    models: tuple[str, ...] | None = None


def load_downstream_data(name: str, n_samples: int = 1500) -> DownstreamData:
    """Load a data set of the study by name.

    Parameters
    ----------
    name : str
        ``"synthetic"`` (the issue's set: ``make_classification(n_samples, n_classes=3,
        n_features=20, n_informative=4, weights=[0.8, 0.15, 0.05], random_state=0)``) or
        a shared tabular set (:func:`m2m_sampler.datasets.load_tabular`; ``ecoli`` without
        its two classes of 2 samples), or ``"reuters8"``: Reuters-21578
        (:func:`benchmarks.text_datasets.load_reuters`, ModApte, single-topic) reduced to
        its 8 largest topics, TF-IDF of a 300-term vocabulary (English stop words out,
        fitted on the ModApte training part only), the fixed ModApte split, and only the
        logistic regression and the MLP (gradient boosting on the ~22k re-balanced rows
        is too slow for this study's CPU budget).
    n_samples : int, default=1500
        Rows of the synthetic set.

    Returns
    -------
    DownstreamData
    """
    if name == "reuters8":
        return _reuters8()
    if name == "synthetic":
        X, y = make_classification(
            n_samples=n_samples,
            n_classes=3,
            n_features=20,
            n_informative=4,
            weights=[0.8, 0.15, 0.05],
            random_state=0,
        )
        desc = (
            f"make_classification(n_samples={n_samples}, n_classes=3, n_features=20, "
            "n_informative=4, weights=[0.8, 0.15, 0.05], random_state=0)"
        )
        return DownstreamData(name, X, y, desc)
    X, y = load_tabular(name, return_X_y=True)
    labels, counts = np.unique(y, return_counts=True)
    keep = np.isin(y, labels[counts >= 5])
    X, y = X[keep], y[keep]
    labels, counts = np.unique(y, return_counts=True)
    desc = (
        f"shared tabular set {name!r}"
        + (f" (classes with < 5 rows dropped: {int((~keep).sum())} rows)" if (~keep).any() else "")
        + f": {len(y)} rows, {X.shape[1]} features, class sizes {sorted(counts.tolist())[::-1]}"
    )
    return DownstreamData(name, X, y, desc)


def _reuters8(n_topics: int = 8, vocabulary: int = 300) -> DownstreamData:
    from benchmarks.text_datasets import load_reuters, reuters_vectorizer

    d = load_reuters()
    top = list(d.class_names[:n_topics])
    tr, te = np.isin(d.y_train, top), np.isin(d.y_test, top)
    text_tr = [t for t, k in zip(d.text_train, tr) if k]
    text_te = [t for t, k in zip(d.text_test, te) if k]
    vec = reuters_vectorizer(vocabulary, stop_words="english", dtype=np.float64)
    X_tr, X_te = vec.fit_transform(text_tr), vec.transform(text_te)
    y_tr, y_te = d.y_train[tr], d.y_test[te]
    counts = sorted(np.unique(y_tr, return_counts=True)[1].tolist())[::-1]
    desc = (
        f"Reuters-21578 ModApte single-topic, the {n_topics} largest topics {top}, TF-IDF "
        f"of {vocabulary} terms (fitted on the training part): {len(y_tr)} training rows "
        f"(class sizes {counts}), {len(y_te)} test rows, the fixed ModApte split"
    )
    return DownstreamData("reuters8", X_tr, y_tr, desc, test=(X_te, y_te), models=("logreg", "mlp"))


def _model(key: str, X: np.ndarray, y: np.ndarray, seed: int, mlp_epochs: int) -> Any:
    if key == "logreg":
        return LogisticRegression(max_iter=1000)
    if key == "hgb":
        return HistGradientBoostingClassifier(random_state=seed)
    classes, counts = np.unique(y, return_counts=True)
    ctx = MethodContext(
        n_features=X.shape[1],
        classes=classes,
        train_counts=counts,
        seed=seed,
        standardize=True,
        clip=None,
        train=TrainParams(epochs=mlp_epochs, tensor_loader=True),
    )
    return make_net(ctx)


def _samplers(y: np.ndarray, seed: int) -> dict[str, Callable[[Any], Any]]:
    """Sampler row -> builder taking ``g`` (None or a fitted model)."""
    n_min = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    out: dict[str, Callable[[Any], Any]] = {
        "none": lambda g: None,
        "ros": lambda g: RandomOverSampler(random_state=seed),
        "smote": lambda g: SMOTE(k_neighbors=max(1, min(5, n_min - 1)), random_state=seed),
    }
    for name, params in M2M_SETTINGS.items():
        out[f"m2m[{name}]"] = lambda g, p=params: M2MOverSampler(
            g=g, device="cpu", random_state=seed, **p
        )
    return out


def _fit(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X.astype(np.float32) if hasattr(model, "module") else X, y)


def _predict(model: Any, X: np.ndarray) -> np.ndarray:
    return model.predict(X.astype(np.float32) if hasattr(model, "module") else X)


def run_downstream(
    data: DownstreamData,
    *,
    n_splits: int = 5,
    seed: int = 0,
    models: Sequence[str] = tuple(MODELS),
    mlp_epochs: int = 50,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cross-validate every (sampler, g, model) cell on one data set.

    Parameters
    ----------
    data : DownstreamData
    n_splits : int, default=5
        Folds of the stratified K-fold (shuffled with ``seed``).
    seed : int, default=0
        Seeds the folds, the samplers and the models.
    models : sequence of str, default=all of :data:`MODELS`
    mlp_epochs : int, default=50
        Epochs of the MLP (Adam, lr 1e-3, batch 64, tensor batches).
    progress : callable or None
        Receives one line per fold.

    Returns
    -------
    dict
        ``rows``: one dict per cell (``sampler``, ``g``, ``model``, ``fold_bacc``,
        ``mean``, ``std``, ``accepted_share`` per fold for M2m, ``cpu_s``); ``counts``.
    """
    X, y = data.X, data.y
    if data.models is not None:
        models = [m for m in models if m in data.models]
    if data.test is None:
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = [(seed, X[tr], y[tr], X[te], y[te]) for tr, te in cv.split(X, y)]
        what = f"{n_splits}-fold stratified CV (seed {seed})"
    else:  # a fixed split, repeated with seeds seed, seed + 1, ...
        splits = [(seed + i, X, y, *data.test) for i in range(n_splits)]
        what = f"the fixed split, seeds {seed}..{seed + n_splits - 1}"
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}

    def record(sampler: str, g: str, model: str, score: float, cpu: float, share=None):
        cell = cells.setdefault(
            (sampler, g, model),
            {"sampler": sampler, "g": g, "model": model, "fold_bacc": [], "cpu_s": 0.0},
        )
        cell["fold_bacc"].append(float(score))
        cell["cpu_s"] += cpu
        if share is not None:
            cell.setdefault("accepted_share", []).append(float(share))

    for fold, (seed, X_tr, ytr, X_te, yte) in enumerate(splits):
        t_fold = time.process_time()
        scaler = StandardScaler().fit(X_tr)
        Xtr, Xte = scaler.transform(X_tr), scaler.transform(X_te)
        erm: dict[str, Any] = {}  # the "none" models, also the g of the same kind
        for sampler_key, build in _samplers(ytr, seed).items():
            g_options = ["none"] if sampler_key == "none" else ["mlp-default"]
            if sampler_key.startswith("m2m"):
                g_options += [m for m in models if m in CONVERTIBLE]
            elif sampler_key != "none":
                g_options = ["-"]
            for g_key in g_options:
                t0 = time.process_time()
                g = erm.get(g_key) if g_key in CONVERTIBLE else None
                sampler = build(g)
                share = None
                if sampler is None:
                    Xs, ys = Xtr, ytr
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        Xs, ys = sampler.fit_resample(Xtr, ytr)
                    if hasattr(sampler, "is_translated_"):
                        share = float(sampler.is_translated_.mean())
                t_sample = time.process_time() - t0
                targets = [g_key] if g_key in CONVERTIBLE else list(models)
                for m in targets:
                    t1 = time.process_time()
                    model = _fit(_model(m, Xtr, ytr, seed, mlp_epochs), Xs, ys)
                    score = balanced_accuracy_score(yte, _predict(model, Xte))
                    if sampler_key == "none":
                        erm[m] = model
                    cpu = time.process_time() - t1 + t_sample / len(targets)
                    g_label = "-" if sampler_key in ("none", "ros", "smote") else g_key
                    if g_label in CONVERTIBLE:
                        g_label = "same as model"
                    record(sampler_key, g_label, m, score, cpu, share)
        if progress is not None:
            progress(
                f"{data.name} fold {fold + 1}/{n_splits}: {time.process_time() - t_fold:.1f}s CPU"
            )

    rows = []
    for cell in cells.values():
        s = np.asarray(cell["fold_bacc"])
        cell["mean"] = float(s.mean())
        cell["std"] = float(s.std(ddof=1)) if len(s) > 1 else 0.0
        if "accepted_share" in cell:
            cell["accepted_share_mean"] = float(np.mean(cell["accepted_share"]))
        rows.append(cell)
    labels, counts = np.unique(y, return_counts=True)
    return {
        "dataset": data.name,
        "description": data.description,
        "n_splits": n_splits,
        "seed": splits[0][0],
        "protocol": what,
        "mlp_epochs": mlp_epochs,
        "counts": {str(lab): int(c) for lab, c in zip(labels, counts)},
        "rows": rows,
    }


def _row_label(row: dict[str, Any]) -> str:
    if row["sampler"] == "none":
        return "no re-balancing"
    if row["sampler"] in ("ros", "smote"):
        return {"ros": "RandomOverSampler", "smote": "SMOTE"}[row["sampler"]]
    g = "g = own MLP (g=None)" if row["g"] == "mlp-default" else "g = the model (ERM)"
    return f"M2m {row['sampler'][4:-1]}, {g}"


def downstream_markdown(result: dict[str, Any]) -> str:
    """One Markdown table: rows = sampler (and g), columns = models.

    Each cell: mean ± std of the folds' balanced accuracy and, for M2m, the accepted
    share of the added rows (``is_translated_.mean()``, mean over folds).

    Parameters
    ----------
    result : dict
        What :func:`run_downstream` returns.

    Returns
    -------
    str
    """
    models = [m for m in MODELS if any(r["model"] == m for r in result["rows"])]
    order: list[str] = []
    table: dict[str, dict[str, str]] = {}
    base = {
        m: next(r["mean"] for r in result["rows"] if r["model"] == m and r["sampler"] == "none")
        for m in models
    }
    for r in result["rows"]:
        label = _row_label(r)
        if label not in table:
            order.append(label)
            table[label] = {}
        cell = f"{r['mean']:.3f} ± {r['std']:.3f}"
        if r["sampler"] != "none":
            cell += f" ({r['mean'] - base[r['model']]:+.3f})"
        if "accepted_share_mean" in r:
            cell += f", {100 * r['accepted_share_mean']:.0f}% transl."
        table[label][r["model"]] = cell
    lines = [
        f"### {result['dataset']}",
        "",
        f"{result['description']}; {result['protocol']}, balanced accuracy mean ± std over "
        "folds (seeds), (difference to no "
        "re-balancing with the same model), share of added rows that are accepted "
        "translations.",
        "",
    ]
    lines += pipe_table(
        ["sampler", *(MODELS[m] for m in models)],
        [[label, *(table[label].get(m, "n/a") for m in models)] for label in order],
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the study and write its files.

    Parameters
    ----------
    argv : list of str or None

    Returns
    -------
    int
        Exit status.
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["synthetic", "glass", "ecoli", "dermatology"])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--n-splits", type=int, default=5)
    p.add_argument("--n-samples", type=int, default=1500, help="rows of the synthetic set")
    p.add_argument("--mlp-epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/downstream")
    p.add_argument("--name", default="downstream", help="stem of the files written")
    p.add_argument("--note", default="", help="a line about the machine's load")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    results = []
    for name in args.datasets:
        data = load_downstream_data(name, n_samples=args.n_samples)
        results.append(
            run_downstream(
                data,
                n_splits=args.n_splits,
                seed=args.seed,
                models=args.models,
                mlp_epochs=args.mlp_epochs,
                progress=lambda line: print(line, file=sys.stderr, flush=True),
            )
        )
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    command = shlex.join(
        ["python", "-m", "benchmarks.downstream", *(sys.argv[1:] if argv is None else argv)]
    )
    doc = {
        "command": command,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "note": args.note,
        "wall_s": wall,
        "process_cpu_s": cpu,
        **environment("cpu"),
        "results": results,
    }
    save_json(out / f"{args.name}.json", doc, compact_lists=True)
    header = [
        "# M2MOverSampler in front of other models",
        "",
        f"Command: `{doc['command']}` ({doc['date']}); {wall:.0f} s wall, {cpu:.0f} s "
        f"process CPU on {doc['machine']['cpu_count']} cores, torch threads "
        f"{doc['machine']['torch_threads']}. {args.note}",
        "",
    ]
    (out / f"{args.name}.md").write_text(
        "\n".join(header) + "\n".join(downstream_markdown(r) for r in results)
    )
    print(f"wrote {out / args.name}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
