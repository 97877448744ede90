"""Tune M2MOverSampler's hyper-parameters on a validation split carved from training data.

The command line of :mod:`m2m_sampler.bench.tuning` (which documents the search): for the
benchmark split of ``--split-seed`` (the same rule as ``python -m m2m_sampler.bench``),
``--repeats`` per-class carvings of ``--val-fraction`` of the training part, a two-stage
grid (beta x gamma x step size with ``f = None``, then lambda with ``f = g``), ranked by
validation bACC with ties broken by the balanced log-loss. The test split is never used.
The chosen values are written with the full table to ``<out>/<tag>.json`` and ``.md``; the
``bench_args`` field holds the matching ``m2m-bench`` options.

Usage::

    python -m benchmarks.tune_m2m --dataset digits-lt --out benchmarks/results/tuning
    python -m benchmarks.tune_m2m --dataset satimage --imbalance-ratio 100 --epochs 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from m2m_sampler.bench import M2mParams, TrainParams, load_bench_data
from m2m_sampler.bench.runner import print_progress
from m2m_sampler.bench.tuning import tune_m2m, tuning_markdown, tuning_tag


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
        data_dir=args.data_dir,
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
    best, ref = result.best, result.reference
    tag = tuning_tag(args.dataset, args.imbalance_ratio, args.min_class_count)
    doc = {
        "command": " ".join(["python -m benchmarks.tune_m2m", *(argv or sys.argv[1:])]),
        "dataset": data.description,
        "split_seed": args.split_seed,
        "repeats": args.repeats,
        "val_fraction": args.val_fraction,
        "epochs": args.epochs,
        "n_fit": result.n_fit,
        "n_val": result.n_val,
        "reference_val_bacc": ref,
        "stage1": result.stage1,
        "stage2": result.stage2,
        "best": best,
        "bench_args": result.bench_args,
        "wall_time_s": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{tag}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / f"{tag}.md").write_text(tuning_markdown(tag, doc))
    print(
        f"{tag}: chosen {result.bench_args} (val bACC {100 * best['val_bacc']:.1f}; ERM "
        f"{100 * ref['erm']:.1f}, ROS {100 * ref['ros']:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
