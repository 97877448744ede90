"""Tune M2MOverSampler's hyper-parameters on validation splits carved from training data.

The test split of the benchmark is never used. For the benchmark split of
``--split-seed`` (the same rule as ``python -m benchmarks.compare``), the training part is divided
``--repeats`` times, per class, into a *fit* part and a *validation* part
(:func:`~benchmarks.compare.validation.carve_validation`; carving ``r`` is seeded with
``CARVING_SEED + r`` and trains with seed ``r``), the folds of one
:class:`benchmarks.search.Folds`. ``g`` (the ERM network of the benchmark) is trained on
each fit part; every candidate M2m pipeline is then scored on every carving by the lab's
one tuning loop, :func:`benchmarks.search.search` (``cross_validate``: validation balanced
accuracy and balanced log-loss), and the scores are averaged over the carvings.

To stay cheap the grid is searched in two stages (the paper's candidates for beta,
lambda and gamma; step sizes for standardised features / pixels in [0, 1]):

1. ``f = None``: every (beta, gamma, step_size) of :data:`BETAS` x :data:`GAMMAS` x
   :data:`STEPS` (18 candidates);
2. ``f = g`` (a snapshot of g in the ``lam * f_k0`` term of Eq. 2): lambda in
   :data:`LAMS` at the best (beta, gamma, step_size) of stage 1 (3 candidates).

ERM and RandomOverSampler are scored on the same validation parts for reference (M2m with
every translation rejected is RandomOverSampler). Candidates are ranked by mean validation
bACC, ties broken by the lower mean balanced log-loss
(:func:`~benchmarks.compare.validation.ranking_key`); stage 2 wins only if it ranks
strictly higher. The chosen values are written with the full table to ``<out>/<tag>.json``
and ``.md``; the ``bench_args`` field holds the matching ``python -m benchmarks.compare`` options.

Usage::

    python -m benchmarks.tune_m2m --dataset digits-lt --out benchmarks/results/tuning
    python -m benchmarks.tune_m2m --dataset satimage --imbalance-ratio 100 --epochs 30
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.compare import M2mParams, TrainParams, load_bench_data
from benchmarks.compare.data import BenchData
from benchmarks.compare.methods import MethodContext, build_pipeline
from benchmarks.compare.report import pipe_table, save_json
from benchmarks.compare.runner import print_progress
from benchmarks.compare.tuning import CARVING_SEED
from benchmarks.compare.validation import ranking_key
from benchmarks.search import FoldFit, Folds, search
from benchmarks.tabular import named_sets

#: Stage-1 grid: beta, gamma and step size (with ``f = None``).
BETAS = (0.9, 0.99, 0.999)
GAMMAS = (0.9, 0.99)
STEPS = (0.1, 0.5, 1.0)
#: Stage-2 grid: lambda (with ``f = g``), at the best stage-1 values.
LAMS = (0.01, 0.1, 0.5)


def tune_m2m(
    data: BenchData,
    split_seed: int = 0,
    repeats: int = 2,
    val_fraction: float = 0.25,
    epochs: int = TrainParams.epochs,
    n_steps: int = M2mParams.n_steps,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Two-stage search of M2m's hyper-parameters on carvings of one benchmark split.

    Parameters
    ----------
    data : BenchData
    split_seed : int, default=0
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
    dict
        ``stage1``, ``stage2`` (every candidate's row: its values, ``val_bacc`` (mean over
        the carvings), ``val_bacc_folds``, ``val_log_loss``, ``acceptance_rate``),
        ``best`` (the chosen row), ``reference`` (mean validation bACC of ``"erm"`` and
        ``"ros"``), ``n_fit`` and ``n_val`` (sizes of each carving's parts).
    """
    split = data.split(split_seed)
    X, y = split.X_train, split.y_train
    train = TrainParams(epochs=epochs, device="cpu")
    seeds = [CARVING_SEED + r for r in range(repeats)]

    def context(r: int, Xf: Any, yf: np.ndarray) -> MethodContext:
        """Carving ``r``'s methods: trained with seed ``r`` (``g``: its ERM network)."""
        return MethodContext.for_training_set(data, yf, r, train)

    def fit_fold(key: str, p: M2mParams | None, Xf, yf, r: int, ctx: MethodContext) -> tuple:
        pipe = build_pipeline(key, ctx if p is None else replace(ctx, m2m=p)).fit(Xf, yf)
        if key == "erm":  # the carving's g
            ctx.g = pipe.named_steps["net"]
        return pipe, {}

    folds = Folds.carved(y, val_fraction, seeds, context)
    index = {"sample_index": np.arange(len(y))}

    def search_folds(key: str, cands: list[Any]) -> list[dict[str, Any]]:
        build = partial(FoldFit, partial(fit_fold, key), folds)
        return search(build, cands, X, y, folds, fit_params=index, per_fold=True)

    ref = {k: search_folds(k, [None])[0]["val_bacc_folds"] for k in ("erm", "ros")}
    n_fit = [len(f) for f, _ in folds.folds]
    n_val = [len(v) for _, v in folds.folds]
    if progress:
        for r in range(repeats):
            progress(
                f"repeat {r}: fit {n_fit[r]}, validation {n_val[r]}; ERM "
                f"{ref['erm'][r]:.4f}, ROS {ref['ros'][r]:.4f}"
            )

    def score(cands: list[M2mParams]) -> list[dict[str, Any]]:
        rows = []
        for p, res in zip(cands, search_folds("m2m", cands)):
            row = {**vars(p), "val_bacc": res["val_bacc"], "val_bacc_folds": res["val_bacc_folds"]}
            row["val_log_loss"] = res["val_log_loss"]
            row["acceptance_rate"] = res.get("acceptance_rate", float("nan"))
            rows.append(row)
            if progress:
                progress(
                    f"  beta {p.beta:<6} gamma {p.gamma:<5} step {p.step_size:<4} f {p.f:<4} "
                    f"lam {p.lam:<5} -> val bACC {row['val_bacc']:.4f}, log-loss "
                    f"{row['val_log_loss']:.4f}, accepted {100 * row['acceptance_rate']:.1f}%"
                )
        return rows

    rows1 = score(
        [
            M2mParams(beta=b, gamma=g, step_size=s, n_steps=n_steps, f="none", lam=0.0)
            for b, g, s in itertools.product(BETAS, GAMMAS, STEPS)
        ]
    )
    b1 = max(rows1, key=ranking_key)
    rows2 = score(
        [
            M2mParams(
                beta=b1["beta"],
                gamma=b1["gamma"],
                step_size=b1["step_size"],
                n_steps=n_steps,
                f="g",
                lam=lam,
            )
            for lam in LAMS
        ]
    )
    b2 = max(rows2, key=ranking_key)
    return {
        "stage1": rows1,
        "stage2": rows2,
        "best": b2 if ranking_key(b2) > ranking_key(b1) else b1,
        "reference": {k: float(np.mean(v)) for k, v in ref.items()},
        "n_fit": n_fit,
        "n_val": n_val,
    }


def bench_args(best: dict[str, Any]) -> str:
    """The ``benchmarks.compare`` options of a chosen row (``--lam``: the default if ``f`` is none).

    Parameters
    ----------
    best : dict
        A row of :func:`tune_m2m`.

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
    """The Markdown report of a tuning document.

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
    rows = [
        [
            stage,
            f"{r['beta']:g}",
            f"{r['gamma']:g}",
            f"{r['step_size']:g}",
            r["f"],
            f"{r['lam']:g}" if r["f"] == "g" else "-",
            f"{100 * r['val_bacc']:.2f}",
            f"{r['val_log_loss']:.4f}",
            f"{100 * r['acceptance_rate']:.1f}",
        ]
        for stage, rs in (("1", doc["stage1"]), ("2", doc["stage2"]))
        for r in sorted(rs, key=ranking_key, reverse=True)
    ]
    header = ["stage", "beta", "gamma", "step", "f", "lam", "val bACC (%)", "val log-loss"]
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
        *pipe_table([*header, "accepted (%)"], rows, align="lrrrlrrrr"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the two-stage search and write its results.

    Parameters
    ----------
    argv : list of str or None

    Returns
    -------
    int
        Exit status.
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits-lt")
    p.add_argument("--imbalance-ratio", type=float, default=None)
    p.add_argument("--min-class-count", type=int, default=0)
    p.add_argument("--label-column", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--split-seed", type=int, default=0, help="benchmark split to tune on")
    p.add_argument("--repeats", type=int, default=2, help="random validation carvings")
    p.add_argument("--val-fraction", type=float, default=0.25)
    p.add_argument("--epochs", type=int, default=TrainParams.epochs)
    p.add_argument("--n-steps", type=int, default=M2mParams.n_steps)
    p.add_argument("--out", default="benchmarks/results/tuning")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    t_start = time.perf_counter()
    data = load_bench_data(
        args.dataset,
        imbalance_ratio=args.imbalance_ratio,
        label_column=args.label_column,
        named=named_sets(args.data_dir),
        min_class_count=args.min_class_count,
    )
    result = tune_m2m(
        data,
        split_seed=args.split_seed,
        repeats=args.repeats,
        val_fraction=args.val_fraction,
        epochs=args.epochs,
        n_steps=args.n_steps,
        progress=print_progress,
    )
    best, ref = result["best"], result["reference"]
    tag = tuning_tag(args.dataset, args.imbalance_ratio, args.min_class_count)
    doc = {
        "command": " ".join(["python -m benchmarks.tune_m2m", *(argv or sys.argv[1:])]),
        "dataset": data.description,
        "split_seed": args.split_seed,
        "repeats": args.repeats,
        "val_fraction": args.val_fraction,
        "epochs": args.epochs,
        "n_fit": result["n_fit"],
        "n_val": result["n_val"],
        "reference_val_bacc": ref,
        "stage1": result["stage1"],
        "stage2": result["stage2"],
        "best": best,
        "bench_args": bench_args(best),
        "wall_time_s": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_json(out / f"{tag}.json", doc, end="\n")
    (out / f"{tag}.md").write_text(tuning_markdown(tag, doc))
    print(
        f"{tag}: chosen {doc['bench_args']} (val bACC {100 * best['val_bacc']:.1f}; ERM "
        f"{100 * ref['erm']:.1f}, ROS {100 * ref['ros']:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
