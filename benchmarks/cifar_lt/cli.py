"""Command line of the CIFAR-LT-10 reproduction: ``python -m benchmarks.cifar_lt``.

``--help`` lists the options; ``docs/reproduction.md`` explains them, the phases and the
report. ``--only`` runs one kind of phase, for running phases as parallel processes that
share a ``--cache-dir`` (``benchmarks/gpu/run_cifar_lt.sh`` does).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.cifar_lt.data import load_data
from benchmarks.cifar_lt.methods import METHODS, PAPER_TRIO, add_m2m_arguments, trunk_of
from benchmarks.cifar_lt.phases import Cache, run_method, train_g, train_trunk
from benchmarks.cifar_lt.report import build_report, print_summary
from benchmarks.compare.report import save_json
from m2m_sampler.training.schedules import default_start_epoch

__all__ = ["PROG", "main", "parse_args"]

PROG = "python -m benchmarks.cifar_lt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the reproduction's options (``--help`` lists them; docs/reproduction.md too).

    Parameters
    ----------
    argv : list of str or None
        None: ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
        With ``--fast`` and ``--smoke`` expanded, ``start_epoch`` set and ``methods`` the
        list of method keys.
    """
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Reproduce the CIFAR-LT-10 rows of Table 1 of M2m (CVPR 2020).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data-dir", default=None, help="folder with the CIFAR-10 npz files")
    p.add_argument("--imbalance-ratio", type=int, choices=(100, 10), default=100)
    p.add_argument(
        "--method", default=",".join(PAPER_TRIO),
        help=f"comma-separated methods, or 'all': {', '.join(METHODS)}",
    )
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--start-epoch", type=int, default=None,
                   help="0-based deferral epoch (DRS, DRW, M2m); default 80%% of --epochs")
    p.add_argument("--warmup-epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    add_m2m_arguments(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                   help="autocast dtype for training, evaluation and translation")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--cuda-graph", action="store_true",
                   help="replay the training forward/backward from a CUDA graph")
    p.add_argument("--translate-ahead", type=int, default=1,
                   help="batches whose targets are translated in one engine call")
    p.add_argument("--translation-batch-size", type=int, default=None)
    p.add_argument("--fast", action="store_true",
                   help="GPU settings: --amp bf16 --channels-last --cuda-graph "
                        "--translate-ahead 8")
    p.add_argument("--eval-batch-size", type=int, default=1024)
    p.add_argument("--cache-dir", default=None,
                   help="keep g, the epoch-160 trunks and each method's result here, "
                        "keyed by configuration, and reuse them")
    p.add_argument("--only", choices=("g", "trunk", "methods", "report"), default=None,
                   help="only train (and cache) g, or the trunks the methods need, or "
                        "only the methods (g and the trunks must be cached), or only "
                        "report what is cached; for running phases as parallel "
                        "processes (needs --cache-dir)")
    p.add_argument("--out", default=None, help="JSON file for the results")
    p.add_argument("--smoke", action="store_true",
                   help="tiny subset (1/100 of each class, at least 2; 20 test images "
                        "per class), 2 epochs, deferral at epoch 1")
    p.add_argument("--select-epoch", action="store_true",
                   help="the authors' protocol as well: evaluate every epoch of the last "
                        "phase (all epochs for g) on the validation split (first 100 test "
                        "images per class) and report the 900-per-class split at the best one")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = p.parse_args(argv)
    if args.fast:
        args.amp = "bf16" if args.amp == "none" else args.amp
        args.channels_last = True
        args.cuda_graph = True
        args.translate_ahead = max(args.translate_ahead, 8)
    if args.smoke:
        args.epochs = 2
        args.start_epoch = 1
        args.log_every = 1
    if args.start_epoch is None:
        args.start_epoch = default_start_epoch(args.epochs)
    if not 0 <= args.start_epoch <= args.epochs:
        p.error("--start-epoch must be in [0, --epochs]")
    names = list(METHODS) if args.method == "all" else args.method.split(",")
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    args.methods = list(dict.fromkeys(names))
    if args.only and not args.cache_dir:
        p.error("--only needs --cache-dir (the next invocation reads what it trains)")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the reproduction (the phases asked for), write and print its report.

    Parameters
    ----------
    argv : list of str or None
        The options (None: ``sys.argv[1:]``).

    Returns
    -------
    dict
        The JSON report (see ``docs/reproduction.md``).
    """
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    data = load_data(args.imbalance_ratio, args.data_dir, args.smoke)
    print(f"data: {len(data['y'])} training images, per class {data['counts'].tolist()}; "
          f"{len(data['y_test'])} test images ({time.time() - t0:.1f}s)", flush=True)
    cache = Cache(args.cache_dir)
    needs_g = any(m == "erm" or METHODS[m].generation for m in args.methods)
    trunk_losses = list(dict.fromkeys(trunk_of(m) for m in args.methods if trunk_of(m)))
    phases, results, missing = {}, {}, []
    report_only = args.only == "report"
    # --only methods never trains g or a trunk: a missing one is reported, not retrained
    # (two parallel processes would otherwise both train the same trunk).
    cached_only = args.only in ("methods", "report")
    g_state = None
    if args.only in (None, "g", "methods", "report") and needs_g:
        done = train_g(args, data, cache, cached_only=cached_only)
        if done is None:
            missing.append("g")
        else:
            g_state, phases["g"] = done
            if "erm" in args.methods:
                results["erm"] = phases["g"]["metrics"]
    trunks = {}
    if args.only in (None, "trunk", "methods", "report"):
        for loss in trunk_losses:
            done = train_trunk(args, data, cache, loss, cached_only=cached_only)
            if done is None:
                missing.append(f"trunk-{loss}")
            else:
                trunks[loss], phases[f"trunk-{loss}"] = done
    if args.only in (None, "methods", "report"):
        for method in args.methods:
            if method == "erm":
                continue
            spec = METHODS[method]
            prerequisites = (spec.generation and g_state is None) or (
                trunk_of(method) is not None and trunk_of(method) not in trunks)
            if prerequisites and not report_only:
                print(f"[{method}] skipped: g or its trunk is not in the cache", flush=True)
                missing.append(method)
                continue
            done = run_method(args, data, cache, method, g_state, trunks,
                              cached_only=report_only)
            if done is None:
                missing.append(method)
            else:
                phases[method] = done
                results[method] = done["metrics"]
    report = build_report(args, data, phases, results, time.time() - t0)
    if missing:
        report["missing"] = missing
        print(f"not in the cache (not trained): {', '.join(missing)}", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        save_json(args.out, report)
        print(f"wrote {args.out}", flush=True)
    print_summary(report)
    return report
