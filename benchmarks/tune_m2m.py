"""Tune M2MOverSampler's hyper-parameters on a validation split carved from training data.

The test split of the benchmark is never used. For the benchmark split of ``--split-seed``
(the same rule as ``python -m m2m_sampler.bench``), the training part is divided, per class,
into a *fit* part and a *validation* part (``--val-fraction`` of each class, rounded down, so
a class with fewer than ``1 / val-fraction`` samples stays entirely in the fit part). ``g``
(the ERM network of the benchmark) is trained on the fit part; every candidate M2m pipeline
is then trained on the fit part and scored by balanced accuracy on the validation part.
This is repeated for ``--repeats`` random carvings and the scores are averaged.

To stay cheap the grid is searched in two stages (the paper's candidates for beta, lambda
and gamma; step sizes for standardised features / pixels in [0, 1]):

1. ``f = None``: every (beta, gamma, step_size) of beta in {0.9, 0.99, 0.999},
   gamma in {0.9, 0.99}, step_size in {0.1, 0.5, 1.0} (18 candidates);
2. ``f = g`` (a snapshot of g in the ``lam * f_k0`` term of Eq. 2): lambda in
   {0.01, 0.1, 0.5} at the best (beta, gamma, step_size) of stage 1 (3 candidates).

ERM and RandomOverSampler are scored on the same validation parts for reference (M2m with
every translation rejected is RandomOverSampler). Candidates are ranked by mean validation
bACC, ties (frequent: bACC on a small validation set takes few values) broken by the lower
mean balanced log-loss (per-class mean of ``-log p(true class)``); stage 2 wins only if it
ranks strictly higher. The chosen values are written with the full table to
``<out>/<tag>.json`` and ``.md``; the ``bench_args`` field holds the matching
``m2m-bench`` options.

Usage::

    python benchmarks/tune_m2m.py --dataset digits-lt --out benchmarks/tuning
    python benchmarks/tune_m2m.py --dataset satimage --imbalance-ratio 100 --epochs 30
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from m2m_sampler.bench.data import load_bench_data
from m2m_sampler.bench.methods import M2mParams, MethodContext, TrainParams, build_pipeline

BETAS = (0.9, 0.99, 0.999)
GAMMAS = (0.9, 0.99)
STEPS = (0.1, 0.5, 1.0)
LAMS = (0.01, 0.1, 0.5)


def carve_validation(
    y: np.ndarray, fraction: float, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class random split of training indices into fit and validation parts.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Training labels.
    fraction : float
        Share of each class sent to validation (rounded down).
    rng : RandomState

    Returns
    -------
    fit_idx, val_idx : ndarray of int
    """
    fit, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(fraction * len(idx))
        val.append(idx[:n_val])
        fit.append(idx[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))


def balanced_log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Mean over classes of the mean negative log-probability of the true class.

    The tie-breaker of the search: balanced accuracy on a small validation set takes few
    distinct values, this one is continuous.

    Parameters
    ----------
    y : ndarray of shape (n,)
    proba : ndarray of shape (n, n_classes)
        Columns in the order of ``classes``.
    classes : ndarray

    Returns
    -------
    float
    """
    pos = np.searchsorted(classes, y)
    nll = -np.log(np.clip(proba[np.arange(len(y)), pos], 1e-12, None))
    return float(np.mean([nll[y == c].mean() for c in np.unique(y)]))


def _tag(args: argparse.Namespace) -> str:
    name = Path(args.dataset).stem if args.dataset.endswith(".csv") else args.dataset
    tag = name if args.imbalance_ratio is None else f"{name}_r{args.imbalance_ratio:g}"
    return tag + (f"_min{args.min_class_count}" if args.min_class_count else "")


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
    p.add_argument("--out", default="benchmarks/tuning")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    t_start = time.perf_counter()
    data = load_bench_data(
        args.dataset,
        imbalance_ratio=args.imbalance_ratio,
        label_column=args.label_column,
        data_dir=args.data_dir,
        min_class_count=args.min_class_count,
    )
    split = data.split(args.split_seed)
    train = TrainParams(epochs=args.epochs, device="cpu")
    classes = data.classes

    stage1 = [
        M2mParams(beta=b, gamma=g, step_size=s, n_steps=args.n_steps, f="none", lam=0.0)
        for b, g, s in itertools.product(BETAS, GAMMAS, STEPS)
    ]
    folds = []
    for r in range(args.repeats):
        rng = np.random.RandomState(1000 + r)
        fit_idx, val_idx = carve_validation(split.y_train, args.val_fraction, rng)
        X_fit, y_fit = split.X_train[fit_idx], split.y_train[fit_idx]
        X_val, y_val = split.X_train[val_idx], split.y_train[val_idx]
        counts = np.array([int(np.sum(y_fit == c)) for c in classes])
        ctx = MethodContext(
            n_features=data.n_features,
            classes=classes,
            train_counts=counts,
            seed=r,
            standardize=data.standardize,
            clip=data.clip,
            train=train,
        )
        ref = {}
        for key in ("erm", "ros"):
            pipe = build_pipeline(key, ctx).fit(X_fit, y_fit)
            ref[key] = balanced_accuracy_score(y_val, pipe.predict(X_val))
            if key == "erm":
                ctx.g = pipe.named_steps["net"]
        folds.append((ctx, X_fit, y_fit, X_val, y_val, ref))
        print(
            f"repeat {r}: fit {len(y_fit)}, validation {len(y_val)}; ERM {ref['erm']:.4f}, "
            f"ROS {ref['ros']:.4f}",
            file=sys.stderr,
            flush=True,
        )

    def evaluate(params: M2mParams) -> dict[str, Any]:
        scores, losses, acc = [], [], []
        for ctx, X_fit, y_fit, X_val, y_val, _ in folds:
            ctx.m2m = params
            pipe = build_pipeline("m2m", ctx).fit(X_fit, y_fit)
            proba = pipe.predict_proba(X_val)
            scores.append(balanced_accuracy_score(y_val, classes[proba.argmax(axis=1)]))
            losses.append(balanced_log_loss(y_val, proba, classes))
            st = pipe.named_steps["sampler"].class_stats_.values()
            n_new = sum(s["n_new"] for s in st)
            acc.append(sum(s["n_accepted"] for s in st) / n_new if n_new else float("nan"))
        row = {**vars(params), "val_bacc": float(np.mean(scores)), "val_bacc_folds": scores}
        row["val_log_loss"] = float(np.mean(losses))
        row["acceptance_rate"] = float(np.nanmean(acc))
        print(
            f"  beta {params.beta:<6} gamma {params.gamma:<5} step {params.step_size:<4} "
            f"f {params.f:<4} lam {params.lam:<5} -> val bACC {row['val_bacc']:.4f}, "
            f"log-loss {row['val_log_loss']:.4f}, accepted {100 * row['acceptance_rate']:.1f}%",
            file=sys.stderr,
            flush=True,
        )
        return row

    rows = [evaluate(pr) for pr in stage1]

    def rank(r: dict[str, Any]) -> tuple[float, float]:
        return (r["val_bacc"], -r["val_log_loss"])

    best1 = max(rows, key=rank)
    stage2 = [
        M2mParams(
            beta=best1["beta"],
            gamma=best1["gamma"],
            step_size=best1["step_size"],
            n_steps=args.n_steps,
            f="g",
            lam=lam,
        )
        for lam in LAMS
    ]
    rows2 = [evaluate(pr) for pr in stage2]
    best2 = max(rows2, key=rank)
    best = best2 if rank(best2) > rank(best1) else best1
    lam = best["lam"] if best["f"] == "g" else M2mParams.lam
    bench_args = (
        f"--beta {best['beta']:g} --gamma {best['gamma']:g} --step-size {best['step_size']:g} "
        f"--n-steps {best['n_steps']} --m2m-f {best['f']} --lam {lam:g}"
    )
    ref = {k: float(np.mean([f[5][k] for f in folds])) for k in ("erm", "ros")}
    tag = _tag(args)
    doc = {
        "command": " ".join(["python benchmarks/tune_m2m.py", *(argv or sys.argv[1:])]),
        "dataset": data.description,
        "split_seed": args.split_seed,
        "repeats": args.repeats,
        "val_fraction": args.val_fraction,
        "epochs": args.epochs,
        "n_fit": [len(f[2]) for f in folds],
        "n_val": [len(f[4]) for f in folds],
        "reference_val_bacc": ref,
        "stage1": rows,
        "stage2": rows2,
        "best": best,
        "bench_args": bench_args,
        "wall_time_s": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{tag}.json").write_text(json.dumps(doc, indent=1) + "\n")

    lines = [
        f"# M2m tuning: {tag}",
        "",
        f"Command: `{doc['command']}` ({doc['wall_time_s']:.0f} s)",
        "",
        f"Data: {data.description}",
        "",
        f"Validation: {args.repeats} random per-class carvings of {args.val_fraction:g} of the "
        f"training part of split seed {args.split_seed} (fit sizes {doc['n_fit']}, validation "
        f"sizes {doc['n_val']}); {args.epochs} epochs. Reference validation bACC: ERM "
        f"{100 * ref['erm']:.1f}, ROS {100 * ref['ros']:.1f}.",
        "",
        f"Chosen: `{bench_args}`",
        "",
        "| stage | beta | gamma | step | f | lam | val bACC (%) | val log-loss | accepted (%) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for stage, rs in (("1", rows), ("2", rows2)):
        for r in sorted(rs, key=rank, reverse=True):
            lam_txt = f"{r['lam']:g}" if r["f"] == "g" else "-"
            lines.append(
                f"| {stage} | {r['beta']:g} | {r['gamma']:g} | {r['step_size']:g} | {r['f']} | "
                f"{lam_txt} | {100 * r['val_bacc']:.2f} | {r['val_log_loss']:.4f} | "
                f"{100 * r['acceptance_rate']:.1f} |"
            )
    (out / f"{tag}.md").write_text("\n".join(lines) + "\n")
    print(
        f"{tag}: chosen {bench_args} (val bACC {100 * best['val_bacc']:.1f}; ERM "
        f"{100 * ref['erm']:.1f}, ROS {100 * ref['ros']:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
